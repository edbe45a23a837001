"""Loaders for the MovieLens releases in GroupLens' own file formats (SPEC 2).

Each loader maps the publisher's fields onto :class:`RawDataset` with human-readable profile
values (``"female"``, ``"25-34"``, ``"K-12 student"``) so the same strings serve as ID
categories and as prompt text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recbench.datasets.base import AGE_BUCKETS, RawDataset
from recbench.datasets.tables import read_table
from recbench.errors import DataFormatError

ML1M_GENRES: tuple[str, ...] = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War",
    "Western",
)  # fmt: skip

#: ML-1M's occupation codes (its README), in code order.
ML1M_OCCUPATIONS: tuple[str, ...] = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip

#: ML-1M's age codes -> the bucket each stands for.
ML1M_AGE_CODES: dict[int, str] = dict(zip((1, 18, 25, 35, 45, 50, 56), AGE_BUCKETS))

_GENDERS = {"M": "male", "F": "female"}
_PROFILE = ("gender", "age", "occupation", "zip")
_TEXT_PROFILE = ("gender", "age", "occupation")
_RATINGS_COLUMNS = {"user_id": "int", "item_id": "int", "rating": "float", "timestamp": "int"}


def bucket_age(age: np.ndarray) -> np.ndarray:
    """Map raw ages (ML-100K) onto ML-1M's seven buckets so both datasets share one vocabulary."""
    edges = np.array([18, 25, 35, 45, 50, 56])
    return np.asarray(AGE_BUCKETS, dtype=object)[np.searchsorted(edges, age, side="right")]


def load_ml1m(directory: Path) -> RawDataset:
    """ML-1M: ``ratings.dat``, ``users.dat``, ``movies.dat``, fields separated by ``::``."""
    ratings = read_table(directory / "ratings.dat", sep="::", columns=_RATINGS_COLUMNS)
    users_path = directory / "users.dat"
    user_columns = {"user_id": "int", "gender": "str", "age": "int", "occupation": "int", "zip": "str"}
    users = _read_users(users_path, "::", user_columns, gender_field="Gender")
    users["age"] = _map_codes(users["age"], ML1M_AGE_CODES, users_path, "Age")
    users["occupation"] = _map_codes(users["occupation"], dict(enumerate(ML1M_OCCUPATIONS)), users_path, "Occupation")
    movies = read_table(
        directory / "movies.dat",
        sep="::",
        columns={"item_id": "int", "title": "str", "genres": "str"},
        encoding="latin-1",
    )
    items = pd.DataFrame({"item_id": movies["item_id"], "title": movies["title"], "genre": _first_genre(movies["genres"])})
    return _assemble("ml-1m", ratings, users, items, ML1M_GENRES, tuple(float(r) for r in range(1, 6)), directory / "ratings.dat")


def load_ml100k(directory: Path) -> RawDataset:
    """ML-100K: tab-separated ``u.data``; pipe-separated ``u.user``, ``u.item``, ``u.genre``."""
    ratings = read_table(directory / "u.data", sep="\t", columns=_RATINGS_COLUMNS)
    user_columns = {"user_id": "int", "age": "int", "gender": "str", "occupation": "str", "zip": "str"}
    users = _read_users(directory / "u.user", "|", user_columns, gender_field="gender")
    users["age"] = bucket_age(users["age"].to_numpy())
    genre_table = read_table(directory / "u.genre", sep="|", columns={"genre": "str", "index": "int"})
    genres = tuple(genre_table.sort_values("index")["genre"])
    item_columns = {"item_id": "int", "title": "str", "release": "str", "video_release": "str", "url": "str"}
    item_table = read_table(
        directory / "u.item", sep="|", columns=item_columns, encoding="latin-1", usecols=len(item_columns) + len(genres)
    )
    flags = item_table[[f"extra_{i}" for i in range(len(genres))]].to_numpy()
    flags = flags == "1"
    # The first flagged genre, in u.genre's order; items with no flag get "unknown" (index 0).
    first = np.where(flags.any(axis=1), flags.argmax(axis=1), 0)
    items = pd.DataFrame(
        {"item_id": item_table["item_id"], "title": item_table["title"], "genre": np.asarray(genres, dtype=object)[first]}
    )
    return _assemble("ml-100k", ratings, users[["user_id", *_PROFILE]], items, genres, tuple(float(r) for r in range(1, 6)), directory / "u.data")


def load_ml25m(directory: Path) -> RawDataset:
    """ML-25M: ``ratings.csv`` and ``movies.csv`` with headers; no user profile; half stars."""
    ratings = read_table(
        directory / "ratings.csv",
        sep=",",
        header=True,
        columns={"userId": "int", "movieId": "int", "rating": "float", "timestamp": "int"},
    )
    ratings.columns = list(_RATINGS_COLUMNS)
    movies = read_table(
        directory / "movies.csv", sep=",", header=True, columns={"movieId": "int", "title": "str", "genres": "str"}
    )
    genre = _first_genre(movies["genres"])
    items = pd.DataFrame({"item_id": movies["movieId"], "title": movies["title"], "genre": genre})
    users = pd.DataFrame({"user_id": np.unique(ratings["user_id"].to_numpy())})
    rating_values = tuple(np.arange(1, 11) / 2.0)
    raw = RawDataset(
        name="ml-25m",
        ratings=ratings,
        users=users,
        items=items,
        user_fields=(),
        text_user_fields=(),
        genres=tuple(sorted(set(genre))),
        rating_values=tuple(float(r) for r in rating_values),
    )
    check_consistency(raw, directory / "ratings.csv", header=True)
    return raw


def _assemble(
    name: str,
    ratings: pd.DataFrame,
    users: pd.DataFrame,
    items: pd.DataFrame,
    genres: tuple[str, ...],
    rating_values: tuple[float, ...],
    ratings_file: Path,
) -> RawDataset:
    raw = RawDataset(
        name=name,
        ratings=ratings,
        users=users[["user_id", *_PROFILE]],
        items=items,
        user_fields=_PROFILE,
        text_user_fields=_TEXT_PROFILE,
        genres=genres,
        rating_values=rating_values,
    )
    check_consistency(raw, ratings_file)
    return raw


def check_consistency(raw: RawDataset, ratings_file: Path, header: bool = False) -> None:
    """Cross-file checks: every rated user and item is described, ratings are allowed values,
    no rating is listed twice.

    Without these a truncated users or movies file would silently drop samples or produce
    unknown categories. Line numbers count the ratings file's lines from 1 (header included).

    Duplicates: the same (user, item, timestamp) twice is refused, naming both lines: the
    protocol's stable sort would put the copy right after the original, so the later sample
    would show its own target and rating in its history (a label leak). The same (user, item)
    at *different* times is kept, both in time order: a re-rating is something the user really
    did, and the earlier rating is legitimate history for the later one (MovieLens' own files
    have none; GoodReads-style logs can).
    """
    directory = ratings_file.parent
    ratings = raw.ratings
    first_line = 2 if header else 1
    key = ratings[["user_id", "item_id", "timestamp"]]
    repeated = key.duplicated(keep="first").to_numpy()
    if repeated.any():
        second = int(np.flatnonzero(repeated)[0])
        same = (key == key.iloc[second]).all(axis=1).to_numpy()
        first = int(np.flatnonzero(same)[0])
        user, item, when = (int(v) for v in key.iloc[second])
        raise DataFormatError(
            f"{ratings_file}: lines {first + first_line} and {second + first_line} both rate item {item} by user {user} "
            f"at time {when}; remove the duplicate (it would leak its own label into its history)"
        )
    unknown_users = ~np.isin(ratings["user_id"].to_numpy(), raw.users["user_id"].to_numpy())
    if unknown_users.any():
        user = int(ratings["user_id"].to_numpy()[unknown_users][0])
        raise DataFormatError(
            f"{directory}: {int(unknown_users.sum())} ratings refer to users missing from the user file (first: user {user})"
        )
    unknown_items = ~np.isin(ratings["item_id"].to_numpy(), raw.items["item_id"].to_numpy())
    if unknown_items.any():
        item = int(ratings["item_id"].to_numpy()[unknown_items][0])
        raise DataFormatError(
            f"{directory}: {int(unknown_items.sum())} ratings refer to items missing from the item file (first: item {item})"
        )
    bad_rating = ~np.isin(ratings["rating"].to_numpy(), np.asarray(raw.rating_values, dtype=np.float32))
    if bad_rating.any():
        row = int(np.flatnonzero(bad_rating)[0])
        raise DataFormatError(
            f"{ratings_file}: rating {ratings['rating'].iloc[row]} on line {row + first_line} is not one of {list(raw.rating_values)}"
        )
    for frame, key, what in ((raw.users, "user_id", "user"), (raw.items, "item_id", "item")):
        duplicated = frame[key].duplicated().to_numpy()
        if duplicated.any():
            raise DataFormatError(f"{directory}: {what} id {frame[key].iloc[int(np.flatnonzero(duplicated)[0])]} is listed twice")


def _read_users(path: Path, sep: str, columns: dict[str, str], gender_field: str) -> pd.DataFrame:
    """A MovieLens user file with genders spelled out (both releases code them ``M``/``F``).

    ``gender_field`` is the field's name in the release's README, so an error names it as the
    user would look it up.
    """
    users = read_table(path, sep=sep, columns=columns)
    users["gender"] = _map_codes(users["gender"], _GENDERS, path, gender_field)
    return users


def _first_genre(genres: pd.Series) -> np.ndarray:
    return genres.str.split("|", n=1).str[0].to_numpy(dtype=object)


def _map_codes(values: pd.Series, mapping: dict, path: Path, field: str) -> np.ndarray:
    mapped = values.map(mapping)
    bad = mapped.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataFormatError(
            f"{path}, line {row + 1}: {field} is {values.tolist()[row]!r}, expected one of {sorted(mapping)}"
        )
    return mapped.to_numpy(dtype=object)
