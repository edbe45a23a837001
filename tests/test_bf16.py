"""bf16 autocast on CPUs without bf16 units: fp32 kernels on bf16 values (recbench.bf16)."""

from __future__ import annotations

import contextlib

import pytest
import torch
from torch.utils._python_dispatch import _get_current_dispatch_mode

from recbench.bf16 import Fp32KernelsForBf16Matmuls, bf16_matmul_kernel, bf16_matmuls, cpu_bf16_matmul
from recbench.errors import RecbenchError

CPU = torch.device("cpu")


def _linear_under_autocast(emulate: bool, layer: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    with torch.autocast("cpu", dtype=torch.bfloat16):
        if emulate:
            with Fp32KernelsForBf16Matmuls():
                return layer(x)
        return layer(x)


def test_fp32_kernels_give_the_native_bf16_result_but_for_the_order_of_additions() -> None:
    torch.manual_seed(0)
    layer, x = torch.nn.Linear(96, 64), torch.randn(128, 96)
    with torch.no_grad():
        native, emulated = _linear_under_autocast(False, layer, x), _linear_under_autocast(True, layer, x)
    assert emulated.dtype == native.dtype == torch.bfloat16
    # products of bf16 values are exact in fp32, so only the summation order can move a result by one bf16 step
    assert (emulated == native).float().mean() > 0.99
    step = native.float().abs().clamp(min=2**-20) * 2**-7
    assert ((emulated.float() - native.float()).abs() <= step).all()


def test_backward_matmuls_use_the_same_kernels_and_gradients_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECBENCH_BF16_MATMUL", "fp32")
    torch.manual_seed(1)
    layer, x = torch.nn.Linear(48, 32), torch.randn(64, 48)
    grads = []
    for emulate in (False, True):
        layer.zero_grad()
        with bf16_matmuls(CPU, "bfloat16") if emulate else contextlib.nullcontext():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = layer(x)
            out.float().square().mean().backward()
        grads.append(layer.weight.grad.clone())
    native, emulated = grads
    assert torch.allclose(native, emulated, rtol=2e-2, atol=1e-4)


def test_bf16_matmuls_is_a_no_op_without_bf16_autocast_or_on_native_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECBENCH_BF16_MATMUL", "fp32")
    with bf16_matmuls(CPU, "off"):
        assert _get_current_dispatch_mode() is None
    with bf16_matmuls(CPU, "bfloat16"):
        assert isinstance(_get_current_dispatch_mode(), Fp32KernelsForBf16Matmuls)
    assert bf16_matmul_kernel(torch.device("cuda"), "bfloat16") == "native"
    monkeypatch.setenv("RECBENCH_BF16_MATMUL", "native")
    with bf16_matmuls(CPU, "bfloat16"):
        assert _get_current_dispatch_mode() is None
    assert bf16_matmul_kernel(CPU, "off") is None


def test_fp32_operations_pass_through_untouched() -> None:
    a, b = torch.randn(16, 8), torch.randn(8, 4)
    with Fp32KernelsForBf16Matmuls():
        out = a @ b
    assert out.dtype == torch.float32 and torch.equal(out, a @ b)


def test_the_kernel_follows_the_cpu_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    import recbench.bf16 as bf16

    monkeypatch.delenv("RECBENCH_BF16_MATMUL", raising=False)
    monkeypatch.setattr(bf16, "hardware_signature", lambda: {"device": "cpu", "cpu": "x", "isa": ["avx2"]})
    assert cpu_bf16_matmul() == "fp32"
    monkeypatch.setattr(bf16, "hardware_signature", lambda: {"device": "cpu", "cpu": "x", "isa": ["avx2", "avx512_bf16"]})
    assert cpu_bf16_matmul() == "native"


def test_a_bad_override_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECBENCH_BF16_MATMUL", "fast")
    with pytest.raises(RecbenchError, match="RECBENCH_BF16_MATMUL=fast: expected native or fp32"):
        cpu_bf16_matmul()


def test_scoring_under_inference_mode_takes_the_same_kernels() -> None:
    # under inference_mode ``linear`` reaches the mode whole instead of as ``addmm``: it must be caught too
    torch.manual_seed(2)
    layer, x = torch.nn.Linear(96, 64), torch.randn(4, 32, 96)
    with torch.no_grad():
        native = _linear_under_autocast(False, layer, x)
        emulated = _linear_under_autocast(True, layer, x)
    with torch.inference_mode():
        scored = _linear_under_autocast(True, layer, x)
    assert scored.dtype == torch.bfloat16
    assert torch.equal(scored, emulated)
    assert (scored == native).float().mean() > 0.99


def test_attention_gradients_agree_with_the_native_bf16_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECBENCH_BF16_MATMUL", "fp32")
    torch.manual_seed(3)
    q, k, v = (torch.randn(2, 3, 40, 16, requires_grad=True) for _ in range(3))
    grads = []
    for emulate in (False, True):
        for t in (q, k, v):
            t.grad = None
        with bf16_matmuls(CPU, "bfloat16") if emulate else contextlib.nullcontext():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = torch.nn.functional.scaled_dot_product_attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), is_causal=True)
            out.float().sum().backward()
        grads.append([t.grad.clone() for t in (q, k, v)])
    for native, emulated in zip(*grads):
        scale = native.abs().max()
        assert (emulated - native).abs().max() <= 0.02 * scale
