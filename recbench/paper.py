"""The RecLoRA paper's published numbers (SPEC section 6), for side-by-side display.

Why a module of constants: ``recbench leaderboard --paper`` shows these next to our own
results, and a typo in a hand-copied number would silently mislead a reader. Keeping them in
one place, keyed by the registry's model names, lets the tests pin them against the SPEC.

Which paper column sits next to which of our datasets: the paper's ML-1M numbers are shown
beside ml-1m and also beside ml-1m-u2999 and ml-100k (other data, so labelled as such);
ML-25M beside ml-25m; GoodReads beside goodreads. ``synth`` has no paper counterpart.

Example:
    >>> PAPER_TABLE2["ML-1M"]["reclora"]
    (0.8141, 0.5248)
    >>> paper_column("ml-100k")
    ('ML-1M', False)
    >>> paper_column("synth") is None
    True
"""

from __future__ import annotations

#: Table 2: paper dataset -> model -> (AUC, LogLoss)
PAPER_TABLE2: dict[str, dict[str, tuple[float, float]]] = {
    "ML-25M": {
        "deepfm": (0.8181, 0.4863), "autoint": (0.8138, 0.4942), "dcnv2": (0.8184, 0.4905),
        "gru4rec": (0.8169, 0.4917), "caser": (0.8167, 0.4917), "sasrec": (0.8163, 0.4892),
        "din": (0.8258, 0.4775), "sim": (0.8379, 0.4664), "ctr-bert": (0.8079, 0.5044),
        "tallrec": (0.8324, 0.4733), "rella": (0.8409, 0.4662), "reclora": (0.8462, 0.4552),
    },
    "ML-1M": {
        "deepfm": (0.7978, 0.5405), "autoint": (0.7976, 0.5398), "dcnv2": (0.7977, 0.5403),
        "gru4rec": (0.7959, 0.5423), "caser": (0.7952, 0.5425), "sasrec": (0.7984, 0.5388),
        "din": (0.7989, 0.5389), "sim": (0.7992, 0.5387), "ctr-bert": (0.7931, 0.5457),
        "tallrec": (0.7789, 0.5580), "rella": (0.8005, 0.5364), "reclora": (0.8141, 0.5248),
    },
    "GoodReads": {
        "deepfm": (0.7873, 0.5027), "autoint": (0.7866, 0.5024), "dcnv2": (0.7867, 0.5022),
        "gru4rec": (0.7869, 0.5020), "caser": (0.7872, 0.5023), "sasrec": (0.7864, 0.5022),
        "din": (0.7880, 0.4999), "sim": (0.7896, 0.4993), "ctr-bert": (0.7176, 0.5576),
        "tallrec": (0.7759, 0.5148), "rella": (0.7833, 0.5065), "reclora": (0.7989, 0.4916),
    },
}  # fmt: skip

#: Table 3: paper dataset -> ablation variant -> (AUC, LogLoss)
PAPER_TABLE3: dict[str, dict[str, tuple[float, float]]] = {
    "ML-25M": {
        "full": (0.8462, 0.4552), "w/o meta-LoRA": (0.8360, 0.4662), "w/o meta-LoRA (same param)": (0.8370, 0.4759),
        "w/o long retriever": (0.8501, 0.4761), "w/o short retriever": (0.8473, 0.4606),
        "w/o long-short retriever": (0.8453, 0.4787),
    },
    "ML-1M": {
        "full": (0.8141, 0.5248), "w/o meta-LoRA": (0.7869, 0.5517), "w/o meta-LoRA (same param)": (0.7820, 0.5548),
        "w/o long retriever": (0.8026, 0.5321), "w/o short retriever": (0.8001, 0.5359),
        "w/o long-short retriever": (0.7978, 0.5373),
    },
    "GoodReads": {
        "full": (0.7989, 0.4916), "w/o meta-LoRA": (0.7740, 0.5181), "w/o meta-LoRA (same param)": (0.7735, 0.5125),
        "w/o long retriever": (0.6744, 0.6231), "w/o short retriever": (0.7971, 0.4924),
        "w/o long-short retriever": (0.6882, 0.6073),
    },
}  # fmt: skip

#: Table 4 (GoodReads only): "text/ID" history lengths -> (AUC, train s/sample, infer s/sample)
PAPER_TABLE4: dict[str, tuple[float, float, float]] = {
    "10/-": (0.7776, 1.40, 0.60),
    "30/-": (0.7828, 3.34, 1.06),
    "60/-": (0.7833, 6.41, 1.83),
    "10/30": (0.7822, 1.42, 0.63),
    "10/60": (0.7989, 1.45, 0.65),
}

#: our dataset name -> (paper column, whether it is the same data as the paper's)
_PAPER_COLUMN: dict[str, tuple[str, bool]] = {
    "ml-1m": ("ML-1M", True),
    "ml-1m-u2999": ("ML-1M", False),
    "ml-100k": ("ML-1M", False),
    "ml-25m": ("ML-25M", True),
    "goodreads": ("GoodReads", True),
}


def paper_column(dataset: str) -> tuple[str, bool] | None:
    """The paper dataset whose numbers belong next to ``dataset``, and whether it is the same data."""
    return _PAPER_COLUMN.get(dataset)
