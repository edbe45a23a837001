"""Every numeric setting declares its valid values and is checked before any data is loaded.

Why: ``--set batch_size=0`` or ``lr=nan`` used to fail deep inside training after minutes of
data loading (or, for ``max_epochs=0``, record an untrained model); now each is one line,
``--set key=value: expected ...``, with exit status 2 and nothing recorded.
"""

from __future__ import annotations

import dataclasses
import typing

import pytest
from typer.testing import CliRunner

from cli import app
from recbench.config import Range, apply_overrides, range_of
from recbench.errors import RecbenchError
from recbench.lm.trainer import LMTrainConfig
from recbench.registry import all_models
from recbench.training import TrainConfig

runner = CliRunner()


def numeric_fields(config_class: type) -> list[tuple[dataclasses.Field, type]]:
    hints = typing.get_type_hints(config_class)
    out = []
    for f in dataclasses.fields(config_class):
        hint = hints[f.name]
        element = typing.get_args(hint)[0] if typing.get_origin(hint) is tuple else hint
        if element in (int, float):
            out.append((f, element))
    return out


CONFIGS = [TrainConfig, LMTrainConfig] + [entry.config_class for entry in all_models()]


def outside(bounds: Range, element: type) -> str:
    if bounds.low is not None:
        value = bounds.low - 1 if element is int or not bounds.low_open else bounds.low
        return str(int(value) if element is int else value)
    return str(bounds.high + 1)


@pytest.mark.parametrize("config_class", CONFIGS, ids=lambda c: c.__name__)
def test_every_numeric_field_declares_a_range_and_rejects_a_value_outside_it(config_class):
    defaults = config_class()
    for f, element in numeric_fields(config_class):
        bounds = range_of(config_class, f)
        assert bounds is not None, f"{config_class.__name__}.{f.name} declares no valid range"
        default = getattr(defaults, f.name)
        assert all(bounds.contains(v) for v in (default if isinstance(default, tuple) else (default,)))
        bad = outside(bounds, element)
        with pytest.raises(RecbenchError, match=rf"^--set {f.name}={bad}: expected "):
            apply_overrides([defaults], [f"{f.name}={bad}"])


@pytest.mark.parametrize("setting", ["lr=nan", "lr=inf", "lr=-1", "dropout=1.5", "batch_size=0"])
def test_non_finite_and_out_of_range_numbers_are_refused(setting):
    with pytest.raises(RecbenchError, match=rf"^--set {setting.split('=')[0]}="):
        apply_overrides([TrainConfig(), dataclasses.replace(all_models()[0].config_class())], [setting])


@pytest.mark.parametrize(
    "args",
    [
        ["--model", "deepfm", "--set", "batch_size=0"],
        ["--model", "deepfm", "--set", "max_epochs=0"],
        ["--model", "deepfm", "--set", "lr=nan"],
        ["--model", "deepfm", "--set", "embed_dim=0"],
        ["--model", "deepfm", "--set", "max_train_rows=-5"],
        ["--model", "din", "--set", "history_length=-1"],
        ["--model", "deepfm", "--seed", "-1"],
        ["--model", "reclora", "--set", "n_meta=0"],
        ["--model", "reclora", "--set", "temperature=0"],
        ["--model", "tallrec", "--set", "eval_batch_size=0"],
    ],
    ids=lambda a: " ".join(a[1:]),
)
def test_cli_refuses_each_bad_value_in_one_line_before_loading_data(tmp_path, args):
    # ml-100k is absent from this data dir: a range error must come first, before any file is read
    result = runner.invoke(app, ["run", *args, "--dataset", "ml-100k", "--data-dir", str(tmp_path), "--store", str(tmp_path / "runs")])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --s") and "expected" in lines[0], result.output
    assert not (tmp_path / "runs").exists()
