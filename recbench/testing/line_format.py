"""Fixture files written fast: whole columns of numbers and labels become a file's lines at once.

Why: the fixture writers produce files at the real releases' scale (25M MovieLens ratings), and
a Python loop per line would take minutes. Every field becomes a matrix of ASCII bytes plus a
mask of the bytes in use, and the masked bytes, read row by row, are exactly the file's lines
(see :func:`format_lines`). 25M ratings take seconds. Small files (users, items) go through
:func:`write_text`, one string per line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Labels:
    """A column of small-vocabulary text: ``codes`` index into ``labels``."""

    codes: np.ndarray
    labels: Sequence[str]


def _int_width(values: np.ndarray) -> int:
    if values.size and values.min() < 0:
        raise ValueError("only non-negative integers can be written")
    return len(str(int(values.max()))) if values.size else 1


def _fill_int(values: np.ndarray, chars: np.ndarray, mask: np.ndarray) -> None:
    """Write non-negative integers as right-aligned ASCII digits into ``chars`` and mark the
    significant ones (no leading zeros) in ``mask``; both are ``(n, width)`` views."""
    width = chars.shape[1]
    rest = values
    for k in range(width - 1, -1, -1):  # dividing by a scalar is much faster than by an array
        quotient = rest // 10
        chars[:, k] = rest - quotient * 10 + ord("0")
        rest = quotient
    n_digits = 1 + np.searchsorted(10 ** np.arange(1, width, dtype=np.int64), values, side="right")
    mask[:] = np.arange(width)[None, :] >= (width - n_digits)[:, None]


def _label_table(labels: Sequence[str], encoding: str) -> tuple[np.ndarray, np.ndarray]:
    """Encoded labels, left-aligned in a byte table, with the mask of used bytes."""
    encoded = [label.encode(encoding) for label in labels]
    width = max(len(e) for e in encoded)
    table = np.zeros((len(encoded), width), dtype=np.uint8)
    table_mask = np.zeros((len(encoded), width), dtype=bool)
    for i, e in enumerate(encoded):
        table[i, : len(e)] = np.frombuffer(e, dtype=np.uint8)
        table_mask[i, : len(e)] = True
    return table, table_mask


def format_lines(columns: Sequence[np.ndarray | Labels], sep: str, encoding: str = "ascii") -> bytes:
    """Lines ``col0<sep>col1...\\n`` for every row, as bytes, without a per-line loop.

    Every field gets a fixed-width slot in one ``(n, width)`` byte matrix plus a mask of the
    bytes in use (digits without leading zeros, a label's length); keeping the masked bytes in
    row-major order yields exactly the lines of the file.
    """
    n = len(columns[0].codes if isinstance(columns[0], Labels) else columns[0])
    sep_bytes = np.frombuffer(sep.encode(encoding), dtype=np.uint8)
    slots: list[tuple[str, object, int]] = []
    for i, column in enumerate(columns):
        if i:
            slots.append(("const", sep_bytes, len(sep_bytes)))
        if isinstance(column, Labels):
            table = _label_table(column.labels, encoding)
            slots.append(("labels", (column.codes, table), table[0].shape[1]))
        else:
            values = np.asarray(column, dtype=np.int64)
            slots.append(("int", values, _int_width(values)))
    slots.append(("const", np.frombuffer(b"\n", dtype=np.uint8), 1))
    chars = np.empty((n, sum(width for _, _, width in slots)), dtype=np.uint8)
    mask = np.empty(chars.shape, dtype=bool)
    at = 0
    for kind, payload, width in slots:
        here = slice(at, at + width)
        if kind == "int":
            _fill_int(payload, chars[:, here], mask[:, here])
        elif kind == "labels":
            codes, (table, table_mask) = payload
            chars[:, here] = table[codes]
            mask[:, here] = table_mask[codes]
        else:
            chars[:, here] = payload
            mask[:, here] = True
        at += width
    return chars[mask].tobytes()


def write_lines(path: Path, columns: Sequence[np.ndarray | Labels], sep: str, chunk: int = 1 << 20) -> None:
    """Write rows in chunks so even 25M-row files need little memory."""
    n = len(columns[0].codes if isinstance(columns[0], Labels) else columns[0])
    with open(path, "wb") as out:
        out.writelines(format_lines([_slice(c, lo, lo + chunk) for c in columns], sep) for lo in range(0, n, chunk))


def _slice(column: np.ndarray | Labels, lo: int, hi: int) -> np.ndarray | Labels:
    if isinstance(column, Labels):
        return Labels(column.codes[lo:hi], column.labels)
    return column[lo:hi]


def write_text(path: Path, lines: Sequence[str], encoding: str = "ascii") -> None:
    """Small files: one string per line, ``\\n`` endings, the publisher's encoding."""
    with open(path, "w", encoding=encoding, newline="\n") as out:
        out.writelines(line + "\n" for line in lines)


def prepare_directory(directory: Path | str) -> Path:
    """``directory`` as a Path, created with its parents, so a writer can be pointed at a new folder."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return directory
