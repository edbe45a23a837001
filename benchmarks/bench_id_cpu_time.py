"""ID-model training and scoring speed per CPU-second: a before/after measure that survives a busy machine.

    python benchmarks/bench_id_cpu_time.py deepfm embed_dim=32 hidden=256,128 dropout=0.1
    PYTHONPATH=/path/to/older/checkout python benchmarks/bench_id_cpu_time.py deepfm   # the old code

Why CPU time: wall-clock throughput on a machine that is also running long LM jobs swings by
tens of percent between repeats of identical code, because the timed process is descheduled.
One torch thread's ``time.process_time`` counts only the time it actually ran, so alternating
old and new processes gives a usable ratio (cache and memory-bandwidth contention remain, so
repeat the pair). It times 20 training steps at the model's batch size (1,024 by default,
``batch_size=...`` to change it; after 3 warm-up steps) through the loop's own batch generator
and fused/unfused AdamW choice, then scoring of 19 batches of 1,024 test rows, on ml-1m-u2999 (``--set``-style ``key=value`` arguments after the model name).

How close to the machine: the parts any implementation of the model must run are then timed
alone, with the same batch, dropout and optimizer: its final DNN (``dnn`` or ``mlp``) on random
inputs of its width; for DIN / SIM the per-behaviour part of the activation unit on as many rows
as the batches hold valid behaviours; for the field models (DeepFM, AutoInt, DCNv2) the field
embeddings' forward and backward (the lookups and the pooled history) on the timed batches. The
dense layers are GEMMs the sgemm kernels run near their peak, so the parts' combined rate is a
ceiling for the model's step with those parts as they are implemented now, and the printed
share says how much of a step is left to everything else (the FM / interaction terms, the
optimizer on the tables, the loss). The parts are timed after the step, not interleaved with
it: on a busy machine the share moves by tens of percent between repeats (88% and 110% for the
same DeepFM), so repeat it and read the median.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-1m-u2999"


def main(name: str, overrides: tuple[str, ...]) -> None:
    from recbench.ctr import FeatureSchema
    from recbench.protocol import load_protocol
    from recbench.registry import get_model
    from recbench.runner import resolve_configs
    from recbench.training import batches, seed_everything

    try:
        from recbench.training import fused_adamw
    except ImportError:  # an older checkout's loop used the unfused AdamW
        def fused_adamw(device: torch.device) -> bool:
            return False

    torch.set_num_threads(1)
    data = load_protocol("ml-1m-u2999", DATA)
    entry = get_model(name)
    model_config, train_config = resolve_configs(entry, overrides)
    size = train_config.batch_size
    seed_everything(0)
    model = entry.cls(model_config, FeatureSchema.from_data(data))
    device = torch.device("cpu")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=fused_adamw(device))
    train = list(batches(data, model, data.split_rows("train")[: size * 23], size, device))
    model.train()

    def step(batch) -> None:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(batch).logit, batch.label)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for batch in train[:3]:
        step(batch)
    started = time.process_time()
    for batch in train[3:]:
        step(batch)
    train_rate = size * len(train[3:]) / (time.process_time() - started)
    model.eval()
    test = list(batches(data, model, data.split_rows("test")[: 1024 * 20], 1024, device))
    with torch.no_grad():
        model(test[0])
        started = time.process_time()
        for batch in test[1:]:
            model(batch)
    score_rate = 1024 * len(test[1:]) / (time.process_time() - started)
    line = f"{name:8s} train {train_rate:8.0f}/cpu-s  score {score_rate:8.0f}/cpu-s"
    parts = dense_parts(name, model, train[3:], size, fused_adamw(device))
    if parts:
        bound = 1.0 / sum(1.0 / rate for _, rate in parts)
        alone = "; ".join(f"{what} {rate:,.0f}/cpu-s" for what, rate in parts)
        line += f"\n         alone: {alone}; together {bound:,.0f}/cpu-s: the step runs at {train_rate / bound:.0%} of their combined rate"
    print(line)


def linear_widths(mlp: torch.nn.Module) -> tuple[int, ...]:
    """The output widths of an :class:`~recbench.nn.MLP`'s linear layers, in order."""
    return tuple(layer.out_features for layer in mlp.layers if isinstance(layer, torch.nn.Linear))


def dense_parts(name: str, model: torch.nn.Module, train: list, size: int, fused: bool) -> list[tuple[str, float]]:
    """(what, samples per CPU-second) of each part of ``model`` that any implementation must run, timed alone."""
    parts = []
    dnn = getattr(model, "dnn", None) or getattr(model, "mlp", None)
    if dnn is not None and hasattr(model, "out"):
        width = dnn.layers[0].in_features
        parts.append((f"DNN {width}->{linear_widths(dnn)}", mlp_train_rate(width, linear_widths(dnn), model.config.dropout, size, 1.0, fused)))
    attention = getattr(model, "attention", None)
    if attention is not None and hasattr(attention, "first"):
        # the part of DIN's activation unit that runs per behaviour: the product term t * h through
        # the first layer, then the rest of the MLP; the t and h terms are per sample / per distinct key
        per_sample = float(torch.cat([b.hist_mask for b in train]).sum(1).float().mean())
        hidden = (attention.first.out_features, *linear_widths(attention.rest))
        parts.append((f"attention MLP {attention.key_dim}->{hidden}->1 on {per_sample:.1f} behaviours/sample",
                      mlp_train_rate(attention.key_dim, hidden, 0.0, size, per_sample, fused)))  # fmt: skip
    if name in FIELD_MODELS:  # the embedding lookups and history pooling every field model needs
        parts.append(("field embeddings (lookups and pooled history)", field_embedding_rate(model, train, size)))
    return parts


#: models whose input is :meth:`~recbench.ctr.CTRModel.field_embeddings` (DeepFM's one lookup
#: also carries its first-order weights as one more column; timed here without it)
FIELD_MODELS = ("deepfm", "autoint", "dcnv2")


def field_embedding_rate(model: torch.nn.Module, train: list, size: int) -> float:
    """Samples per CPU-second of :meth:`field_embeddings` forward and backward alone on the timed batches."""
    model.train()
    started = time.process_time()
    for batch in train:
        model.field_embeddings(batch).sum().backward()
    model.zero_grad(set_to_none=True)
    return size * len(train) / (time.process_time() - started)


def mlp_train_rate(in_dim: int, widths: tuple[int, ...], dropout: float, size: int, rows_per_sample: float, fused: bool, steps: int = 10) -> float:
    """Samples per CPU-second of training a bare MLP ``in_dim -> widths -> 1`` on random inputs,
    ``rows_per_sample`` input rows per sample (the behaviours of an attention unit), batch ``size``."""
    from recbench.nn import MLP

    mlp = MLP(in_dim, widths, dropout)
    head = torch.nn.Linear(mlp.output_dim, 1)
    optimizer = torch.optim.AdamW([*mlp.parameters(), *head.parameters()], lr=1e-3, fused=fused)
    generator = torch.Generator().manual_seed(0)
    rows = max(1, round(size * rows_per_sample))
    x = torch.randn(rows, in_dim, generator=generator, requires_grad=True)
    y = torch.randint(0, 2, (rows,), generator=generator).float()

    def step() -> None:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(head(mlp(x)).squeeze(-1), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(2):
        step()
    started = time.process_time()
    for _ in range(steps):
        step()
    return size * steps / (time.process_time() - started)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: bench_id_cpu_time.py MODEL [key=value ...]")
    main(sys.argv[1], tuple(sys.argv[2:]))
