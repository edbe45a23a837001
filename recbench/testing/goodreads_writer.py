"""A GoodReads fixture in the UCSD Book Graph's exact formats (for tests; no product path imports it).

The loader is :mod:`recbench.datasets.goodreads`; this writer produces the three gzipped
JSON-lines files it reads, with the dump's quirks (unrated shelvings, books without genre
tags, Pacific-time date strings), so the loader is tested without the licensed files.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from recbench.datasets.goodreads import _TIME_FORMAT, BOOKS_FILE, GENRES_FILE, GOODREADS_GENRES, INTERACTIONS_FILE
from recbench.datasets.synth import readable_titles

# --------------------------------------------------------------------------------------
# Fixture writer
# --------------------------------------------------------------------------------------

_WRITER_TIME = (1_199_145_600, 1_509_494_400)  # 2008-01-01 .. 2017-11-01, the dump's span
_STAR_SHARE = np.array([0.03, 0.08, 0.21, 0.35, 0.33])
_SHELVES = ("to-read", "currently-reading", "favorites", "owned", "books-i-own", "kindle")
_PACIFIC = (timezone(timedelta(hours=-8)), timezone(timedelta(hours=-7)))


def write_goodreads(
    directory: Path | str,
    n_users: int = 200,
    n_books: int = 300,
    n_interactions: int = 6_000,
    seed: int = 0,
) -> Path:
    """Write a small fixture in the UCSD Book Graph's exact formats (the three files above).

    ``n_interactions`` lines in total, about a quarter of them unrated (``rating`` 0) as in
    the real dump; each user shelves distinct books, and the lines are grouped by user like
    the publisher's file. Some books have no genre tags, or no line in the genre file, so the
    "unknown" path is exercised. Returns the directory.
    """
    if n_interactions < n_users:
        raise ValueError("need at least one interaction per user")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    book_ids = np.sort(rng.choice(30_000_000, size=n_books, replace=False) + 1)
    _write_books(directory / BOOKS_FILE, rng, book_ids)
    _write_genre_tags(directory / GENRES_FILE, rng, book_ids)
    _write_interactions(directory / INTERACTIONS_FILE, rng, n_users, book_ids, n_interactions)
    return directory


def _write_json_lines(path: Path, records: Iterator[dict] | list[dict]) -> None:
    # mtime=0: the same seed gives byte-identical files (gzip stores a timestamp otherwise)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for record in records:
            gz.write((json.dumps(record) + "\n").encode("utf-8"))


def _write_books(path: Path, rng: np.random.Generator, book_ids: np.ndarray) -> None:
    titles = [t.rsplit(" (", 1)[0] for t in readable_titles(rng, len(book_ids))]
    records = []
    for book, title in zip(book_ids.tolist(), titles):
        series = f" ({title.split()[-1]} Chronicles, #{rng.integers(1, 6)})" if rng.random() < 0.2 else ""
        shelves = [("to-read", int(rng.integers(50, 5000)))] + [
            (name, int(rng.integers(1, 50))) for name in rng.choice(_SHELVES[1:], size=3, replace=False)
        ]
        records.append(
            {
                "isbn": "", "text_reviews_count": str(rng.integers(0, 500)), "series": [],
                "country_code": "US", "language_code": "eng",
                "popular_shelves": [{"count": str(c), "name": n} for n, c in shelves],
                "asin": "", "is_ebook": "false", "average_rating": f"{rng.uniform(2.5, 4.8):.2f}",
                "kindle_asin": "", "similar_books": [], "description": f"A novel about {title.lower()}.",
                "format": "Paperback", "link": f"https://www.goodreads.com/book/show/{book}",
                "authors": [{"author_id": str(rng.integers(1, 10**7)), "role": ""}],
                "publisher": "", "num_pages": str(rng.integers(80, 900)), "publication_day": "",
                "isbn13": "", "publication_month": "", "edition_information": "",
                "publication_year": str(rng.integers(1950, 2018)),
                "url": f"https://www.goodreads.com/book/show/{book}", "image_url": "",
                "book_id": str(book), "ratings_count": str(rng.integers(1, 10_000)),
                "work_id": str(rng.integers(1, 6 * 10**7)), "title": title + series,
                "title_without_series": title,
            }
        )  # fmt: skip
    _write_json_lines(path, records)


def _write_genre_tags(path: Path, rng: np.random.Generator, book_ids: np.ndarray) -> None:
    vocabulary = GOODREADS_GENRES[:-1]
    records = []
    for book in book_ids.tolist():
        roll = rng.random()
        if roll < 0.05:
            continue  # no line at all for this book
        names = [] if roll < 0.15 else rng.choice(vocabulary, size=int(rng.integers(1, 4)), replace=False)
        records.append({"book_id": str(book), "genres": {str(n): int(rng.integers(1, 300)) for n in names}})
    _write_json_lines(path, records)


def _write_interactions(
    path: Path, rng: np.random.Generator, n_users: int, book_ids: np.ndarray, n_interactions: int
) -> None:
    weights = rng.lognormal(0.0, 1.0, size=n_users)
    counts = 1 + rng.multinomial(n_interactions - n_users, weights / weights.sum())
    counts = np.minimum(counts, len(book_ids))
    counts[0] += n_interactions - counts.sum()  # keep the total exact after capping
    if counts[0] > len(book_ids):
        raise ValueError(f"{n_interactions} interactions need more than {len(book_ids)} books")
    user_hex = [rng.bytes(16).hex() for _ in range(n_users)]  # 32 hex digits, like the dump
    if len(set(user_hex)) != n_users:
        raise ValueError("user id collision; use another seed")
    records = []
    for user, count in zip(user_hex, counts.tolist()):
        for book in rng.choice(book_ids, size=count, replace=False).tolist():
            records.append(_interaction(rng, user, book))
    _write_json_lines(path, records)


def _interaction(rng: np.random.Generator, user: str, book: int) -> dict:
    rated = rng.random() >= 0.25
    added = int(rng.integers(*_WRITER_TIME))
    updated = added + int(rng.exponential(86_400 * 30)) if rng.random() < 0.7 else added
    read_at = _gr_time(updated - int(rng.integers(0, 86_400))) if rated and rng.random() < 0.5 else ""
    return {
        "user_id": user,
        "book_id": str(book),
        "review_id": rng.bytes(16).hex(),
        "is_read": bool(rated),
        "rating": int(rng.choice(5, p=_STAR_SHARE) + 1) if rated else 0,
        "review_text_incomplete": "",
        "date_added": _gr_time(added),
        "date_updated": _gr_time(updated),
        "read_at": read_at,
        "started_at": "",
    }


def _gr_time(epoch: int) -> str:
    """GoodReads' time text in Pacific time (PDT in summer months, PST otherwise)."""
    utc = datetime.fromtimestamp(epoch, tz=timezone.utc)
    zone = _PACIFIC[1] if 4 <= utc.month <= 10 else _PACIFIC[0]
    return utc.astimezone(zone).strftime(_TIME_FORMAT)
