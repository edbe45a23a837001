"""Dataset registry: where each dataset's files live, how they are checked and loaded.

Resolution order for a dataset's folder: an explicit ``data_dir``; ``$RECBENCH_DATA/<name>``;
the user data folder (``recbench data info`` prints it). A missing downloadable dataset is
fetched from its publisher unless ``RECBENCH_OFFLINE=1``; otherwise the error says exactly how
to provide it by hand.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import platformdirs

from recbench.datasets import goodreads as _goodreads  # noqa: F401  (registers goodreads)
from recbench.datasets import synth as _synth  # noqa: F401  (registers synth)
from recbench.datasets.base import (
    DatasetInfo,
    Download,
    Fingerprint,
    RawDataset,
    dataset_names,
    get_dataset_info,
    register_dataset,
)
from recbench.datasets.movielens import load_ml1m, load_ml25m, load_ml100k
from recbench.errors import DataFormatError, DatasetNotFoundError

__all__ = [
    "DatasetInfo",
    "DatasetSource",
    "Download",
    "Fingerprint",
    "RawDataset",
    "dataset_names",
    "default_data_root",
    "fingerprint_files",
    "get_dataset_info",
    "load_dataset",
    "open_dataset",
    "register_dataset",
    "resolve_data_dir",
]

_GROUPLENS = "https://files.grouplens.org/datasets/movielens"
_ML1M_FILES = ("ratings.dat", "users.dat", "movies.dat")
_ML1M_USERS_SHA = "1dc3a95300cb19f7c10e027daf29b8cdf1d908dab65b5edfb45950aa389a10a3"
_ML1M_MOVIES_SHA = "0140fc2356357c1a851d0f52e893a1e4d3696df632c4141cea8d5bc3d621f0b9"
_U2999_RATINGS_SHA = "1273c4edfe3c0ff9e3a0a0d55819faeb947da0ad7df3927333b51ebefbeedc3d"

register_dataset(
    DatasetInfo(
        name="ml-100k",
        description="MovieLens 100K: 100,000 ratings, 943 users, 1,682 movies (1997-98)",
        files=("u.data", "u.user", "u.item", "u.genre"),
        loader=load_ml100k,
        downloads=(
            Download(
                url=f"{_GROUPLENS}/ml-100k.zip",
                archive_name="ml-100k.zip",
                size=4_924_029,
                md5="0e33842e24a9c977be4e0107933c0723",
                member_prefix="ml-100k/",
            ),
        ),
        canonical_sha256={
            "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
            "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
            "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
            "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
        },
    )
)
register_dataset(
    DatasetInfo(
        name="ml-1m",
        description="MovieLens 1M: 1,000,209 ratings, 6,040 users, 3,706 rated movies (2000-03)",
        files=_ML1M_FILES,
        loader=load_ml1m,
        downloads=(
            Download(
                url=f"{_GROUPLENS}/ml-1m.zip",
                archive_name="ml-1m.zip",
                size=5_917_549,
                md5="c4d9eecfca2ab87c1945afe126590906",
                member_prefix="ml-1m/",
            ),
        ),
        # The full ratings.dat digest is not pinned here; a fetched copy is checked through the
        # archive's published md5 instead, and its fingerprint is then recorded as "unknown".
        canonical_sha256={"users.dat": _ML1M_USERS_SHA, "movies.dat": _ML1M_MOVIES_SHA},
        known_variants={
            "ratings.dat:" + _U2999_RATINGS_SHA: (
                "ml-1m-u2999",
                "ratings.dat holds only users 1..2999 (the first 487,650 lines of ML-1M)",
            )
        },
    )
)
register_dataset(
    DatasetInfo(
        name="ml-1m-u2999",
        description="The real ML-1M files with ratings of users 1..2999 only (487,650 ratings); local copy only",
        files=_ML1M_FILES,
        loader=load_ml1m,
        canonical_sha256={
            "ratings.dat": _U2999_RATINGS_SHA,
            "users.dat": _ML1M_USERS_SHA,
            "movies.dat": _ML1M_MOVIES_SHA,
        },
        notes="Not comparable one-to-one with published ML-1M numbers: a subset of users, not a random sample.",
    )
)
register_dataset(
    DatasetInfo(
        name="ml-25m",
        description="MovieLens 25M: 25,000,095 ratings, 162,541 users, half-star ratings (1995-2019)",
        files=("ratings.csv", "movies.csv"),
        loader=load_ml25m,
        downloads=(
            Download(
                url=f"{_GROUPLENS}/ml-25m.zip",
                archive_name="ml-25m.zip",
                size=261_978_986,
                md5="6b51fb2759a8657d3bfcbfc42b592ada",
                member_prefix="ml-25m/",
            ),
        ),
    )
)


def default_data_root() -> Path:
    """Where datasets are looked for and fetched to when no folder is given."""
    env = os.environ.get("RECBENCH_DATA")
    return Path(env) if env else Path(platformdirs.user_data_dir("recbench")) / "data"


def resolve_data_dir(name: str, data_dir: Path | str | None = None) -> Path:
    """The folder that holds (or will hold) dataset ``name``'s files."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    return default_data_root() / name


@dataclass(frozen=True)
class DatasetSource:
    """A dataset whose files are present and fingerprinted, not yet parsed.

    Splitting this from parsing lets the protocol cache be looked up by fingerprint before
    paying for a parse.
    """

    info: DatasetInfo
    directory: Path | None
    fingerprint: Fingerprint
    _embedded: RawDataset | None = None

    def load(self) -> RawDataset:
        if self._embedded is not None:
            return self._embedded
        assert self.directory is not None
        raw = self.info.loader(self.directory)
        raw.name = self.info.name
        raw.fingerprint = self.fingerprint
        return raw


def open_dataset(name: str, data_dir: Path | str | None = None, *, fetch_missing: bool = True) -> DatasetSource:
    """Find dataset ``name`` (fetching it when absent and allowed) and fingerprint its files."""
    info = get_dataset_info(name)
    if info.embedded:
        raw = info.loader(Path("."))
        raw.fingerprint = _embedded_fingerprint(raw)
        return DatasetSource(info, None, raw.fingerprint, raw)
    directory = resolve_data_dir(name, data_dir)
    missing = [f for f in info.files if not (directory / f).is_file()]
    if missing:
        _provide(info, directory, missing, fetch_missing and data_dir is None)
    return DatasetSource(info, directory, fingerprint_files(info, directory))


def load_dataset(name: str, data_dir: Path | str | None = None, *, fetch_missing: bool = True) -> RawDataset:
    """Load dataset ``name`` with its fingerprint, fetching it first when absent and allowed."""
    return open_dataset(name, data_dir, fetch_missing=fetch_missing).load()


def _provide(info: DatasetInfo, directory: Path, missing: list[str], may_fetch: bool) -> None:
    how = _how_to_provide(info, directory)
    offline = os.environ.get("RECBENCH_OFFLINE", "") not in ("", "0")
    if not info.downloads or not may_fetch or offline:
        raise DatasetNotFoundError(f"dataset {info.name!r}: {', '.join(missing)} not found in {directory}; {how}")
    from recbench.datasets.fetch import fetch

    try:
        for download in info.downloads:
            fetch(download, directory)
    except DatasetNotFoundError as exc:
        raise DatasetNotFoundError(f"{exc}; {how}") from None


def _how_to_provide(info: DatasetInfo, directory: Path) -> str:
    files = ", ".join(info.files)
    if info.downloads:
        urls = " and ".join(d.url for d in info.downloads)
        return (
            f"download {urls} yourself, extract {files} into {directory} "
            f"(or anywhere, then pass --data-dir DIR or set RECBENCH_DATA to the parent folder)"
        )
    return f"this dataset cannot be downloaded; put {files} in {directory} or pass --data-dir DIR"


def fingerprint_files(info: DatasetInfo, directory: Path) -> Fingerprint:
    """sha256 every required file and compare with the publisher's known digests."""
    from recbench.datasets.fetch import file_digest

    files = {}
    for name in info.files:
        try:
            files[name] = file_digest(directory / name)
        except OSError as exc:
            raise DataFormatError(f"{directory / name}: cannot be read ({exc.strerror or exc})") from None
    digest = hashlib.sha256("".join(f"{n}:{h}\n" for n, h in sorted(files.items())).encode()).hexdigest()
    for name, sha in files.items():
        variant = info.known_variants.get(f"{name}:{sha}")
        if variant is not None:
            return Fingerprint(digest, files, "no", note=variant[1], variant=variant[0])
    known = [name for name in files if name in info.canonical_sha256]
    differing = [name for name in known if files[name] != info.canonical_sha256[name]]
    if differing:
        return Fingerprint(digest, files, "no", note=f"differs from the publisher's release: {', '.join(differing)}")
    if len(known) < len(files):
        unpinned = ", ".join(n for n in files if n not in info.canonical_sha256)
        return Fingerprint(digest, files, "unknown", note=f"no reference digest pinned for {unpinned}")
    return Fingerprint(digest, files, "yes")


def _embedded_fingerprint(raw: RawDataset) -> Fingerprint:
    """Digest of the generated frames themselves, so a changed generator changes the key."""
    hasher = hashlib.sha256()
    for frame in (raw.ratings, raw.users, raw.items):
        hasher.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return Fingerprint(hasher.hexdigest(), {}, "yes", note="generated in-process")
