"""SIM: Search-based Interest Model (Pi et al., "Search-based User Interest Modeling with
Lifelong Sequential Behavior Data for CTR Prediction", CIKM 2020).

A user's lifelong history is too long to attend over, and its most recent window misses old
but relevant interests. SIM splits the work in two cascaded stages (Sec. 4):

* General Search Unit (Sec. 4.1): cheaply picks, from the user's WHOLE earlier history, the
  behaviours relevant to the target. Soft search ranks them by the similarity of item vectors
  (the paper: inner product of pre-trained embeddings); hard search keeps behaviours of the
  target's category. Here both run through the shared :class:`recbench.retrieval.BehaviourRetriever`
  (soft: cosine of the ``item_vectors`` source; hard: one-hot genre vectors, so same-genre
  behaviours come first; the most recent others fill the window only when fewer than
  ``history_length`` same-genre ones exist). The retrieved behaviours are re-sorted into time order.
* Exact Search Unit (Sec. 4.2): target attention over the retrieved behaviours. The paper adds
  time-interval embeddings and multi-head attention; like the RecLoRA / ReLLa reference code
  (SPEC 4: "SIM is DIN trained on the retrieved 60"), this is DIN's activation unit and MLP head,
  so SIM differs from :mod:`baselines.din` only in WHICH behaviours it reads.

Hyper-parameters (paper Appendix B.1 grid in brackets):
    embed_dim: embedding size per field [32, 64]
    history_length: behaviours retrieved per sample [60; the study varies 10/30/60/100]
    search: "soft" (item vector similarity) or "hard" (same genre)
    item_vectors: soft-search vector source, a key of ``recbench.retrieval.ITEM_VECTOR_SOURCES``
    attention_hidden: attention MLP sizes [1-3 layers of 64/128/256]
    hidden: prediction MLP sizes [1-3 layers of 64/128/256]; the last is the representation
    dropout: [0.0, 0.1, 0.2]
    attention_softmax: normalise attention scores (the paper does not)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from baselines.din import DIN, DINConfig
from recbench.ctr import FeatureSchema
from recbench.errors import RecbenchError
from recbench.protocol import ProtocolData
from recbench.registry import register_model
from recbench.retrieval import BehaviourRetriever, item_vectors, vector_builder


@dataclass
class SIMConfig(DINConfig):
    GRID: ClassVar[dict[str, tuple]] = dict(DINConfig.GRID)

    history_length: int = 60
    search: Literal["soft", "hard"] = "soft"
    item_vectors: str = "cooccurrence"


@register_model("sim", display="SIM")
class SIM(DIN):
    """Search-based Interest Model: DIN attention over behaviours retrieved from the whole history."""

    Config = SIMConfig

    def __init__(self, config: SIMConfig, schema: FeatureSchema) -> None:
        super().__init__(config, schema)
        try:
            vector_builder(self.vector_source)  # an unknown source fails here, before any training
        except RecbenchError as exc:
            raise RecbenchError(f"sim: --set item_vectors={config.item_vectors}: {exc}") from None
        self._retriever: BehaviourRetriever | None = None

    @property
    def vector_source(self) -> str:
        """The item vector source the general search unit ranks by."""
        return "genre" if self.config.search == "hard" else self.config.item_vectors

    def retriever(self, data: ProtocolData) -> BehaviourRetriever:
        """The general search unit for ``data``: built on first use, rebuilt for another data object."""
        if self._retriever is None or self._retriever.data is not data:
            self._retriever = BehaviourRetriever(data, item_vectors(data, self.vector_source))
        return self._retriever

    def history(self, data: ProtocolData, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ``history_length`` behaviours most similar to each row's target, in time order."""
        return self.retriever(data).positions(rows, self.config.history_length)
