"""Adopting mdperf in a calculator repository, timed: `mdperf init`, the first `mdperf track --last 3` (the
benchmark environment created from pip's cache), then the rest of the history, with each commit's overhead
(build, install, asv start, process start: its wall time outside the benchmarks).

    python benchmarks/scripts/adoption_perf.py [--commits 15] [--class-atoms 864] [--out docs/results/adoption.md]

Two repositories.  benchmarks/eval/calc_repo.py's numpy Lennard-Jones package (`mycalc:make`), 108 argon atoms,
100 timed steps.  And a repository as it comes (benchmarks/eval/class_repo.py: setup.py-only metadata with a
dependency of its own, the calculator a class with a `cutoff` option, five commits before mdperf): `mdperf init
--calc ljtorch.calc:LJ --calc-option cutoff=7.0` and one `mdperf track --last 6`, from nothing to a published
site, at `--class-atoms` (a step of tens of ms here).  Writes the Markdown tables and a .json beside them.
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


def timed(repo: Path, *args: str) -> float:
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "mdperf.cli", *args], cwd=repo, capture_output=True, text=True)
    if p.returncode not in (0, 1):
        raise SystemExit(f"mdperf {' '.join(args)} failed ({p.returncode}): {p.stdout[-2000:]}{p.stderr[-2000:]}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", type=int, default=15)
    ap.add_argument("--out", default=str(ROOT / "docs" / "results" / "adoption.md"))
    ap.add_argument("--class-atoms", type=int, default=864)
    ap.add_argument("--class-steps", type=int, default=300)
    args = ap.parse_args()
    adopted = class_repository(args.class_atoms, args.class_steps)
    with tempfile.TemporaryDirectory(prefix="mdperf-adopt-") as tmp:
        repo = Path(tmp) / "mycalc"
        make_calc_repo(repo, args.commits)
        init_s = timed(repo, "init", "--calc", "mycalc:make", "--system", "ar", "--atoms", "108", "--steps", "100")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "Track performance with mdperf")
        first_s = timed(repo, "track", "--last", "3", "--machine", "adopt")
        rest_s = timed(repo, "track", "--last", str(args.commits + 1), "--machine", "adopt")
        ledger = json.loads((repo / ".asv" / "mdperf" / "track-adopt.json").read_text())["commits"]
    ok = [e for e in ledger.values() if e["status"] == "ok"]
    over = sorted(e["overhead_s"] for e in ok)
    wall = sorted(e["wall_s"] for e in ok)
    out = {"date": datetime.date.today().isoformat(), "cores": os.cpu_count(), "commits": len(ledger),
           "init_s": round(init_s, 2), "first_track_last3_s": round(first_s, 1),
           "init_plus_first_track_s": round(init_s + first_s, 1), "rest_track_s": round(rest_s, 1),
           "per_commit_wall_s": {"median": round(statistics.median(wall), 1), "max": round(wall[-1], 1)},
           "per_commit_overhead_s": {"median": round(statistics.median(over), 1), "max": round(over[-1], 1)},
           "failed": sum(e["status"] == "failed" for e in ledger.values()), "class_repository": adopted}
    Path(args.out).with_suffix(".json").write_text(json.dumps(out, indent=1))
    atomic_write_text(Path(args.out), f"""# Adopting mdperf in a calculator repository, timed

Generated {out['date']} by `python benchmarks/scripts/adoption_perf.py --commits {args.commits}` on this
{out['cores']}-core machine: a numpy Lennard-Jones package (`mycalc:make`, benchmarks/eval/calc_repo.py), 108
argon atoms, 100 timed steps, {out['commits']} commits (one whose package cannot be imported).

| | measured | target |
| --- | ---: | ---: |
| `mdperf init` | {out['init_s']} s | |
| first `mdperf track --last 3` (creates the benchmark environment) | {out['first_track_last3_s']} s | |
| `mdperf init` + first `mdperf track --last 3` | {out['init_plus_first_track_s']} s | < 180 s |
| the other commits (`mdperf track --last {args.commits + 1}`) | {out['rest_track_s']} s | |
| per commit, wall (median / max) | {out['per_commit_wall_s']['median']} / {out['per_commit_wall_s']['max']} s | |
| per commit, overhead: build, install, asv start, process start (median / max) | {out['per_commit_overhead_s']['median']} / {out['per_commit_overhead_s']['max']} s | <= 5 s |
| commits failed (the broken import) | {out['failed']} | 1 |

The environment's torch, mdperf (a wheel of this checkout) and the rest come from pip's cache here; on a
machine that downloads them, add the download.

## A repository as it comes: two commands, no edits

`benchmarks/eval/class_repo.py`: setup.py-only metadata with a dependency of its own (toolz), the calculator a
class (`ljtorch.calc:LJ`, `dtype: torch.dtype`, a `cutoff` option, `**kwargs`), five commits from before mdperf.
`mdperf init --calc ljtorch.calc:LJ --calc-option cutoff=7.0 --system ar --atoms {args.class_atoms} --steps
{args.class_steps}`, the files committed with the `git add` line init printed, then `mdperf track --last 6`.

| | measured | target |
| --- | ---: | ---: |
| `mdperf init` (with its one-step probe) | {adopted['init_s']} s | |
| `mdperf track --last 6` (creates the benchmark environment, publishes the site) | {adopted['track_s']} s | |
| in all | {adopted['total_s']} s ({adopted['total_s'] / 60:.1f} min) | <= 600 s |
| commits measured | {adopted['measured']} of 6 | 6 of 6 |
| the case's median step | {adopted['step_ms']} ms | ~50 ms |
| per commit, wall (median / max) | {adopted['per_commit_wall_s']['median']} / {adopted['per_commit_wall_s']['max']} s | |
| site published | {adopted['site']} | yes |
""")
    print(json.dumps(out, indent=1))


def class_repository(atoms: int, steps: int) -> dict:
    """init + one track over the class-only repository; the figures of the second table."""
    import shlex

    from benchmarks.eval.class_repo import make_class_repo

    with tempfile.TemporaryDirectory(prefix="mdperf-adopt-class-") as tmp:
        repo = Path(tmp) / "ljtorch"
        make_class_repo(repo)
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "mdperf.cli", "init", "--calc", "ljtorch.calc:LJ", "--calc-option",
                            "cutoff=7.0", "--system", "ar", "--atoms", str(atoms), "--steps", str(steps)], cwd=repo,
                           capture_output=True, text=True)
        init_s = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit(f"mdperf init failed: {p.stdout[-2000:]}{p.stderr[-2000:]}")
        prefix = "next: commit these files: "
        add = next(line[len(prefix):].split(" && ")[0] for line in p.stdout.splitlines() if line.startswith(prefix))
        subprocess.run(shlex.split(add), cwd=repo, check=True)
        git(repo, "commit", "-q", "-m", "Track performance with mdperf")
        track_s = timed(repo, "track", "--last", "6", "--machine", "adopt")
        ledger = json.loads((repo / ".asv" / "mdperf" / "track-adopt.json").read_text())["commits"]
        wall = sorted(e["wall_s"] for e in ledger.values())
        step = []
        for f in (repo / ".asv" / "results" / "adopt").glob("*.json"):
            data = json.loads(f.read_text())
            row = data.get("results", {}).get("md.Latency.track_latency_p50_ms")
            if row and isinstance(row[0], list) and row[0] and row[0][0] == row[0][0]:
                step.append(row[0][0])
        return {"init_s": round(init_s, 1), "track_s": round(track_s, 1), "total_s": round(init_s + track_s, 1),
                "measured": sum(e["status"] == "ok" for e in ledger.values()),
                "step_ms": round(statistics.median(step), 1) if step else None,
                "per_commit_wall_s": {"median": round(statistics.median(wall), 1), "max": round(wall[-1], 1)},
                "site": "yes" if (repo / ".asv" / "html" / "index.html").exists() else "no"}


if __name__ == "__main__":
    main()
