"""GoodReads from the UCSD Book Graph (Wan & McAuley, RecSys'18), and a fixture writer.

The paper points to https://mengtingwan.github.io/data/goodreads.html and does not say which
files or rows it used (its 449,114 users / 1,432,348 books / 20,122,040 samples match no
documented subset), so this module records the decisions taken here:

Files (all JSON lines, gzip-compressed, read as published; none needs unpacking):

* ``goodreads_interactions_dedup.json.gz``: one shelf entry per line with ``user_id``
  (hex string), ``book_id`` (digit string), ``rating`` (0..5; 0 = not rated), ``is_read``,
  ``date_added``, ``date_updated``, ``read_at``, ``started_at`` and review fields.
* ``goodreads_books.json.gz``: one book per line; ``book_id`` and ``title`` are used
  (``popular_shelves``, ``authors`` etc. are not: RawDataset has no slot for them yet).
* ``goodreads_book_genres_initial.json.gz``: ``{"book_id": ..., "genres": {name: count}}``,
  the publisher's own genre tags, derived from users' shelves by keyword matching.

Decisions:

* **Rows:** rated rows only (``rating`` 1..5); ``rating == 0`` means shelved without a rating
  and is skipped. The protocol's label is ``rating >= 4`` (SPEC 2); ``rating_values`` = 1..5.
* **Timestamp:** ``date_updated`` (``"Fri Sep 08 10:44:24 -0700 2017"``, converted to UTC
  epoch seconds): it is present on every row and is the last change of the entry, which for
  a rated entry is when the rating was (last) set. ``date_added`` is when the book was first
  shelved, often as "to-read" long before reading, and ``read_at`` is mostly empty. An empty
  ``date_updated`` falls back to ``date_added``.
* **Genre:** the genre with the highest count in the publisher's genre file (ties: the
  vocabulary order below), ``"unknown"`` when the book has none. This uses the publisher's
  fixed 10-genre vocabulary rather than raw shelf names, which are unbounded user tags
  ("to-read", "kindle", "owned-books"...).
* **Ids:** ``item_id`` is the GoodReads book id as an integer; users get ``user_id`` 1, 2, ...
  in order of their first rated row in the interactions file (the hex ids are not integers).
  No user profile exists: ``user_fields = ()``. ``item_noun = "book"``.
* **Streaming:** every file is read line by line from the gzip stream. Book and genre lines
  whose ``book_id`` is not rated are skipped after a cheap regex match, without a full JSON
  parse, so malformed lines there are reported only for rated books. A malformed line or a
  missing field raises :class:`DataFormatError` naming the file and the line number.
"""

from __future__ import annotations

import calendar
import gzip
import json
import re
import zlib
from array import array
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from recbench.datasets.base import DatasetInfo, Download, RawDataset, register_dataset
from recbench.errors import DataFormatError

INTERACTIONS_FILE = "goodreads_interactions_dedup.json.gz"
BOOKS_FILE = "goodreads_books.json.gz"
GENRES_FILE = "goodreads_book_genres_initial.json.gz"

#: the publisher's genre vocabulary (goodreads_book_genres_initial), then "unknown"
GOODREADS_GENRES: tuple[str, ...] = (
    "children", "comics, graphic", "fantasy, paranormal", "fiction",
    "history, historical fiction, biography", "mystery, thriller, crime", "non-fiction",
    "poetry", "romance", "young-adult", "unknown",
)  # fmt: skip
UNKNOWN_GENRE = "unknown"

_TIME_FIELD, _FALLBACK_TIME_FIELD = "date_updated", "date_added"
_TIME_FORMAT = "%a %b %d %H:%M:%S %z %Y"
_MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}
# An unrated row in the publisher's formatting; lets the loader skip most of the 228M lines
# without parsing them. Inside a JSON string the quotes would be escaped, so no false match.
_UNRATED = '"rating": 0,'
_BOOK_ID = re.compile(r'"book_id": "(\d+)"')


def load_goodreads(directory: Path) -> RawDataset:
    """Load the rated GoodReads interactions with book titles and genres (see module doc)."""
    directory = Path(directory)
    ratings = _read_interactions(directory / INTERACTIONS_FILE)
    book_ids = np.unique(ratings["item_id"].to_numpy())
    wanted = set(book_ids.tolist())
    titles = _read_titles(directory / BOOKS_FILE, wanted)
    missing = [b for b in book_ids.tolist() if b not in titles]
    if missing:
        raise DataFormatError(
            f"{directory / BOOKS_FILE}: {len(missing)} rated books have no record (first: book {missing[0]})"
        )
    genres = _read_genres(directory / GENRES_FILE, wanted)
    items = pd.DataFrame(
        {
            "item_id": book_ids.astype(np.int64),
            "title": [titles[b] for b in book_ids.tolist()],
            "genre": [genres.get(b, UNKNOWN_GENRE) for b in book_ids.tolist()],
        }
    )
    n_users = int(ratings["user_id"].max()) if len(ratings) else 0
    return RawDataset(
        name="goodreads",
        ratings=ratings,
        users=pd.DataFrame({"user_id": np.arange(1, n_users + 1, dtype=np.int64)}),
        items=items,
        user_fields=(),
        text_user_fields=(),
        genres=GOODREADS_GENRES,
        rating_values=(1.0, 2.0, 3.0, 4.0, 5.0),
        item_noun="book",
    )


def _json_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` for each non-blank line of a gzip JSON-lines file."""
    if not path.is_file():
        raise DataFormatError(f"{path}: file not found")
    line_no = 0
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line_no, line in enumerate(lines, start=1):
                if line.strip():
                    yield line_no, line
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise DataFormatError(f"{path}: cannot read gzip stream after line {line_no} ({exc})") from None
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}, line {line_no + 1}: not valid UTF-8 ({exc.reason})") from None


def _parse(line: str, path: Path, line_no: int) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path}, line {line_no}: not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise DataFormatError(f"{path}, line {line_no}: expected a JSON object")
    return record


def _field(record: dict, name: str, path: Path, line_no: int) -> object:
    if name not in record:
        raise DataFormatError(f"{path}, line {line_no}: missing field {name!r}")
    return record[name]


def _book_id(record: dict, path: Path, line_no: int) -> int:
    value = _field(record, "book_id", path, line_no)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise DataFormatError(f"{path}, line {line_no}: book_id is {value!r}, expected a number")


def _read_interactions(path: Path) -> pd.DataFrame:
    """Rated rows as ``user_id, item_id, rating, timestamp`` in file order."""
    user_numbers: dict[str, int] = {}
    users, books, stars, times = array("q"), array("q"), array("b"), array("q")
    for line_no, line in _json_lines(path):
        if _UNRATED in line:
            continue
        record = _parse(line, path, line_no)
        rating = _field(record, "rating", path, line_no)
        if isinstance(rating, bool) or not isinstance(rating, int) or not 0 <= rating <= 5:
            raise DataFormatError(f"{path}, line {line_no}: rating is {rating!r}, expected an integer 0..5")
        if rating == 0:
            continue
        user = _field(record, "user_id", path, line_no)
        if not isinstance(user, str) or not user:
            raise DataFormatError(f"{path}, line {line_no}: user_id is {user!r}, expected a non-empty string")
        users.append(user_numbers.setdefault(user, len(user_numbers) + 1))
        books.append(_book_id(record, path, line_no))
        stars.append(rating)
        times.append(_timestamp(record, path, line_no))
    return pd.DataFrame(
        {
            "user_id": np.frombuffer(users, dtype=np.int64) if users else np.empty(0, np.int64),
            "item_id": np.frombuffer(books, dtype=np.int64) if books else np.empty(0, np.int64),
            "rating": np.frombuffer(stars, dtype=np.int8).astype(np.float32),
            "timestamp": np.frombuffer(times, dtype=np.int64) if times else np.empty(0, np.int64),
        }
    )


def _timestamp(record: dict, path: Path, line_no: int) -> int:
    text = _field(record, _TIME_FIELD, path, line_no) or record.get(_FALLBACK_TIME_FIELD)
    try:
        return parse_goodreads_time(text)  # type: ignore[arg-type]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise DataFormatError(
            f"{path}, line {line_no}: {_TIME_FIELD} is {text!r}, expected a time like 'Fri Sep 08 10:44:24 -0700 2017'"
        ) from None


def parse_goodreads_time(text: str) -> int:
    """``"Fri Sep 08 10:44:24 -0700 2017"`` -> UTC epoch seconds.

    Hand-parsed (not ``strptime``) because it runs once per rated row, ~10^8 times on the
    full dump, and is several times faster this way.
    """
    _weekday, month, day, clock, offset, year = text.split(" ")
    hour, minute, second = clock.split(":")
    if len(offset) != 5 or offset[0] not in "+-":
        raise ValueError(f"bad UTC offset {offset!r}")
    shift = int(offset[1:3]) * 3600 + int(offset[3:5]) * 60
    local = calendar.timegm((int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second)))
    return local + shift if offset[0] == "-" else local - shift


def _wanted_records(path: Path, wanted: set[int]) -> Iterator[tuple[int, int, dict]]:
    """``(line number, book id, record)`` for the lines of ``path`` about a wanted book."""
    for line_no, line in _json_lines(path):
        match = _BOOK_ID.search(line)
        if match is not None and int(match.group(1)) not in wanted:
            continue
        record = _parse(line, path, line_no)
        book = _book_id(record, path, line_no)
        if book in wanted:
            yield line_no, book, record


def _read_titles(path: Path, wanted: set[int]) -> dict[int, str]:
    titles: dict[int, str] = {}
    for line_no, book, record in _wanted_records(path, wanted):
        title = _field(record, "title", path, line_no)
        if not isinstance(title, str):
            raise DataFormatError(f"{path}, line {line_no}: title is {title!r}, expected a string")
        title = " ".join(title.split()) or " ".join(str(record.get("title_without_series", "")).split())
        titles[book] = title or f"book {book}"
    return titles


def _read_genres(path: Path, wanted: set[int]) -> dict[int, str]:
    """Each wanted book's top genre: highest count, ties broken by vocabulary order."""
    genres: dict[int, str] = {}
    for line_no, book, record in _wanted_records(path, wanted):
        counts = _field(record, "genres", path, line_no)
        if not isinstance(counts, dict):
            raise DataFormatError(f"{path}, line {line_no}: genres is {counts!r}, expected an object")
        unknown = [g for g in counts if g not in GOODREADS_GENRES]
        if unknown:
            raise DataFormatError(
                f"{path}, line {line_no}: genre {unknown[0]!r} is not one of {list(GOODREADS_GENRES[:-1])}"
            )
        if counts:
            genres[book] = min(counts, key=lambda g: (-_count(counts[g], path, line_no), GOODREADS_GENRES.index(g)))
    return genres


def _count(value: object, path: Path, line_no: int) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise DataFormatError(f"{path}, line {line_no}: genre count {value!r} is not a number") from None


_UCSD = "https://datarepo.eng.ucsd.edu/mcauley_group/gdrive/goodreads"

register_dataset(
    DatasetInfo(
        name="goodreads",
        description=(
            "GoodReads (UCSD Book Graph): rated shelf entries of ~876k users on ~2.36M books, "
            "with titles and the publisher's genre tags (~11 GB download)"
        ),
        files=(INTERACTIONS_FILE, BOOKS_FILE, GENRES_FILE),
        loader=load_goodreads,
        # The publisher's page (mengtingwan.github.io/data/goodreads.html, and the mirror
        # cseweb.ucsd.edu/~jmcauley/datasets/goodreads.html) links these files on UCSD's data
        # repository; sizes and digests are not published there, so none are pinned.
        downloads=tuple(
            Download(url=f"{_UCSD}/{name}", archive_name=name) for name in (INTERACTIONS_FILE, BOOKS_FILE, GENRES_FILE)
        ),
        notes="The paper's exact GoodReads subset is not documented; this loads every rated row.",
    )
)
