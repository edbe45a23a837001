"""Language-model item vectors for the shared retriever (SPEC 3.9).

Each item's text ("Title (year); genre") goes through the backbone; the last hidden layer is
mean-pooled over the text's tokens (padding excluded) and the item x hidden matrix is reduced
with PCA (paper: 512 dims, capped by the number of items and the hidden size). Item texts do
not depend on any rating, so the vectors cannot leak labels.

The result is cached per (backbone, dataset digest, dims) under the user cache, so SIM, ReLLa
and RecLoRA on one dataset embed the catalogue once. Registered in
:data:`recbench.retrieval.ITEM_VECTOR_SOURCES` as ``"lm"`` (the default backbone); any other
backbone is reachable as ``"lm:<backbone name>"``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from recbench.protocol import ProtocolData
from recbench.retrieval import register_vector_source

DEFAULT_BACKBONE = "smollm2-135m"
PCA_DIMS = 512


def item_texts(data: ProtocolData) -> list[str]:
    genres = data.item_genre or [""] * data.n_items
    return [f"{title}; {genre}" if genre else title for title, genre in zip(data.item_title, genres)]


def cache_path(data: ProtocolData, backbone: str, dims: int) -> Path:
    from recbench.protocol import default_cache_root

    safe = backbone.replace("/", "--")
    return default_cache_root() / "item-vectors" / f"{data.dataset}-{data.fingerprint.digest[:16]}-{safe}-pca{dims}.npy"


@torch.inference_mode()
def embed_texts(backbone: "Backbone", texts: list[str], batch_size: int = 32) -> np.ndarray:  # noqa: F821
    """Mean-pooled last hidden states, ``[len(texts), hidden]`` float32, batched by length."""
    from recbench.lm.prompts import length_buckets

    tokenizer, model = backbone.tokenizer, backbone.model
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = base.get_decoder()
    encoded = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    out = np.zeros((len(texts), backbone.hidden_size), dtype=np.float32)
    for index in length_buckets([len(e) for e in encoded], batch_size):
        width = max(1, max(len(encoded[i]) for i in index))
        ids = torch.full((len(index), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(index), width), dtype=torch.long)
        for row, i in enumerate(index):
            ids[row, : len(encoded[i])] = torch.tensor(encoded[i], dtype=torch.long)
            mask[row, : len(encoded[i])] = 1
        hidden = decoder(input_ids=ids.to(backbone.device), attention_mask=mask.to(backbone.device)).last_hidden_state.float()
        weights = mask.to(hidden.device).unsqueeze(-1).float()
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)
        out[index] = pooled.cpu().numpy()
    return out


def pca(vectors: np.ndarray, dims: int) -> np.ndarray:
    """Projection onto the top ``dims`` principal components (deterministic, full SVD)."""
    from sklearn.decomposition import PCA

    dims = max(1, min(dims, vectors.shape[0], vectors.shape[1]))
    return PCA(n_components=dims, svd_solver="full").fit_transform(vectors.astype(np.float64)).astype(np.float32)


def lm_item_vectors(data: ProtocolData, backbone: str = DEFAULT_BACKBONE, dims: int = PCA_DIMS) -> np.ndarray:
    """``[n_items, dims]`` PCA-reduced text embeddings of every item, cached on disk."""
    path = cache_path(data, backbone, dims)
    if path.is_file():
        return np.load(path)
    from recbench.lm.backbone import BackboneSpec, load_backbone

    loaded = load_backbone(BackboneSpec(name=backbone))
    vectors = pca(embed_texts(loaded, item_texts(data)), dims)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npy", delete=False) as handle:
        np.save(handle, vectors)
    os.replace(handle.name, path)
    return vectors


def _default_lm_item_vectors(data: ProtocolData) -> np.ndarray:
    """``item_vectors="lm"``: the default backbone's vectors (looked up at call time, so tests can patch)."""
    return lm_item_vectors(data, DEFAULT_BACKBONE)


register_vector_source("lm", _default_lm_item_vectors, lambda data, backbone: lm_item_vectors(data, backbone))
