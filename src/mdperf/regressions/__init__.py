"""Regressions and improvements, commit by commit, over asv results (see :mod:`.detector` for the method)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

import numpy as np

from ..errors import UserError
from ..history import History, Problem, Series
from .config import RegressionConfig
from .detector import Change, DetectorConfig, detect

REPORT_VERSION = 1


@dataclass
class Flag:
    commit: str
    range_start: str | None  # first commit of the unmeasured range ending at `commit`, else None
    benchmark: str
    params: dict[str, str]
    machine: str
    env: str
    unit: str
    kind: str  # regression | improvement
    state: str  # confirmed | suspected
    change_pct: float
    before: float
    after: float
    z: float
    p_value: float
    new: bool
    graph: str  # link into the asv site, relative to its index.html
    position: int = field(default=0, repr=False)  # in the global commit order

    @property
    def params_text(self) -> str:
        return ", ".join(f"{k}={v.strip(chr(39))}" for k, v in self.params.items())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("position")
        return d


@dataclass
class Report:
    flags: list[Flag]
    problems: list[Problem]
    n_series: int
    n_commits: int
    ordered_by: str
    since: str | None

    @property
    def new_confirmed_regressions(self) -> list[Flag]:
        return [f for f in self.flags if f.new and f.kind == "regression" and f.state == "confirmed"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "since": self.since,
            "ordered_by": self.ordered_by,
            "series": self.n_series,
            "commits": self.n_commits,
            "new_confirmed_regressions": len(self.new_confirmed_regressions),
            "flags": [f.to_dict() for f in self.flags],
            "problems": [{"path": p.path, "reason": p.reason} for p in self.problems],
        }


def graph_link(s: Series) -> str:
    """asv's graph URL for a series: ``#benchmark?machine=...&p-name=value``."""
    parts = [f"machine={quote(s.machine)}"] + [f"p-{quote(k)}={quote(v)}" for k, v in s.params.items()]
    return f"#{s.benchmark}?{'&'.join(parts)}"


def analyse(history: History, config: RegressionConfig | None = None, since: str | None = None) -> Report:
    config = config or RegressionConfig()
    pos = history.position()
    since_pos = None
    if since is not None:
        matches = [c for c in history.order if c.startswith(since)]
        if not matches:
            raise UserError(f"--since {since!r}: no such commit in the results or the repository")
        since_pos = pos[matches[0]]
    flags: list[Flag] = []
    problems = list(history.problems)
    todo = []
    for s in history.series:
        if len(s.values) < 2:
            problems.append(Problem(s.key, f"only {len(s.values)} point; nothing to compare"))
        else:
            todo.append(s)
    jobs = [(np.asarray(s.values), s.higher_is_better, config.for_benchmark(s.benchmark)) for s in todo]
    for s, changes in zip(todo, _detect_all(jobs)):
        for ch in changes:
            flags.append(_flag(s, ch, history, pos, since_pos, config))
    flags.sort(key=lambda f: (-f.position, f.benchmark, f.params_text))
    return Report(flags, problems, len(history.series), len(history.order), history.ordered_by, since)


PARALLEL_MIN_POINTS = 100_000  # below this much work, one process is faster than starting workers


def _detect_one(job: tuple) -> list[Change]:
    values, higher, cfg = job
    return detect(values, higher_is_better=higher, config=cfg)


def _detect_all(jobs: list[tuple]) -> list[list[Change]]:
    """Detection over every series, spread over the machine's cores when there is enough of it."""
    import os

    workers = min(os.cpu_count() or 1, 8)
    if workers < 2 or sum(j[0].size for j in jobs) < PARALLEL_MIN_POINTS:
        return [_detect_one(j) for j in jobs]
    import multiprocessing

    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with ctx.Pool(workers) as pool:
        return pool.map(_detect_one, jobs, chunksize=max(1, len(jobs) // (4 * workers)))


def _flag(s: Series, ch: Change, history: History, pos: dict[str, int], since_pos: int | None,
          config: RegressionConfig) -> Flag:
    commit = s.commits[ch.index]
    prev = s.commits[ch.index - 1] if ch.index > 0 else None
    range_start = None
    if prev is not None and history.ordered_by == "git":
        between = history.order[pos[prev] + 1: pos[commit]]
        if between:
            range_start = between[0]
    new = bool(pos[commit] > since_pos if since_pos is not None else ch.index >= len(s.values) - config.new_window)
    return Flag(commit, range_start, s.benchmark, s.params, s.machine, s.env, s.unit, ch.kind, ch.state,
                100 * ch.rel_change, float(ch.before), float(ch.after), float(ch.z), float(ch.p_value), new,
                graph_link(s), pos[commit])


__all__ = ["analyse", "Flag", "Report", "RegressionConfig", "DetectorConfig", "detect", "graph_link"]
