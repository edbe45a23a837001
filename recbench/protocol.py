"""The shared evaluation protocol (SPEC 3): the single source of truth for every model.

Steps, in order:

1. label each rating (rating > 3 is positive);
2. stable global sort of all ratings by (timestamp, user, item);
3. every rating is a sample whose history is all earlier ratings of its user in that order;
4. samples with fewer than 5 earlier ratings are dropped (no k-core filter);
5. split by position in the global order: floor(0.8 n) train, floor(0.1 n) valid, rest test;
6. ID fields get global offsets into one embedding table, plus one token per rating value.

What the steps produce is a :class:`~recbench.protocol_data.ProtocolData` (importable from
here): per-user sequences, never per-sample histories. The on-disk cache of it is below.

Example:
    >>> from recbench.protocol import prepare
    >>> from recbench.datasets import load_dataset
    >>> data = prepare(load_dataset("synth"))
    >>> data.n_train + data.n_valid + data.n_test == data.n_samples
    True
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from recbench.datasets.base import Fingerprint, RawDataset
from recbench.errors import DataFormatError
from recbench.protocol_data import FieldSpec, ProtocolData

#: Bump whenever any step below changes what it produces; it is part of every cache key.
PROTOCOL_VERSION = 1
MIN_EARLIER_RATINGS = 5
POSITIVE_ABOVE = 3.0
TRAIN_FRACTION = 0.8
VALID_FRACTION = 0.1
ITEM_FIELDS: tuple[str, ...] = ("item_id", "title", "genre")


def split_sizes(n: int) -> tuple[int, int, int]:
    """Positional split sizes (SPEC 3.5): floor(0.8 n), floor(0.1 n), and the rest."""
    n_train = int(np.floor(n * TRAIN_FRACTION))
    n_valid = int(np.floor(n * VALID_FRACTION))
    return n_train, n_valid, n - n_train - n_valid


def prepare(raw: RawDataset) -> ProtocolData:
    """Apply every protocol step to a loaded dataset."""
    if raw.fingerprint is None:
        raise ValueError("prepare() needs a fingerprinted dataset; use recbench.datasets.load_dataset")
    ratings = raw.ratings
    if len(ratings) == 0:
        raise DataFormatError(f"dataset {raw.name!r} has no ratings")
    raw_users, user = dense_ids(ratings["user_id"].to_numpy())
    raw_items, item = dense_ids(ratings["item_id"].to_numpy())
    timestamp = ratings["timestamp"].to_numpy(np.int64)
    rating = ratings["rating"].to_numpy(np.float32)

    # Step 2: the global order. lexsort's last key is the primary one; ties are broken by user,
    # then item (one combined key), so the order never depends on file order.
    order = np.lexsort((user.astype(np.int64) * len(raw_items) + item, timestamp))
    user_in_order = user[order]
    # Position of each rating within its user's sequence = how many of that user's ratings came
    # before it in the global order (a grouped running count, O(n), no second sort).
    global_pos = pd.Series(user_in_order).groupby(user_in_order, sort=False).cumcount().to_numpy(np.int64)
    seq_ptr = np.zeros(len(raw_users) + 1, dtype=np.int64)
    np.cumsum(np.bincount(user, minlength=len(raw_users)), out=seq_ptr[1:])
    # Each user's sequence in that same order (a stable counting sort of the global order).
    by_user = np.empty_like(order)
    by_user[seq_ptr[user_in_order] + global_pos] = order

    # Steps 3-4: samples in global order with at least 5 earlier ratings.
    keep = global_pos >= MIN_EARLIER_RATINGS
    sample_user = user_in_order[keep]
    sample_pos = global_pos[keep].astype(np.int32)
    n_train, n_valid, _ = split_sizes(int(keep.sum()))

    # Step 1: labels; rating tokens index the publisher's allowed values.
    rating_index = np.searchsorted(np.asarray(raw.rating_values, dtype=np.float32), rating)
    rating_index = np.clip(rating_index, 0, len(raw.rating_values) - 1)
    if not np.array_equal(np.asarray(raw.rating_values, dtype=np.float32)[rating_index], rating):
        raise DataFormatError(f"dataset {raw.name!r}: some ratings are not among {list(raw.rating_values)}")

    fields, user_features, item_features, token_offset, text = _encode_fields(raw, raw_users, raw_items)
    return ProtocolData(
        dataset=raw.name,
        fingerprint=raw.fingerprint,
        fields=fields,
        user_fields=("user_id", *raw.user_fields),
        user_features=user_features,
        item_features=item_features,
        rating_token_offset=token_offset,
        rating_values=tuple(raw.rating_values),
        seq_ptr=seq_ptr,
        seq_item=item[by_user],
        seq_rating=rating_index[by_user].astype(np.int8),
        seq_label=(rating[by_user] > POSITIVE_ABOVE).astype(np.int8),
        seq_timestamp=timestamp[by_user],
        sample_user=sample_user,
        sample_pos=sample_pos,
        n_train=n_train,
        n_valid=n_valid,
        user_text=text["user"],
        item_title=text["title"],
        item_genre=text["genre"],
        item_noun=raw.item_noun,
        raw_user_ids=raw_users,
        raw_item_ids=raw_items,
    )


def dense_ids(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct ids and each entry's index among them (like ``np.unique(...,
    return_inverse=True)``), in O(n) through a presence table when the id range allows it."""
    ids = np.asarray(ids, dtype=np.int64)
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high > 50 * len(ids) + 1_000_000:  # sparse or negative ids: sort instead
        distinct, inverse = np.unique(ids, return_inverse=True)
        return distinct, inverse.astype(np.int32)
    present = np.zeros(high + 1, dtype=bool)
    present[ids] = True
    lookup = np.cumsum(present, dtype=np.int64) - 1
    return np.flatnonzero(present), lookup[ids].astype(np.int32)


def _encode_fields(raw: RawDataset, raw_users: np.ndarray, raw_items: np.ndarray):
    """Global-offset ID features (SPEC 3.6). Vocabularies cover rated users and items only."""
    users = raw.users.set_index("user_id").reindex(raw_users)
    items = raw.items.set_index("item_id").reindex(raw_items)
    if users.isna().any().any():
        raise DataFormatError(f"dataset {raw.name!r}: some rated users have no profile row")
    if items.isna().any().any():
        raise DataFormatError(f"dataset {raw.name!r}: some rated items have no item row")

    fields: list[FieldSpec] = []
    offset = 0

    def add(name: str, codes: np.ndarray, size: int) -> np.ndarray:
        nonlocal offset
        fields.append(FieldSpec(name, offset, size))
        out = codes.astype(np.int64) + offset
        offset += size
        return out

    user_columns = [add("user_id", np.arange(len(raw_users)), len(raw_users))]
    for name in raw.user_fields:
        codes, vocab = pd.factorize(users[name].astype(str), sort=True)
        user_columns.append(add(name, codes, len(vocab)))
    item_columns = [add("item_id", np.arange(len(raw_items)), len(raw_items))]
    title_codes, title_vocab = pd.factorize(items["title"].astype(str), sort=True)
    item_columns.append(add("title", title_codes, len(title_vocab)))
    genre_lookup = {g: i for i, g in enumerate(raw.genres)}
    genre_codes = items["genre"].map(genre_lookup)
    if genre_codes.isna().any():
        unknown = items["genre"][genre_codes.isna()].iloc[0]
        raise DataFormatError(f"dataset {raw.name!r}: genre {unknown!r} is not in the dataset's genre list")
    item_columns.append(add("genre", genre_codes.to_numpy(np.int64), len(raw.genres)))
    token_offset = offset
    text = {
        "user": {name: users[name].astype(str).tolist() for name in raw.text_user_fields},
        "title": items["title"].astype(str).tolist(),
        "genre": items["genre"].astype(str).tolist(),
    }
    return tuple(fields), np.stack(user_columns, axis=1), np.stack(item_columns, axis=1), token_offset, text


# --------------------------------------------------------------------------- cache
_ARRAYS = (
    "user_features", "item_features", "seq_ptr", "seq_item", "seq_rating", "seq_label",
    "seq_timestamp", "sample_user", "sample_pos", "raw_user_ids", "raw_item_ids",
)  # fmt: skip


def default_cache_root() -> Path:
    env = os.environ.get("RECBENCH_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("recbench"))


def cache_key(dataset: str, fingerprint: Fingerprint) -> str:
    """Protocol version + dataset + raw-data digest: a changed file or protocol misses."""
    import hashlib

    return hashlib.sha256(f"v{PROTOCOL_VERSION}:{dataset}:{fingerprint.digest}".encode()).hexdigest()[:20]


def save_protocol(data: ProtocolData, directory: Path) -> None:
    """Write atomically: a temporary sibling folder renamed into place, so a crash mid-write
    never leaves a cache entry that looks complete."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=directory.parent))
    try:
        for name in _ARRAYS:
            np.save(tmp / f"{name}.npy", getattr(data, name), allow_pickle=False)
        meta = {
            "protocol_version": PROTOCOL_VERSION,
            "dataset": data.dataset,
            "fingerprint": data.fingerprint.to_dict(),
            "fields": [[f.name, f.offset, f.size] for f in data.fields],
            "user_fields": list(data.user_fields),
            "rating_token_offset": data.rating_token_offset,
            "rating_values": list(data.rating_values),
            "n_train": data.n_train,
            "n_valid": data.n_valid,
            "user_text": data.user_text,
            "item_title": data.item_title,
            "item_genre": data.item_genre,
            "item_noun": data.item_noun,
        }
        (tmp / "meta.json").write_text(json.dumps(meta))
        try:
            os.rename(tmp, directory)
        except OSError:
            if not (directory / "meta.json").is_file():  # lost a race to an identical writer: fine
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_cached_protocol(directory: Path, fingerprint: Fingerprint) -> ProtocolData | None:
    """Read a cache entry, or None when absent or written for other data or another version."""
    meta_path = directory / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if meta.get("protocol_version") != PROTOCOL_VERSION or meta["fingerprint"]["digest"] != fingerprint.digest:
        return None
    arrays = {name: np.load(directory / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in _ARRAYS}
    return ProtocolData(
        dataset=meta["dataset"],
        fingerprint=fingerprint,
        fields=tuple(FieldSpec(*f) for f in meta["fields"]),
        user_fields=tuple(meta["user_fields"]),
        rating_token_offset=meta["rating_token_offset"],
        rating_values=tuple(meta["rating_values"]),
        n_train=meta["n_train"],
        n_valid=meta["n_valid"],
        user_text=meta["user_text"],
        item_title=meta["item_title"],
        item_genre=meta["item_genre"],
        item_noun=meta["item_noun"],
        **arrays,
    )


def load_protocol(
    dataset: str,
    data_dir: Path | str | None = None,
    *,
    cache_root: Path | None = None,
    use_cache: bool = True,
    fetch_missing: bool = True,
) -> ProtocolData:
    """The protocol view of a dataset, from the cache when its key (version + data digest) hits."""
    from recbench.datasets import open_dataset

    source = open_dataset(dataset, data_dir, fetch_missing=fetch_missing)
    directory = (cache_root or default_cache_root()) / "protocol" / cache_key(dataset, source.fingerprint)
    if use_cache:
        cached = load_cached_protocol(directory, source.fingerprint)
        if cached is not None:
            return cached
    data = prepare(source.load())
    if use_cache:
        save_protocol(data, directory)
    return data
