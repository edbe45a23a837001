"""Strict readers for the delimited text files publishers ship.

Every loader goes through :func:`read_table` so that a truncated, malformed or empty file
fails the same way everywhere: one line naming the file, the line number and what was
expected, instead of a pandas traceback or, worse, silently coerced NaNs.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from recbench.errors import DataFormatError


def read_table(
    path: Path,
    *,
    sep: str,
    columns: dict[str, str],
    encoding: str = "utf-8",
    header: bool = False,
    usecols: int | None = None,
) -> pd.DataFrame:
    """Read a delimited file whose columns are all required.

    Args:
        path: the file.
        sep: field separator; multi-character separators such as ML-1M's ``::`` are supported
            (they are rewritten to a tab first, which is much faster than pandas' python engine).
        columns: column name -> kind, one of ``"int"``, ``"float"``, ``"str"``; the file must
            have at least this many fields per line (``usecols`` more are allowed and ignored).
        encoding: the publisher's encoding (MovieLens item files are latin-1).
        header: whether the first line is a header to check and skip.
        usecols: total fields per line when it differs from ``len(columns)`` (the extra trailing
            fields are read as strings and returned under their position).

    The fast path parses numbers directly (25 million ratings stay a few hundred MB); only when
    it fails is the file re-read as text to find and name the first bad line.
    """
    if not path.is_file():
        raise DataFormatError(f"{path}: file not found")
    try:
        blank = _is_blank(path)
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if blank:
        raise DataFormatError(f"{path}: file is empty; expected lines of {_describe(columns, sep)}")
    n_fields = usecols or len(columns)
    names = list(columns) + [f"extra_{i}" for i in range(n_fields - len(columns))]
    dtypes = {name: _DTYPES[kind] for name, kind in columns.items()}
    dtypes.update({name: str for name in names[len(columns) :]})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # overflowing values are diagnosed below, by line
            frame = _parse(path, sep, encoding, header, names, dtypes)
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except (ValueError, OverflowError, UnicodeDecodeError, pd.errors.ParserError):
        frame = None
    numeric = [name for name, kind in columns.items() if kind != "str"]
    if frame is None or frame[numeric].isna().any().any() or (frame.iloc[:, -1] == "").any():
        _diagnose(path, sep, encoding, header, names, columns)  # raises with the line number
        raise DataFormatError(f"{path}: could not be parsed as {_describe(columns, sep)}")
    if frame.empty:
        raise DataFormatError(f"{path}: no data lines; expected {_describe(columns, sep)}")
    if header:
        _check_header(path, encoding, sep, list(columns))
    return frame


_DTYPES = {"int": np.int64, "float": np.float32, "str": str}


def _is_blank(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(4096)
    return not head.strip() and (len(head) < 4096 or not path.read_bytes().strip())


def _parse(path: Path, sep: str, encoding: str, header: bool, names: list[str], dtypes: dict) -> pd.DataFrame:
    source: Path | io.StringIO = path
    delimiter = sep
    if len(sep) > 1:
        text = path.read_bytes().decode(encoding)
        if "\t" in text:
            raise ValueError("tab inside a file with a multi-character separator")
        source, delimiter = io.StringIO(text.replace(sep, "\t")), "\t"
    return pd.read_csv(
        source,
        sep=delimiter,
        header=0 if header else None,
        names=names,
        dtype=dtypes,
        keep_default_na=False,
        na_values={name: [""] for name, kind in dtypes.items() if kind is not str},
        quoting=0 if delimiter == "," else 3,  # csv.QUOTE_MINIMAL for CSV, QUOTE_NONE otherwise
        encoding=encoding,
        engine="c",
    )


def _diagnose(path: Path, sep: str, encoding: str, header: bool, names: list[str], columns: dict[str, str]) -> None:
    """Re-read everything as text and raise a DataFormatError naming the first bad line."""
    try:
        text = path.read_bytes().decode(encoding)
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}: not valid {encoding} text ({exc.reason} at byte {exc.start})") from None
    delimiter = sep
    if len(sep) > 1:
        if "\t" in text:
            raise DataFormatError(f"{path}: unexpected tab character; expected fields separated by {sep!r}")
        text, delimiter = text.replace(sep, "\t"), "\t"
    first_line = 2 if header else 1
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            header=0 if header else None,
            names=names,
            dtype=str,
            keep_default_na=False,
            quoting=0 if delimiter == "," else 3,
            engine="c",
        )
    except pd.errors.ParserError as exc:
        raise DataFormatError(f"{path}: {_parser_message(exc, first_line)}; expected {_describe(columns, sep)}") from None
    _raise_first_bad_field(path, frame, columns, first_line, sep)


def _raise_first_bad_field(path: Path, frame: pd.DataFrame, columns: dict[str, str], first_line: int, sep: str) -> None:
    """Raise for the first short line or non-numeric field of a frame read as text."""
    # pandas reads missing trailing fields as empty strings, so an empty last field is how a
    # short (truncated or malformed) line shows up.
    missing = (frame.iloc[:, -1] == "").to_numpy()
    if missing.any():
        line = int(np.flatnonzero(missing)[0]) + first_line
        raise DataFormatError(
            f"{path}, line {line}: too few fields (truncated or malformed line); expected {_describe(columns, sep)}"
        )
    for name, kind in columns.items():
        if kind == "str":
            continue
        values = frame[name]
        numeric = pd.to_numeric(values, errors="coerce")
        bad = numeric.isna().to_numpy().copy()
        if kind == "int":
            as_float = numeric.fillna(0).to_numpy(dtype=np.float64)
            # beyond int64 (e.g. a timestamp of 10**23) pandas gives up on the whole column
            bad |= ~bad & ((as_float % 1 != 0) | (np.abs(as_float) >= 2.0**63))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            found = "empty" if values.iloc[row] == "" else f"{values.iloc[row]!r}"
            expected = "an integer (64-bit)" if kind == "int" else "a number"
            raise DataFormatError(f"{path}, line {row + first_line}: field {name!r} is {found}, expected {expected}")


def _check_header(path: Path, encoding: str, delimiter: str, expected: list[str]) -> None:
    with open(path, encoding=encoding, errors="replace") as handle:
        found = handle.readline().strip().split(delimiter)
    if [f.strip() for f in found[: len(expected)]] != expected:
        raise DataFormatError(f"{path}, line 1: header is {delimiter.join(found)!r}, expected {delimiter.join(expected)!r}")


def _describe(columns: dict[str, str], sep: str) -> str:
    return sep.join(columns)


def _parser_message(exc: Exception, first_line: int) -> str:
    message = str(exc).strip().splitlines()[-1]
    # pandas says "Expected 4 fields in line 7, saw 5"; its line numbers count data lines from 1
    # after any header, which matches ours only without a header, so restate it plainly.
    if first_line == 2 and "line" in message:
        message += " (pandas counts from the first data line)"
    return f"malformed line: {message}"
