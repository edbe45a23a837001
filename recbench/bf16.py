"""bf16 autocast that stays fast on CPUs without bf16 matmul units (AVX2-only machines).

Why: the ``cpu`` profile trains under bf16 autocast, which is about 1.8x faster than fp32 on a
CPU with AVX512-BF16 or AMX. On a CPU with neither, PyTorch's bf16 matmul falls back to a slow
generic kernel: a SmolLM2-135M forward of 8 x 256 tokens on one thread took 46-51 s under bf16
autocast against 6.2-7.2 s in fp32 on an AMD EPYC with AVX2 only, so every LM run of the profile
would take about 7x longer there than its fp32 equivalent.

The fix keeps the profile's arithmetic and changes only the kernel. Autocast still rounds every
matmul's operands to bf16 and hands the op a bf16 tensor; :class:`Fp32KernelsForBf16Matmuls`
then computes that op with the fp32 kernel on the same bf16 values and rounds the result back to
bf16. A product of two bf16 numbers (8-bit significands) is exact in fp32, so the result differs
from a native bf16 kernel's (which also accumulates in fp32) only in the order of the fp32
additions, the same kind of difference as between the AVX512-BF16 and the AMX kernels whose runs
already share the store. Measured on that EPYC (one ``Linear(576, 1536)`` on 2,048 rows under
autocast): 99.99% of the outputs bit-equal to the native bf16 kernel's; scaled dot-product
attention's forward, which PyTorch computes with its own fp32 accumulators, is left alone and
matched exactly. Its backward is the one other op computed in fp32 (its bf16 kernel runs ~10x
slower than the fp32 one there), so attention gradients skip the bf16 rounding of the native
kernel's intermediates; they come back as bf16. Every other op passes through untouched, as do
fp32 ones.

A run records which kernel computed its bf16 matmuls (``environment["bf16_matmul"]``).
``RECBENCH_BF16_MATMUL=native`` or ``=fp32`` forces one or the other (tests, benchmarks).

Example:
    >>> import torch
    >>> x, w = torch.randn(4, 8), torch.randn(3, 8)
    >>> with torch.autocast("cpu", dtype=torch.bfloat16), Fp32KernelsForBf16Matmuls():
    ...     y = x @ w.T
    >>> y.dtype
    torch.bfloat16
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any, Literal

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from recbench.errors import RecbenchError
from recbench.hardware import hardware_signature

_aten = torch.ops.aten
#: the ops computed in fp32: the matmuls autocast sends bf16 operands to, in forward and backward; ``linear`` and
#: ``matmul`` reach the mode undecomposed under ``torch.inference_mode`` (scoring)
_WIDENED_OPS = frozenset({
    _aten.mm.default, _aten.addmm.default, _aten.bmm.default, _aten.baddbmm.default, _aten.addbmm.default,
    _aten.linear.default, _aten.matmul.default,
    # PyTorch's bf16 flash-attention backward on such a CPU is ~10x slower than its fp32 one (the
    # forward is not: it stays native and bit-equal); its gradients come back rounded to bf16
    _aten._scaled_dot_product_flash_attention_for_cpu_backward.default,
})  # fmt: skip
#: CPU instruction sets with bf16 dot-product units (PyTorch's fast bf16 kernels need one)
_NATIVE_BF16_ISA = frozenset({"avx512_bf16", "amx_bf16"})

Bf16Matmul = Literal["native", "fp32"]


class Fp32KernelsForBf16Matmuls(TorchDispatchMode):
    """Computes bf16 matmuls with fp32 kernels on the same bf16 values; the result is bf16 again."""

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func in _WIDENED_OPS and any(isinstance(a, torch.Tensor) and a.dtype == torch.bfloat16 for a in args):
            widened = [a.float() if isinstance(a, torch.Tensor) and a.dtype == torch.bfloat16 else a for a in args]
            out = func(*widened, **kwargs)
            return tuple(_narrowed(o) for o in out) if isinstance(out, tuple) else _narrowed(out)
        return func(*args, **kwargs)


def _narrowed(value: Any) -> Any:
    return value.to(torch.bfloat16) if isinstance(value, torch.Tensor) and value.is_floating_point() else value


def cpu_bf16_matmul() -> Bf16Matmul:
    """Which kernel computes this machine's CPU bf16 matmuls: ``native`` or ``fp32`` (see the module docstring)."""
    forced = os.environ.get("RECBENCH_BF16_MATMUL", "")
    if forced:
        if forced not in ("native", "fp32"):
            raise RecbenchError(f"RECBENCH_BF16_MATMUL={forced}: expected native or fp32")
        return forced  # type: ignore[return-value]
    return "native" if _NATIVE_BF16_ISA & set(hardware_signature()["isa"]) else "fp32"


def bf16_matmul_kernel(device: torch.device, autocast: str) -> Bf16Matmul | None:
    """The kernel a run on ``device`` with this ``autocast`` setting uses (None: no bf16 autocast)."""
    if autocast != "bfloat16":
        return None
    return cpu_bf16_matmul() if device.type == "cpu" else "native"


@contextlib.contextmanager
def bf16_matmuls(device: torch.device, autocast: str) -> Iterator[None]:
    """Surround a loop's forward *and* backward passes: on a CPU without bf16 units, bf16 matmuls use fp32 kernels.

    A no-op when ``autocast`` is not ``bfloat16``, on a GPU, and on a CPU with bf16 units.
    """
    if bf16_matmul_kernel(device, autocast) == "fp32":
        with Fp32KernelsForBf16Matmuls():
            yield
    else:
        yield
