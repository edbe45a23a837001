"""The paper's metrics (SPEC 1): AUC, LogLoss and RelImpr.

Example:
    >>> import numpy as np
    >>> round(auc(np.array([0, 1, 1]), np.array([0.2, 0.9, 0.4])), 3)
    1.0
    >>> round(relative_improvement(0.8141, 0.8005), 4)
    0.017
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from recbench.errors import RecbenchError

LOGLOSS_EPS = 1e-7


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve; ties count one half (the Mann-Whitney statistic)."""
    labels = np.asarray(labels)
    if labels.size == 0 or labels.min() == labels.max():
        raise RecbenchError("AUC needs both positive and negative labels among the evaluated rows")
    return float(roc_auc_score(labels, np.asarray(scores, dtype=np.float64)))


def logloss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Binary cross-entropy with probabilities clipped to [1e-7, 1 - 1e-7]."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), LOGLOSS_EPS, 1 - LOGLOSS_EPS)
    y = np.asarray(labels, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def relative_improvement(reference_auc: float, model_auc: float) -> float:
    """RelImpr = (AUC_reference - AUC_model) / AUC_model, the reference being RecLoRA."""
    return (reference_auc - model_auc) / model_auc


def evaluate(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """The metrics every run records for a split."""
    return {"auc": auc(labels, probabilities), "logloss": logloss(labels, probabilities), "rows": int(len(labels))}
