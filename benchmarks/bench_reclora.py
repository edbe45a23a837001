"""Cost of RecLoRA's personalized LoRA relative to plain LoRA on the same backbone and batch.

    python benchmarks/bench_reclora.py                               # SmolLM2-135M shape, 4 x 256 tokens
    python benchmarks/bench_reclora.py --layers 4 --steps 3          # a quick check
    python benchmarks/bench_reclora.py --n-meta 1,16 --mixing products

The backbone is a randomly initialised Llama with SmolLM2-135M's shape (hidden 576,
intermediate 1536, 30 layers, 9 heads, 3 KV heads, vocabulary 49,152, tied embeddings); no
download. Compared: peft's LoRA (r=8, alpha=16, q_proj/v_proj) and RecLoRA at each N_m with
the same rank, alpha and targets. All variants share one copy of the frozen backbone weights.

Training step: forward, BCE on logit("yes") - logit("no") at the last position, backward,
AdamW. Scoring step: the same forward under ``torch.inference_mode``. Only the last position's
logits are computed (``logits_to_keep=1``), as in scoring a yes/no prompt. R_c is a random
[batch, 256] tensor: the frozen CRM's cost is outside what is compared here.
The variants run interleaved, step by step, so load from other processes hits all of them alike;
each time is the median over ``--steps`` steps after ``--warmup`` warm-up steps.
Target (RecLoRA issue): RecLoRA at N_m = 16 costs at most 1.15x LoRA per training step.
"""

from __future__ import annotations

import argparse
import copy
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

TARGET_RATIO = 1.15
YES, NO = 100, 200  # arbitrary token ids standing in for the answer words


@dataclass
class Variant:
    name: str
    model: nn.Module
    parameters: list[nn.Parameter]
    run: Callable[[Callable[[], torch.Tensor]], torch.Tensor]  # runs a forward with the variant's context
    optimizer: torch.optim.Optimizer = field(init=False)
    train_ms: list[float] = field(default_factory=list)
    score_ms: list[float] = field(default_factory=list)
    rss_mb: float = 0.0

    def __post_init__(self) -> None:
        self.optimizer = torch.optim.AdamW(self.parameters, lr=1e-4)


SHAPES = {
    # name: (hidden, intermediate, layers, heads, kv heads, vocab, tied embeddings)
    "smollm2-135m": (576, 1536, 30, 9, 3, 49152, True),
    "vicuna-7b": (4096, 11008, 32, 32, 32, 32000, False),
}


def llama_shape(name: str, layers: int | None, dtype: torch.dtype = torch.float32, device: str = "cpu") -> nn.Module:
    """A randomly initialised Llama with a real model's shape, built directly on ``device``."""
    import transformers

    hidden, intermediate, depth, heads, kv_heads, vocab, tied = SHAPES[name]
    config = transformers.LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers or depth,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=8192,
        rope_theta=100000.0,
        tie_word_embeddings=tied,
    )
    with torch.device(device):
        model = transformers.LlamaForCausalLM(config).to(dtype)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def smollm2_shape(layers: int) -> nn.Module:
    return llama_shape("smollm2-135m", layers)


def shared_copy(base: nn.Module) -> nn.Module:
    """A deep copy whose parameters are the base's own tensors (frozen, so sharing is safe)."""
    memo = {id(p): p for p in base.parameters()}
    return copy.deepcopy(base, memo)


def build_variants(base: nn.Module, n_metas: list[int], mixing: str, batch: int, device: str = "cpu") -> list[Variant]:
    import peft

    from reclora.adapter import inject_personalized_lora
    from reclora.config import PersonalizedLoRAConfig

    lora = peft.get_peft_model(
        shared_copy(base), peft.LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], lora_dropout=0.0)
    )
    variants = [Variant("LoRA (peft)", lora, [p for p in lora.parameters() if p.requires_grad], lambda f: f())]
    condition = torch.randn(batch, 256, device=device)
    for n_meta in n_metas:
        model = shared_copy(base)
        adapter = inject_personalized_lora(model, PersonalizedLoRAConfig(n_meta=n_meta, mixing=mixing))
        model.to(device)

        def run(forward: Callable[[], torch.Tensor], adapter=adapter) -> torch.Tensor:
            with adapter.condition(condition):
                return forward()

        variants.append(Variant(f"RecLoRA N_m={n_meta}", model, adapter.trainable_parameters(), run))
    return variants


def _sync(tensor: torch.Tensor) -> None:
    if tensor.is_cuda:
        torch.cuda.synchronize(tensor.device)


def train_step(variant: Variant, input_ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor) -> float:
    variant.model.train()
    _sync(input_ids)
    start = time.perf_counter()
    logits = variant.run(lambda: variant.model(input_ids=input_ids, attention_mask=mask, logits_to_keep=1).logits)
    margin = logits[:, -1, YES] - logits[:, -1, NO]
    loss = nn.functional.binary_cross_entropy_with_logits(margin.float(), labels)
    variant.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    variant.optimizer.step()
    _sync(input_ids)
    return 1000 * (time.perf_counter() - start)


def score_step(variant: Variant, input_ids: torch.Tensor, mask: torch.Tensor) -> float:
    variant.model.eval()
    _sync(input_ids)
    start = time.perf_counter()
    with torch.inference_mode():
        variant.run(lambda: variant.model(input_ids=input_ids, attention_mask=mask, logits_to_keep=1).logits)
    _sync(input_ids)
    return 1000 * (time.perf_counter() - start)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--layers", type=int, default=None, help="default: the shape's own depth")
    parser.add_argument("--shape", default="smollm2-135m", choices=sorted(SHAPES))
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-meta", default="1,4,16", help="comma-separated N_m values")
    parser.add_argument("--mixing", default="factors", choices=["factors", "products"])
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    base = llama_shape(args.shape, args.layers, getattr(torch, args.dtype), args.device)
    variants = build_variants(base, [int(n) for n in args.n_meta.split(",")], args.mixing, args.batch, args.device)
    vocab = SHAPES[args.shape][5]
    input_ids = torch.randint(0, vocab, (args.batch, args.seq), device=args.device)
    mask = torch.ones_like(input_ids)
    mask[0, : args.seq // 4] = 0  # one left-padded prompt
    labels = torch.randint(0, 2, (args.batch,), device=args.device).float()

    print(
        f"backbone: Llama, {args.shape} shape, {base.config.num_hidden_layers} layers, {args.dtype} on {args.device}; "
        f"batch {args.batch} x {args.seq} tokens; "
        f"threads {args.threads}; mixing {args.mixing}; {args.warmup} warm-up + {args.steps} timed steps"
    )
    for step in range(args.warmup + args.steps):
        for variant in variants:  # interleaved so that background load hits every variant alike
            train = train_step(variant, input_ids, mask, labels)
            score = score_step(variant, input_ids, mask)
            if step == 0:
                variant.rss_mb = peak_rss_mb()
            if step >= args.warmup:
                variant.train_ms.append(train)
                variant.score_ms.append(score)

    lora_train = statistics.median(variants[0].train_ms)
    lora_score = statistics.median(variants[0].score_ms)
    header = (
        f"{'variant':<18} {'trainable':>10} {'train ms':>10} {'x LoRA':>7} "
        f"{'score ms':>10} {'x LoRA':>7} {'peak RSS MB':>12}"
    )
    print(header)
    print("-" * len(header))
    for variant in variants:
        train, score = statistics.median(variant.train_ms), statistics.median(variant.score_ms)
        trainable = sum(p.numel() for p in variant.parameters)
        print(
            f"{variant.name:<18} {trainable:>10,} {train:>10.1f} {train / lora_train:>6.2f}x "
            f"{score:>10.1f} {score / lora_score:>6.2f}x {variant.rss_mb:>12.0f}"
        )
    last = variants[-1]
    ratio = statistics.median(last.train_ms) / lora_train
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"target: {last.name} training step <= {TARGET_RATIO}x LoRA: {ratio:.2f}x, {verdict}")
    print("peak RSS is the process's peak so far after each variant's first step (cumulative).")


if __name__ == "__main__":
    main()
