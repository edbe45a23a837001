"""What the shared protocol produces: one dataset's vocabularies, per-user sequences and split.

Why a module of its own: every model, the batcher, the prompts and the cache read this one
structure, and the row rules on it (the split's rows, the few-shot draw, the size-limited
evaluation rows) are what make every model score identical rows. The steps that build it are in
:mod:`recbench.protocol`, which re-exports it.

Histories are never materialised per sample. Each user's ratings are stored once, in that
user's chronological order (a CSR layout: ``seq_ptr[u]:seq_ptr[u + 1]``), and a sample is just
``(user, position)``: its history is the first ``position`` entries of its user's sequence.
Windows are gathered per batch (:mod:`recbench.batches`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recbench.datasets.base import Fingerprint
from recbench.errors import RecbenchError


@dataclass(frozen=True)
class FieldSpec:
    """One categorical field's slice of the shared embedding table."""

    name: str
    offset: int
    size: int


@dataclass
class ProtocolData:
    """A dataset after the protocol: vocabularies, per-user sequences and the split.

    Index spaces: ``user`` (0..n_users-1) and ``item`` (0..n_items-1) are dense local
    indices; ``*_features`` hold global feature ids (offset + category) for the embedding table.
    A sample's ``row`` id is its index in the global order, identical for every model.
    """

    dataset: str
    fingerprint: Fingerprint
    fields: tuple[FieldSpec, ...]
    user_fields: tuple[str, ...]
    user_features: np.ndarray  # [n_users, len(user_fields)] global ids
    item_features: np.ndarray  # [n_items, len(protocol.ITEM_FIELDS)] global ids
    rating_token_offset: int
    rating_values: tuple[float, ...]
    seq_ptr: np.ndarray  # [n_users + 1]
    seq_item: np.ndarray  # [n_ratings] local item index, users' chronological order
    seq_rating: np.ndarray  # [n_ratings] rating value index (0..len(rating_values)-1)
    seq_label: np.ndarray  # [n_ratings] 0/1
    seq_timestamp: np.ndarray  # [n_ratings]
    sample_user: np.ndarray  # [n_samples] in global order
    sample_pos: np.ndarray  # [n_samples] number of earlier ratings of that user
    n_train: int
    n_valid: int
    # text views: human-readable values, used only to render prompts and item descriptions
    user_text: dict[str, list[str]] = field(default_factory=dict)  # text field -> value per user
    item_title: list[str] = field(default_factory=list)
    item_genre: list[str] = field(default_factory=list)
    item_noun: str = "movie"
    raw_user_ids: np.ndarray | None = None
    raw_item_ids: np.ndarray | None = None

    # ----------------------------------------------------------------- derived sizes
    @property
    def n_samples(self) -> int:
        return int(self.sample_user.shape[0])

    @property
    def n_test(self) -> int:
        return self.n_samples - self.n_train - self.n_valid

    @property
    def n_users(self) -> int:
        return int(self.seq_ptr.shape[0] - 1)

    @property
    def n_items(self) -> int:
        return int(self.item_features.shape[0])

    @property
    def n_features(self) -> int:
        return self.rating_token_offset + len(self.rating_values)

    def field_spec(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    # ----------------------------------------------------------------- rows
    def split_rows(self, split: str) -> np.ndarray:
        """Row ids of ``train``, ``valid`` or ``test``, in global (time) order."""
        bounds = {
            "train": (0, self.n_train),
            "valid": (self.n_train, self.n_train + self.n_valid),
            "test": (self.n_train + self.n_valid, self.n_samples),
        }
        if split not in bounds:
            raise RecbenchError(f"unknown split {split!r}; choose one of: train, valid, test")
        start, stop = bounds[split]
        return np.arange(start, stop, dtype=np.int64)

    def sample_index(self, rows: np.ndarray) -> np.ndarray:
        """Index of each row's own rating in the ``seq_*`` arrays."""
        return self.seq_ptr[self.sample_user[rows]] + self.sample_pos[rows]

    def labels(self, rows: np.ndarray) -> np.ndarray:
        return self.seq_label[self.sample_index(rows)]

    def target_items(self, rows: np.ndarray) -> np.ndarray:
        return self.seq_item[self.sample_index(rows)]

    def few_shot_rows(self, n: int, seed: int) -> np.ndarray:
        """N training rows drawn uniformly without replacement with a fixed seed (SPEC 3.8).

        Sorted, so the same (n, seed) always yields the same set in the same order.
        """
        if not 0 < n <= self.n_train:
            raise RecbenchError(f"few-shot size {n} must be between 1 and the {self.n_train} training rows")
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(self.n_train, size=n, replace=False)).astype(np.int64)

    def eval_rows(self, split: str, n: int, mode: str = "first", seed: int = 0) -> np.ndarray:
        """The ``valid`` / ``test`` rows a size-limited run scores (every model uses this one rule).

        ``first``: the first ``n`` rows of the split in time order (the paper's first 30,000
        test rows). ``sample``: ``n`` rows drawn uniformly without replacement with ``seed``
        (one stream per split, so valid and test draws are independent), sorted by row id, so
        a few thousand rows cover the split's users and weeks instead of its first days.
        ``n`` of 0 is no row; an ``n`` at or above the split size is every row.

        Example:
            >>> from recbench.datasets import load_dataset
            >>> from recbench.protocol import prepare
            >>> data = prepare(load_dataset("synth"))
            >>> rows = data.eval_rows("test", 5, "sample", seed=0)
            >>> len(rows), bool((np.diff(rows) > 0).all()), bool(np.isin(rows, data.split_rows("test")).all())
            (5, True, True)
        """
        rows = self.split_rows(split)
        if n < 0:
            raise RecbenchError(f"{split} rows: expected 0 or more, not {n}")
        if mode == "first" or n >= len(rows):
            return rows[:n]
        if mode != "sample":
            raise RecbenchError(f"{split}_rows={mode}: expected first or sample")
        stream = {"train": 0, "valid": 1, "test": 2}[split]
        rng = np.random.default_rng([seed, stream])
        return np.sort(rng.choice(rows, size=n, replace=False)).astype(np.int64)

    def summary(self) -> dict[str, int]:
        return {
            "ratings": int(self.seq_item.shape[0]),
            "users": self.n_users,
            "items": self.n_items,
            "samples": self.n_samples,
            "train": self.n_train,
            "valid": self.n_valid,
            "test": self.n_test,
            "id_features": self.n_features,
            "positive_rate_test": round(float(self.labels(self.split_rows("test")).mean()), 4) if self.n_test else 0,
        }
