"""Reference scores that need no model: what a learned recommender must beat to carry evidence.

Both read only what every prompt and every ID model already sees, so a model that does not beat
them significantly has learned nothing beyond a lookup:

* ``pop``: the target item's positive rate among the *training* rows, smoothed towards the
  training base rate with ``smoothing`` pseudo-ratings (an item never rated in train scores the
  base rate). Valid and test labels are never read.
* ``user-mean``: the user's positive share among *all earlier* ratings (the sample's own history,
  exactly the ratings the protocol lets any model see), smoothed the same way. Every prompt shows
  the most recent of these ratings as stars, which makes this the LM models' natural floor.

Example:
    >>> from recbench.datasets import load_dataset
    >>> from recbench.protocol import prepare
    >>> data = prepare(load_dataset("synth"))
    >>> model = UserMean(UserMeanConfig(), data).fit(data.split_rows("train"))
    >>> probs = model.predict(data.split_rows("test")[:4])
    >>> probs.shape, bool(((probs > 0) & (probs < 1)).all())
    ((4,), True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recbench.protocol import ProtocolData
from recbench.registry import register_model


def _base_rate(data: ProtocolData, rows: np.ndarray) -> float:
    return float(data.labels(rows).mean()) if len(rows) else 0.5


def _smoothed_rate(positives: np.ndarray, counts: np.ndarray, prior: float, smoothing: float) -> np.ndarray:
    """``(positives + a * prior) / (counts + a)``: ``a`` pseudo-ratings at the base rate pull a
    rate measured on few ratings towards it; with no ratings and ``a`` = 0 the rate is the prior."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = (positives + smoothing * prior) / (counts + smoothing)
    return np.where(counts + smoothing > 0, rate, prior)


@dataclass
class PopConfig:
    smoothing: float = 10.0  # pseudo-ratings at the base rate


@register_model("pop", family="reference", display="Pop")
class Pop:
    """Item popularity: the target item's smoothed positive rate in the training split."""

    Config = PopConfig

    def __init__(self, config: PopConfig, data: ProtocolData) -> None:
        self.config, self.data = config, data
        self.item_rate = np.zeros(data.n_items)

    def fit(self, train_rows: np.ndarray) -> "Pop":
        items = self.data.target_items(train_rows)
        labels = self.data.labels(train_rows).astype(np.float64)
        positives = np.bincount(items, weights=labels, minlength=self.data.n_items)
        counts = np.bincount(items, minlength=self.data.n_items)
        self.item_rate = _smoothed_rate(positives, counts, _base_rate(self.data, train_rows), self.config.smoothing)
        return self

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return np.clip(self.item_rate[self.data.target_items(rows)], 1e-6, 1 - 1e-6)


@dataclass
class UserMeanConfig:
    smoothing: float = 1.0  # pseudo-ratings at the base rate


@register_model("user-mean", family="reference", display="User-mean")
class UserMean:
    """The user's smoothed positive share among all earlier ratings (the sample's history)."""

    Config = UserMeanConfig

    def __init__(self, config: UserMeanConfig, data: ProtocolData) -> None:
        self.config, self.data = config, data
        self.prior = 0.5
        # positives before position p of user u: cum[seq_ptr[u] + p] - cum[seq_ptr[u]]
        self.cum = np.concatenate([[0], np.cumsum(data.seq_label, dtype=np.int64)])

    def fit(self, train_rows: np.ndarray) -> "UserMean":
        self.prior = _base_rate(self.data, train_rows)
        return self

    def predict(self, rows: np.ndarray) -> np.ndarray:
        start = self.data.seq_ptr[self.data.sample_user[rows]]
        earlier = self.data.sample_pos[rows].astype(np.float64)
        positives = self.cum[start + self.data.sample_pos[rows]] - self.cum[start]
        return np.clip(_smoothed_rate(positives, earlier, self.prior, self.config.smoothing), 1e-6, 1 - 1e-6)
