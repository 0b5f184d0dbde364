#!/usr/bin/env python3
"""The gatekeeper's cold start against the bare Rust floor's, as issue 19 bounds it (median init at
most 1.2x the floor's): several run sets of both, alternating, so that both see the same machine.

    python3 benches/init_ratio.py [--sets 5] [--runs 10] [--floor PATH] [--gatekeeper PATH]

A run set is one `measure.py` run of the floor (`../shared/perf/rust_floor`, built as its README
says) and one `benches/lambda_perf.py` run of on-scan (`cargo build --release -p on-scan`), each
`--runs` cold starts of 250 findings. Prints each set's medians and ratio, then the medians of all
runs pooled: one set's ratio moves by 0.2 on a shared 2-vCPU VM, the pooled one much less.
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT.parent / "shared" / "perf" / "measure.py"


def run_set(cmd, binary, out):
    """Runs one measurement of `binary`, returning every run's init in ms."""
    full = cmd + ["--out", str(out), "--", binary]
    done = subprocess.run(full, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"init_ratio: {' '.join(full)} failed:\n{done.stdout}{done.stderr}")
    runs = json.loads(out.read_text())["runs"]
    return [r["init_ms"] for r in runs if r.get("init_ms") is not None]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", type=int, default=5)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--floor", default="/tmp/perf-target/release/bootstrap")
    p.add_argument("--gatekeeper", default=str(ROOT / "target/release/on-scan"))
    a = p.parse_args()
    for binary in (a.floor, a.gatekeeper):
        if not Path(binary).is_file():
            sys.exit(f"init_ratio: {binary} is not built (see this script's docstring)")
    out = ROOT / "target" / "perf"
    out.mkdir(parents=True, exist_ok=True)
    common = ["--findings", "250", "--runs", str(a.runs)]
    floor_cmd = [sys.executable, str(HARNESS), "--label", "rust-floor", *common]
    gk_cmd = [sys.executable, str(ROOT / "benches/lambda_perf.py"), "--", "--label",
              "gatekeeper-on-scan", *common, "--env", "GATEKEEPER_PUTIMAGE_TPS=100"]
    floor_all, gk_all = [], []
    print(f"{'set':>3} {'floor init ms':>14} {'gatekeeper init ms':>19} {'ratio':>6}")
    for i in range(1, a.sets + 1):
        floor = run_set(floor_cmd, a.floor, out / f"init-floor-{i}.json")
        gk = run_set(gk_cmd, a.gatekeeper, out / f"init-gatekeeper-{i}.json")
        floor_all += floor
        gk_all += gk
        f, g = statistics.median(floor), statistics.median(gk)
        print(f"{i:>3} {f:>14.2f} {g:>19.2f} {g / f:>6.2f}")
    f, g = statistics.median(floor_all), statistics.median(gk_all)
    print(f"all {f:>14.2f} {g:>19.2f} {g / f:>6.2f}   ({len(floor_all)} and {len(gk_all)} cold starts)")


if __name__ == "__main__":
    main()
