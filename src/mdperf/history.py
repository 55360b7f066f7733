"""Reading asv results into series: one per (benchmark, parameter combination, machine, environment).

The files are read by :mod:`mdperf.asvresults`.  Commit order comes from git when the measured repository is
given, else from the commit dates stored in the results.  Anything unreadable is reported as a problem (which file, why) and skipped.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import asvresults, git

HIGHER_IS_BETTER_PATTERNS = ("*steps_per_s*", "*per_day*", "*throughput*")


@dataclass
class Problem:
    path: str
    reason: str


@dataclass
class Series:
    benchmark: str
    params: dict[str, str]
    machine: str
    env: str
    unit: str
    higher_is_better: bool
    commits: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    failed: int = 0  # points asv recorded as failed (null)
    skipped: int = 0  # points asv recorded as n/a (NaN): the case could not run there

    @property
    def key(self) -> str:
        p = ", ".join(f"{k}={v.strip(chr(39))}" for k, v in self.params.items())
        return f"{self.benchmark}({p}) @ {self.machine} / {self.env}"


@dataclass
class History:
    series: list[Series]
    problems: list[Problem]
    order: list[str]  # every known commit, oldest first (git order when available)
    machines: dict[str, dict[str, Any]]
    ordered_by: str  # "git" or "date"
    dates: dict[str, float] = field(default_factory=dict)  # commit -> its date (ms since the epoch), from asv

    @property
    def measured(self) -> set[str]:
        """The commits with at least one value."""
        return {c for s in self.series for c in s.commits}

    def position(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.order)}


def higher_is_better(benchmark: str, unit: str, patterns: tuple[str, ...] = HIGHER_IS_BETTER_PATTERNS) -> bool:
    """Lower is better for time, memory and drift; higher for throughput (a unit per second or per day, or a
    name matching ``patterns``)."""
    u = (unit or "").strip().lower()
    if u.endswith("/s") or u.endswith("/day") or u in ("steps/s", "ns/day"):
        return True
    return any(fnmatch.fnmatch(benchmark, p) for p in patterns)


def _combos(params: list[list[str]]) -> list[tuple[str, ...]]:
    return list(itertools.product(*params)) if params else [()]


def _is_value(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def read(results_dir: str | Path, repo: str | Path | None = None,
         higher_patterns: tuple[str, ...] = HIGHER_IS_BETTER_PATTERNS) -> History:
    """All series under ``results_dir``; raises FileNotFoundError when it is not a results directory."""
    root = Path(results_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    problems: list[Problem] = []
    units: dict[str, str] = {}
    param_names: dict[str, list[str]] = {}
    try:
        benchmarks = asvresults.load_benchmarks(root)
    except asvresults.ResultsError as exc:
        benchmarks = {}
        problems.append(Problem(str(root / asvresults.BENCHMARKS_JSON), str(exc)))
    for name, b in (benchmarks or {}).items():
        units[name] = b.get("unit", "") or ("seconds" if b.get("type") == "time" else "")
        param_names[name] = list(b.get("param_names") or [])
    machines: dict[str, dict[str, Any]] = {}
    series: dict[tuple, Series] = {}
    dates: dict[str, float] = {}
    param_sets: dict[tuple[str, str], dict[tuple, str]] = {}
    machine_dirs = asvresults.machine_dirs(root)
    if not machine_dirs and benchmarks is None:
        raise FileNotFoundError(f"{root} holds no asv results (no benchmarks.json, no machine folders)")
    for mdir in machine_dirs:
        try:
            info = asvresults.load_machine(mdir)
        except asvresults.ResultsError as exc:
            problems.append(Problem(str(mdir / asvresults.MACHINE_JSON), str(exc)))
        else:
            if info is not None:
                machines[mdir.name] = info
        for f in asvresults.result_paths(mdir):
            try:
                rf = asvresults.load(f)
            except asvresults.ResultsError as exc:
                problems.append(Problem(str(f), f"unreadable result file: {exc}"))
                continue
            commit, env = rf.commit, rf.env
            if rf.date is not None:
                dates[commit] = rf.date
            for name, row in rf.rows.items():
                result, params = row.result, row.params
                combos = _combos(params)
                values = result if isinstance(result, list) else [result]
                if len(values) != len(combos):
                    problems.append(Problem(str(f), f"{name}: {len(values)} values for {len(combos)} parameter "
                                                    "combinations; skipped"))
                    continue
                prev = param_sets.setdefault((mdir.name, name), {})
                sig = tuple(tuple(p) for p in params)
                prev.setdefault(sig, commit)
                for combo, v in zip(combos, values):
                    key = (name, combo, mdir.name, env)
                    s = series.get(key)
                    if s is None:
                        names = param_names.get(name, [])
                        if len(names) != len(combo):
                            names = [f"param{i + 1}" for i in range(len(combo))]
                        unit = units.get(name, "")
                        s = series[key] = Series(name, dict(zip(names, combo)), mdir.name, env, unit,
                                                 higher_is_better(name, unit, higher_patterns))
                    if _is_value(v):
                        s.commits.append(commit)
                        s.values.append(float(v))
                    elif v is None:
                        s.failed += 1
                    else:
                        s.skipped += 1
    for (mname, bname), sigs in param_sets.items():
        if len(sigs) > 1:
            problems.append(Problem(f"{root / mname}", f"{bname}: parameters changed between commits "
                                    f"({len(sigs)} different sets, first seen at "
                                    f"{', '.join(c[:8] for c in sigs.values())}); each set is its own series"))
    order, ordered_by = _order(set(dates) | {c for s in series.values() for c in s.commits}, dates, repo)
    pos = {c: i for i, c in enumerate(order)}
    kept = []
    for s in series.values():
        if not s.values:
            if s.failed:  # only-skipped series (a GPU metric on a CPU runner) are expected, not a problem
                problems.append(Problem(s.key, f"all {s.failed} values failed; no series"))
            continue
        idx = sorted(range(len(s.commits)), key=lambda i: pos.get(s.commits[i], -1))
        s.commits = [s.commits[i] for i in idx]
        s.values = [s.values[i] for i in idx]
        kept.append(s)
    return History(kept, problems, order, machines, ordered_by, dates)


def _order(commits: set[str], dates: dict[str, float], repo: str | Path | None) -> tuple[list[str], str]:
    if repo is not None:
        order = git.topo_order(repo)
        if order:
            known = set(order)
            # Commits git does not know (another clone's) go by date, after the known ones.
            extra = sorted((c for c in commits if c not in known), key=lambda c: (dates.get(c, 0.0), c))
            return order + extra, "git"
    return sorted(commits, key=lambda c: (dates.get(c, 0.0), c)), "date"
