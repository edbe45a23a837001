"""Behaviour retrieval (SPEC 3.9): the one retriever shared by SIM, ReLLa and RecLoRA.

For a sample, the retriever scores every behaviour of the user's *whole* earlier history by the
cosine similarity between the behaviour's item vector and the target item's vector, keeps the
top ``k`` and re-sorts them into time order. Its output has exactly the contract of
:func:`recbench.batches.recent_positions` (indices into ``data.seq_*`` plus a mask, chronological
and right-padded), so a retrieved history goes through the same
:func:`~recbench.batches.gather_batch` / prompt code as a recent one.

Decisions (all deterministic):

* Ties in similarity go to the more recent behaviour.
* A sample with at most ``k`` earlier ratings gets all of them (identical to the recent window).
* Item vectors are L2-normalised here; an all-zero vector (an item never seen by the vector
  source) has cosine 0 with everything.
* Exact selection: each behaviour gets one int64 key (its float32 score's order-preserving
  bits, then its position), so top-k has no float ties and no dependence on the batch.
* Memory is bounded per call and no ``n_samples x L`` array ever exists: rows are sorted by
  history length and scored in chunks of similar length (padding at most doubles the work)
  whose ``[rows, longest history]`` work arrays stay under ``BehaviourRetriever.budget``
  elements, whatever the batch or the users' history lengths. Small catalogues (up to ~5,800
  items, e.g. ML-1M) precompute the item x item cosine table once, so scoring is a lookup.

Item vectors come from a named source in :data:`ITEM_VECTOR_SOURCES` (co-occurrence SVD, genre
one-hot; the language-model text embedding of SPEC 3.9 is to be registered there).

Example:
    >>> from recbench.datasets import load_dataset
    >>> from recbench.protocol import prepare
    >>> from recbench.retrieval import BehaviourRetriever, item_vectors
    >>> data = prepare(load_dataset("synth"))
    >>> retriever = BehaviourRetriever(data, item_vectors(data, "genre"))
    >>> rows = data.split_rows("test")[:4]
    >>> index, mask = retriever.positions(rows, 10)
    >>> index.shape, bool(mask.all())
    ((4, 10), True)
    >>> bool((data.seq_timestamp[index][:, 1:] >= data.seq_timestamp[index][:, :-1]).all())
    True
"""

from __future__ import annotations

import weakref
from typing import Callable

import numpy as np
import torch

from recbench.batches import recent_positions
from recbench.errors import RecbenchError
from recbench.protocol import ITEM_FIELDS, ProtocolData


class BehaviourRetriever:
    """Top-k behaviours of each sample's whole earlier history by cosine similarity to its target.

    Args:
        data: the protocol data whose ``seq_*`` arrays the returned indices point into.
        item_vectors: ``[n_items, d]`` one vector per local item index, from any source.
        budget: most elements in one chunk's work arrays (a few bytes each); bounds memory.
        max_table: when ``n_items ** 2`` is at most this, the full item x item cosine table is
            computed once (ML-1M: 3,706 items, 55 MB) and scoring is a lookup; otherwise each
            chunk gathers its behaviours' vectors and takes dot products.

    Scores depend only on the (target, behaviour) pair, never on which other rows share the
    call, so a row retrieves the same behaviours in any batch.

    Example:
        >>> import numpy as np
        >>> from recbench.datasets import load_dataset
        >>> from recbench.protocol import prepare
        >>> data = prepare(load_dataset("synth"))
        >>> vectors = np.random.default_rng(0).normal(size=(data.n_items, 8))
        >>> retriever = BehaviourRetriever(data, vectors)
        >>> rows = data.split_rows("train")[:3]
        >>> index, mask = retriever.positions(rows, 4)
        >>> index.shape, mask.dtype
        ((3, 4), dtype('bool'))
    """

    def __init__(
        self, data: ProtocolData, item_vectors: np.ndarray, *, budget: int = 1 << 23, max_table: int = 1 << 25
    ) -> None:
        vectors = np.asarray(item_vectors, dtype=np.float64)
        if vectors.ndim != 2 or vectors.shape[0] != data.n_items:
            raise ValueError(f"item_vectors must be [n_items={data.n_items}, d], got {vectors.shape}")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        self.data = data
        self.budget = int(budget)
        n = data.n_items
        # Item ``n`` is the padding sentinel: a zero vector whose score is masked to the lowest key.
        self.vectors = torch.from_numpy(np.vstack([vectors, np.zeros((1, vectors.shape[1]))]).astype(np.float32))
        self._seq_item = torch.from_numpy(np.append(np.asarray(data.seq_item, dtype=np.int32), np.int32(n)))
        self.table: torch.Tensor | None = None  # [n, n + 1] score keys, when small enough
        if n * n <= max_table:
            self.table = _order_keys(self.vectors[:n] @ self.vectors.T)
            self.table[:, n] = _PAD_KEY

    def positions(self, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices into ``data.seq_*`` [B, k] of each row's retrieved behaviours, and a mask.

        Same contract as :func:`~recbench.batches.recent_positions`: per row, the selected
        behaviours in chronological order, then padding (index 0, mask False).
        """
        if k < 1:
            raise ValueError(f"k must be positive, got {k}")
        rows = np.asarray(rows, dtype=np.int64)
        index, mask = recent_positions(self.data, rows, k)  # rows with <= k earlier ratings: done
        pos = self.data.sample_pos[rows].astype(np.int64)
        long_rows = np.flatnonzero(pos > k)
        if len(long_rows) == 0:
            return index, mask
        # Longest first, cut into chunks whose rows are at least half the chunk's longest (so
        # padding at most doubles the work) and whose padded work fits the memory budget.
        long_rows = long_rows[np.argsort(-pos[long_rows], kind="stable")]
        lengths = pos[long_rows]
        per_element = 4 + (0 if self.table is not None else self.vectors.shape[1])
        start = 0
        while start < len(long_rows):
            width = int(lengths[start])
            by_padding = int(np.searchsorted(-lengths, -(width // 2), side="right"))
            stop = min(by_padding, start + max(1, self.budget // (width * per_element)))
            chunk = long_rows[start:stop]
            index[chunk] = self._top_k(rows[chunk], width, k)
            start = stop
        mask[long_rows] = True
        return index, mask

    def score_keys(self, targets: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """int32 keys [C, M] ordered like the cosine of ``items`` [C, M] to ``targets`` [C].

        Item ``n_items`` (padding) gets the lowest key. A key depends only on its (target, item)
        pair: from the precomputed table, or from a fixed-length dot product.
        """
        if self.table is not None:
            return self.table[targets[:, None], items]
        scores = (self.vectors[items] * self.vectors[targets].unsqueeze(1)).sum(-1)
        return _order_keys(scores).masked_fill(items == self.data.n_items, _PAD_KEY)

    def _top_k(self, rows: np.ndarray, width: int, k: int) -> np.ndarray:
        """Chronological top-k indices [C, k] for rows that all have more than k earlier ratings."""
        data = self.data
        pos = torch.from_numpy(data.sample_pos[rows].astype(np.int64))
        start = torch.from_numpy(data.seq_ptr[data.sample_user[rows]].astype(np.int64))
        offsets = torch.arange(width, dtype=torch.int64)
        sentinel = len(self._seq_item) - 1
        index = torch.where(offsets[None, :] < pos[:, None], start[:, None] + offsets[None, :], sentinel)
        keys = self.score_keys(self._seq_item[start + pos], self._seq_item[index])
        # Score key in the high half, position in the low half: exact, and ties go to the newer.
        keys = (keys.to(torch.int64) << 32) | offsets[None, :]
        best = torch.topk(keys, k, dim=1, sorted=False).indices.sort(dim=1).values  # time order
        return (start[:, None] + best).numpy()


_PAD_KEY = torch.iinfo(torch.int32).min  # below every real score's key (even -inf's)


def _order_keys(scores: torch.Tensor) -> torch.Tensor:
    """Map float32 scores to int32 with the same order (equal floats -> equal ints)."""
    bits = (scores.float() + 0.0).view(torch.int32)  # + 0.0 turns -0.0 into 0.0
    return torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits)


# --------------------------------------------------------------------------- item vector sources
def cooccurrence_item_vectors(data: ProtocolData, dim: int = 64, seed: int = 0) -> np.ndarray:
    """Item vectors from a truncated SVD of the binary user x item "rated" matrix.

    Binary ("watched", not the rating value): two items are similar when the same users rate
    them, whatever they thought of them, which is what a general search for related behaviours
    needs; the rating itself stays in the behaviour the model reads.

    Leak-free by construction: the matrix holds every ``seq_*`` entry EXCEPT the targets of
    validation and test rows. Kept: targets of training rows and the first ratings of each user
    (the < 5 that are never a sample's target; they only ever appear as history, which every
    split's inputs already show). A rating that is scored in valid/test never shapes the vectors,
    so changing any valid/test rating or item leaves them unchanged. Items with no kept rating get
    a zero vector (cosine 0 with everything). Deterministic: randomized SVD with a fixed seed and
    sign-normalised components; the vectors are ``U * S`` (projections onto the top components).
    """
    from scipy.sparse import csr_matrix
    from sklearn.decomposition import TruncatedSVD

    held_out = np.arange(data.n_train, data.n_samples, dtype=np.int64)
    keep = np.ones(len(data.seq_item), dtype=bool)
    keep[data.sample_index(held_out)] = False
    users = np.repeat(np.arange(data.n_users, dtype=np.int64), np.diff(data.seq_ptr))[keep]
    items = np.asarray(data.seq_item, dtype=np.int64)[keep]
    matrix = csr_matrix(
        (np.ones(len(items), dtype=np.float64), (items, users)), shape=(data.n_items, data.n_users)
    )
    dim = max(1, min(dim, min(matrix.shape) - 1))
    svd = TruncatedSVD(n_components=dim, algorithm="randomized", n_iter=7, random_state=seed)
    return svd.fit_transform(matrix).astype(np.float32)


def genre_item_vectors(data: ProtocolData) -> np.ndarray:
    """One-hot first-genre vectors: cosine is 1 for the same genre, else 0 (SIM's hard search)."""
    spec = data.field_spec("genre")
    genre = np.asarray(data.item_features[:, ITEM_FIELDS.index("genre")], dtype=np.int64) - spec.offset
    vectors = np.zeros((data.n_items, spec.size), dtype=np.float32)
    vectors[np.arange(data.n_items), genre] = 1.0
    return vectors


#: Item vector sources by name; callers select sources only through this table. Other layers
#: add theirs with :func:`register_vector_source` (the LM layer registers "lm", and "lm:<backbone>"
#: for any backbone), so this core module never imports them.
ITEM_VECTOR_SOURCES: dict[str, Callable[[ProtocolData], np.ndarray]] = {
    "cooccurrence": cooccurrence_item_vectors,
    "genre": genre_item_vectors,
}
#: sources named "<prefix>:<argument>", e.g. "lm:owner/model": prefix -> builder(data, argument)
PARAMETERISED_SOURCES: dict[str, Callable[[ProtocolData, str], np.ndarray]] = {}


def register_vector_source(
    name: str, build: Callable[[ProtocolData], np.ndarray], parameterised: Callable[[ProtocolData, str], np.ndarray] | None = None
) -> None:
    """Make ``item_vectors=name`` (and ``name:ARG`` when ``parameterised`` is given) available."""
    ITEM_VECTOR_SOURCES[name] = build
    if parameterised is not None:
        PARAMETERISED_SOURCES[name] = parameterised


def vector_builder(source: str) -> Callable[[ProtocolData], np.ndarray]:
    prefix, sep, argument = source.partition(":")
    if source not in ITEM_VECTOR_SOURCES and prefix not in PARAMETERISED_SOURCES:
        from recbench.registry import load_plugins

        load_plugins()  # the model packages import the layers that register their sources
    if sep and argument and prefix in PARAMETERISED_SOURCES:
        build = PARAMETERISED_SOURCES[prefix]
        return lambda data: build(data, argument)
    try:
        return ITEM_VECTOR_SOURCES[source]
    except KeyError:
        extra = "".join(f" or {p}:<argument>" for p in sorted(PARAMETERISED_SOURCES))
        raise RecbenchError(
            f"unknown item vector source {source!r}; choose one of: {', '.join(sorted(ITEM_VECTOR_SOURCES))}{extra}"
        ) from None


_MEMO: dict[str, tuple[weakref.ref, np.ndarray]] = {}  # source -> (data, vectors) of the last call


def item_vectors(data: ProtocolData, source: str) -> np.ndarray:
    """``[n_items, d]`` read-only vectors of the named source (a key of :data:`ITEM_VECTOR_SOURCES`).

    The last result per source is memoised for the same data object, so models built one after
    another on one dataset (a tuning run; SIM, ReLLa and RecLoRA) compute it once.
    """
    build = vector_builder(source)
    memo = _MEMO.get(source)
    if memo is not None and memo[0]() is data:
        return memo[1]
    vectors = np.array(build(data), dtype=np.float32)
    vectors.setflags(write=False)
    _MEMO[source] = (weakref.ref(data), vectors)
    return vectors
