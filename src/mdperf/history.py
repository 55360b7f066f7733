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


def params_text(params: dict[str, str]) -> str:
    """A case's parameters as a person reads them: ``calculator=emt, atoms=256, device=cpu``."""
    return ", ".join(f"{k}={v.strip(chr(39))}" for k, v in params.items())


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
        p = params_text(self.params)
        return f"{self.benchmark}({p}) @ {self.machine} / {self.env}"

    @property
    def label(self) -> str:
        """The key as a person reads it: the environment by its Python and pinned versions (short_env)."""
        p = params_text(self.params)
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

    def range_start(self, prev: str | None, commit: str, pos: dict[str, int] | None = None) -> str | None:
        """The first of the commits between two measured ones (``prev`` and ``commit``) in this history's order, or
        None when they are neighbours (or either is unknown)."""
        pos = self.position() if pos is None else pos
        if prev is None or prev not in pos or commit not in pos:
            return None
        between = self.order[pos[prev] + 1: pos[commit]]
        return between[0] if between else None


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
    """All series under ``results_dir``; raises FileNotFoundError when it is not a results directory.  The phases:
    the files read into points (:func:`_read_machine`), the commits ordered and each machine's files grouped into
    runs (:func:`_runs`), each series' points put in that order (:func:`_series`)."""
    root = Path(results_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    r = _Reading(root, higher_patterns)
    try:
        benchmarks = asvresults.load_benchmarks(root)
    except asvresults.ResultsError as exc:
        benchmarks = {}
        r.problems.append(Problem(str(root / asvresults.BENCHMARKS_JSON), str(exc)))
    for name, b in (benchmarks or {}).items():
        r.units[name] = b.get("unit", "") or ("seconds" if b.get("type") == "time" else "")
        r.param_names[name] = list(b.get("param_names") or [])
    try:
        machine_dirs = asvresults.machine_dirs(root)
    except OSError as exc:
        raise FileNotFoundError(f"{root}: {exc.strerror or exc}") from None
    if not machine_dirs and benchmarks is None:
        raise FileNotFoundError(f"{root} holds no asv results (no benchmarks.json, no machine folders)")
    for mdir in machine_dirs:
        _read_machine(r, mdir)
    for (mname, bname), sigs in r.param_sets.items():
        if len(sigs) > 1:
            r.problems.append(Problem(f"{root / mname}", f"{bname}: parameters changed between commits "
                                      f"({len(sigs)} different sets, first seen at "
                                      f"{', '.join(c[:8] for c in sigs.values())}); each set is its own series"))
    sittings = _sittings(r.files, run_gap_h * 3_600_000, r.dates)
    order, ordered_by, backfilled = _order(set(r.dates) | {f.commit for f in r.files}, r.dates, sittings, repo)
    pos = {c: i for i, c in enumerate(order)}
    runs, run_of = _runs(sittings, pos)
    kept, failed_only = _series(r, pos, run_of)
    return History(kept, r.problems, order, r.machines, ordered_by, r.dates, runs, backfilled, failed_only)


@dataclass
class _Reading:
    """What reading the result files gathers, file by file."""

    root: Path
    higher_patterns: tuple[str, ...]
    problems: list[Problem] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)
    param_names: dict[str, list[str]] = field(default_factory=dict)
    machines: dict[str, dict[str, Any]] = field(default_factory=dict)
    series: dict[tuple, Series] = field(default_factory=dict)
    points: dict[tuple, list[tuple[str, float, str | None, str]]] = field(default_factory=dict)  # (commit, value,
    # version, env) per series key
    invalid: dict[tuple, list[str]] = field(default_factory=dict)  # values that are no measurement, per key
    dates: dict[str, float] = field(default_factory=dict)
    files: list[_File] = field(default_factory=list)
    param_sets: dict[tuple[str, str], dict[tuple, str]] = field(default_factory=dict)


def _read_machine(r: _Reading, mdir: Path) -> None:
    """One machine's folder: its machine file, its run facts, and every result file's values as points."""
    if not os.access(mdir, os.R_OK | os.X_OK):
        r.problems.append(Problem(str(mdir), "cannot read this machine's folder (permissions)"))
        return
    try:
        info = asvresults.load_machine(mdir)
    except asvresults.ResultsError as exc:
        r.problems.append(Problem(str(mdir / asvresults.MACHINE_JSON), str(exc)))
    else:
        if info is not None:
            r.machines[mdir.name] = info
    facts, bad = asvresults.load_runs(mdir)
    r.problems.extend(Problem(str(mdir / asvresults.RUNS_JSONL), reason) for reason in bad)
    for f in asvresults.result_paths(mdir):
        try:
            rf = asvresults.load(f)
        except asvresults.ResultsError as exc:
            r.problems.append(Problem(str(f), f"unreadable result file: {exc}"))
            continue
        if rf.date is not None:
            r.dates[rf.commit] = rf.date
        r.files.append(_File(mdir.name, rf.commit, rf.env, rf.run_at, facts.get((rf.commit, rf.env), {})))
        for name, row in rf.rows.items():
            _add_row(r, f, mdir.name, rf.commit, rf.env, name, row)


def _add_row(r: _Reading, f: Path, mname: str, commit: str, env: str, name: str, row: Any) -> None:
    """One benchmark's values in one result file, one per parameter combination, to their series."""
    result, params = row.result, row.params
    combos = _combos(params)
    values = result if isinstance(result, list) else [result]
    if len(values) != len(combos):
        r.problems.append(Problem(str(f), f"{name}: {len(values)} values for {len(combos)} parameter "
                                          "combinations; skipped"))
        return
    r.param_sets.setdefault((mname, name), {}).setdefault(tuple(tuple(p) for p in params), commit)
    for combo, v in zip(combos, values):
        key = (name, combo, mname, env)
        s = r.series.get(key)
        if s is None:
            names = r.param_names.get(name, [])
            if len(names) != len(combo):
                names = [f"param{i + 1}" for i in range(len(combo))]
            unit = r.units.get(name, "")
            s = r.series[key] = Series(name, dict(zip(names, combo)), mname, env, unit,
                                       higher_is_better(name, unit, r.higher_patterns))
            r.points[key] = []
        if _is_value(v) and not (v <= 0 and _is_time(name, s.unit)):
            r.points[key].append((commit, float(v), row.version, env))
        elif v is None:
            s.failed += 1
            s.failed_commits.append(commit)
        elif isinstance(v, float) and math.isnan(v):  # asv's n/a: the case could not run there
            s.skipped += 1
        else:  # a string, a boolean, an infinity, a time <= 0: untrusted data, never a measurement
            r.invalid.setdefault(key, []).append(f"{repr(v)[:20]} at {commit[:8]}")


def _runs(sittings: dict[str, list[list[_File]]], pos: dict[str, int]
          ) -> tuple[dict[str, list[Run]], dict[tuple[str, str, str], int]]:
    """Each machine's runs in the order they ran (untimed ones, a run per commit, in the final commit order), and
    the run of each (machine, commit, environment)."""
    for mname, groups in sittings.items():
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
    return runs, run_of


def _series(r: _Reading, pos: dict[str, int], run_of: dict[tuple[str, str, str], int]
            ) -> tuple[list[Series], list[Series]]:
    """The series with values, their points in commit order, and those with only failures."""
    kept, failed_only = [], []
    for key, bad in r.invalid.items():
        r.problems.append(Problem(r.series[key].label, f"{len(bad)} value(s) that are not measurements left out "
                                                       f"({', '.join(bad[:3])}{', …' if len(bad) > 3 else ''})"))
    for key, s in r.series.items():
        pts = sorted(r.points[key], key=lambda p: pos.get(p[0], -1))
        if not pts:
            if s.failed:  # only-skipped series (a GPU metric on a CPU runner) are expected, not a problem
                r.problems.append(Problem(s.label, f"all {s.failed} values failed; no series"))
                failed_only.append(s)
            continue
        s.commits = [p[0] for p in pts]
        s.values = [p[1] for p in pts]
        s.versions = [p[2] if isinstance(p[2], str) and p[2] else None for p in pts]
        s.runs = [run_of[(s.machine, p[0], p[3])] for p in pts]
        kept.append(s)
    return kept, failed_only


def _run_at(f: _File) -> float:
    """The run time of a file known to have one."""
    return f.run_at if f.run_at is not None else float("nan")


def _sittings(files: list[_File], gap_ms: float, dates: dict[str, float]) -> dict[str, list[list[_File]]]:
    """Each machine's files grouped into runs, in the order they ran.  Files without a run time are a run per
    commit, placed by commit date."""
    by_machine: dict[str, list[_File]] = {}
    for f in files:
        by_machine.setdefault(f.machine, []).append(f)
    out: dict[str, list[list[_File]]] = {}
    for mname, fs in by_machine.items():
        timed = sorted((f for f in fs if f.run_at is not None), key=_run_at)
        groups: list[list[_File]] = []
        end: float | None = None
        for f in timed:
            if end is not None and _run_at(f) - end <= gap_ms:
                groups[-1].append(f)
            else:
                groups.append([f])
            end = _run_at(f)
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
        git_order = git.first_parent_order(repo)
        if git_order:
            known = set(git_order)
            # Commits git does not know (another clone's) go by date, after the known ones.
            return git_order + sorted((c for c in commits if c not in known), key=by_date), "git", set()
    timed = sorted((g for groups in sittings.values() for g in groups if g[0].run_at is not None),
                   key=lambda g: _run_at(g[0]))
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
    populating: list[str] = []
    collecting = True  # the first sittings: a project's past, in date order, however many batches it took
    for g in timed:
        new = sorted({f.commit for f in g} - placed, key=by_date)
        batch = len({f.commit for f in g}) >= BACKFILL_BATCH
        if collecting and batch:
            populating.extend(new)
            placed.update(new)
            continue
        if collecting:
            order.extend(sorted(populating, key=by_date))
            newest = max([newest] + [dates[c] for c in populating if c in dates])
            populating, collecting = [], False
        if batch:
            backfilled.update(c for c in new if dates.get(c, newest) < newest)
        order.extend(new)
        placed.update(new)
        newest = max([newest] + [dates[c] for c in new if c in dates])
    if collecting and populating:
        order.extend(sorted(populating, key=by_date))
    return order + sorted(commits - placed, key=by_date), "run time", backfilled
