"""Run plans for the paper's tables and studies, and resumable execution of them.

Why plans are data: reproducing Tables 2-4 and Figures 4-6 takes hundreds of runs, some of
them hours long. Each study is therefore a list of :class:`~recbench.runner.RunRequest`
objects that carry their ``study`` and ``profile``; a request is skipped when the store
already holds a run with the same model, dataset variant, seed, profile, study and
overrides. Records are written atomically, so after a kill the interrupted run left nothing
and re-running the same command simply does what is still missing.

Settings are ``--set`` overrides of the model configs (names agreed with the LM layer and
RecLoRA): ``n_meta``, ``rank``, ``crm_history`` / ``prompt_history`` (``recent`` for the
ablations), ``crm_history_length``, ``prompt_history_length``, ``history_length`` (ReLLa's
text history) and ``n_train`` (few-shot size).

Choices the paper leaves open (documented here, used by ``recbench ablate`` / ``study`` /
``reproduce``):

* Figure 5's ID-history lengths are not listed in the paper; Table 4 uses 30 and 60 and the
  main setting is 60, so the sweep is 10, 20, 30, 40, 50, 60.
* Figure 6 spans 2,048 to 70,000 samples and the text singles out 10,000, so the paper
  profile uses 2,048 / 4,096 / 10,000 / 20,000 / 40,000 / 70,000. The cpu profile uses 1/8,
  1/4, 1/2 and all of its own few-shot size (``n_train`` of the cpu profile, 1,024).
* "w/o meta-LoRA (same param)" is one LoRA of rank ``rank * n_meta`` of the full config
  (8 x 16 = 128 in the paper); the registered RecLoRA config's defaults are used when it is
  available.
* Overrides that only place or pace a run (``threads``, ``device``, ``eval_batch_size``) do
  not change what a run measures, so they are ignored when deciding whether it is recorded.

Example:
    >>> [r.overrides for r in plan_study("ablation", "ml-1m", profile="cpu")][:3]
    [(), ('n_meta=1',), ('n_meta=1', 'rank=128')]
    >>> sorted({r.model for r in plan_study("sample_size", "ml-1m", profile="paper")})
    ['reclora', 'rella']
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recbench.errors import RecbenchError

if TYPE_CHECKING:

    from recbench.runner import RunRequest

ID_MODELS = ("deepfm", "autoint", "dcnv2", "gru4rec", "caser", "sasrec", "din", "sim")
LM_MODELS = ("ctr-bert", "tallrec", "rella", "reclora")
#: counting scores every Table 2 shows as its floor (baselines/reference.py)
REFERENCE_MODELS = ("pop", "user-mean")
PROFILES = ("cpu", "paper")
STUDIES = ("ablation", "n_meta", "id_history", "sample_size", "time_per_sample")
#: the paper's datasets: what ``recbench reproduce`` runs when no --dataset is given
PAPER_DATASETS = ("ml-25m", "ml-1m", "goodreads")

#: paper RecLoRA defaults (SPEC 5), used when the registered config cannot be read
PAPER_RANK = 8
PAPER_N_META = 16

ABLATION_VARIANTS = (
    "full",
    "w/o meta-LoRA",
    "w/o meta-LoRA (same param)",
    "w/o long retriever",
    "w/o short retriever",
    "w/o long-short retriever",
)
N_META_VALUES = (1, 2, 4, 8, 16)
ID_HISTORY_LENGTHS = (10, 20, 30, 40, 50, 60)
#: Figure 6 sizes of the paper profile; the cpu profile uses fractions of its own few-shot size
PAPER_SAMPLE_SIZES = (2_048, 4_096, 10_000, 20_000, 40_000, 70_000)
CPU_SAMPLE_FRACTIONS = (1 / 8, 1 / 4, 1 / 2, 1)
#: few-shot sizes used when recbench.lm.profiles cannot be read
_FALLBACK_FEW_SHOT = {"paper": 70_000, "cpu": 1_024}
#: Table 4 rows "text/ID": ReLLa varies its text history, RecLoRA its CRM's ID history
TIME_VARIANTS = ("10/-", "30/-", "60/-", "10/30", "10/60")



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

    Example:
        >>> sample_sizes("cpu")
        (128, 256, 512, 1024)
    """
    if profile == "paper":
        return PAPER_SAMPLE_SIZES
    base = few_shot_size(profile)
    return tuple(sorted({max(1, round(base * f)) for f in CPU_SAMPLE_FRACTIONS}))


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise RecbenchError(f"--profile {profile}: expected one of {', '.join(PROFILES)}")


def same_param_override() -> str:
    """The single LoRA's rank setting that matches the full RecLoRA's trainable parameters (r x N_m).

    Read from the registered RecLoRA config when there is one (its rank field may be called
    ``rank`` or ``lora_rank``); otherwise the paper's 8 x 16.
    """
    try:
        from recbench.registry import get_model

        config = get_model("reclora").config_class()
        key = "rank" if hasattr(config, "rank") else "lora_rank"
        return f"{key}={int(getattr(config, key)) * int(config.n_meta)}"
    except (RecbenchError, AttributeError, TypeError, ValueError):
        return f"rank={PAPER_RANK * PAPER_N_META}"


def ablation_overrides(variant: str) -> tuple[str, ...]:
    """The ``--set`` overrides that turn the full RecLoRA into one Table 3 variant.

    Example:
        >>> ablation_overrides("w/o long-short retriever")
        ('crm_history=recent', 'prompt_history=recent')
    """
    table = {
        "full": (),
        "w/o meta-LoRA": ("n_meta=1",),
        "w/o meta-LoRA (same param)": ("n_meta=1", same_param_override()),
        "w/o long retriever": ("crm_history=recent",),
        "w/o short retriever": ("prompt_history=recent",),
        "w/o long-short retriever": ("crm_history=recent", "prompt_history=recent"),
    }
    if variant not in table:
        raise RecbenchError(f"unknown ablation variant {variant!r}; choose one of: {', '.join(table)}")
    return table[variant]


def parse_time_variant(variant: str) -> tuple[int, int | None]:
    """"10/60" -> (10, 60); "30/-" -> (30, None): text and ID history lengths of a Table 4 row.

    Example:
        >>> parse_time_variant("10/60"), parse_time_variant("30/-")
        ((10, 60), (30, None))
    """
    text, _, ident = variant.partition("/")
    try:
        return int(text), (None if ident.strip() in ("", "-", "–") else int(ident))
    except ValueError:
        raise RecbenchError(f"time_per_sample variant {variant!r}: expected TEXT/ID such as 10/60 or 30/-") from None


def time_request(variant: str) -> tuple[str, tuple[str, ...]]:
    """The model and overrides of one Table 4 row: ReLLa for text-only rows, else RecLoRA.

    Example:
        >>> time_request("30/-"), time_request("10/60")
        (('rella', ('history_length=30',)), ('reclora', ('prompt_history_length=10', 'crm_history_length=60')))
    """
    text, ident = parse_time_variant(variant)
    if ident is None:
        return "rella", (f"history_length={text}",)
    return "reclora", (f"prompt_history_length={text}", f"crm_history_length={ident}")


def _request(model: str, dataset: str, seed: int, profile: str | None, study: dict[str, Any] | None,
             overrides: tuple[str, ...], data_dir: Path | None, extra: tuple[str, ...]) -> RunRequest:  # fmt: skip
    from recbench.runner import RunRequest  # deferred: the runner pulls in torch

    overrides = tuple(overrides) + tuple(extra)
    return RunRequest(model, dataset, seed, data_dir, overrides, purpose="run", profile=profile, study=study)


def plan_study(
    name: str,
    dataset: str,
    profile: str = "cpu",
    seeds: Iterable[int] = (0,),
    data_dir: Path | None = None,
    extra: tuple[str, ...] = (),
) -> list[RunRequest]:
    """Every run one study needs on one dataset (``extra`` overrides are added to each)."""
    _check_profile(profile)
    seeds = list(seeds)
    specs: list[tuple[str, dict[str, Any], tuple[str, ...]]] = []
    if name == "ablation":
        specs = [("reclora", {"name": name, "variant": v}, ablation_overrides(v)) for v in ABLATION_VARIANTS]
    elif name == "n_meta":
        specs = [("reclora", {"name": name, "x": k}, (f"n_meta={k}",)) for k in N_META_VALUES]
    elif name == "id_history":
        specs = [("reclora", {"name": name, "x": n}, (f"crm_history_length={n}",)) for n in ID_HISTORY_LENGTHS]
    elif name == "sample_size":
        sizes = sample_sizes(profile)
        specs = [(m, {"name": name, "x": n}, (f"n_train={n}",)) for m in ("reclora", "rella") for n in sizes]
    elif name == "time_per_sample":
        for variant in TIME_VARIANTS:
            model, overrides = time_request(variant)
            specs.append((model, {"name": name, "variant": variant}, overrides))
    else:
        raise RecbenchError(f"unknown study {name!r}; choose one of: {', '.join(STUDIES)}")
    return [_request(m, dataset, s, profile, study, o, data_dir, extra) for m, study, o in specs for s in seeds]


def plan_main(
    dataset: str,
    profile: str = "cpu",
    seeds: Iterable[int] = (0, 1, 2),
    data_dir: Path | None = None,
    extra: tuple[str, ...] = (),
) -> list[RunRequest]:
    """Table 2's runs: the references and eight ID models (no profile), the four LM models (this profile)."""
    _check_profile(profile)
    seeds = list(seeds)
    refs = [_request(m, dataset, 0, None, None, (), data_dir, ()) for m in REFERENCE_MODELS]
    ids = refs + [_request(m, dataset, s, None, None, (), data_dir, extra) for m in ID_MODELS for s in seeds]
    lms = [_request(m, dataset, s, profile, None, (), data_dir, extra) for m in LM_MODELS for s in seeds]
    return ids + lms


def plan_reproduce(
    datasets: Iterable[str],
    profile: str,
    seeds: Iterable[int] = (0, 1, 2),
    data_dir: Path | None = None,
    extra: tuple[str, ...] = (),
) -> list[RunRequest]:
    """Everything behind Tables 2-4 and Figures 4-6: Table 2 runs first, then each study."""
    seeds = list(seeds)
    plan: list[RunRequest] = []
    for dataset in datasets:
        plan += plan_main(dataset, profile, seeds, data_dir, extra)
        for name in STUDIES:
            plan += plan_study(name, dataset, profile, seeds, data_dir, extra)
    return plan

