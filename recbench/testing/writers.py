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

The big rating files are formatted without a Python loop per line: every field becomes a
matrix of ASCII bytes plus a mask of the bytes in use, and the masked bytes, read row by row,
are exactly the file's lines (see :func:`_format_lines`). 25M ratings take seconds.
"""

from __future__ import annotations

import csv
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recbench.datasets.base import AGE_BUCKETS, RawDataset
from recbench.datasets.movielens import ML1M_AGE_CODES, ML1M_GENRES, ML1M_OCCUPATIONS
from recbench.datasets.synth import readable_titles

#: ML-100K's genres, in u.genre's order (flag positions); index 0 is "unknown".
ML100K_GENRES: tuple[str, ...] = ("unknown", *ML1M_GENRES)

#: ML-100K's occupations, in u.occupation's order.
ML100K_OCCUPATIONS: tuple[str, ...] = (
    "administrator", "artist", "doctor", "educator", "engineer", "entertainment", "executive",
    "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none", "other",
    "programmer", "retired", "salesman", "scientist", "student", "technician", "writer",
)  # fmt: skip

#: ML-25M's genres (its README), then the marker for a movie without genres.
ML25M_GENRES: tuple[str, ...] = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)  # fmt: skip
ML25M_NO_GENRE = "(no genres listed)"

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


# --------------------------------------------------------------------------------------
# Vectorised line formatting
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Labels:
    """A column of small-vocabulary text: ``codes`` index into ``labels``."""

    codes: np.ndarray
    labels: Sequence[str]


def _int_width(values: np.ndarray) -> int:
    if values.size and values.min() < 0:
        raise ValueError("only non-negative integers can be written")
    return len(str(int(values.max()))) if values.size else 1


def _fill_int(values: np.ndarray, chars: np.ndarray, mask: np.ndarray) -> None:
    """Write non-negative integers as right-aligned ASCII digits into ``chars`` and mark the
    significant ones (no leading zeros) in ``mask``; both are ``(n, width)`` views."""
    width = chars.shape[1]
    rest = values
    for k in range(width - 1, -1, -1):  # dividing by a scalar is much faster than by an array
        quotient = rest // 10
        chars[:, k] = rest - quotient * 10 + ord("0")
        rest = quotient
    n_digits = 1 + np.searchsorted(10 ** np.arange(1, width, dtype=np.int64), values, side="right")
    mask[:] = np.arange(width)[None, :] >= (width - n_digits)[:, None]


def _label_table(labels: Sequence[str], encoding: str) -> tuple[np.ndarray, np.ndarray]:
    """Encoded labels, left-aligned in a byte table, with the mask of used bytes."""
    encoded = [label.encode(encoding) for label in labels]
    width = max(len(e) for e in encoded)
    table = np.zeros((len(encoded), width), dtype=np.uint8)
    table_mask = np.zeros((len(encoded), width), dtype=bool)
    for i, e in enumerate(encoded):
        table[i, : len(e)] = np.frombuffer(e, dtype=np.uint8)
        table_mask[i, : len(e)] = True
    return table, table_mask


def _format_lines(columns: Sequence[np.ndarray | _Labels], sep: str, encoding: str = "ascii") -> bytes:
    """Lines ``col0<sep>col1...\\n`` for every row, as bytes, without a per-line loop.

    Every field gets a fixed-width slot in one ``(n, width)`` byte matrix plus a mask of the
    bytes in use (digits without leading zeros, a label's length); keeping the masked bytes in
    row-major order yields exactly the lines of the file.
    """
    n = len(columns[0].codes if isinstance(columns[0], _Labels) else columns[0])
    sep_bytes = np.frombuffer(sep.encode(encoding), dtype=np.uint8)
    slots: list[tuple[str, object, int]] = []
    for i, column in enumerate(columns):
        if i:
            slots.append(("const", sep_bytes, len(sep_bytes)))
        if isinstance(column, _Labels):
            table = _label_table(column.labels, encoding)
            slots.append(("labels", (column.codes, table), table[0].shape[1]))
        else:
            values = np.asarray(column, dtype=np.int64)
            slots.append(("int", values, _int_width(values)))
    slots.append(("const", np.frombuffer(b"\n", dtype=np.uint8), 1))
    chars = np.empty((n, sum(width for _, _, width in slots)), dtype=np.uint8)
    mask = np.empty(chars.shape, dtype=bool)
    at = 0
    for kind, payload, width in slots:
        here = slice(at, at + width)
        if kind == "int":
            _fill_int(payload, chars[:, here], mask[:, here])
        elif kind == "labels":
            codes, (table, table_mask) = payload
            chars[:, here] = table[codes]
            mask[:, here] = table_mask[codes]
        else:
            chars[:, here] = payload
            mask[:, here] = True
        at += width
    return chars[mask].tobytes()


def _write_lines(path: Path, columns: Sequence[np.ndarray | _Labels], sep: str, chunk: int = 1 << 20) -> None:
    """Write rows in chunks so even 25M-row files need little memory."""
    n = len(columns[0].codes if isinstance(columns[0], _Labels) else columns[0])
    with open(path, "wb") as out:
        out.writelines(_format_lines([_slice(c, lo, lo + chunk) for c in columns], sep) for lo in range(0, n, chunk))


def _slice(column: np.ndarray | _Labels, lo: int, hi: int) -> np.ndarray | _Labels:
    if isinstance(column, _Labels):
        return _Labels(column.codes[lo:hi], column.labels)
    return column[lo:hi]


def _write_text(path: Path, lines: Sequence[str], encoding: str = "ascii") -> None:
    """Small files: one string per line, ``\\n`` endings, the publisher's encoding."""
    with open(path, "w", encoding=encoding, newline="\n") as out:
        out.writelines(line + "\n" for line in lines)


# --------------------------------------------------------------------------------------
# Writers from a RawDataset
# --------------------------------------------------------------------------------------


def write_ml1m(raw: RawDataset, directory: Path | str) -> Path:
    """Write ``raw`` as ML-1M's ``ratings.dat``, ``users.dat`` and ``movies.dat``.

    ``raw`` needs ML-1M's profile fields (gender, age bucket, occupation, zip) and whole-star
    ratings; ML-100K occupation names are mapped onto ML-1M codes. Returns the directory.
    """
    directory = _prepare(directory)
    _require_profile(raw)
    ratings = raw.ratings
    stars = _whole_stars(ratings["rating"].to_numpy(), "ML-1M")
    _write_lines(
        directory / "ratings.dat",
        [ratings["user_id"].to_numpy(), ratings["item_id"].to_numpy(), stars, ratings["timestamp"].to_numpy()],
        sep="::",
    )
    users = raw.users
    user_lines = [
        f"{uid}::{_GENDER_LETTER[g]}::{_ML1M_AGE_CODE[a]}::{_ml1m_occupation_code(o)}::{z}"
        for uid, g, a, o, z in zip(users["user_id"], users["gender"], users["age"], users["occupation"], users["zip"])
    ]
    _write_text(directory / "users.dat", user_lines)
    movie_lines = [
        f"{iid}::{_no_separator(title, '::')}::{genre}"
        for iid, title, genre in zip(raw.items["item_id"], raw.items["title"], raw.items["genre"])
    ]
    _write_text(directory / "movies.dat", movie_lines, encoding="latin-1")
    return directory


def write_ml100k(raw: RawDataset, directory: Path | str) -> Path:
    """Write ``raw`` as ML-100K's ``u.data``, ``u.user``, ``u.item``, ``u.genre``,
    ``u.occupation`` and ``u.info``.

    Age buckets become a raw age inside the bucket (so bucketing them again gives the same
    bucket); ML-1M occupation names are mapped onto ML-100K's list; each item is flagged with
    its one (first) genre. Returns the directory.
    """
    directory = _prepare(directory)
    _require_profile(raw)
    ratings = raw.ratings
    stars = _whole_stars(ratings["rating"].to_numpy(), "ML-100K")
    _write_lines(
        directory / "u.data",
        [ratings["user_id"].to_numpy(), ratings["item_id"].to_numpy(), stars, ratings["timestamp"].to_numpy()],
        sep="\t",
    )
    users = raw.users
    user_lines = [
        f"{uid}|{_raw_age(a, uid)}|{_GENDER_LETTER[g]}|{_ml100k_occupation(o)}|{z}"
        for uid, a, g, o, z in zip(users["user_id"], users["age"], users["gender"], users["occupation"], users["zip"])
    ]
    _write_text(directory / "u.user", user_lines)
    items = raw.items
    item_lines = [_ml100k_item_line(int(i), t, g) for i, t, g in zip(items["item_id"], items["title"], items["genre"])]
    _write_text(directory / "u.item", item_lines, encoding="latin-1")
    # the real u.genre ends with an empty line
    _write_text(directory / "u.genre", [f"{g}|{i}" for i, g in enumerate(ML100K_GENRES)] + [""])
    _write_text(directory / "u.occupation", list(ML100K_OCCUPATIONS))
    _write_text(directory / "u.info", [f"{len(users)} users", f"{len(items)} items", f"{len(ratings)} ratings"])
    return directory


def _prepare(directory: Path | str) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _require_profile(raw: RawDataset) -> None:
    missing = [f for f in ("gender", "age", "occupation", "zip") if f not in raw.users.columns]
    if missing:
        raise ValueError(
            f"dataset {raw.name!r} has no {', '.join(missing)} user field(s); MovieLens user files need them"
        )


def _whole_stars(ratings: np.ndarray, what: str) -> np.ndarray:
    stars = np.rint(ratings).astype(np.int64)
    if not (np.allclose(stars, ratings) and stars.min() >= 1 and stars.max() <= 5):
        raise ValueError(f"{what} ratings must be whole stars 1..5")
    return stars


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


# --------------------------------------------------------------------------------------
# Generated fixtures at the real datasets' scale
# --------------------------------------------------------------------------------------

_ML1M_TIME = (956_703_932, 1_046_454_590)  # first and last timestamp of the real ML-1M
_ML25M_TIME = (789_652_009, 1_574_327_703)  # same for ML-25M
_ML1M_COUNTS = {"ratings": 1_000_209, "users": 6_040, "rated_movies": 3_706, "movies": 3_883, "zips": 3_439}
_ML1M_MAX_MOVIE_ID = 3_952


def write_ml1m_shaped(directory: Path | str, seed: int = 0) -> Path:
    """Write a generated fixture with ML-1M's published shape, in ML-1M's format.

    Exactly 1,000,209 ratings by 6,040 users (each >= 20), 3,706 distinct rated movies out of
    3,883 listed (ids within 1..3952), both genders, all 7 age codes, all 21 occupations,
    3,439 distinct zip codes, all 18 genres as the first genre of some rated movie, unique
    titles. These are the numbers behind the SPEC's published checks (970,009 samples,
    16,944 ID features), so the protocol can be checked end to end without the licensed file.
    Ratings of a user appear together, in no time order (like the real file). Returns the directory.
    """
    directory = _prepare(directory)
    rng = np.random.default_rng(seed)
    c = _ML1M_COUNTS
    counts = _ratings_per_user(rng, c["users"], c["ratings"], minimum=20, maximum=c["rated_movies"])
    position = _distinct_items_per_user(rng, counts, c["rated_movies"])
    position = _cover_all_items(position, c["rated_movies"])
    movie_ids = np.sort(rng.choice(_ML1M_MAX_MOVIE_ID, size=c["movies"], replace=False) + 1)
    rated = np.sort(rng.choice(c["movies"], size=c["rated_movies"], replace=False))
    user_idx = np.repeat(np.arange(c["users"]), counts)
    stars = rng.choice(5, size=c["ratings"], p=[0.056, 0.108, 0.261, 0.349, 0.226]) + 1
    _write_lines(
        directory / "ratings.dat",
        [user_idx + 1, movie_ids[rated[position]], stars, _ml1m_timestamps(rng, counts)],
        sep="::",
    )
    _write_text(directory / "users.dat", _ml1m_shaped_users(rng, c["users"], c["zips"]))
    first_genre = rng.choice(len(ML1M_GENRES), size=c["movies"], p=_share(len(ML1M_GENRES)))
    first_genre[rated] = _draw_covering(rng, c["rated_movies"], _share(len(ML1M_GENRES)))
    genres = _genre_strings(rng, first_genre, ML1M_GENRES)
    titles = readable_titles(rng, c["movies"], article_last=True)
    movie_lines = [f"{m}::{t}::{g}" for m, t, g in zip(movie_ids, titles, genres)]
    _write_text(directory / "movies.dat", movie_lines, encoding="latin-1")
    return directory


def write_ml25m(
    directory: Path | str,
    n_ratings: int = 25_000_095,
    n_users: int = 162_541,
    n_items: int = 62_423,
    seed: int = 0,
) -> Path:
    """Write a generated fixture in ML-25M's format (defaults: the real release's counts).

    ``ratings.csv`` (header ``userId,movieId,rating,timestamp``; half stars 0.5..5.0; sorted
    by user then movie like the real file; every user has >= 20 distinct movies) and
    ``movies.csv`` (header ``movieId,title,genres``; sparse movie ids; unique titles, some
    with commas and therefore quoted; pipe-separated genres or ``(no genres listed)``).
    Vectorised and streamed in chunks of users: the default 25M ratings take seconds.
    Returns the directory.
    """
    if n_ratings < 20 * n_users:
        raise ValueError(f"{n_ratings} ratings cannot give {n_users} users 20 ratings each")
    if n_items < 20:
        raise ValueError("need at least 20 movies so every user can rate 20 distinct ones")
    directory = _prepare(directory)
    rng = np.random.default_rng(seed)
    counts = _ratings_per_user(rng, n_users, n_ratings, minimum=20, maximum=n_items)
    movie_ids = np.sort(rng.choice(int(n_items * 3.35) + 1, size=n_items, replace=False) + 1)
    _write_ml25m_ratings(directory / "ratings.csv", rng, counts, movie_ids)
    _write_ml25m_movies(directory / "movies.csv", rng, movie_ids)
    return directory


#: ML-25M's share of each half-star value 0.5..5.0
_HALF_STAR_SHARE = np.array([1.6, 3.1, 1.6, 6.6, 4.9, 19.7, 13.0, 26.6, 8.8, 14.1])
_HALF_STAR_LABELS = tuple(f"{v / 2:.1f}" for v in range(1, 11))


def _write_ml25m_ratings(path: Path, rng: np.random.Generator, counts: np.ndarray, movie_ids: np.ndarray) -> None:
    """Stream ratings.csv in blocks of whole users so each block can be sorted by movie."""
    n_items = len(movie_ids)
    lo_time, hi_time = _ML25M_TIME
    bounds = np.concatenate([[0], np.cumsum(counts)])
    with open(path, "wb") as out:
        out.write(b"userId,movieId,rating,timestamp\n")
        first = 0
        while first < len(counts):
            last = int(np.searchsorted(bounds, bounds[first] + (1 << 21), side="right")) - 1
            last = max(last, first + 1)
            block = counts[first:last]
            position = _distinct_items_per_user(rng, block, n_items)
            user_idx = np.repeat(np.arange(first, last), block)
            # sort each user's movies ascending: one sort on a combined key
            key = np.sort(user_idx.astype(np.int64) * n_items + position)
            user_idx, position = np.divmod(key, n_items)
            start = rng.integers(lo_time, hi_time, size=len(block))
            span = rng.exponential(86_400 * 60, size=len(block))
            times = start.repeat(block) + (rng.random(len(user_idx)) * span.repeat(block)).astype(np.int64)
            stars = _Labels(
                rng.choice(10, size=len(user_idx), p=_HALF_STAR_SHARE / _HALF_STAR_SHARE.sum()), _HALF_STAR_LABELS
            )
            columns = [user_idx + 1, movie_ids[position], stars, np.minimum(times, hi_time)]
            out.write(_format_lines(columns, sep=","))
            first = last


def _write_ml25m_movies(path: Path, rng: np.random.Generator, movie_ids: np.ndarray) -> None:
    n = len(movie_ids)
    first = rng.choice(len(ML25M_GENRES), size=n, p=_share(len(ML25M_GENRES)))
    genres = _genre_strings(rng, first, ML25M_GENRES)
    no_genre = rng.random(n) < 0.08  # the real file has ~8% movies without genres
    titles = readable_titles(rng, n, article_last=True)
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(["movieId", "title", "genres"])
        for movie, title, genre, empty in zip(movie_ids, titles, genres, no_genre):
            writer.writerow([int(movie), title, ML25M_NO_GENRE if empty else genre])


def _ratings_per_user(rng: np.random.Generator, n_users: int, n_ratings: int, minimum: int, maximum: int) -> np.ndarray:
    """Heavy-tailed ratings per user summing to exactly ``n_ratings``, each in [minimum, maximum]."""
    if not minimum * n_users <= n_ratings <= maximum * n_users:
        raise ValueError(f"cannot spread {n_ratings} ratings over {n_users} users with {minimum}..{maximum} each")
    weights = rng.lognormal(0.0, 1.1, size=n_users)
    counts = minimum + rng.multinomial(n_ratings - minimum * n_users, weights / weights.sum())
    while (excess := int(np.maximum(counts - maximum, 0).sum())) > 0:
        counts = np.minimum(counts, maximum)
        room = (maximum - counts).astype(np.float64)
        counts += rng.multinomial(excess, room / room.sum())
    return counts


def _distinct_items_per_user(rng: np.random.Generator, counts: np.ndarray, n_items: int) -> np.ndarray:
    """Item positions 0..n_items-1 for each user's ratings (flat, user by user), distinct
    within a user: user u takes ``start_u + k * step_u (mod n_items)`` for k < counts[u],
    which never repeats while counts[u] <= n_items because step_u is coprime to n_items."""
    n_users = len(counts)
    start = rng.integers(0, n_items, size=n_users)
    step = _coprime_steps(rng, n_items, n_users)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    k = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(offsets, counts)
    return (np.repeat(start, counts) + k * np.repeat(step, counts)) % n_items


def _coprime_steps(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    if n == 1:
        return np.ones(size, dtype=np.int64)
    steps = rng.integers(1, n, size=size)
    while (bad := np.gcd(steps, n) != 1).any():
        steps[bad] = rng.integers(1, n, size=int(bad.sum()))
    return steps


def _cover_all_items(position: np.ndarray, n_items: int) -> np.ndarray:
    """Make every item position appear at least once by re-pointing ratings of the most
    rated items. Safe: an item nobody rated cannot duplicate any user's item. Rarely needed."""
    position = position.copy()
    rated = np.bincount(position, minlength=n_items)
    for item in np.flatnonzero(rated == 0):
        donor = int(np.argmax(rated))
        row = int(np.flatnonzero(position == donor)[0])
        position[row] = item
        rated[donor] -= 1
        rated[item] += 1
    return position


def _ml1m_timestamps(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """Most activity in 2000 (as in ML-1M), bursts of seconds to minutes with occasional
    long breaks; shuffled within each user because the real file is not in time order."""
    lo, hi = _ML1M_TIME
    n = int(counts.sum())
    user_idx = np.repeat(np.arange(len(counts)), counts)
    start = lo + (rng.beta(1.0, 8.0, size=len(counts)) * (hi - lo)).astype(np.int64)
    gaps = rng.exponential(45.0, size=n) + (rng.random(n) < 0.01) * rng.exponential(30 * 86_400, size=n)
    cumulative = np.cumsum(gaps.astype(np.int64))
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    times = np.minimum(start[user_idx] + cumulative - np.repeat(cumulative[offsets], counts), hi)
    shuffled = np.lexsort((rng.random(n), user_idx))  # a random order inside each user
    return times[shuffled]


def _ml1m_shaped_users(rng: np.random.Generator, n_users: int, n_zips: int) -> list[str]:
    gender = _draw_covering(rng, n_users, np.array([0.28, 0.72]))
    age = _draw_covering(rng, n_users, np.array([0.04, 0.18, 0.35, 0.20, 0.09, 0.08, 0.06]))
    occupation = _draw_covering(rng, n_users, _share(len(ML1M_OCCUPATIONS)))
    zip_codes = rng.choice(100_000, size=n_zips, replace=False)
    zip_of_user = zip_codes[_draw_covering(rng, n_users, _share(n_zips))]
    age_codes = list(ML1M_AGE_CODES)
    return [
        f"{u + 1}::{'FM'[g]}::{age_codes[a]}::{o}::{z:05d}"
        for u, (g, a, o, z) in enumerate(zip(gender, age, occupation, zip_of_user))
    ]


def _draw_covering(rng: np.random.Generator, n: int, p: np.ndarray) -> np.ndarray:
    """``n`` category codes drawn from ``p`` in which every category occurs at least once."""
    codes = rng.choice(len(p), size=n, p=p / p.sum())
    codes[: len(p)] = np.arange(len(p))
    return rng.permutation(codes)


def _share(n: int) -> np.ndarray:
    """A skewed (Zipf-like) distribution over n categories, as most MovieLens fields are."""
    weights = 1.0 / np.arange(1, n + 1) ** 0.8
    return weights / weights.sum()


def _genre_strings(rng: np.random.Generator, first: np.ndarray, vocabulary: Sequence[str]) -> list[str]:
    """Pipe-separated genres in vocabulary (alphabetical) order, like MovieLens: the drawn
    first genre, then 0-2 genres that sort after it, so the listed first genre is ``first``."""
    extra = rng.integers(0, 3, size=len(first))
    out = []
    for f, k in zip(first, extra):
        later = np.arange(f + 1, len(vocabulary))
        chosen = np.sort(rng.choice(later, size=min(k, len(later)), replace=False)) if k else []
        out.append("|".join(vocabulary[i] for i in (f, *chosen)))
    return out
