"""Time `mdperf regressions` on histories of several shapes (the target: work linear in the history's length).

    python benchmarks/scripts/regressions_perf.py [--shapes 1000x1000,200x5000]

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


def one_shape(n_series: int, n_commits: int) -> dict:
    """Write a history of ``n_series`` x ``n_commits`` and time reading it and the whole analysis, best of 3."""
    n_bench, n_param = max(1, n_series // 10), 10
    rng = np.random.default_rng(0)
    values = np.empty((n_commits, n_bench, n_param))
    for b in range(n_bench):
        for p in range(n_param):
            v = 5.0 * noise(n_commits, 0.02, "gaussian-outliers", rng)
            if (b * n_param + p) % 10 == 0:
                v[int(rng.integers(50, n_commits - 50)):] *= 1.1
            values[:, b, p] = v
    commits = [hashlib.sha1(str(i).encode()).hexdigest() for i in range(n_commits)]  # distinct 8-char prefixes
    with tempfile.TemporaryDirectory() as tmp:
        benches = {f"suite.track_metric_{b:03d}": dict(params=[[str(p) for p in range(n_param)]],
                                                      param_names=["case"], unit="ms",
                                                      values=[list(map(float, values[i, b])) for i in range(n_commits)])
                   for b in range(n_bench)}
        t0 = time.perf_counter()
        write_asv_results(tmp, "machine", commits, benches)
        write_s = time.perf_counter() - t0
        reads, totals, cpus, n_flags, n_series_read = [], [], [], 0, 0
        for _ in range(3):
            c0 = _cpu_s()
            t0 = time.perf_counter()
            h = history.read(tmp)
            t1 = time.perf_counter()
            report = analyse(h)
            t2 = time.perf_counter()
            reads.append(t1 - t0)
            totals.append(t2 - t0)
            cpus.append(_cpu_s() - c0)
            n_flags, n_series_read = len(report.flags), len(h.series)
    return {"series": n_series_read, "commits": n_commits, "write_s": write_s, "read_s": min(reads),
            "total_s": min(totals), "cpu_s": min(cpus), "flags": n_flags}


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the analysis's worker processes)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="1000x1000",
                    help="series x commits, comma-separated (e.g. 1000x1000,200x5000: the same million points)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "results" / "performance-regressions.md"))
    args = ap.parse_args()
    import os

    load0 = os.getloadavg()[0]
    rows = [one_shape(*map(int, shape.split("x"))) for shape in args.shapes.split(",")]
    lines = [
        "# `mdperf regressions` performance",
        "",
        f"Produced by `python benchmarks/scripts/regressions_perf.py --shapes {args.shapes}` on "
        f"{datetime.date.today().isoformat()} ({os.cpu_count()} cores, load {load0:.2f} at the start). One asv "
        "result file per commit, a step in a tenth of the series; best of 3 of reading the results and of the "
        "whole report (read + analyse), wall and CPU (the analysis's worker processes included).",
        "",
        "| series x commits | points | read results | read + analyse, wall | CPU | µs CPU per point | flags |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        points = r["series"] * r["commits"]
        lines.append(f"| {r['series']} x {r['commits']} | {points:,} | {r['read_s']:.2f} s | {r['total_s']:.2f} s | "
                     f"{r['cpu_s']:.1f} s | {1e6 * r['cpu_s'] / points:.1f} | {r['flags']} |")
    lines.append("")
    atomic_write_text(Path(args.out), "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
