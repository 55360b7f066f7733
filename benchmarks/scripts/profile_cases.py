"""Time the cases of one asv profile on one device, outside asv, to size a profile to a runner's budget.

    python benchmarks/scripts/profile_cases.py --profile full --device cuda [--calc NAME ...] [--steps N]
        [--warmup N] [--case-budget-s S] [--json FILE]

Each case is measured by the suite's own ``measure_case`` (one ``mdperf.measure`` in a fresh process, as
``measure_all`` does it); the table gives its step latency, GPU memory and the wall time the case took (process
start, model load and warm-up included). ``--steps`` below the profile's own shortens the run; the wall time a
commit would take at the profile's step count is then extrapolated from the measured mean step and stated as
such. Sizes run smallest first; once a case takes more than ``--case-budget-s``, the calculator's larger
sizes are not run (listed with the reason).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="full")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--calc", nargs="*", help="only these calculators of the profile")
    ap.add_argument("--steps", type=int, default=None, help="timed steps per case (default: the profile's)")
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--case-budget-s", type=float, default=120.0)
    ap.add_argument("--json", default=None, help="write the rows as JSON")
    args = ap.parse_args()

    os.environ["MDPERF_PROFILE"] = args.profile  # the suite reads it at import
    os.environ.setdefault("MDPERF_PYPROJECT", str(ROOT / "pyproject.toml"))
    from mdperf.errors import UserError
    from mdperf.measurement import validate_case
    from mdperf.result import atomic_write_text

    try:
        from mdperf.suite import benchmarks as suite

        prof = suite.PROFILE
        steps = prof["steps"] if args.steps is None else args.steps
        warmup = prof["warmup"] if args.warmup is None else args.warmup
        validate_case(args.device, steps, warmup, "nve", 10)
        unknown = sorted(set(args.calc or ()) - set(prof["calculator"]))
        if unknown:
            raise UserError(f"{', '.join(unknown)} not in profile {args.profile}; "
                            f"its calculators: {', '.join(prof['calculator'])}")
    except (UserError, ValueError) as exc:  # an unknown profile, device or calculator, CUDA absent, steps <= 0
        print(f"profile_cases: {exc}", file=sys.stderr)
        sys.exit(2)

    calcs = [c for c in prof["calculator"] if not args.calc or c in args.calc]
    rows = []
    for calc in calcs:
        over_budget = None
        for atoms in sorted(prof["atoms"]):
            row = {"calculator": calc, "atoms_requested": atoms, "device": args.device, "steps": steps}
            reason = suite._skip_reason_too_big(calc, atoms, args.device) or over_budget
            if reason:
                rows.append(row | {"status": "not run", "reason": reason})
                continue
            t0 = time.perf_counter()
            r = suite.measure_case(calc, atoms, args.device, steps=steps, warmup=warmup)
            wall_s = time.perf_counter() - t0
            row |= {"atoms": r.get("atoms"), "status": r["status"], "reason": r["reason"], "wall_s": wall_s}
            if r["status"] == "ok":
                values = r["metrics"]
                row |= {k: values.get(k) for k in ("latency_median_ms", "latency_p99_ms", "latency_mean_ms",
                                                   "cold_start_ms", "gpu_peak_allocated_mib",
                                                   "gpu_nvml_used_mib", "drift_mev_per_atom_ps")}
                # What the case costs a commit at the profile's own step count.
                row["wall_s_at_profile_steps"] = wall_s + (prof["steps"] - steps) * values["latency_mean_ms"] / 1e3
            rows.append(row)
            if wall_s > args.case_budget_s:
                over_budget = f"{calc} took {wall_s:.0f} s at {atoms} atoms (budget {args.case_budget_s:.0f} s)"

    table = Table(title=f"profile {args.profile}, {args.device}, {steps} timed steps per case")
    for col in ("calculator", "atoms", "status", "median ms", "p99 ms", "GPU peak MiB", "cold start ms",
                f"wall s ({steps} steps)", f"wall s ({prof['steps']} steps)"):
        table.add_column(col)

    def f(x, fmt):
        return "—" if x is None else format(x, fmt)

    for row in rows:
        if row["status"] != "ok":
            table.add_row(row["calculator"], str(row.get("atoms") or row["atoms_requested"]),
                          f"{row['status']}: {row['reason']}", *["—"] * 6)
            continue
        table.add_row(row["calculator"], str(row["atoms"]), "ok", f(row["latency_median_ms"], ".2f"),
                      f(row["latency_p99_ms"], ".2f"), f(row["gpu_peak_allocated_mib"], ".0f"),
                      f(row["cold_start_ms"], ".0f"), f(row["wall_s"], ".1f"),
                      f(row["wall_s_at_profile_steps"], ".0f"))
    Console(width=200).print(table)
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
