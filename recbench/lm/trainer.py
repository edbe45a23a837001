"""Instruction tuning and scoring of yes/no recommenders on a causal LM.

One loop (:func:`train_loop`) serves TALLRec, ReLLa, RecLoRA and CTR-BERT on a 2-core CPU and
on GPUs; a model hands it a :class:`TrainingTask` (what is trained, how samples become a loss):

* **Scoring** reads only the two answer-token logits at the answer position: the decoder's
  hidden state there times two rows of the output embedding, so no ``[batch, length, vocab]``
  tensor is ever built. Prompts are length-bucketed (sorted, then batched) to cut padding.
* **Training** is causal-LM cross-entropy on the answer tokens only, summed over the answer
  tokens of an optimizer batch and divided by their count, so gradient accumulation over
  micro-batches gives the same update as one big batch. AdamW, linear schedule (optional
  warm-up), zero weight decay by default (paper Appendix C).
* **Multi-GPU** runs under ``accelerate launch``: each process takes every ``world``-th sample
  of each optimizer batch and DDP averages the gradients (tested with 2 CPU processes).
* **Interruptions**: a checkpoint (trainable weights, optimizer, scheduler, position) is written
  atomically every ``checkpoint_every`` steps (:mod:`recbench.lm.checkpoint`); a rerun of the
  same run resumes from it and ends with the same weights as an uninterrupted run. The state
  after the last epoch is saved too and left in place: the caller removes it once the run is
  recorded (:func:`recbench.runner.run_on_data`), so a run killed while it scores its test rows
  (10-25 minutes of a CPU run) resumes at scoring instead of training again.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

import numpy as np
import torch
from rich.console import Console

from recbench.bf16 import bf16_matmuls
from recbench.errors import RecbenchError
from recbench.lm.checkpoint import Checkpoint, run_key
from recbench.lm.prompts import EncodedPrompt, TokenBatch, collate, length_buckets


@dataclass
class LMTrainConfig:
    """Backbone, sizes and optimisation of a language-model run (``--set key=value``).

    The defaults are the ``cpu`` profile; :data:`recbench.lm.profiles.PROFILES` holds both.
    """

    backbone: str = "smollm2-135m"
    quantization: Literal["none", "8bit", "4bit"] = "none"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"
    n_train: int = 128  # few-shot training samples drawn uniformly from train (0: zero-shot)
    sample_seed: int = 0  # seed of that draw, fixed so every model and seed sees the same set
    n_valid: int = 0  # validation rows scored after each epoch (0: keep the last epoch)
    n_test: int = 400  # test rows scored (paper: the first 30,000)
    valid_rows: Literal["first", "sample"] = "first"  # first n in time order, or n drawn with sample_seed
    test_rows: Literal["first", "sample"] = "first"
    epochs: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    batch_size: int = 8  # samples per optimizer step
    micro_batch_size: int = 4  # samples per forward pass (gradient accumulation)
    eval_batch_size: int = 8
    bucket: bool = True  # length bucketing when scoring
    threads: int = 0  # CPU threads for torch (0: torch's default)
    checkpoint_every: int = 5  # optimizer steps between checkpoints (0: never)
    #: bfloat16: matmuls under torch.autocast (weights and adapters stay fp32): about 1.8x faster
    #: on CPUs with AVX512-BF16 / AMX, and the usual mixed precision on GPUs
    autocast: Literal["off", "bfloat16"] = "off"
    #: linear layers that get the adapter (LoRA and RecLoRA alike); the paper adapts q_proj, v_proj
    lora_targets: tuple[str, ...] = ("q_proj", "v_proj")


@dataclass
class LMTrainResult:
    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    train_seconds: float = 0.0
    train_samples: int = 0
    resumed_from_step: int = 0


class AnswerHead(torch.nn.Module):
    """A causal LM that returns logits only at chosen positions (and optionally chosen tokens).

    Wrapping the LM in one module gives DDP (``accelerate``) a single forward to synchronise.
    """

    def __init__(self, lm: torch.nn.Module, autocast: str = "off") -> None:
        super().__init__()
        self.lm = lm
        self.autocast = autocast

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, positions: torch.Tensor, vocab: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``[B, P, V]`` (or ``[B, P, len(vocab)]``) at ``positions`` ``[B, P]``."""
        base = self.lm.get_base_model() if hasattr(self.lm, "get_base_model") else self.lm
        with torch.autocast(input_ids.device.type, dtype=torch.bfloat16, enabled=self.autocast == "bfloat16"):
            hidden = base.get_decoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        hidden = hidden.float() if self.autocast == "bfloat16" else hidden
        index = positions.clamp(min=0).unsqueeze(-1).expand(-1, -1, hidden.shape[-1])
        picked = hidden.gather(1, index)
        head = base.get_output_embeddings()
        if vocab is None:
            return head(picked).float()
        weight = head.weight[vocab]
        logits = picked.to(weight.dtype) @ weight.T
        if getattr(head, "bias", None) is not None:
            logits = logits + head.bias[vocab]
        return logits.float()


class PromptModel:
    """What the loop needs from a prompt-based recommender (TALLRec, ReLLa, RecLoRA).

    Subclasses provide the text of a sample and, optionally, a per-sample condition (RecLoRA's
    CRM representation) that must be active around every forward pass of those rows.
    """

    lm: torch.nn.Module
    encoder: Any  # recbench.lm.prompts.PromptEncoder
    device: torch.device

    def texts(self, rows: np.ndarray) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def conditioned(self, rows: np.ndarray) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def trainable_parameters(self) -> dict[str, torch.nn.Parameter]:
        return {n: p for n, p in self.lm.named_parameters() if p.requires_grad}

    def encode(self, rows: np.ndarray, labels: np.ndarray | None = None) -> list[EncodedPrompt]:
        texts = self.texts(rows)
        return [
            self.encoder.encode(t, None if labels is None else int(labels[i]), where=f"the prompt of protocol row {int(rows[i])}")
            for i, t in enumerate(texts)
        ]


def score(model: PromptModel, rows: np.ndarray, batch_size: int, bucket: bool = True, console: Console | None = None, autocast: str = "off") -> np.ndarray:
    """P(yes) for each of ``rows`` (softmax over the two answer-token logits), in input order."""
    head = AnswerHead(model.lm, autocast)
    head.eval()
    encoded = model.encode(rows)
    vocab = torch.tensor(model.encoder.answer_ids, device=model.device)
    out = np.zeros(len(rows), dtype=np.float64)
    pad = model.encoder.tokenizer.pad_token_id
    with torch.inference_mode(), bf16_matmuls(model.device, autocast), progress_reporter(console, "scoring", len(rows)) as advance:
        for index in length_buckets([len(e.input_ids) for e in encoded], batch_size, bucket):
            batch = collate([encoded[i] for i in index], pad).to(model.device)
            with model.conditioned(rows[index]):
                logits = head(batch.input_ids, batch.attention_mask, batch.score_position[:, None], vocab)[:, 0]
            out[index] = torch.softmax(logits.double(), dim=-1)[:, 0].cpu().numpy()
            advance(len(index))
    return out


def answer_loss(head: torch.nn.Module, batch: TokenBatch) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over the answer tokens of ``batch`` and how many there were."""
    logits = head(batch.input_ids, batch.attention_mask, batch.answer_positions)
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch.answer_targets.flatten(), ignore_index=-100, reduction="sum")
    return loss, int((batch.answer_targets != -100).sum())


@dataclass
class TrainingTask:
    """A model's side of :func:`train_loop`: what is trained and how a batch of samples becomes a loss.

    Samples are positions ``0..n-1`` into the training rows. The loop owns everything else
    (order, optimizer, schedule, DDP, checkpoints, validation, best epoch), so TALLRec, ReLLa,
    RecLoRA and CTR-BERT share one implementation of it.

    Example (a model whose loss is BCE on a logit per sample)::

        TrainingTask(module=net, params=dict(net.named_parameters()),
                     micro_batches=lambda mine: [mine[i:i + 4] for i in range(0, len(mine), 4)],
                     loss=lambda net, picked: bce(net(x[picked]), y[picked], reduction="sum"),
                     normaliser=len)
    """

    module: torch.nn.Module  # what DDP wraps; the loop switches it between train and eval mode
    params: dict[str, torch.nn.Parameter]  # what the optimizer updates and a checkpoint saves
    #: this process's share of an optimizer batch -> its micro-batches (positions)
    micro_batches: Callable[[np.ndarray], list[np.ndarray]]
    #: the summed loss of the samples at ``picked``, computed with the (prepared) module
    loss: Callable[[torch.nn.Module, np.ndarray], torch.Tensor]
    #: what an optimizer batch's summed loss is divided by (its answer tokens, or its samples)
    normaliser: Callable[[np.ndarray], int]
    #: AdamW parameter groups (None: one group of ``params`` at the config's lr)
    param_groups: list[dict[str, Any]] | None = None
    #: a context that must surround the forward and backward of the samples at ``picked``
    conditioned: Callable[[np.ndarray], contextlib.AbstractContextManager] = lambda picked: contextlib.nullcontext()


def train(
    model: PromptModel,
    train_rows: np.ndarray,
    train_labels: np.ndarray,
    config: LMTrainConfig,
    seed: int,
    checkpoint_dir: Path | None = None,
    validate: Callable[[], dict[str, float]] | None = None,
    console: Console | None = None,
    on_step: Callable[[int], None] | None = None,
) -> LMTrainResult:
    """Tune a prompt model's trainable parameters on the answer tokens of ``train_rows``."""
    encoded = model.encode(train_rows, train_labels)
    pad = model.encoder.tokenizer.pad_token_id

    def loss(head: torch.nn.Module, picked: np.ndarray) -> torch.Tensor:
        return answer_loss(head, collate([encoded[i] for i in picked], pad).to(model.device))[0]

    task = TrainingTask(
        module=AnswerHead(model.lm, config.autocast),
        params=model.trainable_parameters(),
        micro_batches=lambda mine: [mine[i] for i in length_buckets([len(encoded[j].input_ids) for j in mine], config.micro_batch_size)],
        loss=loss,
        normaliser=lambda chosen: sum(encoded[i].n_answer for i in chosen),
        conditioned=lambda picked: model.conditioned(train_rows[picked]),
    )
    return train_loop(task, train_rows, config, seed, checkpoint_dir, validate, console, on_step, device=model.device)


def train_loop(
    task: TrainingTask,
    train_rows: np.ndarray,
    config: LMTrainConfig,
    seed: int,
    checkpoint_dir: Path | None = None,
    validate: Callable[[], dict[str, float]] | None = None,
    console: Console | None = None,
    on_step: Callable[[int], None] | None = None,
    device: torch.device | None = None,
) -> LMTrainResult:
    """Train ``task`` on ``train_rows``; see the module docstring.

    ``on_step(step)`` runs after every optimizer step (a learning curve; it must leave the
    model in train mode).
    """
    from accelerate import Accelerator

    console = console or Console(stderr=True)
    if config.batch_size % config.micro_batch_size:
        raise RecbenchError(f"--set batch_size={config.batch_size} must be a multiple of micro_batch_size={config.micro_batch_size}")
    accelerator = Accelerator(cpu=device is None or device.type == "cpu", device_placement=False)
    rank, world = accelerator.process_index, accelerator.num_processes
    if config.batch_size < world:
        raise RecbenchError(f"--set batch_size={config.batch_size} is smaller than the {world} training processes")
    params = task.params
    if not params:
        raise RecbenchError("the model has no trainable parameters")
    optimizer = torch.optim.AdamW(task.param_groups or list(params.values()), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = -(-len(train_rows) // config.batch_size)
    total = steps_per_epoch * config.epochs
    scheduler = linear_schedule(optimizer, total, config.warmup_ratio)
    module, optimizer = accelerator.prepare(task.module, optimizer)
    result = LMTrainResult()
    checkpoint = Checkpoint(checkpoint_dir, run_key(config, seed, train_rows)) if checkpoint_dir else None
    start_step, best_state, best_auc = 0, None, -np.inf
    resumed_running: list[float] = []
    if checkpoint is not None and (saved := checkpoint.load(console)) is not None:
        load_trainable(params, saved["trainable"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        if saved["rng"] is not None:
            torch.set_rng_state(saved["rng"])
        start_step, result.epochs, best_state, best_auc = saved["step"], saved["epochs"], saved["best_state"], saved["best_auc"]
        resumed_running = saved["running"]
        result.resumed_from_step = start_step
        if best_state is not None:  # the first epoch that reached the best validation AUC
            result.best_epoch = next(int(e["epoch"]) for e in result.epochs if e.get("valid_auc") == best_auc)
        console.print(f"  resuming from step {start_step} of {total} ({checkpoint.path})")
    step = start_step
    module.train()
    for epoch in range(config.epochs):
        order = np.random.default_rng([seed, epoch]).permutation(len(train_rows))
        if step >= (epoch + 1) * steps_per_epoch:
            continue
        started = time.perf_counter()
        # a resumed epoch keeps the losses of the steps it ran before the interruption
        running = resumed_running if step > epoch * steps_per_epoch else []
        with progress_reporter(console if rank == 0 else None, f"epoch {epoch + 1}", steps_per_epoch, done=step - epoch * steps_per_epoch) as advance:
            for step_in_epoch in range(step - epoch * steps_per_epoch, steps_per_epoch):
                chosen = order[step_in_epoch * config.batch_size : (step_in_epoch + 1) * config.batch_size]
                mine = chosen[rank::world]
                weight = task.normaliser(chosen)
                micro = task.micro_batches(mine)
                total_loss = 0.0
                for j, picked in enumerate(micro):
                    sync = accelerator.no_sync(module) if j < len(micro) - 1 else contextlib.nullcontext()
                    with sync, task.conditioned(picked), bf16_matmuls(device or torch.device("cpu"), config.autocast):
                        loss = task.loss(module, picked)
                        # DDP averages over processes, so scale by world to get the global mean
                        accelerator.backward(loss * world / weight)
                    total_loss += loss.item()
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                if on_step is not None:
                    on_step(step)
                    module.train()
                running.append(total_loss / max(1, weight))
                advance(1, loss=float(np.mean(running[-20:])))
                result.train_samples += len(chosen)
                # an epoch's last step is saved below, after its validation (else a resume would skip that)
                last_in_epoch = step_in_epoch == steps_per_epoch - 1
                if checkpoint is not None and config.checkpoint_every and step % config.checkpoint_every == 0 and not last_in_epoch and rank == 0:
                    checkpoint.save(step, params, optimizer, scheduler, result.epochs, best_state, best_auc, running)
        result.train_seconds += time.perf_counter() - started
        summary: dict[str, float] = {"epoch": epoch + 1, "train_loss": float(np.mean(running)) if running else float("nan")}
        if validate is not None:
            summary.update({f"valid_{k}": v for k, v in validate().items() if k in ("auc", "logloss")})
            module.train()
            if summary["valid_auc"] > best_auc:
                best_auc, best_state = summary["valid_auc"], {n: p.detach().clone() for n, p in params.items()}
                result.best_epoch = epoch + 1
        result.epochs.append(summary)
        console.print("  " + "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in summary.items()))
        if checkpoint is not None and rank == 0:  # the last epoch's too: see the docstring
            checkpoint.save(step, params, optimizer, scheduler, result.epochs, best_state, best_auc)
    if best_state is not None:
        load_trainable(params, best_state)
    else:
        result.best_epoch = config.epochs
    module.eval()
    return result


def linear_schedule(optimizer: torch.optim.Optimizer, total_steps: int, warmup_ratio: float) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup_ratio`` of the steps, then linear decay to zero (paper App. C)."""
    warmup = int(warmup_ratio * total_steps)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / max(1, warmup) if s < warmup else max(0.0, (total_steps - s) / max(1, total_steps - warmup))
    )


def load_trainable(params: dict[str, torch.nn.Parameter], state: dict[str, torch.Tensor]) -> None:
    missing = sorted(set(params) ^ set(state))
    if missing:
        raise RecbenchError(f"checkpoint does not match the model's trainable parameters (e.g. {missing[0]})")
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(state[name])


@contextlib.contextmanager
def progress_reporter(console: Console | None, label: str, total: int, done: int = 0) -> Iterator[Callable[..., None]]:
    """A rich progress bar on terminals; otherwise a line every ~10% so logs show progress."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    if console is None:
        yield lambda n, **_: None
        return
    if not console.is_terminal:
        state = {"done": done, "next": done + max(1, total // 10), "t0": time.perf_counter()}

        def advance(n: int, **fields: float) -> None:
            state["done"] += n
            if state["done"] >= state["next"] or state["done"] == total:
                state["next"] += max(1, total // 10)
                extra = "".join(f" {k} {v:.4f}" for k, v in fields.items())
                console.print(f"  {label}: {state['done']}/{total} ({time.perf_counter() - state['t0']:.0f} s){extra}")

        yield advance
        return
    progress = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=console, transient=True)
    with progress:
        task = progress.add_task(label, total=total, completed=done, info="")

        def advance(n: int, **fields: float) -> None:
            progress.update(task, advance=n, info=" ".join(f"{k} {v:.4f}" for k, v in fields.items()))

        yield advance
