"""The README's "Compare your model" recipe, end to end through the CLI.

A model lives in its own package and reaches recbench through the ``recbench.models`` entry
point; it is run on MovieLens-format files into the user's own store, and the leaderboard reads
that store beside a reference store, so the new model sits in the same Table 2 as the reference
runs, on the same test-row ids, with a DeLong p-value against each, without re-running them.
The data is the embedded ``synth`` dataset written in ML-100K's exact file format.
"""

from __future__ import annotations

import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from typer.testing import CliRunner

import recbench.registry as registry
from cli import app
from recbench.datasets import load_dataset
from recbench.testing.writers import write_ml100k

runner = CliRunner()

MY_PACKAGE = '''
"""my_recsys: a user's own model, outside recbench."""
from dataclasses import dataclass

import torch
from torch import nn

from recbench.ctr import CTRModel, CTROutput, IDModelConfig
from recbench.registry import register_model


@dataclass
class WideConfig(IDModelConfig):
    pass


@register_model("my-wide")
class Wide(CTRModel):
    """A linear model over the user and target embeddings."""

    Config = WideConfig

    def __init__(self, config, schema):
        super().__init__(config, schema)
        self.out = nn.Linear(self.user_dim + self.item_dim, 1)

    def forward(self, batch):
        hidden = torch.cat([self.embed_user(batch), self.embed_target(batch)], dim=-1)
        return CTROutput(self.out(hidden).squeeze(-1), hidden)
'''


@pytest.fixture()
def plugin(tmp_path, monkeypatch):
    """``my_recsys`` on sys.path and declared as a ``recbench.models`` entry point."""
    package = tmp_path / "site" / "my_recsys"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(MY_PACKAGE))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    point = EntryPoint(name="my-wide", value="my_recsys", group="recbench.models")
    monkeypatch.setattr(registry, "entry_points", lambda group: [point] if group == "recbench.models" else [])
    monkeypatch.setattr(registry, "_loaded", False)
    yield
    registry._MODELS.pop("my-wide", None)
    sys.modules.pop("my_recsys", None)


def invoke(*args: str):
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_a_plugin_model_joins_the_reference_table(plugin, tmp_path: Path):
    data_dir = write_ml100k(load_dataset("synth"), tmp_path / "ml-100k")
    reference, mine = tmp_path / "reference", tmp_path / "runs"
    quick = ["--set", "max_epochs=1", "--set", "max_train_rows=3000", "--set", "threads=1"]
    for model in ("sim", "user-mean"):
        invoke("run", "-m", model, "-d", "ml-100k", "--data-dir", str(data_dir), "--store", str(reference), *quick[: 6 if model == "sim" else 0])
    assert "my-wide" in invoke("models").output
    invoke("run", "-m", "my-wide", "-d", "ml-100k", "--data-dir", str(data_dir), "--store", str(mine), *quick)
    board = invoke("leaderboard", "--store", str(mine), "--store", str(reference), "-d", "ml-100k", "--reference", "my-wide", "--table", "2")
    text = board.output
    assert text.count("### Table 2 — ml-100k") == 1 and "RelImpr (my-wide [max_epochs=1, max_train_rows=3000] over)" in text
    rows = {line.split("|")[2].strip().partition(" [")[0]: line.split("|") for line in text.splitlines() if line.startswith("|") and "---" not in line}
    assert {"my-wide", "SIM", "User-mean"} <= set(rows)
    # a DeLong p-value against the reference SIM, on the common test rows
    assert rows["SIM"][6].strip() not in ("", "–")
    assert rows["my-wide"][3].strip() != "–"
