"""Write datasets to disk in the MovieLens publishers' exact file formats.

Why: the licensed MovieLens files may not be committed, yet the loaders, the protocol's
published counts and the benchmarks must be exercised on files that look exactly like the
real ones. These writers produce such fixtures, either from a :class:`RawDataset` (e.g. the
generated ``synth`` data) or from scratch at the real datasets' scale.

Formats (GroupLens READMEs; checked against the real ML-100K and ML-1M files):

* ML-1M: ``ratings.dat`` ``UserID::MovieID::Rating::Timestamp``; ``users.dat``
  ``UserID::Gender::Age::Occupation::Zip`` with ``M``/``F``, age codes 1/18/25/35/45/50/56 and
  occupation codes 0..20; ``movies.dat`` ``MovieID::Title::Genres`` (pipe-separated, latin-1).
* ML-100K: ``u.data`` tab-separated ``user item rating timestamp``; ``u.user``
  ``id|age|gender|occupation|zip`` with raw ages and occupation names; ``u.item``
  ``id|title|release date|video release date|IMDb URL|19 genre flags`` (latin-1); ``u.genre``
  ``name|index``; ``u.occupation`` one name per line; ``u.info``.
* ML-25M: ``ratings.csv`` ``userId,movieId,rating,timestamp`` and ``movies.csv``
  ``movieId,title,genres``, both with a header; titles with commas are double-quoted.

This module writes a loaded :class:`RawDataset` in ML-1M's or ML-100K's format; the fixtures
generated at the real releases' scale (:func:`write_ml1m_shaped`, :func:`write_ml25m`) live in
:mod:`recbench.testing.movielens_shaped` and are importable from here too. The big rating files
are formatted without a Python loop per line (:mod:`recbench.testing.line_format`).
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import numpy as np

from recbench.datasets.base import AGE_BUCKETS, RawDataset
from recbench.datasets.movielens import ML1M_AGE_CODES, ML1M_GENRES, ML1M_OCCUPATIONS
from recbench.testing.line_format import prepare_directory, write_lines, write_text
from recbench.testing.movielens_shaped import ML25M_GENRES, ML25M_NO_GENRE, write_ml1m_shaped, write_ml25m

__all__ = [
    "ML25M_GENRES",
    "ML25M_NO_GENRE",
    "ML100K_GENRES",
    "ML100K_OCCUPATIONS",
    "write_ml1m",
    "write_ml1m_shaped",
    "write_ml25m",
    "write_ml100k",
]  # fmt: skip

#: ML-100K's genres, in u.genre's order (flag positions); index 0 is "unknown".
ML100K_GENRES: tuple[str, ...] = ("unknown", *ML1M_GENRES)

#: ML-100K's occupations, in u.occupation's order.
ML100K_OCCUPATIONS: tuple[str, ...] = (
    "administrator", "artist", "doctor", "educator", "engineer", "entertainment", "executive",
    "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none", "other",
    "programmer", "retired", "salesman", "scientist", "student", "technician", "writer",
)  # fmt: skip

# The two MovieLens occupation vocabularies differ; these maps let a dataset loaded from one
# release be written in the other's format (lossy where the vocabularies differ).
_ML1M_TO_ML100K_OCCUPATION = {
    "other": "other", "academic/educator": "educator", "artist": "artist",
    "clerical/admin": "administrator", "college/grad student": "student",
    "customer service": "other", "doctor/health care": "doctor",
    "executive/managerial": "executive", "farmer": "other", "homemaker": "homemaker",
    "K-12 student": "student", "lawyer": "lawyer", "programmer": "programmer",
    "retired": "retired", "sales/marketing": "marketing", "scientist": "scientist",
    "self-employed": "other", "technician/engineer": "technician",
    "tradesman/craftsman": "other", "unemployed": "none", "writer": "writer",
}  # fmt: skip
_ML100K_TO_ML1M_OCCUPATION = {
    "administrator": "clerical/admin", "artist": "artist", "doctor": "doctor/health care",
    "educator": "academic/educator", "engineer": "technician/engineer",
    "entertainment": "artist", "executive": "executive/managerial",
    "healthcare": "doctor/health care", "homemaker": "homemaker", "lawyer": "lawyer",
    "librarian": "academic/educator", "marketing": "sales/marketing", "none": "unemployed",
    "other": "other", "programmer": "programmer", "retired": "retired",
    "salesman": "sales/marketing", "scientist": "scientist",
    "student": "college/grad student", "technician": "technician/engineer", "writer": "writer",
}  # fmt: skip
_OTHER_ALIASES = ("other or not specified", "other/not specified")

#: raw-age range (inclusive) used for each ML-1M bucket when writing ML-100K's raw ages
_AGE_RANGES: dict[str, tuple[int, int]] = dict(
    zip(AGE_BUCKETS, ((7, 17), (18, 24), (25, 34), (35, 44), (45, 49), (50, 55), (56, 73)))
)
_ML1M_AGE_CODE = {bucket: code for code, bucket in ML1M_AGE_CODES.items()}
_GENDER_LETTER = {"male": "M", "female": "F", "M": "M", "F": "F"}


def write_ml1m(raw: RawDataset, directory: Path | str) -> Path:
    """Write ``raw`` as ML-1M's ``ratings.dat``, ``users.dat`` and ``movies.dat``.

    ``raw`` needs ML-1M's profile fields (gender, age bucket, occupation, zip) and whole-star
    ratings; ML-100K occupation names are mapped onto ML-1M codes. Returns the directory.
    """
    directory = _write_ratings_file(raw, directory, "ratings.dat", "::", "ML-1M")
    users = raw.users
    user_lines = [
        f"{uid}::{_GENDER_LETTER[g]}::{_ML1M_AGE_CODE[a]}::{_ml1m_occupation_code(o)}::{z}"
        for uid, g, a, o, z in zip(users["user_id"], users["gender"], users["age"], users["occupation"], users["zip"])
    ]
    write_text(directory / "users.dat", user_lines)
    movie_lines = [
        f"{iid}::{_no_separator(title, '::')}::{genre}"
        for iid, title, genre in zip(raw.items["item_id"], raw.items["title"], raw.items["genre"])
    ]
    write_text(directory / "movies.dat", movie_lines, encoding="latin-1")
    return directory


def write_ml100k(raw: RawDataset, directory: Path | str) -> Path:
    """Write ``raw`` as ML-100K's ``u.data``, ``u.user``, ``u.item``, ``u.genre``,
    ``u.occupation`` and ``u.info``.

    Age buckets become a raw age inside the bucket (so bucketing them again gives the same
    bucket); ML-1M occupation names are mapped onto ML-100K's list; each item is flagged with
    its one (first) genre. Returns the directory.
    """
    directory = _write_ratings_file(raw, directory, "u.data", "\t", "ML-100K")
    ratings, users = raw.ratings, raw.users
    user_lines = [
        f"{uid}|{_raw_age(a, uid)}|{_GENDER_LETTER[g]}|{_ml100k_occupation(o)}|{z}"
        for uid, a, g, o, z in zip(users["user_id"], users["age"], users["gender"], users["occupation"], users["zip"])
    ]
    write_text(directory / "u.user", user_lines)
    items = raw.items
    item_lines = [_ml100k_item_line(int(i), t, g) for i, t, g in zip(items["item_id"], items["title"], items["genre"])]
    write_text(directory / "u.item", item_lines, encoding="latin-1")
    # the real u.genre ends with an empty line
    write_text(directory / "u.genre", [f"{g}|{i}" for i, g in enumerate(ML100K_GENRES)] + [""])
    write_text(directory / "u.occupation", list(ML100K_OCCUPATIONS))
    write_text(directory / "u.info", [f"{len(users)} users", f"{len(items)} items", f"{len(ratings)} ratings"])
    return directory


def _write_ratings_file(raw: RawDataset, directory: Path | str, name: str, sep: str, release: str) -> Path:
    """The start both releases share: the folder, then the ratings file ``name`` with one
    ``user<sep>item<sep>stars<sep>timestamp`` line per rating. Returns the folder.

    ``raw`` is checked first for the profile fields the user file will need and for whole-star
    ratings, so a dataset that cannot be written in ``release``'s format leaves no file behind.
    """
    directory = prepare_directory(directory)
    missing = [f for f in ("gender", "age", "occupation", "zip") if f not in raw.users.columns]
    if missing:
        raise ValueError(
            f"dataset {raw.name!r} has no {', '.join(missing)} user field(s); MovieLens user files need them"
        )
    ratings = raw.ratings
    stars = np.rint(ratings["rating"].to_numpy()).astype(np.int64)
    if not (np.allclose(stars, ratings["rating"].to_numpy()) and stars.min() >= 1 and stars.max() <= 5):
        raise ValueError(f"{release} ratings must be whole stars 1..5")
    columns = [ratings["user_id"].to_numpy(), ratings["item_id"].to_numpy(), stars, ratings["timestamp"].to_numpy()]
    write_lines(directory / name, columns, sep=sep)
    return directory


def _ml1m_occupation_code(name: str) -> int:
    if name in _OTHER_ALIASES:
        return 0
    name = _ML100K_TO_ML1M_OCCUPATION.get(name, name) if name not in ML1M_OCCUPATIONS else name
    if name not in ML1M_OCCUPATIONS:
        raise ValueError(f"occupation {name!r} has no ML-1M code")
    return ML1M_OCCUPATIONS.index(name)


def _ml100k_occupation(name: str) -> str:
    if name in ML100K_OCCUPATIONS:
        return name
    if name in _OTHER_ALIASES:
        return "other"
    if name not in _ML1M_TO_ML100K_OCCUPATION:
        raise ValueError(f"occupation {name!r} has no ML-100K name")
    return _ML1M_TO_ML100K_OCCUPATION[name]


def _raw_age(bucket: str, user_id: int) -> int:
    """A deterministic raw age inside ``bucket`` (varies with the user id, like real ages)."""
    low, high = _AGE_RANGES[bucket]
    return low + int(user_id) % (high - low + 1)


def _ml100k_item_line(item_id: int, title: str, genre: str) -> str:
    if genre not in ML100K_GENRES:
        raise ValueError(f"item {item_id}: genre {genre!r} is not one of ML-100K's genres")
    title = _no_separator(title, "|")
    year = re.search(r"\((\d{4})\)\s*$", title)
    release = f"01-Jan-{year.group(1)}" if year else ""
    url = "http://us.imdb.com/M/title-exact?" + urllib.parse.quote(title, safe="()',")
    flags = ["0"] * len(ML100K_GENRES)
    flags[ML100K_GENRES.index(genre)] = "1"
    return "|".join([str(item_id), title, release, "", url, *flags])


def _no_separator(text: str, sep: str) -> str:
    if sep in text:
        raise ValueError(f"{text!r} contains the field separator {sep!r}")
    return text
