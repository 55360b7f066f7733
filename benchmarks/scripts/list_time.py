"""How long `mdperf list` takes, and whether it imported torch; writes docs/results/list.md.

    python benchmarks/scripts/list_time.py [--runs 5]

Each run is a fresh `python -m mdperf list` (its wall time, the interpreter's start included); one more with
``-X importtime`` says which heavy modules it imported.  The target: 1 s.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from mdperf.result import atomic_write_text  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "docs" / "results" / "list.md"))
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    walls = {}
    for flag in ([], ["--cuda"]):
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "mdperf", "list", *flag], capture_output=True, check=True)
            times.append(time.perf_counter() - t0)
        walls[" ".join(["mdperf list", *flag])] = times
    p = subprocess.run([sys.executable, "-X", "importtime", "-m", "mdperf", "list"], capture_output=True, text=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in p.stderr.splitlines() if line.startswith("import time")}
    heavy = [m for m in ("torch", "ase.build", "scipy", "matplotlib", "asv") if m in imported]
    lines = ["# `mdperf list`: its time", "",
             f"`python benchmarks/scripts/list_time.py --runs {args.runs}` on {datetime.date.today().isoformat()}, "
             f"{os.cpu_count()} cores, load {load0:.2f} at the start. Wall time of a fresh process, median and range.",
             "", "| command | median | range |", "|---|---|---|"]
    lines += [f"| `{cmd}` | {statistics.median(t):.2f} s | {min(t):.2f}-{max(t):.2f} s |" for cmd, t in walls.items()]
    said = ", ".join(heavy) or "none of torch, ase.build, scipy, matplotlib, asv"
    lines += ["", f"Heavy modules `mdperf list` imported: {said}. Target: 1 s.", ""]
    atomic_write_text(Path(args.out), "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
