"""The RecLoRA paper as a suite: its Tables 2-4, Figures 4-6, claims and published numbers.

Why one file: everything that makes the harness reproduce *this* paper (which models form
Table 2's groups, which overrides make each ablation, which values each figure sweeps, which
numbers the paper reports) is declared here as data; the plans, tables, figures and claims read
it through :class:`recbench.suites.Suite`. Another paper is another file like this one.

Settings are ``--set`` overrides of the model configs (RecLoRA's prompt settings are the LM
layer's :class:`~recbench.lm.recommender.PromptConfig` names): ``n_meta``, ``lora_rank``,
``crm_history`` / ``history`` (``recent`` for the ablations), ``crm_history_length``,
``history_length`` (the text history of ReLLa's and RecLoRA's prompts) and ``n_train``
(few-shot size).

Choices the paper leaves open (used by ``recbench ablate`` / ``study`` / ``reproduce``):

* Figure 5's ID-history lengths are not listed in the paper; Table 4 uses 30 and 60 and the
  main setting is 60, so the sweep is 10, 20, 30, 40, 50, 60.
* Figure 6 spans 2,048 to 70,000 samples and the text singles out 10,000, so the paper
  profile uses 2,048 / 4,096 / 10,000 / 20,000 / 40,000 / 70,000. The cpu profile uses 1/8,
  1/4, 1/2 and all of its own few-shot size (``n_train`` of the cpu profile, 1,024).
* "w/o meta-LoRA (same param)" is one LoRA of rank ``lora_rank * n_meta`` of the full config
  (8 x 16 = 128 in the paper); the registered RecLoRA config's defaults are used when it is
  available.
* Table 4's rows "text/ID": ReLLa varies its text history, RecLoRA its CRM's ID history.

The published numbers (SPEC section 6) are keyed by the registry's model names, so a typo in a
hand-copied number cannot hide behind a display name. Which paper column sits next to which of
our datasets: the paper's ML-1M numbers beside ml-1m and also beside ml-1m-u2999 and ml-100k
(other data, so labelled as such); ML-25M beside ml-25m; GoodReads beside goodreads. ``synth``
has no paper counterpart.

Example:
    >>> SUITE.reference, [g.title for g in SUITE.groups]
    ('reclora', ['Reference', 'ID-based', 'LM-based'])
    >>> ABLATIONS.labels[:2], sample_sizes("cpu")
    (('full', 'w/o meta-LoRA'), (128, 256, 512, 1024))
    >>> PAPER_TABLE2["ML-1M"]["reclora"], PUBLISHED.column("ml-100k"), PUBLISHED.column("synth") is None
    ((0.8141, 0.5248), ('ML-1M', False), True)
    >>> time_request("30/-"), time_request("10/60")
    (('rella', ('history_length=30',)), ('reclora', ('history_length=10', 'crm_history_length=60')))
    >>> [c.text for c in TABLE2_CLAIMS][:2]
    ['RecLoRA beats ReLLa (same backbone)', 'ReLLa beats TALLRec (same backbone)']
"""

from __future__ import annotations

from recbench.errors import RecbenchError
from recbench.suite_parts import (
    BEST_ID,
    Claim,
    CostClaim,
    Figure,
    Group,
    PointClaim,
    Published,
    Variant,
    VariantTable,
    parse_time_variant,
)
from recbench.suites import Suite, register_suite

# --------------------------------------------------------------------------- Table 2

#: counting scores every Table 2 shows as its floor (baselines/reference.py)
REFERENCE_MODELS = ("pop", "user-mean")
ID_MODELS = ("deepfm", "autoint", "dcnv2", "gru4rec", "caser", "sasrec", "din", "sim")
LM_MODELS = ("ctr-bert", "tallrec", "rella", "reclora")
GROUPS = (Group("Reference", REFERENCE_MODELS, "reference"), Group("ID-based", ID_MODELS, "id"),
          Group("LM-based", LM_MODELS, "lm"))  # fmt: skip
REFERENCE = "reclora"
#: the floor every learned model must clear: each model that does not beat it significantly gets a note
FLOOR_MODEL = "user-mean"
#: the paper's datasets: what ``recbench reproduce`` runs when no --dataset is given
PAPER_DATASETS = ("ml-25m", "ml-1m", "goodreads")
PROFILES = ("cpu", "paper")

# --------------------------------------------------------------------------- Table 3

#: paper RecLoRA defaults (SPEC 5), used when the registered config cannot be read
PAPER_RANK = 8
PAPER_N_META = 16


def same_param_override() -> str:
    """The single LoRA's rank setting that matches the full RecLoRA's trainable parameters (r x N_m).

    Read from the registered RecLoRA config when there is one; otherwise the paper's 8 x 16.
    """
    try:
        from recbench.registry import get_model

        config = get_model("reclora").config_class()
        return f"lora_rank={int(config.lora_rank) * int(config.n_meta)}"
    except (RecbenchError, AttributeError, TypeError, ValueError):
        return f"lora_rank={PAPER_RANK * PAPER_N_META}"


ABLATIONS = VariantTable("ablation", (
    Variant("full", "reclora"),
    Variant("w/o meta-LoRA", "reclora", ("n_meta=1",)),
    Variant("w/o meta-LoRA (same param)", "reclora", ("n_meta=1", same_param_override)),
    Variant("w/o long retriever", "reclora", ("crm_history=recent",)),
    Variant("w/o short retriever", "reclora", ("history=recent",)),
    Variant("w/o long-short retriever", "reclora", ("crm_history=recent", "history=recent")),
))  # fmt: skip

# --------------------------------------------------------------------------- Table 4


def time_request(variant: str) -> tuple[str, tuple[str, ...]]:
    """The model and overrides of one Table 4 row: ReLLa for text-only rows, else RecLoRA."""
    text, ident = parse_time_variant(variant)
    if ident is None:
        return "rella", (f"history_length={text}",)
    return "reclora", (f"history_length={text}", f"crm_history_length={ident}")


#: Table 4 rows "text/ID"
TIME_VARIANTS = ("10/-", "30/-", "60/-", "10/30", "10/60")
TIMING = VariantTable("time_per_sample", tuple(Variant(v, *time_request(v)) for v in TIME_VARIANTS))

# --------------------------------------------------------------------------- Figures 4-6

N_META_VALUES = (1, 2, 4, 8, 16)
ID_HISTORY_LENGTHS = (10, 20, 30, 40, 50, 60)
#: Figure 6 sizes of the paper profile; the cpu profile uses fractions of its own few-shot size
PAPER_SAMPLE_SIZES = (2_048, 4_096, 10_000, 20_000, 40_000, 70_000)
CPU_SAMPLE_FRACTIONS = (1 / 8, 1 / 4, 1 / 2, 1)
#: few-shot sizes used when recbench.lm.profiles cannot be read
_FALLBACK_FEW_SHOT = {"paper": 70_000, "cpu": 1_024}


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise RecbenchError(f"--profile {profile}: expected one of {', '.join(PROFILES)}")


def few_shot_size(profile: str) -> int:
    """The profile's default number of LLM training samples (``n_train`` of recbench.lm.profiles)."""
    _check_profile(profile)
    try:
        from recbench.lm.profiles import PROFILES as LM_PROFILES

        return int(LM_PROFILES[profile]["n_train"])
    except (ImportError, KeyError, ValueError):
        return _FALLBACK_FEW_SHOT[profile]


def sample_sizes(profile: str) -> tuple[int, ...]:
    """Figure 6's x values: the paper's sizes, or for cpu 1/8 .. 1 of the cpu few-shot size.

    Scaling the paper's range down proportionally would start the cpu sweep at 1/34 of its
    few-shot size, fewer prompts than one cpu batch, so the cpu sweep uses coarser fractions.
    """
    if profile == "paper":
        return PAPER_SAMPLE_SIZES
    base = few_shot_size(profile)
    return tuple(sorted({max(1, round(base * f)) for f in CPU_SAMPLE_FRACTIONS}))


#: what the paper's text says each figure shows (section 4.4-4.6), as claims between its points
FIGURE4_CLAIMS = (
    PointClaim("RecLoRA with N_m = 2 beats N_m = 1 (good from N_m = 2 on)", "reclora @ 2", "reclora @ 1"),
    PointClaim("RecLoRA with N_m = {max} beats N_m = {x} (AUC grows with N_m)", "reclora @ max", "reclora @ each"),
)
FIGURE5_CLAIMS = (
    PointClaim("RecLoRA with ID history {max} beats ID history {min}", "reclora @ max", "reclora @ min"),
)
FIGURE6_CLAIMS = (
    PointClaim("RecLoRA beats ReLLa with {x} training samples", "reclora @ each", "rella @ each"),
    PointClaim("RecLoRA with {min} samples beats ReLLa with {max}", "reclora @ min", "rella @ max"),
    PointClaim("ReLLa with {max} samples beats ReLLa with {min}", "rella @ max", "rella @ min"),
    PointClaim("RecLoRA with {max} samples beats RecLoRA with {min}", "reclora @ max", "reclora @ min"),
)
FIGURES = (
    Figure(4, "n_meta", "number of meta-LoRAs N_m", "fig4_n_meta.png", log_x=True, setting="n_meta",
           models=("reclora",), values={p: N_META_VALUES for p in PROFILES}, claims=FIGURE4_CLAIMS),
    Figure(5, "id_history", "ID history length (CRM)", "fig5_id_history.png", setting="crm_history_length",
           models=("reclora",), values={p: ID_HISTORY_LENGTHS for p in PROFILES}, claims=FIGURE5_CLAIMS),
    Figure(6, "sample_size", "training samples for the LLM", "fig6_sample_size.png", log_x=True,
           setting="n_train", models=("reclora", "rella"), values={p: sample_sizes(p) for p in PROFILES},
           claims=FIGURE6_CLAIMS),
)  # fmt: skip

# --------------------------------------------------------------------------- claims

ZERO_SHOT = "rella [n_train=0]"
COOCCURRENCE_RELLA = "rella [item_vectors=cooccurrence]"
COOCCURRENCE_RECLORA = "reclora [item_vectors=cooccurrence]"
TABLE2_CLAIMS = (
    Claim("RecLoRA beats ReLLa (same backbone)", "reclora", "rella"),
    Claim("ReLLa beats TALLRec (same backbone)", "rella", "tallrec"),
    Claim("RecLoRA beats the best ID model", "reclora", BEST_ID),
    Claim("TALLRec beats the untrained backbone (zero-shot)", "tallrec", ZERO_SHOT),
    Claim("ReLLa beats the untrained backbone (zero-shot)", "rella", ZERO_SHOT),
    Claim("RecLoRA beats the untrained backbone (zero-shot)", "reclora", ZERO_SHOT),
    Claim("TALLRec beats user-mean", "tallrec", "user-mean"),
    Claim("ReLLa beats user-mean", "rella", "user-mean"),
    Claim("RecLoRA beats user-mean", "reclora", "user-mean"),
    Claim("CTR-BERT beats user-mean", "ctr-bert", "user-mean"),
    # The same claims with the retriever (and RecLoRA's CRM) on co-occurrence item vectors: at CPU
    # scale the backbone's own item-text vectors retrieve a history whose stars tell less than the
    # recent one (benchmarks/history_signal.py), which the paper's 13B embeddings need not.
    Claim("ReLLa, retrieving by co-occurrence vectors, beats TALLRec", COOCCURRENCE_RELLA, "tallrec"),
    Claim("ReLLa, retrieving by co-occurrence vectors, beats user-mean", COOCCURRENCE_RELLA, "user-mean"),
    Claim("RecLoRA on co-occurrence vectors beats ReLLa on them", COOCCURRENCE_RECLORA, COOCCURRENCE_RELLA),
    Claim("RecLoRA on co-occurrence vectors beats the best ID model", COOCCURRENCE_RECLORA, BEST_ID),
)
TABLE3_CLAIMS = tuple(Claim(f"Full RecLoRA beats RecLoRA {v}", "full", v) for v in ABLATIONS.labels[1:])
#: Table 4 (section 4.5): a long ID history helps more than a long text history, and costs far less
TABLE4_CLAIMS = (
    Claim("RecLoRA 10/60 beats ReLLa 10/- (an ID history helps)", "10/60", "10/-"),
    Claim("RecLoRA 10/60 beats ReLLa 60/- (more than a long text history)", "10/60", "60/-"),
    Claim("ReLLa 60/- beats ReLLa 10/- (a longer text history helps a little)", "60/-", "10/-"),
)
COST_CLAIMS = (
    CostClaim("ReLLa 10/- trains faster per sample than ReLLa 60/- (text history is costly)", "10/-", "60/-"),
    CostClaim("ReLLa 10/- infers faster per sample than ReLLa 60/-", "10/-", "60/-", timing="infer"),
    CostClaim("RecLoRA 10/60 trains faster per sample than ReLLa 60/- (ID history is cheap)", "10/60", "60/-"),
    CostClaim("RecLoRA 10/60 infers faster per sample than ReLLa 60/-", "10/60", "60/-", timing="infer"),
    CostClaim("RecLoRA's ID history 30 -> 60 adds at most 25% training time per sample", "10/60", "10/30",
              kind="within"),
)  # fmt: skip

# --------------------------------------------------------------------------- published numbers

#: Table 2: paper dataset -> model -> (AUC, LogLoss)
PAPER_TABLE2: dict[str, dict[str, tuple[float, float]]] = {
    "ML-25M": {
        "deepfm": (0.8181, 0.4863), "autoint": (0.8138, 0.4942), "dcnv2": (0.8184, 0.4905),
        "gru4rec": (0.8169, 0.4917), "caser": (0.8167, 0.4917), "sasrec": (0.8163, 0.4892),
        "din": (0.8258, 0.4775), "sim": (0.8379, 0.4664), "ctr-bert": (0.8079, 0.5044),
        "tallrec": (0.8324, 0.4733), "rella": (0.8409, 0.4662), "reclora": (0.8462, 0.4552),
    },
    "ML-1M": {
        "deepfm": (0.7978, 0.5405), "autoint": (0.7976, 0.5398), "dcnv2": (0.7977, 0.5403),
        "gru4rec": (0.7959, 0.5423), "caser": (0.7952, 0.5425), "sasrec": (0.7984, 0.5388),
        "din": (0.7989, 0.5389), "sim": (0.7992, 0.5387), "ctr-bert": (0.7931, 0.5457),
        "tallrec": (0.7789, 0.5580), "rella": (0.8005, 0.5364), "reclora": (0.8141, 0.5248),
    },
    "GoodReads": {
        "deepfm": (0.7873, 0.5027), "autoint": (0.7866, 0.5024), "dcnv2": (0.7867, 0.5022),
        "gru4rec": (0.7869, 0.5020), "caser": (0.7872, 0.5023), "sasrec": (0.7864, 0.5022),
        "din": (0.7880, 0.4999), "sim": (0.7896, 0.4993), "ctr-bert": (0.7176, 0.5576),
        "tallrec": (0.7759, 0.5148), "rella": (0.7833, 0.5065), "reclora": (0.7989, 0.4916),
    },
}  # fmt: skip

#: Table 3: paper dataset -> ablation variant -> (AUC, LogLoss)
PAPER_TABLE3: dict[str, dict[str, tuple[float, float]]] = {
    "ML-25M": {
        "full": (0.8462, 0.4552), "w/o meta-LoRA": (0.8360, 0.4662), "w/o meta-LoRA (same param)": (0.8370, 0.4759),
        "w/o long retriever": (0.8501, 0.4761), "w/o short retriever": (0.8473, 0.4606),
        "w/o long-short retriever": (0.8453, 0.4787),
    },
    "ML-1M": {
        "full": (0.8141, 0.5248), "w/o meta-LoRA": (0.7869, 0.5517), "w/o meta-LoRA (same param)": (0.7820, 0.5548),
        "w/o long retriever": (0.8026, 0.5321), "w/o short retriever": (0.8001, 0.5359),
        "w/o long-short retriever": (0.7978, 0.5373),
    },
    "GoodReads": {
        "full": (0.7989, 0.4916), "w/o meta-LoRA": (0.7740, 0.5181), "w/o meta-LoRA (same param)": (0.7735, 0.5125),
        "w/o long retriever": (0.6744, 0.6231), "w/o short retriever": (0.7971, 0.4924),
        "w/o long-short retriever": (0.6882, 0.6073),
    },
}  # fmt: skip

#: Table 4 (GoodReads only): "text/ID" history lengths -> (AUC, train s/sample, infer s/sample)
PAPER_TABLE4: dict[str, tuple[float, float, float]] = {
    "10/-": (0.7776, 1.40, 0.60),
    "30/-": (0.7828, 3.34, 1.06),
    "60/-": (0.7833, 6.41, 1.83),
    "10/30": (0.7822, 1.42, 0.63),
    "10/60": (0.7989, 1.45, 0.65),
}

PUBLISHED = Published(
    "RecLoRA", PAPER_TABLE2, PAPER_TABLE3, PAPER_TABLE4, table4_column="GoodReads",
    columns={  # our dataset name -> (paper column, whether it is the same data as the paper's)
        "ml-1m": ("ML-1M", True),
        "ml-1m-u2999": ("ML-1M", False),
        "ml-100k": ("ML-1M", False),
        "ml-25m": ("ML-25M", True),
        "goodreads": ("GoodReads", True),
    },
)  # fmt: skip

SUITE = register_suite(Suite(
    "reclora", "the RecLoRA paper (personalized low-rank adaptation for LLM recommenders)",
    groups=GROUPS, reference=REFERENCE, floor=FLOOR_MODEL,
    floor_meaning="the user's earlier positive share", datasets=PAPER_DATASETS, profiles=PROFILES,
    studies=("ablation", "n_meta", "id_history", "sample_size", "time_per_sample"),
    ablation=ABLATIONS, timing=TIMING, figures=FIGURES, claims=TABLE2_CLAIMS, ablation_claims=TABLE3_CLAIMS,
    timing_claims=TABLE4_CLAIMS, cost_claims=COST_CLAIMS, published=PUBLISHED,
))  # fmt: skip
