"""From protocol text to token ids: templates, answer tokens and length-bucketed batches.

A sample's text (:func:`recbench.text.render_prompt`) is wrapped in a template, then tokenized.
The answer ("Yes." / "No.") follows the template directly. Scoring reads the logits of the two
answer tokens at the first position where the two answers' tokenizations differ; training puts
the causal-LM loss on the answer tokens only.

Templates:

* ``chat``: the backbone's own chat template (user turn + generation prompt). A tokenizer
  without one gets the Vicuna v1.1 conversation format, the paper's backbone;
* ``alpaca``: the instruction / response format TALLRec tunes with.

Example:
    >>> from transformers import PreTrainedTokenizerFast
    >>> from tokenizers import Tokenizer, models, pre_tokenizers
    >>> vocab = {w: i for i, w in enumerate(["<unk>", "<pad>", "Yes", "No", ".", "Q", ":", "A"])}
    >>> raw = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    >>> raw.pre_tokenizer = pre_tokenizers.Whitespace()
    >>> tok = PreTrainedTokenizerFast(tokenizer_object=raw, pad_token="<pad>", unk_token="<unk>")
    >>> encoder = PromptEncoder(tok, template="Q: {prompt} A: ", max_length=64)
    >>> encoder.answer_ids
    (2, 3)
    >>> item = encoder.encode("Q", label=1)
    >>> item.input_ids[item.answer_start:], item.n_answer
    ([2, 4], 2)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from recbench.errors import RecbenchError
from recbench.text import ANSWERS

ALPACA_TEMPLATE = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{prompt}\n\n### Response:\n"
)
VICUNA_TEMPLATE = (
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the user's questions. USER: {prompt} ASSISTANT: "
)
_PROBE = "probe"


def template_for(tokenizer: Any, style: str) -> str:
    """A ``{prompt}`` format string for ``style`` ("chat" or "alpaca") on this tokenizer."""
    if style == "alpaca":
        return ALPACA_TEMPLATE
    if style != "chat":
        raise RecbenchError(f"prompt style {style!r}: expected chat or alpaca")
    if not getattr(tokenizer, "chat_template", None):
        return VICUNA_TEMPLATE
    marker = "\x00PROMPT\x00"
    text = tokenizer.apply_chat_template([{"role": "user", "content": marker}], tokenize=False, add_generation_prompt=True)
    if text.count(marker) != 1:
        raise RecbenchError("the backbone's chat template does not place the user message exactly once")
    return text.replace("{", "{{").replace("}", "}}").replace(marker, "{prompt}")


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


@dataclass
class EncodedPrompt:
    """Token ids of one sample: the scoring prefix, then (when training) the answer."""

    input_ids: list[int]
    answer_start: int  # index of the first answer token the loss (and the score) looks at
    n_answer: int  # answer tokens after answer_start (0 when encoded for scoring only)


class PromptEncoder:
    """Tokenizes templated prompts and finds the answer tokens once, from a probe prompt.

    Args:
        tokenizer: the backbone's tokenizer.
        template: a format string with one ``{prompt}`` field (see :func:`template_for`).
        max_length: the backbone's context; a longer prompt is an error, never truncated,
            because cutting the history (or the question) would silently change the task.
    """

    def __init__(self, tokenizer: Any, template: str, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.template = template
        self.max_length = max_length
        # Only a BOS token is ever added (never e.g. BERT's [SEP] after the answer), and only when
        # the tokenizer itself adds one and the template does not already start with it.
        bos = getattr(tokenizer, "bos_token", None)
        adds_bos = bos is not None and tokenizer("x", add_special_tokens=True)["input_ids"][:1] == [tokenizer.bos_token_id]
        self.bos = [tokenizer.bos_token_id] if adds_bos and not template.startswith(bos) else []
        probe = self._tokens(template.format(prompt=_PROBE))
        yes, no = (self._tokens(template.format(prompt=_PROBE) + answer) for answer in ANSWERS)
        # SentencePiece tokenizers (Llama, Vicuna) fold a template's trailing space into the
        # answer's first token ("ASSISTANT: " + "Yes." -> ":", "▁Yes", "."). So the answer starts
        # where the prompt's tokens and the prompt+answer tokens part ways; the prompt's last
        # ``drop`` tokens (a lone "▁") are not part of the scoring input.
        cut = min(_common_prefix(probe, yes), _common_prefix(probe, no))
        self.drop = len(probe) - cut
        self.dropped = probe[cut:]
        self.yes_suffix, self.no_suffix = yes[cut:], no[cut:]
        common = _common_prefix(self.yes_suffix, self.no_suffix)
        if common == min(len(self.yes_suffix), len(self.no_suffix)):
            raise RecbenchError(f"the answers {ANSWERS} tokenize identically; they cannot be told apart")
        self.shared_answer = self.yes_suffix[:common]  # tokens both answers start with (often none)
        self.answer_ids = (self.yes_suffix[common], self.no_suffix[common])

    def _tokens(self, text: str) -> list[int]:
        return self.bos + list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode(self, text: str, label: int | None = None, where: str = "the prompt") -> EncodedPrompt:
        """Scoring input (``label=None``) or training input with the answer for ``label``."""
        prefix = self._tokens(self.template.format(prompt=text))
        if self.drop:
            if prefix[-self.drop :] != self.dropped:
                raise RecbenchError(f"{where} does not end with the template's closing tokens; the answer position is unclear")
            prefix = prefix[: -self.drop]
        prefix = prefix + self.shared_answer
        answer: list[int] = []
        if label is not None:
            suffix = self.yes_suffix if label else self.no_suffix
            answer = suffix[len(self.shared_answer) :]
        ids = prefix + answer
        if len(ids) > self.max_length:
            raise RecbenchError(
                f"{where} is {len(ids)} tokens, longer than the backbone's context of {self.max_length}; "
                "shorten the history (history_length) or use a backbone with a longer context"
            )
        return EncodedPrompt(ids, len(prefix), len(answer))


@dataclass
class TokenBatch:
    """Right-padded token ids plus where each row's scored positions are."""

    input_ids: torch.Tensor  # [B, T]
    attention_mask: torch.Tensor  # [B, T]
    score_position: torch.Tensor  # [B] position whose logits predict the first answer token
    answer_positions: torch.Tensor  # [B, A] positions predicting answer tokens (-1: none)
    answer_targets: torch.Tensor  # [B, A] the token expected there (-100: none)

    def to(self, device: torch.device) -> "TokenBatch":
        return TokenBatch(*(t.to(device) for t in (self.input_ids, self.attention_mask, self.score_position, self.answer_positions, self.answer_targets)))

    @property
    def n_tokens(self) -> int:
        return int(self.attention_mask.sum())


def collate(items: Sequence[EncodedPrompt], pad_id: int) -> TokenBatch:
    width = max(len(i.input_ids) for i in items)
    n_answer = max(1, max(i.n_answer for i in items))
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    positions = torch.full((len(items), n_answer), -1, dtype=torch.long)
    targets = torch.full((len(items), n_answer), -100, dtype=torch.long)
    for row, item in enumerate(items):
        ids[row, : len(item.input_ids)] = torch.tensor(item.input_ids)
        mask[row, : len(item.input_ids)] = 1
        for j in range(item.n_answer):
            positions[row, j] = item.answer_start + j - 1
            targets[row, j] = item.input_ids[item.answer_start + j]
    score = torch.tensor([i.answer_start - 1 for i in items], dtype=torch.long)
    return TokenBatch(ids, mask, score, positions, targets)


def length_buckets(lengths: Sequence[int], batch_size: int, bucket: bool = True) -> Iterator[np.ndarray]:
    """Index batches over ``lengths``; with ``bucket`` similar lengths share a batch (less padding).

    Sorting is stable, so the batching (and every score) is deterministic.
    """
    order = np.argsort(np.asarray(lengths), kind="stable") if bucket else np.arange(len(lengths))
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]
