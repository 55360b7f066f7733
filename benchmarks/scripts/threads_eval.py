"""Declared CPU threads against torch's default: torch-lj beside ASE's LennardJones at 2,048 Ar atoms, quiet and with
one other busy process; writes docs/results/threads.md and .json.

    python benchmarks/scripts/threads_eval.py [--rounds 4] [--steps 60] [--atoms 2048] [--out docs/results]

Each round measures ase-lj and torch-lj in turns, each in a fresh process (``mdperf.isolate``, as ``mdperf compare``
does) with the thread count declared (``--threads``): 1 (mdperf's default) and the machine's core count (torch's
own default).  Per round the speed-up is ase-lj's median step over torch-lj's; torch-lj's spread is its middle
90 % of step times.  "One hog" is one busy process for the whole condition (guard_eval's).
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

from guard_eval import hogs  # noqa: E402

from mdperf.isolate import measure_isolated  # noqa: E402
from mdperf.measurement import describe_case  # noqa: E402
from mdperf.result import atomic_write_text  # noqa: E402


def one(calc: str, atoms: int, steps: int, threads: int) -> dict:
    case = describe_case(calc, "ar", atoms, steps, warmup=5, threads=threads)
    r = measure_isolated(case)
    lat = sorted(r.samples.get("latency_ms", []))
    if r.status != "ok" or not lat:
        raise SystemExit(f"{calc} at {threads} threads: {r.status}: {r.reason}")
    q = statistics.quantiles(lat, n=20, method="inclusive")
    return {"median_ms": statistics.median(lat), "p5_ms": q[0], "p95_ms": q[18],
            "torch_intraop": (r.environment.get("threads") or {}).get("torch_intraop")}


def condition(n_hogs: int, counts: list[int], rounds: int, atoms: int, steps: int) -> dict:
    out: dict = {}
    with hogs(n_hogs):
        for k in range(rounds):
            for threads in counts:
                ase, tor = one("ase-lj", atoms, steps, threads), one("torch-lj", atoms, steps, threads)
                row = out.setdefault(str(threads), {"speedups": [], "torch": [], "ase": []})
                row["speedups"].append(ase["median_ms"] / tor["median_ms"])
                row["torch"].append(tor)
                row["ase"].append(ase)
                print(f"  round {k + 1}/{rounds}, {threads} thread(s): ase-lj {ase['median_ms']:.1f} ms, torch-lj "
                      f"{tor['median_ms']:.2f} ms ({tor['p5_ms']:.2f}-{tor['p95_ms']:.2f}), "
                      f"speed-up {row['speedups'][-1]:.2f}x", flush=True)
    return out


def table(name: str, data: dict) -> list[str]:
    lines = [f"### {name}", "", "| threads | speed-up (median, range) | torch-lj median ms (range of rounds) | "
             "torch-lj middle 90 % of steps, ms | ase-lj median ms |", "|---|---|---|---|---|"]
    for threads, row in data.items():
        s, t, a = row["speedups"], [x["median_ms"] for x in row["torch"]], [x["median_ms"] for x in row["ase"]]
        lines.append(f"| {threads} | {statistics.median(s):.2f}x ({min(s):.2f}-{max(s):.2f}) | "
                     f"{statistics.median(t):.2f} ({min(t):.2f}-{max(t):.2f}) | "
                     f"{min(x['p5_ms'] for x in row['torch']):.2f}-{max(x['p95_ms'] for x in row['torch']):.2f} | "
                     f"{statistics.median(a):.1f} |")
    return lines + [""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--atoms", type=int, default=2048)
    ap.add_argument("--out", default=str(ROOT / "docs" / "results"))
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    counts = sorted({1, cores})
    load0 = os.getloadavg()[0]
    t0 = time.time()
    results = {}
    for name, n in (("quiet", 0), ("one hog", 1)):
        print(f"{name}:", flush=True)
        results[name] = condition(n, counts, args.rounds, args.atoms, args.steps)
    quiet1 = statistics.median(results["quiet"]["1"]["speedups"])
    busy1 = statistics.median(results["one hog"]["1"]["speedups"])
    lines = ["# CPU threads: declared against torch's default", "",
             f"`python benchmarks/scripts/threads_eval.py --rounds {args.rounds} --steps {args.steps} --atoms "
             f"{args.atoms}`, {cores} cores, load {load0:.2f} at the start, {time.time() - t0:.0f} s. torch-lj and "
             "ASE's LennardJones (the same cutoff) on the `ar` system, each in a fresh process with the thread count "
             f"declared (`--threads`); {cores} is torch's own default here.", ""]
    for name in results:
        lines += table(name, results[name])
    lines += [f"With 1 thread the speed-up with one other busy process is {busy1:.2f}x against {quiet1:.2f}x quiet "
              f"({100 * (busy1 / quiet1 - 1):+.0f} %). Target: within 20 %.", ""]
    out = Path(args.out)
    atomic_write_text(out / "threads.md", "\n".join(lines))
    atomic_write_text(out / "threads.json", json.dumps({"cores": cores, "load_at_start": load0, "args": vars(args),
                                                        "results": results}, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
