"""The language-model layer: backbones, prompts, the tuning/scoring loop, item vectors, profiles.

* :mod:`recbench.lm.backbone`: load a causal LM by name (built-in SmolLM2 GGUF, local folder or
  Hugging Face id; optional 8/4-bit), frozen.
* :mod:`recbench.lm.prompts`: protocol text -> template -> token ids; the answer tokens.
* :mod:`recbench.lm.trainer`: P(yes) scoring and answer-token LoRA training (accelerate,
  gradient accumulation, checkpoints).
* :mod:`recbench.lm.recommender`: the ``family="lm"`` model contract and the prompt-based base
  class shared by TALLRec, ReLLa and RecLoRA.
* :mod:`recbench.lm.embeddings`: the retriever's LM item vectors (``item_vectors="lm"``).
* :mod:`recbench.lm.profiles`: the ``cpu`` and ``paper`` size profiles.
"""

from recbench.lm import embeddings  # noqa: E402,F401  (registers the "lm" item vector source)
