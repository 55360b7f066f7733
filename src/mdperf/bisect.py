"""``mdperf bisect``: name the commit of a change attributed to a range of unmeasured commits.

A flag whose ``range_start`` is set lies between two measured commits: the one before the range (at the level
before) and the flagged one (at the level after).  The commit in the middle is measured with ``mdperf track``
(a real asv run, recorded like any other), and the half whose ends differ is kept, until the range is one
commit.  A commit that does not build or run is skipped for its nearest neighbour.  What is measured stays in
the results, so the report and the site then name the commit.  ``asv find`` does the same search for one
benchmark but does not record its measurements; here each step is an ordinary result of the machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import git, history
from .regressions.model import Flag


@dataclass
class Bisection:
    flag: Flag
    candidates: list[str]  # the range's commits, oldest first; the change is at one of them
    measured: list[str] = field(default_factory=list)  # by this bisection, in order
    failed: list[str] = field(default_factory=list)  # did not build or run: skipped
    named: str | None = None  # the first commit at the new level, once known
    lo: int = -1  # index of the last commit known at the old level (-1: the measured one before the range)
    hi: int = -1  # index of the first commit known at the new level


def ranges(flags: list[Flag], machine: str, repo: Path, spec: str | None = None) -> list[Bisection]:
    """One bisection per range flagged on ``machine`` (one flag stands for all flags of the same range);
    ``spec`` ``A..B`` keeps the ranges within it."""
    within: set[str] | None = None
    if spec:
        within = set(git.first_parent_list(repo, spec))
    out: dict[tuple[str, str], Bisection] = {}
    for f in flags:
        if f.machine != machine or not f.range_start or f.kind == "transient":
            continue
        if within is not None and not (f.commit in within and f.range_start in within):
            continue
        if (f.range_start, f.commit) in out:
            continue
        commits = list(reversed(git.first_parent_list(repo, f"{f.range_start}^..{f.commit}")))
        b = Bisection(f, commits)
        b.hi = len(commits) - 1
        out[(f.range_start, f.commit)] = b
    return list(out.values())


def _level(value: float, flag: Flag) -> str:
    """Which level a measured value belongs to: the nearer one, on a log scale (changes are relative)."""
    if value <= 0 or flag.before <= 0 or flag.after <= 0:
        return "after" if abs(value - flag.after) < abs(value - flag.before) else "before"
    return "after" if abs(math.log(value / flag.after)) < abs(math.log(value / flag.before)) else "before"


def value_at(results_dir: Path, flag: Flag, commit: str) -> float | None:
    hist = history.read(results_dir)
    for s in hist.series:
        if s.key == flag.series and commit in s.commits:
            v = s.values[s.commits.index(commit)]
            return None if v is None or v != v else float(v)
    return None


def run(b: Bisection, results_dir: Path, measure: Callable[[str], bool],
        on_progress: Callable[[str], None] = lambda text: None) -> Bisection:
    """Narrow ``b`` by measuring middle commits with ``measure(commit) -> ok``; returns it, ``named`` set when
    one commit remains."""
    skip: set[int] = set()
    while b.hi - b.lo > 1:
        inner = [i for i in range(b.lo + 1, b.hi) if i not in skip]
        if not inner:  # every commit between failed: the change is somewhere in what is left
            break
        mid = (b.lo + b.hi) // 2
        i = min(inner, key=lambda k: (abs(k - mid), k))
        commit = b.candidates[i]
        on_progress(f"measuring {commit[:10]} ({b.hi - b.lo - 1} commits left between "
                    f"{b.candidates[b.lo][:8] if b.lo >= 0 else 'the base'} and {b.candidates[b.hi][:8]})")
        ok = measure(commit)
        b.measured.append(commit)
        value = value_at(results_dir, b.flag, commit) if ok else None
        if value is None:
            b.failed.append(commit)
            skip.add(i)
            continue
        if _level(value, b.flag) == "after":
            b.hi = i
        else:
            b.lo = i
    b.named = b.candidates[b.hi] if b.hi - b.lo == 1 else None
    return b


def flagged(setup, machine: str, spec: str | None = None) -> list[Bisection]:
    """The bisections of every range flagged on ``machine`` by the report (``spec`` ``A..B``: within it)."""
    from .errors import UserError
    from .regressions import analyse_results, config, record

    if spec and ".." not in spec:
        raise UserError(f"a range is A..B, got {spec!r}")
    rep = analyse_results(setup.results_dir, setup.repo, config.load(None, setup.repo),
                          record=setup.state_dir / record.FILE_NAME, update_record=False)
    return ranges(rep.flags, machine, setup.repo, spec)


def track_measure(setup, machine: str, profile: str | None, config_path: str | None) -> Callable[[str], bool]:
    """Measuring one commit the way ``bisect`` does: an ordinary ``mdperf track`` of it, no site (published once at
    the end); True when every case of it ran."""
    from .errors import UserError
    from .track import TrackError, track

    def measure(commit: str) -> bool:
        try:
            s = track(setup.repo, commit, profile=profile, machine_name=machine, config=config_path,
                      publish_site=False)
        except TrackError as exc:
            raise UserError(str(exc)) from None
        return all(o.status == "ok" for o in s.measured)

    return measure


def summary(b: Bisection, repo: Path) -> str:
    """Where a bisection ended, as its line says it."""
    where = (f"named: {b.named[:10]} {git.subject(repo, b.named)}" if b.named else
             f"narrowed to {b.candidates[b.lo + 1][:8]}..{b.candidates[b.hi][:8]} (commits between failed)")
    return (f"{where}; {len(b.measured)} measurement(s)"
            + (f", {len(b.failed)} commit(s) did not build or run" if b.failed else ""))
