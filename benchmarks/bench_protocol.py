"""Protocol preprocessing cost: wall time and peak RSS of load + prepare, each measured in a
fresh subprocess so one measurement's memory does not hide another's.

    python benchmarks/bench_protocol.py                # ml-1m-u2999 (if present) and a 25M-rating ML-25M-format file
    python benchmarks/bench_protocol.py --ratings 5000000   # a smaller generated file

Targets on the 2-core reference machine: 25M ratings in under 3 minutes with peak RSS < 8 GB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

_CHILD = """
import json, resource, sys, time
from recbench.datasets import load_dataset
from recbench.protocol import prepare
started = time.perf_counter()
raw = load_dataset(sys.argv[1], sys.argv[2])
loaded = time.perf_counter()
data = prepare(raw)
done = time.perf_counter()
print(json.dumps({"load_s": loaded - started, "prepare_s": done - loaded, "total_s": done - started,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "ratings": int(data.seq_item.shape[0]), "samples": data.n_samples}))
"""


def measure(dataset: str, directory: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, dataset, str(directory)], capture_output=True, text=True, cwd=ROOT, check=False)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(name: str, result: dict) -> None:
    print(
        f"{name:<28} {result['ratings']:>12,} ratings  {result['samples']:>12,} samples  "
        f"load {result['load_s']:6.1f} s  prepare {result['prepare_s']:6.1f} s  "
        f"total {result['total_s']:6.1f} s  peak RSS {result['peak_rss_mib']:8.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ratings", type=int, default=25_000_000, help="size of the generated ML-25M-format file")
    args = parser.parse_args()
    if (SHARED / "ml-1m-u2999").is_dir():
        report("ml-1m-u2999 (real)", measure("ml-1m-u2999", SHARED / "ml-1m-u2999"))
    else:
        print("ml-1m-u2999: not on this machine, skipped")
    from recbench.testing.writers import write_ml25m

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        n_users = max(1000, round(162_541 * args.ratings / 25_000_095))  # ML-25M's ratings per user
        write_ml25m(Path(tmp), n_ratings=args.ratings, n_users=n_users, seed=0)
        print(f"(generated {args.ratings:,} ML-25M-format ratings in {time.perf_counter() - started:.1f} s)")
        report(f"ml-25m format ({args.ratings / 1e6:g}M)", measure("ml-25m", Path(tmp)))


if __name__ == "__main__":
    main()
