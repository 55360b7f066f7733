"""Reading asv results into series: one per (benchmark, parameter combination, machine, environment).

The files are read by :mod:`mdperf.asvresults`.  Commit order comes from git (first-parent) when the measured
repository is given; else from when the commits were measured (asv's ``started_at``: runs in the order they
ran, commits of one run by date), and only where asv recorded no run times from the commit dates.  Each
machine's result files are grouped into runs (one sitting of asv), the unit of environment events.  Anything
unreadable is reported as a problem (which file, why) and skipped.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import asvresults, git

# Rates: a name that says "per second", "flops" or throughput (asv's track_gflops-style benchmarks name their
# unit only in the benchmark name) is higher-is-better.
HIGHER_IS_BETTER_PATTERNS = ("*steps_per_s*", "*per_s", "*per_s_*", "*per_sec*", "*per_day*", "*throughput*",
                             "*speedup*", "*flops*", "*bandwidth*")
RUN_GAP_H = 3.0  # result files of one machine begun this close together are one run
BACKFILL_BATCH = 3  # a run of this many commits or more is a batch (asv over a range), which may be a backfill


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
    versions: list[str | None] = field(default_factory=list)  # asv's hash of the benchmark's code, per point
    runs: list[int] = field(default_factory=list)  # per point: its run, an index into History.runs[machine]
    failed: int = 0  # points asv recorded as failed (null)
    failed_commits: list[str] = field(default_factory=list)  # ... at these commits
    skipped: int = 0  # points asv recorded as n/a (NaN): the case could not run there

    @property
    def key(self) -> str:
        p = ", ".join(f"{k}={v.strip(chr(39))}" for k, v in self.params.items())
        return f"{self.benchmark}({p}) @ {self.machine} / {self.env}"

    @property
    def label(self) -> str:
        """The key as a person reads it: the environment by its Python and pinned versions (short_env)."""
        p = ", ".join(f"{k}={v.strip(chr(39))}" for k, v in self.params.items())
        return f"{self.benchmark}({p}) @ {self.machine} / {short_env(self.env)}"


def short_env(env: str) -> str:
    """asv's environment name (``virtualenv-py3.11-ase-numpy-...-torch2.13.0-vesin-wheel``, a hundred characters)
    cut to its Python and the requirements it pins, an ellipsis for the rest: ``py3.11 torch2.13.0 …``."""
    parts = env.split("-")
    if len(parts) < 3 or not parts[1].startswith("py"):
        return env
    pinned = [x for x in parts[2:] if any(ch.isdigit() for ch in x)]
    return " ".join([parts[1], *pinned] + (["…"] if len(parts) - 2 > len(pinned) else []))


@dataclass
class Run:
    """One sitting of asv on one machine: result files begun within ``run_gap_h`` of each other."""

    machine: str
    start: float | None  # ms since the epoch; None where asv recorded no run times
    commits: list[str]  # in the order of History.order
    facts: dict[str, str] = field(default_factory=dict)  # what mdperf recorded of the machine (CPU, kernel, GPU...)

    @property
    def batch(self) -> bool:
        return len(self.commits) >= BACKFILL_BATCH


@dataclass
class History:
    series: list[Series]
    problems: list[Problem]
    order: list[str]  # every known commit, oldest first (git order when available)
    machines: dict[str, dict[str, Any]]
    ordered_by: str  # "git", "run time" or "date"
    dates: dict[str, float] = field(default_factory=dict)  # commit -> its date (ms since the epoch), from asv
    runs: dict[str, list[Run]] = field(default_factory=dict)  # machine -> its runs, in the order they ran
    backfilled: set[str] = field(default_factory=set)  # measured in a batch after newer commits: not judged
    failed_series: list[Series] = field(default_factory=list)  # series with no value, only failures

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
    if u.endswith(("/s", "/sec", "/second", "/day", "per second", "per s")) or "flops" in u:
        return True
    name = benchmark.lower()
    return any(fnmatch.fnmatch(name, p.lower()) for p in patterns)


def _combos(params: list[list[str]]) -> list[tuple[str, ...]]:
    return list(itertools.product(*params)) if params else [()]


def _is_value(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_time(benchmark: str, unit: str) -> bool:
    """A duration: asv's time_ benchmarks (seconds) and tracks in ms or s (a step never takes 0 s)."""
    return ".time_" in benchmark or unit in ("seconds", "s", "ms")


@dataclass
class _File:
    machine: str
    commit: str
    env: str
    run_at: float | None
    facts: dict[str, str]


def read(results_dir: str | Path, repo: str | Path | None = None,
         higher_patterns: tuple[str, ...] = HIGHER_IS_BETTER_PATTERNS, run_gap_h: float = RUN_GAP_H) -> History:
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
    points: dict[tuple, list[tuple[str, float | None, str | None, str]]] = {}  # key -> (commit, value, version, env)
    invalid: dict[tuple, list[str]] = {}  # key -> values that are no measurement (strings, infinities, times <= 0)
    dates: dict[str, float] = {}
    files: list[_File] = []
    param_sets: dict[tuple[str, str], dict[tuple, str]] = {}
    try:
        machine_dirs = asvresults.machine_dirs(root)
    except OSError as exc:
        raise FileNotFoundError(f"{root}: {exc.strerror or exc}") from None
    if not machine_dirs and benchmarks is None:
        raise FileNotFoundError(f"{root} holds no asv results (no benchmarks.json, no machine folders)")
    for mdir in machine_dirs:
        if not os.access(mdir, os.R_OK | os.X_OK):
            problems.append(Problem(str(mdir), "cannot read this machine's folder (permissions)"))
            continue
        try:
            info = asvresults.load_machine(mdir)
        except asvresults.ResultsError as exc:
            problems.append(Problem(str(mdir / asvresults.MACHINE_JSON), str(exc)))
        else:
            if info is not None:
                machines[mdir.name] = info
        facts, bad = asvresults.load_runs(mdir)
        problems.extend(Problem(str(mdir / asvresults.RUNS_JSONL), reason) for reason in bad)
        for f in asvresults.result_paths(mdir):
            try:
                rf = asvresults.load(f)
            except asvresults.ResultsError as exc:
                problems.append(Problem(str(f), f"unreadable result file: {exc}"))
                continue
            commit, env = rf.commit, rf.env
            if rf.date is not None:
                dates[commit] = rf.date
            files.append(_File(mdir.name, commit, env, rf.run_at, facts.get((commit, env), {})))
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
                        points[key] = []
                    if _is_value(v) and not (v <= 0 and _is_time(name, s.unit)):
                        points[key].append((commit, float(v), row.version, env))
                    elif v is None:
                        s.failed += 1
                        s.failed_commits.append(commit)
                    elif isinstance(v, float) and math.isnan(v):  # asv's n/a: the case could not run there
                        s.skipped += 1
                    else:  # a string, a boolean, an infinity, a time <= 0: untrusted data, never a measurement
                        invalid.setdefault(key, []).append(f"{repr(v)[:20]} at {commit[:8]}")
    for (mname, bname), sigs in param_sets.items():
        if len(sigs) > 1:
            problems.append(Problem(f"{root / mname}", f"{bname}: parameters changed between commits "
                                    f"({len(sigs)} different sets, first seen at "
                                    f"{', '.join(c[:8] for c in sigs.values())}); each set is its own series"))
    sittings = _sittings(files, run_gap_h * 3_600_000, dates)
    order, ordered_by, backfilled = _order(set(dates) | {f.commit for f in files}, dates, sittings, repo)
    pos = {c: i for i, c in enumerate(order)}
    for mname, groups in sittings.items():  # untimed runs (a run per commit) in the final commit order
        timed_groups = [g for g in groups if g[0].run_at is not None]
        untimed_groups = sorted((g for g in groups if g[0].run_at is None), key=lambda g: pos[g[0].commit])
        sittings[mname] = timed_groups + untimed_groups
    runs: dict[str, list[Run]] = {}
    run_of: dict[tuple[str, str, str], int] = {}
    for mname, groups in sittings.items():
        runs[mname] = []
        for group in groups:
            facts = next((f.facts for f in group if f.facts), {})
            commits = sorted({f.commit for f in group}, key=lambda c: pos[c])
            for f in group:
                run_of[(mname, f.commit, f.env)] = len(runs[mname])
            runs[mname].append(Run(mname, group[0].run_at, commits, facts))
    kept, failed_only = [], []
    for key, bad in invalid.items():
        problems.append(Problem(series[key].label, f"{len(bad)} value(s) that are not measurements left out "
                                                   f"({', '.join(bad[:3])}{', …' if len(bad) > 3 else ''})"))
    for key, s in series.items():
        pts = sorted(points[key], key=lambda p: pos.get(p[0], -1))
        if not pts:
            if s.failed:  # only-skipped series (a GPU metric on a CPU runner) are expected, not a problem
                problems.append(Problem(s.label, f"all {s.failed} values failed; no series"))
                failed_only.append(s)
            continue
        s.commits = [p[0] for p in pts]
        s.values = [p[1] for p in pts]
        s.versions = [p[2] if isinstance(p[2], str) and p[2] else None for p in pts]
        s.runs = [run_of[(s.machine, p[0], p[3])] for p in pts]
        kept.append(s)
    return History(kept, problems, order, machines, ordered_by, dates, runs, backfilled, failed_only)


def _sittings(files: list[_File], gap_ms: float, dates: dict[str, float]) -> dict[str, list[list[_File]]]:
    """Each machine's files grouped into runs, in the order they ran.  Files without a run time are a run per
    commit, placed by commit date."""
    by_machine: dict[str, list[_File]] = {}
    for f in files:
        by_machine.setdefault(f.machine, []).append(f)
    out: dict[str, list[list[_File]]] = {}
    for mname, fs in by_machine.items():
        timed = sorted((f for f in fs if f.run_at is not None), key=lambda f: f.run_at)
        groups: list[list[_File]] = []
        end = None
        for f in timed:
            if end is not None and f.run_at - end <= gap_ms:
                groups[-1].append(f)
            else:
                groups.append([f])
            end = f.run_at
        untimed: dict[str, list[_File]] = {}
        for f in fs:
            if f.run_at is None:
                untimed.setdefault(f.commit, []).append(f)
        # Placed as the commits are ordered (by date; by git order once :func:`_order` knows it): never by the
        # file names' hashes, whose order is noise that reads as machine events.
        out[mname] = groups + [untimed[c] for c in sorted(untimed, key=lambda c: (dates.get(c, 0.0), c))]
    return out


def _order(commits: set[str], dates: dict[str, float], sittings: dict[str, list[list[_File]]],
           repo: str | Path | None) -> tuple[list[str], str, set[str]]:
    by_date = lambda c: (dates.get(c, 0.0), c)  # noqa: E731
    if repo is not None:
        order = git.first_parent_order(repo)
        if order:
            known = set(order)
            # Commits git does not know (another clone's) go by date, after the known ones.
            return order + sorted((c for c in commits if c not in known), key=by_date), "git", set()
    timed = sorted((g for groups in sittings.values() for g in groups if g[0].run_at is not None),
                   key=lambda g: g[0].run_at)
    if not timed:
        return sorted(commits, key=by_date), "date", set()
    # Runs in the order they ran; within one run, by date.  A batch run that measured commits older than ones
    # measured before it is a backfill: its commits are placed but not judged.
    # Batches before the first run of fewer commits (a nightly's) populate the history: the first measurement of
    # a project's past, however many sittings it took, goes in date order and is judged; only later batches that
    # reach back behind what was measured are backfills.
    order: list[str] = []
    placed: set[str] = set()
    backfilled: set[str] = set()
    newest = float("-inf")
    populating: list[str] | None = []
    for g in timed:
        new = sorted({f.commit for f in g} - placed, key=by_date)
        batch = len({f.commit for f in g}) >= BACKFILL_BATCH
        if populating is not None and batch:
            populating.extend(new)
            placed.update(new)
            continue
        if populating is not None:
            order.extend(sorted(populating, key=by_date))
            newest = max([newest] + [dates[c] for c in populating if c in dates])
            populating = None
        if batch:
            backfilled.update(c for c in new if dates.get(c, newest) < newest)
        order.extend(new)
        placed.update(new)
        newest = max([newest] + [dates[c] for c in new if c in dates])
    if populating:
        order.extend(sorted(populating, key=by_date))
    return order + sorted(commits - placed, key=by_date), "run time", backfilled
