"""The publisher-agnostic form every dataset loader produces, and the dataset registry.

A loader's only job is to turn a publisher's files into a :class:`RawDataset`; everything
after that (labels, ordering, histories, split, ID vocabularies, prompts) is the protocol's
job (:mod:`recbench.protocol`) and is the same for every dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from recbench.errors import RecbenchError

#: ML-1M's seven age buckets, in order; ML-100K's raw ages are mapped onto them.
AGE_BUCKETS: tuple[str, ...] = ("under 18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+")


@dataclass
class RawDataset:
    """One dataset as loaded from its files, before any protocol step.

    Attributes:
        name: registry name of the dataset (``ml-1m``, ``synth``...).
        ratings: one row per rating with columns ``user_id`` (int64), ``item_id`` (int64),
            ``rating`` (float32) and ``timestamp`` (int64), in file order.
        users: one row per user with ``user_id`` plus one column per profile field
            (``user_fields``), as human-readable strings (``"female"``, ``"25-34"``...).
        items: one row per item with ``item_id``, ``title`` (str) and ``genre`` (its first
            genre, str).
        user_fields: the profile columns of ``users`` used as ID features, in order.
        text_user_fields: the subset of ``user_fields`` that may appear in a prompt (pure ID
            fields such as zip codes are left out of the text; SPEC 3.7).
        genres: the dataset's documented genre list; the genre vocabulary.
        rating_values: every rating value the publisher allows; one rating token each.
        item_noun: what an item is called in prompts (``movie``, ``book``).
        fingerprint: set by :func:`recbench.datasets.load_dataset` from the raw files.
    """

    name: str
    ratings: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame
    user_fields: tuple[str, ...]
    text_user_fields: tuple[str, ...]
    genres: tuple[str, ...]
    rating_values: tuple[float, ...]
    item_noun: str = "movie"
    fingerprint: "Fingerprint | None" = None


@dataclass(frozen=True)
class Fingerprint:
    """sha256 of each raw file, one digest over all of them, and how they compare to the
    publisher's canonical release.

    ``canonical`` is ``"yes"`` when every file matches a known canonical digest, ``"no"`` when
    some file is known to differ (``note`` says how, e.g. a known subset), and ``"unknown"``
    when no reference digest exists for some file.
    """

    digest: str
    files: dict[str, str]
    canonical: str
    note: str = ""
    variant: str | None = None

    def short(self) -> str:
        return self.digest[:12]

    def to_dict(self) -> dict[str, object]:
        return {
            "digest": self.digest,
            "files": dict(self.files),
            "canonical": self.canonical,
            "note": self.note,
            "variant": self.variant,
        }


@dataclass(frozen=True)
class Download:
    """Where a dataset's publisher serves it, and how to check what arrives."""

    url: str
    archive_name: str
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None
    #: folder inside the archive that holds the files (stripped on extraction)
    member_prefix: str = ""


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset: how to find, check and load it."""

    name: str
    description: str
    files: tuple[str, ...]
    loader: Callable[[Path], RawDataset]
    downloads: tuple[Download, ...] = ()
    #: file name -> sha256 of that file in the publisher's release, where known
    canonical_sha256: dict[str, str] = field(default_factory=dict)
    #: whole-dataset digest -> (variant name, explanation) for known non-canonical copies
    known_variants: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: embedded datasets are generated in-process and need no files
    embedded: bool = False
    #: caveats shown to users (e.g. why a local-only copy cannot be fetched)
    notes: str = ""


_DATASETS: dict[str, DatasetInfo] = {}


def register_dataset(info: DatasetInfo) -> DatasetInfo:
    """Add a dataset to the registry; names are unique."""
    if info.name in _DATASETS:
        raise ValueError(f"dataset {info.name!r} is already registered")
    _DATASETS[info.name] = info
    return info


def get_dataset_info(name: str) -> DatasetInfo:
    """Look a dataset up by name, with a one-line error listing the valid names."""
    try:
        return _DATASETS[name]
    except KeyError:
        choices = ", ".join(sorted(_DATASETS))
        raise RecbenchError(f"unknown dataset {name!r}; choose one of: {choices}") from None


def dataset_names() -> list[str]:
    return sorted(_DATASETS)
