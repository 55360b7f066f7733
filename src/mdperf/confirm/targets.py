"""What ``mdperf confirm`` re-measures: the cases (a commit against its base) behind the report's flags and the
suspicions, chosen and ordered within what a night can afford, and how long that will take."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import git
from ..regressions.model import Flag
from ..regressions.suspicions import TRIGGER_BENCHMARKS
from .verdict import shift_verdict

MAX_CASES = 4  # cases re-measured per run of --new: what a night can afford (2 x rounds runs each)


@dataclass
class Target:
    """One case to re-measure: a commit against its base, with the flags (benchmarks) it carries."""

    commit: str
    base: str
    machine: str
    params: dict[str, str]
    flags: list[Flag] = field(default_factory=list)
    run_wide: bool = False  # a representative case of an undecided run-wide shift at the commit

    @property
    def case(self) -> tuple[str, int, str]:
        p = {k: v.strip("'\"") for k, v in self.params.items()}
        return p["calculator"], int(p["atoms"]), p.get("device", "cpu")


def metric_of(benchmark: str) -> str | None:
    """The measurement's metric behind an mdperf suite benchmark (``md.Latency.track_latency_p50_ms``), or None
    when it is not one that a single measurement gives."""
    from ..suite import benchmarks as suite

    parts = benchmark.split(".")
    if len(parts) < 3:
        return None
    cls, attr = getattr(suite, parts[-2], None), parts[-1]
    if cls is suite.Step and attr == "time_md_step":
        return "latency_median_ms"  # asv's own timer on one step: the same quantity
    return getattr(getattr(cls, attr, None), "metric", None)


def targets(flags: list[Flag], repo: Path, machine: str, commits: list[str] | None = None,
            new: bool = False, max_cases: int | None = None) -> tuple[list[Target], list[str]]:
    """The cases to re-measure and why others are left out.  ``commits``: every regression or improvement
    flagged at them; ``new``: every new regression (confirmed, or suspected and among the newest), the newest
    commits' suspicions included."""
    chosen: dict[tuple, Target] = {}
    skipped: list[str] = []
    flags = _representatives(flags, machine, skipped)
    for f in flags:
        if f.machine != machine or f.kind == "transient":
            continue
        if commits is not None:
            if not any(f.commit.startswith(c) for c in commits):
                continue
        elif not (new and f.new and f.kind == "regression" and f.state in ("confirmed", "suspected")):
            continue
        if metric_of(f.benchmark) is None or not {"calculator", "atoms"} <= set(f.params):
            skipped.append(f"{f.benchmark} at {f.commit[:8]}: not a measurement mdperf confirm can repeat")
            continue
        first = f.range_start or f.commit
        if not git.has_parent(repo, first):
            skipped.append(f"{f.benchmark} at {f.commit[:8]}: the first commit has no parent to compare with")
            continue
        base = git.git(repo, "rev-parse", f"{first}^")
        k = (f.commit, json.dumps(f.params, sort_keys=True))
        t = chosen.setdefault(k, Target(f.commit, base, machine, dict(f.params)))
        t.run_wide = t.run_wide or f.run_wide == "undecided"
        if all(g.benchmark != f.benchmark for g in t.flags):  # a suspicion the report already flags: once
            t.flags.append(f)
    # The report's flags first (confirmed before suspected), then the newest commits' suspicions, largest first.
    order = sorted(chosen.values(), key=lambda t: (min(0 if g.state == "confirmed" else 1 if g.note == "" else 2
                                                        for g in t.flags), -max(abs(g.change_pct) for g in t.flags)))
    if max_cases is not None and len(order) > max_cases:
        skipped += [f"{t.case[0]} at {t.case[1]} atoms on {t.case[2]}, {t.commit[:8]}: over --max-cases {max_cases}"
                    for t in order[max_cases:]]
        order = order[:max_cases]
    return order, skipped


RUN_WIDE_CASES = 2  # representative cases re-measured for an undecided run-wide shift


def _representatives(flags: list[Flag], machine: str, skipped: list[str]) -> list[Flag]:
    """The flags with those of each undecided run-wide shift cut to its representative cases: the step time of up
    to RUN_WIDE_CASES cases that a measurement can repeat, the largest changes first.  One verdict on them decides
    the whole shift (the code's or the machine's)."""
    out: list[Flag] = []
    by_commit: dict[str, list[Flag]] = {}
    for f in flags:
        if f.run_wide == "undecided" and f.machine == machine:
            by_commit.setdefault(f.commit, []).append(f)
        else:
            out.append(f)
    for commit, group in by_commit.items():
        able = [f for f in group if metric_of(f.benchmark) is not None and {"calculator", "atoms"} <= set(f.params)]
        able.sort(key=lambda f: (not f.benchmark.endswith(TRIGGER_BENCHMARKS), -abs(f.change_pct)))
        cases: list[str] = []
        for f in able:
            case = json.dumps(f.params, sort_keys=True)
            if case in cases or len(cases) >= RUN_WIDE_CASES:
                continue
            cases.append(case)
            out.append(f)
        if not cases:
            skipped.append(f"run-wide change at {commit[:8]}: none of its {len(group)} series is a measurement "
                           "mdperf confirm can repeat")
        elif len(group) > len(cases):
            skipped.append(f"run-wide change at {commit[:8]}: {len(group)} series, decided by {len(cases)} "
                           "representative case(s)")
    return out


def run_wide_verdicts(targets_: list[Target], found: list[dict]) -> list[dict]:
    """The verdict on each undecided run-wide shift from its representatives' (:func:`shift_verdict`)."""
    from ..regressions.model import RUN_WIDE

    out = []
    for commit in dict.fromkeys(t.commit for t in targets_ if t.run_wide):
        mine = [v for v in found if v["commit"] == commit and v["benchmark"] != RUN_WIDE
                and any(t.run_wide and t.commit == commit and t.params == v["params"] for t in targets_)]
        if not mine:
            continue
        verdict = shift_verdict([v["verdict"] for v in mine])
        first = mine[0]
        out.append({"benchmark": RUN_WIDE, "params": {}, "commit": commit, "base": first["base"], "verdict": verdict,
                    "ratio": first["ratio"], "ci": first["ci"], "p_value": first["p_value"], "rounds": first["rounds"],
                    "kind": first["kind"], "at": time.time(), "from": [v["benchmark"] + " " +
                                                                       json.dumps(v["params"], sort_keys=True)
                                                                       for v in mine],
                    "decided": {"confirmed": "code", "rejected": "machine"}.get(verdict, "undecided")})
    return out


START_S = 5.0  # a measuring child's own start: Python, torch, the system built (a 2-core machine, measured)
BUILD_S = 25.0  # one commit's wheel built and installed into its folder


def _case_figure(hist, machine: str, params: dict[str, str], benchmark: str, commit: str) -> float | None:
    """The newest value of the case's series at or before ``commit``, or None."""
    for s in hist.series:
        if s.machine == machine and s.benchmark.endswith(benchmark) and s.params == params and s.values:
            at = s.commits.index(commit) + 1 if commit in s.commits else len(s.commits)
            values = [v for v in s.values[:at] if v is not None and v == v]
            if values:
                return float(values[-1])
    return None


def estimate_s(targets_: list[Target], hist, profile: dict, rounds: int, max_rounds: int) -> tuple[float, float] | None:
    """(seconds at ``rounds`` a side, seconds if every case needs ``max_rounds``), from the cases' step and
    cold-start times in the history; None where a case has no step time to go by."""
    per_round = 0.0
    for t in targets_:
        step_ms = _case_figure(hist, t.machine, t.params, ".track_latency_p50_ms", t.commit)
        if step_ms is None:
            return None
        cold_ms = _case_figure(hist, t.machine, t.params, ".track_cold_start_ms", t.commit) or 0.0
        one = START_S + cold_ms / 1e3 + (profile["steps"] + profile["warmup"]) * step_ms / 1e3
        per_round += 2 * one  # base and commit
    builds = BUILD_S * len({c for t in targets_ for c in (t.base, t.commit)})
    return builds + rounds * per_round, builds + max_rounds * per_round
