"""Generated MovieLens fixtures at the real releases' scale, in their exact file formats.

Why: the SPEC's published checks (ML-1M's 970,009 samples and 16,944 ID features) and the
protocol benchmarks need files with the real releases' counts, but the licensed files may not
be committed. :func:`write_ml1m_shaped` draws a fixture with ML-1M's published shape and
:func:`write_ml25m` one in ML-25M's format (by default at its full 25M ratings, in seconds).
Formats: see :mod:`recbench.testing.writers`.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recbench.datasets.movielens import ML1M_AGE_CODES, ML1M_GENRES, ML1M_OCCUPATIONS
from recbench.datasets.synth import readable_titles
from recbench.testing.line_format import Labels, format_lines, prepare_directory, write_lines, write_text

#: ML-25M's genres (its README), then the marker for a movie without genres.
ML25M_GENRES: tuple[str, ...] = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)  # fmt: skip
ML25M_NO_GENRE = "(no genres listed)"

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
    directory = prepare_directory(directory)
    rng = np.random.default_rng(seed)
    c = _ML1M_COUNTS
    counts = _ratings_per_user(rng, c["users"], c["ratings"], minimum=20, maximum=c["rated_movies"])
    position = _distinct_items_per_user(rng, counts, c["rated_movies"])
    position = _cover_all_items(position, c["rated_movies"])
    movie_ids = np.sort(rng.choice(_ML1M_MAX_MOVIE_ID, size=c["movies"], replace=False) + 1)
    rated = np.sort(rng.choice(c["movies"], size=c["rated_movies"], replace=False))
    user_idx = np.repeat(np.arange(c["users"]), counts)
    stars = rng.choice(5, size=c["ratings"], p=[0.056, 0.108, 0.261, 0.349, 0.226]) + 1
    write_lines(
        directory / "ratings.dat",
        [user_idx + 1, movie_ids[rated[position]], stars, _ml1m_timestamps(rng, counts)],
        sep="::",
    )
    write_text(directory / "users.dat", _ml1m_shaped_users(rng, c["users"], c["zips"]))
    first_genre = rng.choice(len(ML1M_GENRES), size=c["movies"], p=_share(len(ML1M_GENRES)))
    first_genre[rated] = _draw_covering(rng, c["rated_movies"], _share(len(ML1M_GENRES)))
    genres = _genre_strings(rng, first_genre, ML1M_GENRES)
    titles = readable_titles(rng, c["movies"], article_last=True)
    movie_lines = [f"{m}::{t}::{g}" for m, t, g in zip(movie_ids, titles, genres)]
    write_text(directory / "movies.dat", movie_lines, encoding="latin-1")
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
    directory = prepare_directory(directory)
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
            stars = Labels(
                rng.choice(10, size=len(user_idx), p=_HALF_STAR_SHARE / _HALF_STAR_SHARE.sum()), _HALF_STAR_LABELS
            )
            columns = [user_idx + 1, movie_ids[position], stars, np.minimum(times, hi_time)]
            out.write(format_lines(columns, sep=","))
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
