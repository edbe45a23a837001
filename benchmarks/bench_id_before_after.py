"""Before / after table of ID-model speed: an older checkout against this one, alternating processes.

    git worktree add --detach /tmp/old <commit>
    python benchmarks/bench_id_before_after.py --old /tmp/old --pairs 3 --models deepfm din
    python benchmarks/bench_id_before_after.py --old /tmp/old --models din --set attention_hidden=256,128

Each measurement is one fresh process of ``bench_id_cpu_time.py`` (this checkout's script, so
both sides are timed the same way) with ``PYTHONPATH`` pointing at the old checkout or at this
one; old and new alternate ``--pairs`` times per model, so a busy machine's drift hits both
sides alike. Printed: each pair's training and scoring samples per CPU-second, and the median
of the per-pair new / old ratios. Ratios within about 10-15% of 1 are noise on a loaded machine.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LINE = re.compile(r"train\s+(\d+)/cpu-s\s+score\s+(\d+)/cpu-s")


def measure(tree: Path, model: str, overrides: list[str]) -> tuple[int, int]:
    """(train, score) samples per CPU-second of ``model`` with the code of ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(HERE / "bench_id_cpu_time.py"), model, *overrides],
                          capture_output=True, text=True, env=env, cwd=tree, check=False)  # fmt: skip
    found = LINE.search(done.stdout)
    if done.returncode != 0 or found is None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SystemExit(f"{model} with {tree}: the benchmark failed: {tail[0]}")
    return int(found.group(1)), int(found.group(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="the older checkout (a git worktree)")
    parser.add_argument("--models", nargs="*", default=["deepfm", "autoint", "dcnv2", "gru4rec", "caser", "sasrec", "din", "sim"])
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], help="key=value for the model config, both sides")
    args = parser.parse_args()
    if not (args.old / "recbench").is_dir():
        raise SystemExit(f"--old {args.old}: not a recbench checkout (no recbench/ folder there)")
    print(f"old {args.old} vs new {ROOT}; samples per CPU-second, 1 thread, {args.pairs} alternating pairs")
    print(f"{'model':8s} {'pair':>4s} {'old train':>10s} {'new train':>10s} {'old score':>10s} {'new score':>10s}")
    for model in args.models:
        train_ratios, score_ratios = [], []
        for pair in range(1, args.pairs + 1):
            old, new = measure(args.old, model, args.set), measure(ROOT, model, args.set)
            train_ratios.append(new[0] / old[0])
            score_ratios.append(new[1] / old[1])
            print(f"{model:8s} {pair:4d} {old[0]:10,d} {new[0]:10,d} {old[1]:10,d} {new[1]:10,d}", flush=True)
        print(f"{model:8s} new/old: train {statistics.median(train_ratios):.2f}x, scoring {statistics.median(score_ratios):.2f}x "
              f"(per pair: {', '.join(f'{r:.2f}' for r in train_ratios)})", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
