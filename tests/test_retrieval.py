"""The shared behaviour retriever (SPEC 3.9) against a slow per-row reference, its item vector
sources (incl. a leak check), and SIM's use of it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from recbench.batches import recent_positions
from recbench.datasets import load_dataset
from recbench.errors import RecbenchError
from recbench.protocol import prepare
from recbench.retrieval import (
    BehaviourRetriever,
    cooccurrence_item_vectors,
    genre_item_vectors,
    item_vectors,
)


@pytest.fixture(scope="module")
def synth():
    return prepare(load_dataset("synth"))


@pytest.fixture(scope="module")
def vector_sets(synth):
    """Each source built once per module (the SVD is the slow part)."""
    return {
        "cooccurrence": item_vectors(synth, "cooccurrence"),
        "genre": item_vectors(synth, "genre"),
        "random": np.random.default_rng(1).normal(size=(synth.n_items, 8)),
    }


def slow_positions(data, vectors, row, k):
    """The obvious way: score every earlier behaviour, best first (newer on ties), time-order k."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    unit = vectors / np.where(norms > 0, norms, 1.0)[:, None]
    user, pos = int(data.sample_user[row]), int(data.sample_pos[row])
    start = int(data.seq_ptr[user])
    target = unit[data.seq_item[start + pos]]
    scored = [(float(unit[data.seq_item[start + j]] @ target), j) for j in range(pos)]
    best = sorted(scored, key=lambda s: (-s[0], -s[1]))[:k]
    return [start + j for j in sorted(j for _, j in best)]


def sample_rows(data, n, seed=0):
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(data.n_samples, size=n, replace=False))


@pytest.mark.parametrize("scoring", ["table", "gather"])
@pytest.mark.parametrize("source", ["cooccurrence", "genre", "random"])
@pytest.mark.parametrize("k", [1, 5, 30])
def test_positions_match_the_slow_reference(synth, vector_sets, source, k, scoring):
    vectors = vector_sets[source]
    # A small budget forces many chunks of differing widths; max_table picks the scoring path.
    retriever = BehaviourRetriever(synth, vectors, budget=20_000, max_table=0 if scoring == "gather" else 1 << 25)
    assert (retriever.table is None) == (scoring == "gather")
    rows = sample_rows(synth, 150)
    index, mask = retriever.positions(rows, k)
    assert index.shape == mask.shape == (len(rows), k) and index.dtype == np.int64
    for i, row in enumerate(rows):
        expected = slow_positions(synth, vectors, row, k)
        n = len(expected)
        assert mask[i].tolist() == [True] * n + [False] * (k - n)  # right-padded
        assert index[i, :n].tolist() == expected, f"row {row}"
        assert (index[i, n:] == 0).all()


def test_short_histories_return_everything_like_recent(synth, vector_sets):
    retriever = BehaviourRetriever(synth, vector_sets["cooccurrence"])
    rows = sample_rows(synth, 200, seed=2)
    k = int(synth.sample_pos[rows].max())  # k >= every row's history
    index, mask = retriever.positions(rows, k)
    recent_index, recent_mask = recent_positions(synth, rows, k)
    np.testing.assert_array_equal(mask, recent_mask)
    np.testing.assert_array_equal(index, recent_index)


@pytest.mark.parametrize("max_table", [0, 1 << 25])
def test_result_does_not_depend_on_batch_composition(synth, vector_sets, max_table):
    retriever = BehaviourRetriever(synth, vector_sets["cooccurrence"], max_table=max_table)
    rows = sample_rows(synth, 300, seed=3)
    whole = retriever.positions(rows, 10)
    parts = [retriever.positions(rows[i : i + 7], 10) for i in range(0, len(rows), 7)]
    np.testing.assert_array_equal(whole[0], np.concatenate([p[0] for p in parts]))
    np.testing.assert_array_equal(whole[1], np.concatenate([p[1] for p in parts]))


def test_genre_vectors_retrieve_same_genre_when_enough_exist(synth):
    retriever = BehaviourRetriever(synth, genre_item_vectors(synth))
    genre = synth.item_features[:, 2]
    rows, k = sample_rows(synth, 400, seed=4), 5
    index, mask = retriever.positions(rows, k)
    target_genre = genre[synth.target_items(rows)]
    checked = 0
    for i, row in enumerate(rows):
        start, pos = synth.seq_ptr[synth.sample_user[row]], synth.sample_pos[row]
        history_genres = genre[synth.seq_item[start : start + pos]]
        same = int((history_genres == target_genre[i]).sum())
        got = genre[synth.seq_item[index[i][mask[i]]]]
        if same >= k:
            assert (got == target_genre[i]).all()
            checked += 1
        else:  # all same-genre ones are kept, the rest is filled
            assert int((got == target_genre[i]).sum()) == same
    assert checked > 50


def test_cooccurrence_vectors_ignore_valid_and_test_ratings(synth):
    before = cooccurrence_item_vectors(synth, dim=16)
    held_out = synth.sample_index(np.arange(synth.n_train, synth.n_samples))
    rng = np.random.default_rng(5)
    changed = dataclasses.replace(
        synth,
        seq_item=synth.seq_item.copy(),
        seq_rating=synth.seq_rating.copy(),
        seq_label=synth.seq_label.copy(),
    )
    changed.seq_item[held_out] = rng.integers(0, synth.n_items, size=len(held_out))
    changed.seq_rating[held_out] = rng.integers(0, len(synth.rating_values), size=len(held_out))
    changed.seq_label[held_out] = 1 - changed.seq_label[held_out]
    np.testing.assert_array_equal(before, cooccurrence_item_vectors(changed, dim=16))
    # ...whereas a training rating does shape them.
    changed.seq_item[synth.sample_index(np.arange(50))] = 0
    assert not np.array_equal(before, cooccurrence_item_vectors(changed, dim=16))


def test_cooccurrence_vectors_are_deterministic(synth):
    np.testing.assert_array_equal(cooccurrence_item_vectors(synth, dim=8), cooccurrence_item_vectors(synth, dim=8))


def test_unknown_source_and_bad_vectors_are_clear_errors(synth):
    with pytest.raises(RecbenchError, match="cooccurrence"):
        item_vectors(synth, "nope")
    with pytest.raises(ValueError, match="n_items"):
        BehaviourRetriever(synth, np.zeros((3, 4)))


def test_sim_reads_retrieved_history_and_hard_search_reads_genre(synth):
    from recbench.ctr import FeatureSchema
    from recbench.registry import get_model

    cls = get_model("sim").cls
    rows = sample_rows(synth, 64, seed=6)
    for search, source in (("soft", "cooccurrence"), ("hard", "genre")):
        model = cls(cls.Config(history_length=10, search=search), FeatureSchema.from_data(synth))
        expected = BehaviourRetriever(synth, item_vectors(synth, source)).positions(rows, 10)
        got = model.history(synth, rows)
        np.testing.assert_array_equal(got[0], expected[0])
        assert model.retriever(synth) is model.retriever(synth)  # memoised per data object


def test_sim_rejects_an_unknown_vector_source(synth):
    from recbench.ctr import FeatureSchema
    from recbench.registry import get_model

    cls = get_model("sim").cls
    with pytest.raises(RecbenchError, match="item_vectors"):
        cls(cls.Config(item_vectors="nope"), FeatureSchema.from_data(synth))


def test_history_signal_script_reports_every_history_choice():
    """benchmarks/history_signal.py: one AUC line per (history, K), on synth, through its CLI."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "history_signal.py"), "--dataset", "synth", "--rows", "500",
         "--k", "5", "--sources", "genre"],
        capture_output=True, text=True, check=True, cwd=root,
    ).stdout
    assert "500 valid rows drawn with seed 0" in out
    lines = {line.split()[0] + line.split()[1]: line.split() for line in out.splitlines()[2:]}
    assert set(lines) == {"recent5", "retrieved(genre)"}
    assert 0.5 < float(lines["recent5"][2]) < 1.0  # synth's labels follow its users' tastes


def test_positive_share_counts_only_shown_behaviours():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("history_signal", Path(__file__).resolve().parents[1] / "benchmarks" / "history_signal.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class Data:
        seq_label = np.array([1, 0, 1, 1])

    index = np.array([[0, 1, 2], [3, 0, 0], [0, 0, 0]])
    mask = np.array([[True, True, True], [True, False, False], [False, False, False]])
    assert module.positive_share(Data, index, mask).tolist() == [2 / 3, 1.0, 0.5]
