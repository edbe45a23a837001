"""The generated ``synth`` dataset, the publisher-format writers and the GoodReads loader.

The writers are the project's stand-in for licensed files, so their output is read back here
with plain pandas / json (not only through the project's loaders): a fixture that only our own
reader accepts would prove nothing about the real format.
"""

from __future__ import annotations

import gzip
import io
import json
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from recbench.datasets.base import AGE_BUCKETS, get_dataset_info
from recbench.datasets.goodreads import (
    BOOKS_FILE,
    GENRES_FILE,
    GOODREADS_GENRES,
    INTERACTIONS_FILE,
    load_goodreads,
    parse_goodreads_time,
)
from recbench.datasets.movielens import ML1M_GENRES, ML1M_OCCUPATIONS, load_ml1m, load_ml100k
from recbench.datasets.synth import generate_synth
from recbench.testing.goodreads_writer import write_goodreads
from recbench.testing.writers import write_ml1m, write_ml1m_shaped, write_ml25m, write_ml100k
from recbench.errors import DataFormatError


@pytest.fixture(scope="module")
def synth():
    return generate_synth()


# ---------------------------------------------------------------- synth


def test_synth_is_deterministic_per_seed(synth):
    again = generate_synth()
    for name in ("ratings", "users", "items"):
        pd.testing.assert_frame_equal(getattr(synth, name), getattr(again, name))
    other = generate_synth(seed=1)
    assert not synth.ratings.equals(other.ratings)
    assert not synth.items.equals(other.items)


def test_synth_has_the_movielens_shape(synth):
    ratings, users, items = synth.ratings, synth.users, synth.items
    assert 35_000 < len(ratings) < 50_000
    assert {c: str(t) for c, t in ratings.dtypes.items()} == {
        "user_id": "int64", "item_id": "int64", "rating": "float32", "timestamp": "int64",
    }  # fmt: skip
    assert set(ratings["rating"].unique()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert synth.rating_values == (1.0, 2.0, 3.0, 4.0, 5.0)
    per_user = ratings.groupby("user_id").size()
    assert per_user.min() >= 20 and per_user.max() <= 120 and len(per_user) == 600
    assert not ratings.duplicated(["user_id", "item_id"]).any()
    # timestamps strictly increase along each user's rows
    same_user = ratings["user_id"].diff().eq(0)
    assert (ratings["timestamp"].diff()[same_user] > 0).all()

    assert synth.user_fields == ("gender", "age", "occupation", "zip")
    assert synth.text_user_fields == ("gender", "age", "occupation")
    assert set(users["gender"]) == {"female", "male"}
    assert set(users["age"]) <= set(AGE_BUCKETS)
    assert set(users["occupation"]) <= set(ML1M_OCCUPATIONS)
    assert users["zip"].str.fullmatch(r"\d{5}").all()
    assert list(users["user_id"]) == list(range(1, 601))

    assert synth.genres == ML1M_GENRES and set(items["genre"]) <= set(ML1M_GENRES)
    assert items["title"].is_unique
    assert items["title"].str.fullmatch(r".+ \(\d{4}\)").all()
    assert synth.item_noun == "movie"
    assert 0.4 < (ratings["rating"] > 3).mean() < 0.7


def test_synth_is_registered_as_embedded():
    info = get_dataset_info("synth")
    assert info.embedded and info.files == ()
    pd.testing.assert_frame_equal(info.loader(Path(".")).ratings, generate_synth().ratings)


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def _history_features(raw, window: int | None) -> pd.DataFrame:
    """Per rating: the user's earlier positive rate and earlier positive rate on the target's
    genre, over the whole history (``window=None``) or over the last ``window`` ratings.
    Shrunk towards the prior and put on the logit scale for a logistic regression."""
    frame = raw.ratings.merge(raw.items[["item_id", "genre"]], on="item_id")
    frame = frame.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    y = (frame["rating"] > 3).to_numpy(float)
    genre = pd.Categorical(frame["genre"], categories=raw.genres).codes
    n = len(frame)
    onehot = np.zeros((n, len(raw.genres)))
    onehot[np.arange(n), genre] = 1.0
    # exclusive prefix sums: row i holds the totals of rows < i
    seen = np.vstack([np.zeros((1, onehot.shape[1])), np.cumsum(onehot, axis=0)])
    liked = np.vstack([np.zeros((1, onehot.shape[1])), np.cumsum(onehot * y[:, None], axis=0)])
    rows = np.arange(n)
    user_start = frame.groupby("user_id").cumcount().to_numpy()
    first = rows - user_start
    low = first if window is None else np.maximum(first, rows - window)
    n_all, pos_all = rows - low, np.cumsum(np.r_[0, y])[rows] - np.cumsum(np.r_[0, y])[low]
    n_genre = seen[rows, genre] - seen[low, genre]
    pos_genre = liked[rows, genre] - liked[low, genre]
    prior = y.mean()
    user_rate = (pos_all + 2 * prior) / (n_all + 2)
    genre_rate = (pos_genre + 2 * user_rate) / (n_genre + 2)
    out = pd.DataFrame({"user": _logit(user_rate), "genre": _logit(genre_rate), "y": y, "t": frame["timestamp"]})
    return out[user_start >= 10].sort_values("t", kind="stable")


def _temporal_auc(features: pd.DataFrame) -> float:
    cut = int(0.8 * len(features))
    train, test = features.iloc[:cut], features.iloc[cut:]
    model = LogisticRegression().fit(train[["user", "genre"]], train["y"])
    return roc_auc_score(test["y"], model.predict_proba(test[["user", "genre"]])[:, 1])


def test_synth_taste_is_revealed_by_the_whole_history_more_than_by_the_last_ten(synth):
    whole = _temporal_auc(_history_features(synth, window=None))
    recent = _temporal_auc(_history_features(synth, window=10))
    assert whole > recent + 0.03, (whole, recent)
    assert recent > 0.6, recent  # the recent window still carries some signal


# ---------------------------------------------------------------- MovieLens writers


def _read_dat(path: Path, names: list[str], encoding: str = "ascii") -> pd.DataFrame:
    text = path.read_bytes().decode(encoding).replace("::", "\t")
    return pd.read_csv(
        io.StringIO(text), sep="\t", header=None, names=names, dtype=str, keep_default_na=False, quoting=3
    )


@pytest.fixture(scope="module")
def ml1m_shaped(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ml1m-shaped")
    started = time.perf_counter()
    write_ml1m_shaped(directory, seed=0)
    return directory, time.perf_counter() - started


def test_ml1m_shaped_has_the_published_counts(ml1m_shaped):
    directory, seconds = ml1m_shaped
    assert seconds < 15
    ratings = _read_dat(directory / "ratings.dat", ["user", "movie", "rating", "time"]).astype(np.int64)
    assert len(ratings) == 1_000_209
    assert (directory / "ratings.dat").read_bytes().count(b"\n") == 1_000_209
    per_user = ratings.groupby("user").size()
    assert len(per_user) == 6_040 and per_user.min() >= 20
    assert len(ratings) - 5 * len(per_user) == 970_009  # the SPEC's sample count
    assert ratings["movie"].nunique() == 3_706
    assert not ratings.duplicated(["user", "movie"]).any()
    assert set(ratings["rating"]) == {1, 2, 3, 4, 5}
    assert ratings["time"].between(956_703_932, 1_046_454_590).all()

    users = _read_dat(directory / "users.dat", ["user", "gender", "age", "occupation", "zip"])
    assert len(users) == 6_040 and users["user"].astype(int).is_unique
    assert set(users["user"].astype(int)) == set(per_user.index)
    assert set(users["gender"]) == {"M", "F"}
    assert set(users["age"].astype(int)) == {1, 18, 25, 35, 45, 50, 56}
    assert set(users["occupation"].astype(int)) == set(range(21))
    assert users["zip"].nunique() == 3_439

    movies = _read_dat(directory / "movies.dat", ["movie", "title", "genres"], encoding="latin-1")
    assert len(movies) == 3_883 and movies["title"].is_unique
    movie_ids = movies["movie"].astype(int)
    assert movie_ids.is_unique and movie_ids.between(1, 3_952).all()
    assert set(ratings["movie"]) <= set(movie_ids)
    rated = movies[movie_ids.isin(ratings["movie"])]
    assert set(rated["genres"].str.split("|").str[0]) == set(ML1M_GENRES)
    assert all(set(g.split("|")) <= set(ML1M_GENRES) for g in movies["genres"])


def test_ml1m_round_trip_through_the_loader(synth, tmp_path):
    write_ml1m(synth, tmp_path)
    assert (tmp_path / "users.dat").read_text().splitlines()[0].count("::") == 4
    loaded = load_ml1m(tmp_path)
    for name in ("ratings", "users", "items"):
        pd.testing.assert_frame_equal(
            getattr(loaded, name).reset_index(drop=True).astype(str),
            getattr(synth, name).reset_index(drop=True).astype(str),
        )


def test_ml100k_round_trip_through_the_loader(synth, tmp_path):
    write_ml100k(synth, tmp_path)
    fields = [line.split("|") for line in (tmp_path / "u.item").read_text(encoding="latin-1").splitlines()]
    assert {len(f) for f in fields} == {24} and all(f[5:].count("1") == 1 for f in fields)
    assert (tmp_path / "u.data").read_text().splitlines()[0].count("\t") == 3
    loaded = load_ml100k(tmp_path)
    pd.testing.assert_frame_equal(loaded.ratings, synth.ratings)
    pd.testing.assert_frame_equal(loaded.items.astype(str), synth.items.astype(str))
    for column in ("user_id", "gender", "age", "zip"):  # occupations map onto ML-100K's list
        assert list(loaded.users[column].astype(str)) == list(synth.users[column].astype(str))
    occupations = set((tmp_path / "u.occupation").read_text().split())
    assert set(loaded.users["occupation"]) <= occupations


def test_ml25m_writer_is_fast_and_in_format(tmp_path):
    started = time.perf_counter()
    write_ml25m(tmp_path, n_ratings=200_000, n_users=4_000, n_items=3_000, seed=3)
    assert time.perf_counter() - started < 5
    assert (tmp_path / "ratings.csv").read_text().startswith("userId,movieId,rating,timestamp\n")
    ratings = pd.read_csv(tmp_path / "ratings.csv")
    assert list(ratings.columns) == ["userId", "movieId", "rating", "timestamp"] and len(ratings) == 200_000
    per_user = ratings.groupby("userId").size()
    assert len(per_user) == 4_000 and per_user.min() >= 20
    assert set(ratings["rating"]) <= {v / 2 for v in range(1, 11)}
    assert not ratings.duplicated(["userId", "movieId"]).any()
    assert ratings.equals(ratings.sort_values(["userId", "movieId"]).reset_index(drop=True))
    movies = pd.read_csv(tmp_path / "movies.csv")
    assert list(movies.columns) == ["movieId", "title", "genres"] and len(movies) == 3_000
    assert movies["title"].str.contains(",").any()  # quoted titles parsed back whole
    assert movies["title"].str.fullmatch(r".+ \(\d{4}\)").all()
    assert set(ratings["movieId"]) <= set(movies["movieId"])


# ---------------------------------------------------------------- GoodReads


@pytest.fixture(scope="module")
def goodreads_dir(tmp_path_factory):
    return write_goodreads(tmp_path_factory.mktemp("goodreads"), n_users=150, n_books=250, n_interactions=4_000)


def _gz_records(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def test_goodreads_round_trip(goodreads_dir):
    raw = load_goodreads(goodreads_dir)
    lines = _gz_records(goodreads_dir / INTERACTIONS_FILE)
    assert len(lines) == 4_000
    rated = [r for r in lines if r["rating"] > 0]
    assert 0 < len(rated) < len(lines)  # unrated shelf entries exist and are skipped
    assert len(raw.ratings) == len(rated)
    numbers = {u: i + 1 for i, u in enumerate(dict.fromkeys(r["user_id"] for r in rated))}
    expected = pd.DataFrame(
        {
            "user_id": [numbers[r["user_id"]] for r in rated],
            "item_id": [int(r["book_id"]) for r in rated],
            "rating": np.array([r["rating"] for r in rated], dtype=np.float32),
            "timestamp": [
                int(datetime.strptime(r["date_updated"], "%a %b %d %H:%M:%S %z %Y").timestamp()) for r in rated
            ],
        }
    )
    pd.testing.assert_frame_equal(raw.ratings, expected)
    assert list(raw.users["user_id"]) == list(range(1, len(numbers) + 1))

    titles = {int(b["book_id"]): b["title"] for b in _gz_records(goodreads_dir / BOOKS_FILE)}
    tags = {int(g["book_id"]): g["genres"] for g in _gz_records(goodreads_dir / GENRES_FILE)}
    assert sorted(raw.items["item_id"]) == sorted({int(r["book_id"]) for r in rated})
    for book, title, genre in raw.items.itertuples(index=False):
        assert title == titles[book]
        counts = tags.get(book, {})
        assert genre == (max(counts, key=lambda g: (counts[g], -GOODREADS_GENRES.index(g))) if counts else "unknown")
    assert "unknown" in set(raw.items["genre"]) and len(set(raw.items["genre"])) > 5
    assert raw.user_fields == () and raw.item_noun == "book" and raw.genres == GOODREADS_GENRES
    assert raw.rating_values == (1.0, 2.0, 3.0, 4.0, 5.0)


def test_goodreads_is_registered_with_its_files():
    info = get_dataset_info("goodreads")
    assert info.files == (INTERACTIONS_FILE, BOOKS_FILE, GENRES_FILE)
    assert info.loader is load_goodreads
    assert [d.archive_name for d in info.downloads] == list(info.files)
    assert all(d.url.startswith("https://") and d.url.endswith(d.archive_name) for d in info.downloads)


def test_goodreads_time_parsing():
    text = "Fri Sep 08 10:44:24 -0700 2017"
    assert parse_goodreads_time(text) == int(datetime.strptime(text, "%a %b %d %H:%M:%S %z %Y").timestamp())
    assert parse_goodreads_time("Thu Jan 01 00:00:00 +0000 1970") == 0


def _copy_with_edit(source: Path, target: Path, edit) -> Path:
    """Copy the fixture, passing the interactions' lines through ``edit(lines) -> lines``."""
    target.mkdir()
    for name in (BOOKS_FILE, GENRES_FILE):
        (target / name).write_bytes((source / name).read_bytes())
    with gzip.open(source / INTERACTIONS_FILE, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    with gzip.open(target / INTERACTIONS_FILE, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(edit(lines)) + "\n")
    return target


def _first_rated(lines: list[str]) -> int:
    return next(i for i, line in enumerate(lines) if json.loads(line)["rating"] > 0 and i > 3)


def test_goodreads_malformed_line_names_file_and_line(goodreads_dir, tmp_path):
    def truncate(lines):
        i = _first_rated(lines)
        lines[i] = lines[i][: len(lines[i]) // 3]
        truncate.line = i + 1
        return lines

    broken = _copy_with_edit(goodreads_dir, tmp_path / "broken", truncate)
    with pytest.raises(DataFormatError, match=rf"{INTERACTIONS_FILE}, line {truncate.line}: not valid JSON"):
        load_goodreads(broken)


def test_goodreads_missing_field_names_field_and_line(goodreads_dir, tmp_path):
    def drop_time(lines):
        i = _first_rated(lines)
        record = json.loads(lines[i])
        del record["date_updated"]
        lines[i] = json.dumps(record)
        drop_time.line = i + 1
        return lines

    broken = _copy_with_edit(goodreads_dir, tmp_path / "no-time", drop_time)
    with pytest.raises(DataFormatError, match=rf"line {drop_time.line}: missing field 'date_updated'"):
        load_goodreads(broken)


def test_goodreads_rated_book_without_metadata_is_an_error(goodreads_dir, tmp_path):
    def unknown_book(lines):
        i = _first_rated(lines)
        record = json.loads(lines[i])
        record["book_id"] = "999999999"
        lines[i] = json.dumps(record)
        return lines

    broken = _copy_with_edit(goodreads_dir, tmp_path / "orphan", unknown_book)
    with pytest.raises(DataFormatError, match=r"rated books have no record \(first: book 999999999\)"):
        load_goodreads(broken)
