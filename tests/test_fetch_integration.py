"""A run on a dataset that is not present fetches it (checked and extracted) first; a bad
checksum or no network is a one-line error that records nothing."""

from __future__ import annotations

import dataclasses
import hashlib
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from recbench.datasets import base, load_dataset
from recbench.testing.writers import write_ml100k
from recbench.runstore import RunStore


@pytest.fixture
def served_ml100k(tmp_path: Path, monkeypatch) -> Path:
    """Point ml-100k's download at a local zip in the publisher's layout (ml-100k/...)."""
    files = write_ml100k(load_dataset("synth"), tmp_path / "src")
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(files.iterdir()):
            zf.write(path, f"ml-100k/{path.name}")
    info = base._DATASETS["ml-100k"]
    download = dataclasses.replace(
        info.downloads[0], url=archive.as_uri(), size=archive.stat().st_size,
        md5=hashlib.md5(archive.read_bytes()).hexdigest(),
    )  # fmt: skip
    monkeypatch.setitem(base._DATASETS, "ml-100k", dataclasses.replace(info, downloads=(download,)))
    monkeypatch.setenv("RECBENCH_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("RECBENCH_OFFLINE")
    return tmp_path


def test_run_fetches_a_missing_dataset_then_records(served_ml100k: Path):
    store = served_ml100k / "runs"
    args = ["run", "-m", "deepfm", "-d", "ml-100k", "--store", str(store), "--set", "max_train_rows=2000", "--set", "max_epochs=1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (served_ml100k / "data" / "ml-100k" / "u.data").is_file()
    (record,) = RunStore(store).records()
    assert record.canonical == "no"  # generated files differ from the release


def test_wrong_checksum_is_one_line_and_leaves_nothing(served_ml100k: Path, monkeypatch):
    info = base._DATASETS["ml-100k"]
    bad = dataclasses.replace(info.downloads[0], md5="0" * 32)
    monkeypatch.setitem(base._DATASETS, "ml-100k", dataclasses.replace(info, downloads=(bad,)))
    store = served_ml100k / "runs"
    result = CliRunner().invoke(app, ["run", "-m", "din", "-d", "ml-100k", "--store", str(store)])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "expected md5 000" in result.output
    assert not (served_ml100k / "data" / "ml-100k").exists()
    assert RunStore(store).records() == []
