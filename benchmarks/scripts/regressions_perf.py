"""Time `mdperf regressions` on 1,000 series x 1,000 commits (target: 10 s on a 2-core machine).

    python benchmarks/scripts/regressions_perf.py [--series 1000] [--commits 1000]

Writes an asv results folder (100 benchmarks x 10 parameter values, one result file per commit, a step in
a tenth of the series), then times reading it and the whole analysis, in-process, best of 3; figures to
docs/results/performance-regressions.md.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the evaluation lab, benchmarks/eval (not installed with mdperf)

from benchmarks.eval.asv_files import write_asv_results  # noqa: E402
from benchmarks.eval.datasets import noise  # noqa: E402

from mdperf import history  # noqa: E402
from mdperf.regressions import analyse  # noqa: E402
from mdperf.result import atomic_write_text  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--commits", type=int, default=1000)
    ap.add_argument("--out", default=str(ROOT / "docs" / "results" / "performance-regressions.md"))
    args = ap.parse_args()
    n_bench, n_param = max(1, args.series // 10), 10
    rng = np.random.default_rng(0)
    values = np.empty((args.commits, n_bench, n_param))
    for b in range(n_bench):
        for p in range(n_param):
            v = 5.0 * noise(args.commits, 0.02, "gaussian-outliers", rng)
            if (b * n_param + p) % 10 == 0:
                v[int(rng.integers(50, args.commits - 50)):] *= 1.1
            values[:, b, p] = v
    commits = [hashlib.sha1(str(i).encode()).hexdigest() for i in range(args.commits)]  # distinct 8-char prefixes
    with tempfile.TemporaryDirectory() as tmp:
        benches = {f"suite.track_metric_{b:03d}": dict(params=[[str(p) for p in range(n_param)]],
                                                      param_names=["case"], unit="ms",
                                                      values=[list(map(float, values[i, b])) for i in range(args.commits)])
                   for b in range(n_bench)}
        t0 = time.perf_counter()
        write_asv_results(tmp, "machine", commits, benches)
        write_s = time.perf_counter() - t0
        reads, totals, n_flags = [], [], 0
        for _ in range(3):
            t0 = time.perf_counter()
            h = history.read(tmp)
            t1 = time.perf_counter()
            report = analyse(h)
            t2 = time.perf_counter()
            reads.append(t1 - t0)
            totals.append(t2 - t0)
            n_flags = len(report.flags)
    lines = [
        "# `mdperf regressions` performance",
        "",
        f"Produced by `python benchmarks/scripts/regressions_perf.py --series {args.series} --commits {args.commits}` "
        f"on {datetime.date.today().isoformat()} (2 cores). {len(h.series)} series x {args.commits} commits "
        f"({args.commits} asv result files, written in {write_s:.1f} s); best of 3.",
        "",
        "| read results | read + analyse (whole report) | flags | target |",
        "| --- | --- | --- | --- |",
        f"| {min(reads):.2f} s | {min(totals):.2f} s | {n_flags} | <= 10 s |",
        "",
    ]
    atomic_write_text(Path(args.out), "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
