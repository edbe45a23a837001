"""Which kind of machine measured a run's timings, so cost estimates come from the same kind.

Why: ``reproduce --dry-run`` and ``--budget`` plan many CPU hours from the per-sample costs that
recorded runs measured. The same language-model run costs about 2.7x more on a CPU with only
AVX512-BF16 than on one with AMX tiles (RecLoRA training, one thread: 2.25 s/sample in run
cdd734, 0.84 s/sample in run 491dbd), so mixing both in one median gives an estimate that is
right on neither. Every run records the signature below in its
``environment["hardware"]``, and :class:`recbench.estimates.Costs` prefers the rates measured
on a machine with the same signature.

A CPU with none of the bf16 instruction sets (AVX2 only) computes the LM profile's bf16
matmuls with fp32 kernels instead (:mod:`recbench.bf16`), at about fp32 speed.

The signature is what decides the speed of this code and nothing else: the device (``cpu`` or
the CUDA device's name), the CPU's model name and the matrix-math instruction sets PyTorch
dispatches on (AVX2, AVX-512, AVX512-BF16, AMX). Core counts are left out: a run records its
thread count separately, and the lanes of a programme each use one thread.

Example:
    >>> key = hardware_key({"device": "cpu", "cpu": "Xeon", "isa": ["amx_bf16", "avx512_bf16"]})
    >>> key
    'cpu | Xeon | amx_bf16 avx512_bf16'
    >>> hardware_key(None) is None
    True
"""

from __future__ import annotations

import functools
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: instruction sets that change the speed of PyTorch's CPU matmuls (the cost of every run here)
SPEED_ISA = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")


@functools.cache
def hardware_signature() -> dict[str, Any]:
    """This machine's signature: ``{"device", "cpu", "isa"}`` (see the module docstring)."""
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    cpu, flags = _cpu_info(Path("/proc/cpuinfo"))
    return {"device": device, "cpu": cpu or platform.processor() or platform.machine(), "isa": [f for f in SPEED_ISA if f in flags]}


def _cpu_info(path: Path) -> tuple[str, set[str]]:
    """(model name, flags) of the first processor listed in ``path`` (Linux); ("", set()) elsewhere."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "", set()
    name, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not name:
            name = " ".join(value.split())
        elif key == "flags" and not flags:
            flags = set(value.split())
        if name and flags:
            break
    return name, flags


def hardware_key(signature: Mapping[str, Any] | None) -> str | None:
    """One comparable string for a recorded signature; None for a run recorded without one."""
    if not isinstance(signature, Mapping) or "device" not in signature:
        return None
    isa = " ".join(sorted(str(f) for f in signature.get("isa") or ()))
    return f"{signature['device']} | {signature.get('cpu', '')} | {isa or '-'}"
