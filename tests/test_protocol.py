"""The protocol (SPEC 3): ordering, histories, filter, split, ID layout, windows and cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recbench.batches import gather_batch, recent_positions
from recbench.datasets import Fingerprint, RawDataset, load_dataset
from recbench.protocol import (
    cache_key,
    load_cached_protocol,
    load_protocol,
    prepare,
    save_protocol,
    split_sizes,
)
from recbench.text import render_prompt


def tiny_dataset(ratings: list[tuple[int, int, float, int]]) -> RawDataset:
    frame = pd.DataFrame(ratings, columns=["user_id", "item_id", "rating", "timestamp"])
    frame = frame.astype({"user_id": "int64", "item_id": "int64", "rating": "float32", "timestamp": "int64"})
    users = sorted(frame.user_id.unique())
    items = sorted(frame.item_id.unique())
    return RawDataset(
        name="tiny",
        ratings=frame,
        users=pd.DataFrame({"user_id": users, "gender": ["female" if u % 2 else "male" for u in users]}),
        items=pd.DataFrame({"item_id": items, "title": [f"Movie {i} (1999)" for i in items], "genre": "Drama"}),
        user_fields=("gender",),
        text_user_fields=("gender",),
        genres=("Drama", "Comedy"),
        rating_values=(1.0, 2.0, 3.0, 4.0, 5.0),
        fingerprint=Fingerprint("0" * 64, {}, "yes"),
    )


def brute_force_samples(raw: RawDataset) -> list[tuple[int, int, list[int]]]:
    """The protocol written the slow, obvious way: (user, item, earlier items) per kept sample."""
    r = raw.ratings.sort_values(["timestamp", "user_id", "item_id"], kind="stable").to_numpy()
    out, seen = [], {}
    for user, item, _rating, _ts in r:
        history = seen.setdefault(int(user), [])
        if len(history) >= 5:
            out.append((int(user), int(item), list(history)))
        history.append(int(item))
    return out


@pytest.fixture
def shuffled_dataset() -> RawDataset:
    rng = np.random.default_rng(3)
    rows = []
    for user in range(1, 9):
        for k in range(int(rng.integers(6, 15))):
            # Coarse timestamps force ties, so the (user, item) tie-break is exercised.
            rows.append((user, int(rng.integers(1, 40)) * 10 + user, float(rng.integers(1, 6)), int(rng.integers(0, 6))))
    rows = [r for i, r in enumerate(rows) if (r[0], r[1]) not in {(x[0], x[1]) for x in rows[:i]}]
    order = rng.permutation(len(rows))
    return tiny_dataset([rows[i] for i in order])


def test_split_sizes_match_full_ml1m():
    assert split_sizes(970_009) == (776_007, 97_000, 97_002)


def test_samples_and_histories_match_brute_force(shuffled_dataset):
    data = prepare(shuffled_dataset)
    expected = brute_force_samples(shuffled_dataset)
    assert data.n_samples == len(expected)
    rows = np.arange(data.n_samples)
    items = data.raw_item_ids[data.target_items(rows)]
    users = data.raw_user_ids[data.sample_user]
    index, mask = recent_positions(data, rows, 100)
    for row, (user, item, history) in enumerate(expected):
        assert (users[row], items[row]) == (user, item)
        window = data.raw_item_ids[data.seq_item[index[row][mask[row]]]]
        assert window.tolist() == history


def test_file_order_does_not_matter(shuffled_dataset):
    reversed_raw = tiny_dataset(list(shuffled_dataset.ratings.itertuples(index=False, name=None))[::-1])
    a, b = prepare(shuffled_dataset), prepare(reversed_raw)
    np.testing.assert_array_equal(a.sample_user, b.sample_user)
    np.testing.assert_array_equal(a.sample_pos, b.sample_pos)
    np.testing.assert_array_equal(a.seq_item, b.seq_item)


def test_labels_filter_and_split():
    # one user, 10 ratings at t=0..9: 5 samples survive the filter (positions 5..9)
    raw = tiny_dataset([(1, i, float(1 + i % 5), i) for i in range(10)])
    data = prepare(raw)
    assert data.n_samples == 5
    assert data.sample_pos.tolist() == [5, 6, 7, 8, 9]
    assert (data.n_train, data.n_valid, data.n_test) == (4, 0, 1)
    # ratings at positions 5..9 are 1,2,3,4,5 -> positive only when > 3
    assert data.labels(np.arange(5)).tolist() == [0, 0, 0, 1, 1]


def test_window_is_recent_chronological_and_right_padded():
    raw = tiny_dataset([(1, i, 5.0, i) for i in range(12)])
    data = prepare(raw)
    index, mask = recent_positions(data, np.array([0, 6]), 8)  # positions 5 and 11
    assert mask[0].tolist() == [True] * 5 + [False] * 3
    assert data.raw_item_ids[data.seq_item[index[0][:5]]].tolist() == [0, 1, 2, 3, 4]
    assert data.raw_item_ids[data.seq_item[index[1]]].tolist() == [3, 4, 5, 6, 7, 8, 9, 10]
    batch = gather_batch(data, np.array([0, 6]), index, mask)
    assert batch.hist_item.shape == (2, 8, 3)
    assert (batch.hist_item[0, 5:] == 0).all() and (batch.hist_rating[0, 5:] == 0).all()
    assert batch.row.tolist() == [0, 6]
    # rating tokens follow every categorical field
    assert int(batch.hist_rating[1, 0]) == data.rating_token_offset + 4


def test_id_layout_offsets_are_contiguous(shuffled_dataset):
    data = prepare(shuffled_dataset)
    offset = 0
    for spec in data.fields:
        assert spec.offset == offset
        offset += spec.size
    assert data.rating_token_offset == offset
    assert data.n_features == offset + 5
    assert data.user_features.max() < data.field_spec("gender").offset + 2
    assert data.item_features[:, 2].min() == data.field_spec("genre").offset


def test_few_shot_rows_are_seeded_training_rows(shuffled_dataset):
    data = prepare(shuffled_dataset)
    a = data.few_shot_rows(10, seed=1)
    assert np.array_equal(a, data.few_shot_rows(10, seed=1))
    assert not np.array_equal(a, data.few_shot_rows(10, seed=2))
    assert len(set(a.tolist())) == 10 and a.max() < data.n_train


def test_prompt_uses_profile_history_and_target_but_no_ids():
    raw = tiny_dataset([(1, i, float(1 + i % 5), i) for i in range(8)])
    data = prepare(raw)
    index, mask = recent_positions(data, np.array([2]), 3)
    prompt = render_prompt(data, 2, index[0][mask[0]])
    assert prompt.splitlines()[0] == "The user is a female."
    assert "'0. Movie 4 (1999) (5 stars)', '1. Movie 5 (1999) (1 star)', '2. Movie 6 (1999) (2 stars)'" in prompt
    assert "will like the movie ***Movie 7 (1999)***." in prompt
    assert "You should ONLY tell me yes or no." in prompt


def test_cache_round_trip_and_staleness(tmp_path: Path, shuffled_dataset):
    data = prepare(shuffled_dataset)
    directory = tmp_path / cache_key("tiny", data.fingerprint)
    save_protocol(data, directory)
    cached = load_cached_protocol(directory, data.fingerprint)
    assert cached is not None
    for name in ("seq_item", "sample_user", "sample_pos", "user_features", "item_features"):
        np.testing.assert_array_equal(getattr(cached, name), getattr(data, name))
    assert cached.item_title == data.item_title and cached.fields == data.fields
    other = Fingerprint("1" * 64, {}, "yes")
    assert load_cached_protocol(directory, other) is None  # a different raw digest never hits
    assert cache_key("tiny", other) != cache_key("tiny", data.fingerprint)


def test_load_protocol_uses_cache(tmp_path: Path):
    first = load_protocol("synth", cache_root=tmp_path)
    second = load_protocol("synth", cache_root=tmp_path)
    assert isinstance(second.seq_item, np.memmap)
    np.testing.assert_array_equal(first.sample_pos, second.sample_pos)


def test_synth_through_protocol():
    data = prepare(load_dataset("synth"))
    summary = data.summary()
    assert summary["train"] > 0 and summary["valid"] > 0 and summary["test"] > 0
    assert 0.2 < summary["positive_rate_test"] < 0.8
