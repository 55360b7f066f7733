"""mdperf profile's target, measured: on a repository where one commit adds a slow function inside the calculator
(benchmarks/eval/calc_repo.py, ``slow_extra``: the pair terms of a fraction of the atoms computed again, in a
function of their own, ``_rows``), how often ``mdperf profile`` names that function first, and what a profile
costs (the time per confirmed regression that the nightly spends on it).

    python benchmarks/scripts/profile_eval.py [--profiles 10] [--extra 0.5] [--rounds 5] [--out docs/results/profile-eval.md]

The slowdown's size is re-measured without a profiler by ``mdperf confirm`` (interleaved, its ratio of medians),
so the table says the size of the change the profiles looked at.  Writes the Markdown table and a .json beside it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.eval.calc_repo import git, make_calc_repo  # noqa: E402

from mdperf.result import atomic_write_text  # noqa: E402

SLOW_FUNCTION = "mycalc/__init__.py:_rows"


def mdperf(repo: Path, *args: str) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-m", "mdperf.cli", *args], cwd=repo, capture_output=True, text=True)
    if p.returncode not in (0, 1):
        raise SystemExit(f"mdperf {' '.join(args)} failed ({p.returncode}): {p.stdout[-2000:]}{p.stderr[-2000:]}")
    return p


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profiles", type=int, default=10)
    ap.add_argument("--extra", type=float, default=0.5, help="the fraction of the atoms whose pair terms run again")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--atoms", type=int, default=256)
    ap.add_argument("--out", default=str(ROOT / "docs" / "results" / "profile-eval.md"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mdperf-profile-eval-") as tmp:
        repo = Path(tmp) / "mycalc"
        info = make_calc_repo(repo, n_commits=3, slow=(2, 100), broken=None, slow_extra=args.extra)
        mdperf(repo, "init", "--calc", "mycalc:make", "--system", "ar", "--atoms", str(args.atoms), "--steps", "200")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "track performance with mdperf")
        machine = "profile-eval"
        mdperf(repo, "track", "--last", "3", "--machine", machine)  # the environment; the base and slow commit
        slow = str(info["slow"])
        conf = json.loads(mdperf(repo, "confirm", slow, "--machine", machine, "--no-profile", "--format",
                                 "json").stdout)
        v = next(v for v in conf["verdicts"] if v["benchmark"] == "md.Latency.track_latency_p50_ms")
        runs = []
        for i in range(args.profiles):
            t0 = time.perf_counter()
            rec = json.loads(mdperf(repo, "profile", slow, "--machine", machine, "--rounds", str(args.rounds),
                                    "--format", "json").stdout)
            wall = time.perf_counter() - t0
            top = rec["rows"][0]
            runs.append({"top": top["name"], "top_self_growth_ms": top["self_growth_ms"], "top_share_pct":
                         top["share_pct"], "second": rec["rows"][1]["name"], "step_growth_pct": rec["step_growth_pct"],
                         "wall_s": wall, "build_s": rec["build_s"], "rounds": rec["rounds"]})
            print(f"profile {i + 1}/{args.profiles}: first {top['name']} ({wall:.0f} s)", file=sys.stderr)
    hits = sum(r["top"] == SLOW_FUNCTION for r in runs)
    out = {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(), "atoms": args.atoms,
           "extra": args.extra, "rounds": args.rounds, "confirm": {k: v[k] for k in ("verdict", "ratio", "ci", "rounds")},
           "named_first": hits, "profiles": len(runs), "runs": runs,
           "wall_s_median": statistics.median(r["wall_s"] for r in runs), "wall_s_max": max(r["wall_s"] for r in runs)}
    lines = [
        "# mdperf profile: the slow function named first", "",
        f"Generated {out['date']} by `python benchmarks/scripts/profile_eval.py --profiles {args.profiles} --extra "
        f"{args.extra} --rounds {args.rounds}` on a {out['cpus']}-CPU machine.", "",
        f"A calculator repository (benchmarks/eval/calc_repo.py, {args.atoms} argon atoms, 200 steps) whose newest "
        f"commit adds `_rows`: the pair terms of {args.extra:.0%} of the atoms computed again. Re-measured without a "
        f"profiler (`mdperf confirm`, {v['rounds']} rounds a side): {v['verdict']}, ×{v['ratio']:.3f} "
        f"[{v['ci'][0]:.3f}, {v['ci'][1]:.3f}]. Then `mdperf profile` {len(runs)} times, {args.rounds} rounds a side "
        "each (the nightly's default after a confirmed regression).", "",
        f"**Named first: {hits} of {len(runs)}** (target ≥ 9 of 10). Cost per profile: median "
        f"{out['wall_s_median']:.0f} s, at most {out['wall_s_max']:.0f} s, builds included (budget: 300 s, "
        "`mdperf.profiling.BUDGET_S`; no round starts past it).", "",
        "| # | first | self +ms/step | share of growth | second | profiled step | wall s |",
        "|---|---|---:|---:|---|---:|---:|"]
    lines += [f"| {i} | `{r['top']}` | {r['top_self_growth_ms']:+.3f} | "
              f"{'' if r['top_share_pct'] is None else format(r['top_share_pct'], '.0f') + '%'} | `{r['second']}` | "
              f"{r['step_growth_pct']:+.1f}% | {r['wall_s']:.0f} |" for i, r in enumerate(runs, 1)]
    atomic_write_text(Path(args.out), "\n".join(lines) + "\n")
    atomic_write_text(Path(args.out).with_suffix(".json"), json.dumps(out, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
