"""Two processes carrying out one plan on one store split it; a dead process's claim is taken over."""

from __future__ import annotations

import json
import os
import shutil
import socket

from rich.console import Console

from recbench.plans import check_plan, execute, identity
from recbench.run_claims import RunClaims
from recbench.runstore import RunStore
from recbench.studies import plan_study
from tests.test_studies import fake_run

QUIET = Console(file=open("/dev/null", "w"))


def hold(claims: RunClaims, key: str, pid: int) -> None:
    """Write a claim as if process ``pid`` on this host held it."""
    claims.folder.mkdir(parents=True, exist_ok=True)
    claims._path(key).write_text(json.dumps({"key": key, "pid": pid, "host": socket.gethostname(), "since": 0}))


def key_of(request) -> str:
    return repr(identity(request.model, request.dataset, request.seed, request.profile, request.study, request.overrides))


def test_a_run_another_live_process_holds_is_skipped_and_the_rest_is_made(tmp_path):
    store = RunStore(tmp_path / "runs")
    plan = plan_study("n_meta", "synth")[:3]
    hold(RunClaims(store.root), key_of(plan[1]), os.getppid())  # the parent process is alive
    made, failures = execute(check_plan(plan, store), store, QUIET, run_fn=fake_run)
    assert made == 2 and not failures
    assert [p.recorded is not None for p in check_plan(plan, store)] == [True, False, True]


def test_a_dead_process_claim_is_stale_and_taken_over(tmp_path):
    claims = RunClaims(tmp_path)
    hold(claims, "k", 2**22 + 12345)  # no such process
    assert claims.acquire("k")
    assert not RunClaims(tmp_path).acquire("k")  # now held by this (live) process


def test_claims_are_released_after_a_run_even_when_it_fails(tmp_path):
    store = RunStore(tmp_path / "runs")
    plan = plan_study("n_meta", "synth")[:1]

    def fails(request, run_store, console):
        from recbench.errors import RecbenchError

        raise RecbenchError("boom")

    made, failures = execute(check_plan(plan, store), store, QUIET, run_fn=fails, keep_going=True)
    assert made == 0 and len(failures) == 1
    assert list((store.root / ".claims").iterdir()) == []
    assert store.records() == [] and not store.problems  # the claims folder is not a run


def test_a_run_another_process_recorded_meanwhile_is_found_under_the_resolved_variant(tmp_path):
    store = RunStore(tmp_path / "runs")
    plan = plan_study("n_meta", "synth")[:1]
    planned = check_plan(plan, store, lambda *_: "synth-files")  # the data's fingerprint names another variant
    assert planned[0].pending and planned[0].variant == "synth-files"
    other = fake_run(plan[0], RunStore(tmp_path / "scratch"))  # "another lane" records the same run ...
    copy = {k: v for k, v in other.to_dict().items() if k != "run_id"}
    store.save({**copy, "dataset_variant": "synth-files"}, store_arrays(tmp_path / "scratch", other.run_id))

    def must_not_run(request, run_store, console):
        raise AssertionError("made a run that was recorded meanwhile")

    assert execute(planned, store, QUIET, run_fn=must_not_run) == (0, [])


def store_arrays(root, run_id):
    return dict(RunStore(root).predictions(run_id))


def test_a_budget_starts_only_the_runs_whose_estimate_fits_the_time_left(tmp_path):
    from recbench.estimates import Budget, Costs, estimate

    store = RunStore(tmp_path / "runs")
    plan = plan_study("n_meta", "synth")[:4]
    fake_run(plan[0], store)  # one recorded run: the rates every estimate below comes from
    planned = check_plan(plan, store)
    spans = [estimate(p.request, "synth", Costs(store.records())) for p in planned if p.pending]
    assert len(spans) == 3 and all(s is not None for s in spans)
    now = [0.0]

    def takes_its_estimate(request, run_store, console=None):
        now[0] += estimate(request, "synth", Costs(run_store.records()))[1]
        return fake_run(request, run_store)

    budget = Budget(spans[0][1] + spans[1][1] + 0.5 * spans[2][1], clock=lambda: now[0])
    made, failures = execute(planned, store, QUIET, run_fn=takes_its_estimate, budget=budget)
    assert made == 2 and not failures
    assert [p.recorded is not None for p in check_plan(plan, store)] == [True, True, True, False]  # the last is left


def test_with_nothing_measured_a_budget_starts_nothing(tmp_path):
    from recbench.estimates import Budget

    store = RunStore(tmp_path / "runs")
    plan = plan_study("n_meta", "synth")[:2]
    assert execute(check_plan(plan, store), store, QUIET, run_fn=fake_run, budget=Budget(1e9)) == (0, [])


def test_checkpoints_lists_each_run_in_flight_with_its_progress_and_whether_git_can_keep_it(tmp_path):
    from typer.testing import CliRunner

    from cli import app
    from recbench.inflight import KEEPABLE_BYTES, list_checkpoints

    store = tmp_path / "runs"
    small = store / "checkpoints" / "rella-ml-1m-s0-aaaa"
    small.mkdir(parents=True)
    (small / "state.json").write_text(json.dumps({"step": 130, "epochs": [{"epoch": 1, "valid_auc": 0.5712}]}))
    (small / "tensors.safetensors").write_bytes(b"\0" * 1000)
    large = store / "checkpoints" / "reclora-ml-1m-s0-bbbb"
    large.mkdir()
    (large / "prerequisites.json").write_text(json.dumps({"crm": "20261201-sim-c507ab"}))
    (large / "tensors.safetensors").write_bytes(b"\0" * (KEEPABLE_BYTES + 1))
    one_big_file = store / "checkpoints" / "tallrec-ml-1m-s0-cccc"  # 6 MiB in all, but in one file over git's 5 MiB
    one_big_file.mkdir()
    (one_big_file / "state.json").write_text(json.dumps({"step": 5}))
    (one_big_file / "tensors.safetensors").write_bytes(b"\0" * (6 * 2**20))
    (store / "checkpoints" / "empty").mkdir()
    states = list_checkpoints(store)
    assert [s.folder.name for s in states] == ["reclora-ml-1m-s0-bbbb", "rella-ml-1m-s0-aaaa", "tallrec-ml-1m-s0-cccc"]
    assert [s.keepable for s in states] == [False, True, False] and states[1].step == 130
    result = CliRunner().invoke(app, ["checkpoints", "--store", str(store)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "rella-ml-1m-s0-aaaa: step 130, 1 epoch(s) done (valid AUC 0.571); 0.0 MiB" in text and "small enough to keep in git (--keep)" in text
    assert "reclora-ml-1m-s0-bbbb: no state yet, pinned crm 20261201-sim-c507ab; 16.0 MiB" in text and "too large for git" in text
    assert "no run in flight" in CliRunner().invoke(app, ["checkpoints", "--store", str(tmp_path / "none")]).output


def test_keep_carries_the_small_states_to_git_and_a_run_on_the_next_machine_takes_them(tmp_path):
    from typer.testing import CliRunner

    from cli import app
    from recbench.inflight import KEEPABLE_BYTES, forget_kept, list_checkpoints, restore_kept

    store = tmp_path / "runs"
    for name, size in (("rella-a", 1000), ("reclora-b", KEEPABLE_BYTES + 1)):
        folder = store / "checkpoints" / name
        folder.mkdir(parents=True)
        (folder / "tensors.safetensors").write_bytes(b"\1" * size)
        (folder / "state.json").write_text(json.dumps({"step": 40, "epochs": []}))
    result = CliRunner().invoke(app, ["checkpoints", "--store", str(store), "--keep"])
    assert result.exit_code == 0, result.output
    assert "kept 1 state(s)" in result.output and "rella-a" in result.output
    assert [s.folder.name for s in list_checkpoints(store, "inflight")] == ["rella-a"]
    assert "kept in git: rella-a: step 40" in CliRunner().invoke(app, ["checkpoints", "--store", str(store)]).output

    other_machine = tmp_path / "clone" / "runs"  # a fresh clone: the kept copy, no checkpoints folder
    (other_machine / "inflight").mkdir(parents=True)
    shutil.copytree(store / "inflight" / "rella-a", other_machine / "inflight" / "rella-a")
    target = other_machine / "checkpoints" / "rella-a"
    assert restore_kept(target, other_machine)
    assert (target / "tensors.safetensors").read_bytes() == b"\1" * 1000 and json.loads((target / "state.json").read_text())["step"] == 40
    (target / "state.json").write_text(json.dumps({"step": 45, "epochs": []}))
    assert not restore_kept(target, other_machine)  # its own newer state wins over the kept one
    forget_kept(target, other_machine)
    assert not (other_machine / "inflight" / "rella-a").exists()
    assert not restore_kept(other_machine / "checkpoints" / "nothing-kept", other_machine)
