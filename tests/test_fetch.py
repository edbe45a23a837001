"""Tests for recbench.datasets.fetch: downloads over loopback HTTP and file:// only."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import socket
import stat
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

from recbench.datasets.base import Download
from recbench.datasets.fetch import fetch, file_digest, safe_extract, verify_file
from recbench.errors import ChecksumError, DatasetNotFoundError, RecbenchError

FILES = {
    "ml-1m/ratings.dat": b"1::1193::5::978300760\n1::661::3::978302109\n",
    "ml-1m/sub/users.dat": b"1::F::1::10::48067\n",
    "other/README": b"not part of the dataset\n",
}
EXPECTED = {"ratings.dat": FILES["ml-1m/ratings.dat"], "sub/users.dat": FILES["ml-1m/sub/users.dat"]}


def make_zip(path: Path, files: dict[str, bytes], dirs: tuple[str, ...] = ("ml-1m/",)) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for d in dirs:
            zf.writestr(d, b"")
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def make_tar(path: Path, files: dict[str, bytes], extra: tuple[tarfile.TarInfo, ...] = ()) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info in extra:
            tf.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def download_for(path: Path, url: str, **overrides: object) -> Download:
    data = path.read_bytes()
    fields: dict[str, object] = dict(
        url=url, archive_name=path.name, size=len(data),
        md5=hashlib.md5(data).hexdigest(), sha256=hashlib.sha256(data).hexdigest(),
        member_prefix="ml-1m/",
    )
    fields.update(overrides)
    return Download(**fields)  # type: ignore[arg-type]


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def www(tmp_path: Path) -> Path:
    d = tmp_path / "www"
    d.mkdir()
    return d


@pytest.fixture
def server(www: Path):
    """A loopback HTTP server over ``www``; yields its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_file_digest_and_verify(tmp_path: Path) -> None:
    f = tmp_path / "x.bin"
    f.write_bytes(b"abc" * 1000)
    assert file_digest(f) == hashlib.sha256(b"abc" * 1000).hexdigest()
    assert file_digest(f, "md5", chunk=7) == hashlib.md5(b"abc" * 1000).hexdigest()
    verify_file(f, size=3000, md5=file_digest(f, "md5").upper(), sha256=file_digest(f), label="x.bin")
    verify_file(f, size=None, md5=None, sha256=None, label="x.bin")


@pytest.mark.parametrize("fmt", ["zip", "tgz"])
def test_download_extracts_with_prefix_stripped(fmt: str, www: Path, server: str, data_root: Path) -> None:
    archive = make_zip(www / "ml-1m.zip", FILES) if fmt == "zip" else make_tar(www / "ml-1m.tgz", FILES)
    dest = data_root / "ml-1m"
    assert fetch(download_for(archive, f"{server}/{archive.name}"), dest, progress=False) == dest
    assert tree(dest) == EXPECTED
    assert [p.name for p in data_root.iterdir()] == ["ml-1m"]  # no temp leftovers


def test_file_url(www: Path, data_root: Path) -> None:
    archive = make_zip(www / "ml-1m.zip", FILES)
    dest = data_root / "ml-1m"
    fetch(download_for(archive, archive.as_uri()), dest, progress=False)
    assert tree(dest) == EXPECTED


def test_archive_into_existing_folder_merges(www: Path, server: str, data_root: Path) -> None:
    archive = make_tar(www / "ml-1m.tar.gz", FILES)
    dest = data_root / "ml-1m"
    dest.mkdir(parents=True)
    (dest / "keep.txt").write_text("mine")
    fetch(download_for(archive, f"{server}/{archive.name}"), dest, progress=False)
    assert tree(dest) == {**EXPECTED, "keep.txt": b"mine"}
    assert [p.name for p in data_root.iterdir()] == ["ml-1m"]


def test_plain_file_lands_in_dest(www: Path, server: str, data_root: Path) -> None:
    src = www / "reviews.json.gz"
    src.write_bytes(gzip.compress(b'{"user": 1}\n'))
    dest = data_root / "amazon"
    dest.mkdir(parents=True)
    (dest / "meta.json.gz").write_bytes(b"already here")
    fetch(download_for(src, f"{server}/{src.name}", member_prefix=""), dest, progress=False)
    assert tree(dest) == {"reviews.json.gz": src.read_bytes(), "meta.json.gz": b"already here"}
    assert [p.name for p in data_root.iterdir()] == ["amazon"]


@pytest.mark.parametrize("field", ["md5", "sha256", "size"])
def test_checksum_mismatch(field: str, www: Path, server: str, data_root: Path) -> None:
    archive = make_zip(www / "ml-1m.zip", FILES)
    bad = {"md5": "0" * 32, "sha256": "f" * 64, "size": archive.stat().st_size + 1}[field]
    dest = data_root / "ml-1m"
    with pytest.raises(ChecksumError) as err:
        fetch(download_for(archive, f"{server}/ml-1m.zip", **{field: bad}), dest, progress=False)
    msg = str(err.value)
    assert "\n" not in msg and "ml-1m.zip" in msg and str(bad) in msg
    assert "found" in msg
    assert not dest.exists()
    assert list(data_root.iterdir()) == []  # temp download removed


def _evil_tar_members() -> dict[str, tuple[tarfile.TarInfo, ...]]:
    sym = tarfile.TarInfo("ml-1m/link")
    sym.type, sym.linkname = tarfile.SYMTYPE, "../../outside"
    hard = tarfile.TarInfo("ml-1m/hard")
    hard.type, hard.linkname = tarfile.LNKTYPE, "/etc/passwd"
    dev = tarfile.TarInfo("ml-1m/dev")
    dev.type, dev.devmajor, dev.devminor = tarfile.CHRTYPE, 1, 3
    return {"symlink": (sym,), "hardlink": (hard,), "device": (dev,)}


@pytest.mark.parametrize(
    "case", ["zip-dotdot", "zip-absolute", "tar-dotdot", "tar-absolute", "symlink", "hardlink", "device"]
)
def test_unsafe_members_refused(case: str, tmp_path: Path, www: Path, server: str, data_root: Path) -> None:
    evil = {"zip-dotdot": "ml-1m/../../evil", "zip-absolute": f"{tmp_path}/evil",
            "tar-dotdot": "../evil", "tar-absolute": f"{tmp_path}/evil"}.get(case)
    files = dict(FILES)
    if case.startswith("zip"):
        archive = make_zip(www / "ml-1m.zip", {**files, evil: b"pwned"})
    elif evil:
        archive = make_tar(www / "ml-1m.tgz", {**files, evil: b"pwned"})
    else:
        files["ml-1m/link/escaped"] = b"pwned"  # would write through the link if followed
        archive = make_tar(www / "ml-1m.tgz", files, extra=_evil_tar_members()[case])
    dest = data_root / "ml-1m"
    with pytest.raises(RecbenchError, match="refusing member") as err:
        fetch(download_for(archive, f"{server}/{archive.name}"), dest, progress=False)
    assert archive.name in str(err.value) and "\n" not in str(err.value)
    assert not dest.exists() and list(data_root.iterdir()) == []
    assert not (tmp_path / "evil").exists() and not (tmp_path / "outside").exists()
    # safe_extract on its own refuses too, and writes nothing outside its destination
    out = tmp_path / "direct" / "out"
    with pytest.raises(RecbenchError, match="refusing member"):
        safe_extract(archive, out, "ml-1m/")
    assert [p.name for p in (tmp_path / "direct").iterdir()] == ["out"]
    assert not (tmp_path / "evil").exists() and not (tmp_path / "outside").exists()


def test_zip_symlink_refused(tmp_path: Path) -> None:
    archive = tmp_path / "ml-1m.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("ml-1m/link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(RecbenchError, match="link"):
        safe_extract(archive, tmp_path / "out", "ml-1m/")


def test_safe_extract_without_prefix_and_bad_inputs(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", FILES)
    written = safe_extract(archive, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == sorted(FILES)
    with pytest.raises(RecbenchError, match="not a supported archive"):
        safe_extract(tmp_path / "a.rar", tmp_path / "out2")
    corrupt = tmp_path / "bad.tgz"
    corrupt.write_bytes(b"this is not a tarball")
    with pytest.raises(RecbenchError, match="cannot read archive"):
        safe_extract(corrupt, tmp_path / "out3")


def test_unreachable_url(data_root: Path) -> None:
    with socket.socket() as s:  # find a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/ml-1m.zip"
    start = time.monotonic()
    with pytest.raises(DatasetNotFoundError) as err:
        fetch(Download(url=url, archive_name="ml-1m.zip"), data_root / "ml-1m", progress=False, timeout=5)
    assert time.monotonic() - start < 5
    assert url in str(err.value) and "\n" not in str(err.value)
    assert list(data_root.iterdir()) == []


def test_http_404(server: str, data_root: Path) -> None:
    url = f"{server}/missing.zip"
    with pytest.raises(DatasetNotFoundError, match="404") as err:
        fetch(Download(url=url, archive_name="missing.zip"), data_root / "x", progress=False)
    assert url in str(err.value)
    assert list(data_root.iterdir()) == []


def test_missing_file_url(tmp_path: Path, data_root: Path) -> None:
    url = (tmp_path / "nope.zip").as_uri()
    with pytest.raises(DatasetNotFoundError, match="could not download"):
        fetch(Download(url=url, archive_name="nope.zip"), data_root / "x", progress=False)


def test_wrong_member_prefix_leaves_nothing(www: Path, server: str, data_root: Path) -> None:
    archive = make_zip(www / "ml-1m.zip", FILES)
    with pytest.raises(RecbenchError, match="no files under 'ml-10m/'"):
        fetch(download_for(archive, f"{server}/ml-1m.zip", member_prefix="ml-10m/"), data_root / "x", progress=False)
    assert list(data_root.iterdir()) == []
