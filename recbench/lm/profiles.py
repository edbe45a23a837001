"""Size profiles for language-model runs: the same code path, only the sizes differ.

* ``paper``: the paper's setting (Appendix C): Vicuna-7B in 8-bit, N = 70,000 few-shot training
  samples, the first 30,000 test rows, lr 1e-3 with a linear schedule, batch 256, 5 epochs with
  the best epoch chosen on validation. Needs a GPU.
* ``cpu``: what finishes on a 2-core CPU in minutes per run: SmolLM2-135M-Instruct in fp32,
  N = 128 training samples, 1 epoch, batch 8 (16 steps), the first 400 test rows, no validation scoring
  (one epoch leaves nothing to select). Numbers from this profile are a smoke-scale
  reproduction: they test the pipeline and the direction of effects, not the paper's values.

A profile is a list of ``--set`` assignments applied before the user's own, so any of its
values can still be overridden.

Example:
    >>> profile_overrides("cpu")[:2]
    ('backbone=smollm2-135m', 'quantization=none')
"""

from __future__ import annotations

from recbench.errors import RecbenchError

PROFILES: dict[str, dict[str, str]] = {
    "cpu": {
        "backbone": "smollm2-135m",
        "quantization": "none",
        "n_train": "128",
        "n_valid": "0",
        "n_test": "400",
        "epochs": "1",
        "lr": "1e-3",
        "batch_size": "8",
        "micro_batch_size": "4",
        "eval_batch_size": "8",
    },
    "paper": {
        "backbone": "lmsys/vicuna-7b-v1.5",
        "quantization": "8bit",
        "n_train": "70000",
        "n_valid": "3000",
        "n_test": "30000",
        "epochs": "5",
        "lr": "1e-3",
        "batch_size": "256",
        "micro_batch_size": "8",
        "eval_batch_size": "16",
    },
}

#: CTR-BERT trains a small encoder with its own settings (paper Appendix B.2)
CTRBERT_PROFILES: dict[str, dict[str, str]] = {
    "cpu": {"lr": "5e-5", "batch_size": "32", "micro_batch_size": "32", "warmup_ratio": "0.05"},
    "paper": {"lr": "5e-5", "batch_size": "1024", "micro_batch_size": "64", "warmup_ratio": "0.05", "epochs": "10"},
}


def profile_overrides(name: str, model: str | None = None) -> tuple[str, ...]:
    """The ``key=value`` assignments of profile ``name`` (for ``model`` when it has its own)."""
    if name not in PROFILES:
        raise RecbenchError(f"--profile {name}: expected one of {', '.join(PROFILES)}")
    settings = dict(PROFILES[name])
    if model == "ctr-bert":
        settings.pop("backbone")
        settings.pop("quantization")
        settings.update(CTRBERT_PROFILES[name])
    return tuple(f"{k}={v}" for k, v in settings.items())
