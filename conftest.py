"""Session-wide isolation for tests and doctests: a private cache, data root and run store,
and no network, so a test run never touches (or depends on) the user's own files."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory):
    patch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("recbench-env")
    patch.setenv("RECBENCH_CACHE", str(root / "cache"))
    patch.setenv("RECBENCH_DATA", str(root / "data"))
    patch.setenv("RECBENCH_RUNS", str(root / "runs"))
    patch.setenv("RECBENCH_OFFLINE", "1")
    yield
    patch.undo()
