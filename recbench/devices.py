"""One rule for where a model runs, shared by the ID training loop and the LM backbone loader.

``auto`` is the first CUDA device when there is one, else the CPU; ``cpu``, ``cuda`` and
``cuda:N`` name a device; anything else, or CUDA on a machine without it, is a clear error
naming the ``--set device=`` value.

Example:
    >>> pick_device("cpu")
    device(type='cpu')
"""

from __future__ import annotations

import torch

from recbench.errors import RecbenchError


def pick_device(name: str) -> torch.device:
    """The torch device for a ``device`` setting (see the module docstring)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name != "cpu" and not (name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit())):
        raise RecbenchError(f"--set device={name}: expected auto, cpu, cuda or cuda:N")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RecbenchError(f"--set device={name}: no CUDA device is available on this machine")
    return torch.device(name)
