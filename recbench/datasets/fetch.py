"""Download a publisher's file, check it, and unpack it without trusting its contents.

A dataset folder is either complete or absent: everything is downloaded and extracted into
temporary siblings of the destination and only renamed into place once it has been checked,
so an interrupted or tampered download never leaves a half-written dataset behind.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import stat
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO, Callable, Iterator

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from recbench import __version__
from recbench.datasets.base import Download
from recbench.errors import ChecksumError, DatasetNotFoundError, RecbenchError

_CHUNK = 1 << 20
_ARCHIVE_SUFFIXES = {".zip": "zip", ".tar": "tar", ".tar.gz": "tar", ".tgz": "tar"}


def _digests(path: Path, algorithms: list[str], chunk: int = _CHUNK) -> dict[str, str]:
    """Hash a file with several algorithms in one pass, so big files are read only once."""
    # md5 is a publisher's integrity check here, not a security primitive (FIPS builds).
    hashers = {a: hashlib.new(a, usedforsecurity=False) for a in algorithms}
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            for h in hashers.values():
                h.update(block)
    return {a: h.hexdigest() for a, h in hashers.items()}


def file_digest(path: Path, algorithm: str = "sha256", chunk: int = _CHUNK) -> str:
    """Hex digest of a file, read in chunks so multi-GB dumps need no memory."""
    return _digests(path, [algorithm], chunk)[algorithm]


def verify_file(
    path: Path, *, size: int | None, md5: str | None, sha256: str | None, label: str
) -> None:
    """Raise :class:`ChecksumError` unless the file has the publisher's size and digests.

    The size is compared first because it costs nothing and catches truncated downloads.
    """
    if size is not None and (found := path.stat().st_size) != size:
        raise ChecksumError(f"{label}: expected {size} bytes, found {found} bytes")
    expected = {a: v.lower() for a, v in (("md5", md5), ("sha256", sha256)) if v}
    if not expected:
        return
    found_digests = _digests(path, list(expected))
    for algorithm, want in expected.items():
        if found_digests[algorithm] != want:
            raise ChecksumError(
                f"{label}: expected {algorithm} {want}, found {found_digests[algorithm]}"
            )


def _archive_kind(name: str) -> str | None:
    lowered = name.lower()
    for suffix, kind in _ARCHIVE_SUFFIXES.items():
        if lowered.endswith(suffix):
            return kind
    return None


# One archive entry: its name, one of "file" / "dir" / "link" / "other", and an opener.
_Member = tuple[str, str, Callable[[], IO[bytes]]]


def _zip_members(zf: zipfile.ZipFile) -> Iterator[_Member]:
    for info in zf.infolist():
        # unix file-type bits; often 0 (Windows tools, or permissions only), meaning a file
        ftype = stat.S_IFMT(info.external_attr >> 16)
        if info.is_dir():
            kind = "dir"
        elif ftype == stat.S_IFLNK:
            kind = "link"
        else:
            kind = "file" if ftype in (0, stat.S_IFREG) else "other"
        yield info.filename, kind, (lambda info=info: zf.open(info))


def _tar_members(tf: tarfile.TarFile) -> Iterator[_Member]:
    for m in tf:
        if m.isdir():
            kind = "dir"
        elif m.issym() or m.islnk():
            kind = "link"
        else:
            kind = "file" if m.isfile() else "other"  # devices, fifos
        yield m.name, kind, (lambda m=m: tf.extractfile(m))  # type: ignore[return-value]


def _extract(archive: Path, dest: Path, member_prefix: str, kind: str, label: str) -> list[Path]:
    prefix = member_prefix.strip("/") + "/" if member_prefix.strip("/") else ""
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    written: list[Path] = []
    try:
        with zipfile.ZipFile(archive) if kind == "zip" else tarfile.open(archive, "r:*") as ar:
            members = _zip_members(ar) if kind == "zip" else _tar_members(ar)  # type: ignore[arg-type]
            for raw_name, entry, opener in members:
                # Hostile names or entry types are refused wherever they sit in the archive:
                # a publisher's release never contains them, so the whole file is suspect.
                name = raw_name.replace("\\", "/")
                refuse = (
                    "an absolute path" if name.startswith("/") or re.match(r"[A-Za-z]:", name)
                    else "a '..' component" if ".." in PurePosixPath(name).parts
                    else "a link" if entry == "link"
                    else "not a regular file" if entry == "other"
                    else None
                )
                if refuse:
                    raise RecbenchError(f"{label}: refusing member {raw_name!r} ({refuse})")
                name = PurePosixPath(name).as_posix()
                if entry == "dir" or not (name + "/").startswith(prefix):
                    continue
                rel = name[len(prefix):]
                if not rel or rel == ".":
                    continue
                target = dest / rel
                if not target.resolve().is_relative_to(root):
                    raise RecbenchError(
                        f"{label}: refusing member {raw_name!r} (resolves outside {dest})"
                    )
                target.parent.mkdir(parents=True, exist_ok=True)
                with opener() as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, _CHUNK)
                written.append(target)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as exc:
        raise RecbenchError(f"{label}: cannot read archive ({exc})") from None
    return written


def safe_extract(archive: Path, dest: Path, member_prefix: str = "") -> list[Path]:
    """Extract the regular files of a .zip/.tar/.tar.gz/.tgz under ``member_prefix``
    into ``dest`` (prefix stripped), refusing anything that could write outside ``dest``.
    """
    kind = _archive_kind(archive.name)
    if kind is None:
        raise RecbenchError(f"{archive}: not a supported archive (.zip, .tar, .tar.gz, .tgz)")
    return _extract(archive, dest, member_prefix, kind, str(archive))


def _network_error(url: str, exc: BaseException) -> DatasetNotFoundError:
    """One line naming the URL and the error; the caller adds how to get the data by hand."""
    reason = exc
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        reason = exc.reason  # the underlying socket/OS error, without the "<urlopen>" wrapper
    text = " ".join(str(reason).split()) or type(reason).__name__
    return DatasetNotFoundError(f"could not download {url}: {text}")


def _download(url: str, out_path: Path, *, size: int | None, label: str,
              progress: bool, timeout: float) -> None:
    """Stream ``url`` into ``out_path``; every transport failure becomes one clear error."""
    request = urllib.request.Request(url, headers={"User-Agent": f"recbench/{__version__}"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        if isinstance(exc, urllib.error.HTTPError):
            exc.close()  # it holds the open error response
        raise _network_error(url, exc) from exc
    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else size
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeRemainingColumn())
    show = progress and sys.stdout.isatty()
    with response, open(out_path, "wb") as out, Progress(*columns, disable=not show) as bar:
        task = bar.add_task(label, total=total)
        while True:
            try:
                block = response.read(_CHUNK)
            except (OSError, http.client.HTTPException) as exc:
                raise _network_error(url, exc) from exc
            if not block:
                break
            out.write(block)
            bar.advance(task, len(block))


def fetch(download: Download, dest_dir: Path, *, progress: bool = True,
          timeout: float = 60.0) -> Path:
    """Download, verify and install one publisher file into ``dest_dir``; returns ``dest_dir``.

    Archives are extracted and renamed into place as a whole (or merged file by file when
    ``dest_dir`` already holds files); a plain data file is moved to
    ``dest_dir / download.archive_name``.  Nothing partial is left behind on failure.
    """
    dest_dir = Path(dest_dir)
    name = download.archive_name
    if not name or PurePosixPath(name).name != name or name in (".", ".."):
        raise RecbenchError(f"download archive_name {name!r} must be a plain file name")
    url_name = PurePosixPath(urllib.parse.urlparse(download.url).path).name
    kind = _archive_kind(name) or _archive_kind(url_name)
    parent = dest_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{dest_dir.name}-", suffix=".part")
    os.close(fd)
    tmp_file, tmp_dir = Path(tmp), None
    try:
        _download(download.url, tmp_file, size=download.size, label=name,
                  progress=progress, timeout=timeout)
        label = f"{name} (from {download.url})"
        verify_file(tmp_file, size=download.size, md5=download.md5, sha256=download.sha256,
                    label=label)
        if kind is None:
            dest_dir.mkdir(exist_ok=True)
            os.replace(tmp_file, dest_dir / name)
            return dest_dir
        tmp_dir = Path(tempfile.mkdtemp(dir=parent, prefix=f".{dest_dir.name}-", suffix=".extract"))
        if not _extract(tmp_file, tmp_dir, download.member_prefix, kind, label):
            # most likely a wrong member_prefix; an empty dataset folder would only confuse
            raise RecbenchError(f"{label}: no files under {download.member_prefix!r} in the archive")
        if dest_dir.is_dir() and any(dest_dir.iterdir()):
            for src in sorted(p for p in tmp_dir.rglob("*") if p.is_file()):
                target = dest_dir / src.relative_to(tmp_dir)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, target)
        else:
            if dest_dir.is_dir():
                dest_dir.rmdir()  # empty: renaming over a directory is not portable
            os.replace(tmp_dir, dest_dir)
        return dest_dir
    finally:
        tmp_file.unlink(missing_ok=True)
        if tmp_dir is not None and tmp_dir.exists():
            shutil.rmtree(tmp_dir, ignore_errors=True)
