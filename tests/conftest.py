"""Access to the real MovieLens copies in ../shared/data, skipping cleanly where absent."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()


def shared_dataset(name: str) -> Path:
    """Path of a real dataset copy, or skip the test where it is absent (e.g. a user's clone)."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real data {path} is not on this machine")
    return path
