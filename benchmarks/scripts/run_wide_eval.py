"""One commit that moves every series: reported, and decided by re-measurement.

    python benchmarks/scripts/run_wide_eval.py [--histories 100] [--out docs/results]

A single-calculator suite (10 metrics x 4 sizes = 40 series, one run per commit, no machine facts recorded) over
24 commits; at a commit between 6 and 10 every series moves by 10-30 % and a commit 5-8 later moves it back.
Noise per series at a CV of 1, 2 or 3 % (a quarter of the series twice as noisy).  Written as asv result files
and read as ``mdperf regressions`` reads them.

- *Both ends reported*: the report holds a run-wide change (or a flag) within 1 commit of the slowdown and of the
  fix.
- *Decided by re-measurement*: what ``mdperf confirm --new`` does with the run-wide change at the slowdown: its
  representative cases re-measured (``--rounds`` a side, drawn at the same CV, extended while inconclusive as
  confirm extends them) and the verdict rule of ``mdperf.confirm.shift_verdict``.  A code change re-measures
  at the shifted ratio; a machine shift (the same history, the machine slower from that night on) re-measures at
  1.0, since base and commit run on the same, now slower, machine.  The report is read again with the verdict:
  the code's change is confirmed at its commit, the machine's absorbed.

Writes ``run-wide-eval.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from benchmarks.eval.asv_files import write_asv_results  # noqa: E402

from mdperf import confirm, history  # noqa: E402
from mdperf.regressions import analyse, verdicts  # noqa: E402
from mdperf.regressions.model import RUN_WIDE  # noqa: E402
from mdperf.result import atomic_write_text  # noqa: E402

DAY_MS, T0 = 86_400_000, 1_700_000_000_000
N = 24


def make(rdir: Path, rng, cv: float) -> tuple[list[str], int, int, float]:
    at, length, shift = int(rng.integers(6, 11)), int(rng.integers(5, 9)), float(rng.uniform(0.10, 0.30))
    commits = [f"{i:08x}" + "f" * 32 for i in range(N)]
    bench = {}
    for k in range(10):
        noise = cv * (2 if k < 3 else 1)
        vals = [[float((k + 1) * (1 + a) * np.exp(rng.normal(0, noise)) * (1 + shift if at <= i < at + length else 1))
                 for a in range(4)] for i in range(N)]
        bench[f"md.Latency.track_metric{k}_ms"] = dict(params=[["'mycalc'"], ["64", "128", "256", "512"]],
                                                       param_names=["calculator", "atoms"], unit="ms", values=vals)
    write_asv_results(rdir, "m", commits, bench, dates=[T0 + i * DAY_MS for i in range(N)],
                      started_at=[T0 + i * DAY_MS + 3_600_000 for i in range(N)])
    return commits, at, at + length, shift


def remeasure(rng, true_ratio: float, flagged_pct: float, cv: float, rounds: int) -> dict:
    base = list(np.exp(rng.normal(0, cv, rounds)))
    commit = list(true_ratio * np.exp(rng.normal(0, cv, rounds)))
    v = confirm.decide(base, commit, up=flagged_pct > 0, flagged_pct=flagged_pct)
    v["flag_change_pct"] = flagged_pct
    upto = confirm.extend_to([v], rounds)
    if upto is not None:
        base += list(np.exp(rng.normal(0, cv, upto - rounds)))
        commit += list(true_ratio * np.exp(rng.normal(0, cv, upto - rounds)))
        v = confirm.decide(base, commit, up=flagged_pct > 0, flagged_pct=flagged_pct)
    return v


def near(commits: list[str], c: str, i: int) -> bool:
    return c in commits[max(0, i - 1): i + 2]


def one(rng, cv: float, rounds: int, machine_shift: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        rdir = Path(tmp) / "results"
        commits, at, back, shift = make(rdir, rng, cv)
        rep = analyse(history.read(rdir))
        where = [r.commit for r in rep.run_wide] + [f.commit for f in rep.flags if f.run_wide != "undecided"]
        both = any(near(commits, c, at) for c in where) and any(near(commits, c, back) for c in where)
        change = next((r for r in rep.run_wide if near(commits, r.commit, at)), None)
        out = {"both_ends": both, "decided": None, "applied": None}
        if change is None:
            return out
        # Only the step-time series are re-measurable in the real suite; here each case's flags stand for it.
        cases = {json.dumps(f.params, sort_keys=True): f for f in change.flags}
        found = []
        for f in list(cases.values())[: confirm.RUN_WIDE_CASES]:
            v = remeasure(rng, 1.0 if machine_shift else 1 + shift, f.change_pct, cv, rounds)
            found.append(v)
        verdict = confirm.shift_verdict([v["verdict"] for v in found])
        out["decided"] = {"confirmed": "code", "rejected": "machine"}.get(verdict, "undecided")
        verdicts.append(rdir, "m", [{"benchmark": RUN_WIDE, "params": {}, "commit": change.commit,
                                     "verdict": verdict}])
        again = analyse(history.read(rdir), confirmed=verdicts.load(rdir))
        at_commit = [f for f in again.flags if f.commit == change.commit and f.kind == "regression"]
        if out["decided"] == "code":
            out["applied"] = len(at_commit) >= 0.9 * len(change.flags) and all(f.state == "confirmed"
                                                                               for f in at_commit)
        elif out["decided"] == "machine":
            out["applied"] = not at_commit and not any(r.commit == change.commit for r in again.run_wide)
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--histories", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=confirm.ROUNDS)
    ap.add_argument("--out", default=str(ROOT / "docs" / "results"))
    args = ap.parse_args()
    t0 = time.time()
    rng = np.random.default_rng(20261202)
    rows = []
    for cv in (0.01, 0.02, 0.03):
        for machine_shift in (False, True):
            got = [one(rng, cv, args.rounds, machine_shift) for _ in range(args.histories)]
            row = {"cv_pct": 100 * cv, "truth": "machine" if machine_shift else "code", "histories": len(got),
                   "both_ends": sum(g["both_ends"] for g in got),
                   **{k: sum(g["decided"] == k for g in got) for k in ("code", "machine", "undecided")},
                   "not_found": sum(g["decided"] is None for g in got),
                   "applied": sum(bool(g["applied"]) for g in got)}
            rows.append(row)
            print(row, flush=True)
    out = Path(args.out)
    atomic_write_text(out / "run-wide-eval.json", json.dumps({"rows": rows, "args": vars(args)}, indent=1))
    lines = ["# One commit that moves every series", "",
             f"`python benchmarks/scripts/run_wide_eval.py --histories {args.histories} --rounds {args.rounds}` "
             f"({time.strftime('%Y-%m-%d')}, {time.time() - t0:.0f} s; synthetic, the method in the script's "
             "docstring). A single-calculator suite of 40 series, one run per commit, no machine facts; every "
             "series moves 10-30 % at one commit and back 5-8 commits later.", "",
             "| noise | what moved it | both ends reported | re-measured: the code's | the machine's | undecided | "
             "verdict applied by the report |", "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        n = r["histories"]
        lines.append(f"| {r['cv_pct']:.0f} % | {r['truth']} | {100 * r['both_ends'] / n:.1f} % | "
                     f"{100 * r['code'] / n:.1f} % | {100 * r['machine'] / n:.1f} % | {100 * r['undecided'] / n:.1f} % | "
                     f"{100 * r['applied'] / n:.1f} % |")
    atomic_write_text(out / "run-wide-eval.md", "\n".join(lines) + "\n")
    print(f"wrote {out / 'run-wide-eval.md'}")


if __name__ == "__main__":
    main()
