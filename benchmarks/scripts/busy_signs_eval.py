"""What the step times of `mdperf run` / `compare` / `scale` say about a busy machine: P99 over the median and the
middle half's spread, quiet and under hogs, and how often ``mdperf.guard.busy_signs`` warns.

    python benchmarks/scripts/busy_signs_eval.py [--trials 6] [--steps 300] [--out docs/results]

Each trial is one real measurement (``mdperf.measure``, in this process) of torch-lj on 256 Ar atoms and EMT on 108
Cu atoms, under three conditions: quiet (nothing else started), one hog (one busy process) and hogs (one per core,
plus one).  A quiet trial warned about is a false warning; a trial under hogs not warned about is an escape.
Writes ``busy-signs.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from guard_eval import conditions, hogs  # noqa: E402

from mdperf import guard, measure  # noqa: E402
from mdperf.result import atomic_write_text  # noqa: E402

CASES = (("torch-lj", "ar", 256), ("emt", "cu", 108))


def figures(latency_ms: list[float]) -> dict:
    q = statistics.quantiles(sorted(latency_ms), n=100, method="inclusive")
    median = statistics.median(latency_ms)
    return {"tail_ratio": q[98] / median, "iqr_pct": 100 * (q[74] - q[24]) / median,
            "warned": bool(guard.busy_signs(latency_ms))}


def condition(n_hogs: int, trials: int, steps: int) -> list[dict]:
    out = []
    with hogs(n_hogs):
        for _ in range(trials):
            for calc, system, atoms in CASES:
                r = measure(calc, system, atoms, steps, warmup=10)
                out.append({"case": f"{calc} {atoms}", **figures(r.samples["latency_ms"])})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--out", default=str(ROOT / "docs" / "results"))
    args = ap.parse_args()
    t0 = time.time()
    cores = os.cpu_count() or 1
    rows = []
    for name, n in conditions():
        got = condition(n, args.trials, args.steps)
        tails, iqrs = [g["tail_ratio"] for g in got], [g["iqr_pct"] for g in got]
        rows.append({"condition": name, "runs": len(got), "warned": sum(g["warned"] for g in got),
                     "tail_max": max(tails), "tail_median": statistics.median(tails),
                     "iqr_max_pct": max(iqrs), "iqr_median_pct": statistics.median(iqrs)})
        print(rows[-1], flush=True)
    out = Path(args.out)
    atomic_write_text(out / "busy-signs.json", json.dumps({"rows": rows, "args": vars(args), "cores": cores}, indent=1))
    lines = ["# Busy signs in a run's own step times (mdperf run, compare, scale)", "",
             f"`python benchmarks/scripts/busy_signs_eval.py --trials {args.trials} --steps {args.steps}` "
             f"({time.strftime('%Y-%m-%d')}, {time.time() - t0:.0f} s, {cores} cores; torch-lj at 256 Ar atoms and "
             f"EMT at 108 Cu atoms each trial). A warning when P99 is over {guard.TAIL_RATIO}x "
             f"the median or the middle half of the steps spans over {guard.SPREAD_PCT:.0f} % of it.", "",
             "| condition | runs | warned | P99 / median: median, max | IQR / median: median, max |",
             "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['condition']} | {r['runs']} | {r['warned']} | {r['tail_median']:.2f}, {r['tail_max']:.2f} | "
              f"{r['iqr_median_pct']:.1f}, {r['iqr_max_pct']:.1f} % |" for r in rows]
    lines += ["", "Quiet runs warned about are false warnings; runs under hogs not warned about are escapes (the "
              "guard of `mdperf track`, a calibration loop around each case, is the stronger test: "
              "[guard-eval.md](guard-eval.md))."]
    atomic_write_text(out / "busy-signs.md", "\n".join(lines) + "\n")
    print(f"wrote {out / 'busy-signs.md'}")


if __name__ == "__main__":
    main()
