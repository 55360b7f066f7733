"""The regression pipeline, once: asv results -> series -> changes per series -> a report of flags."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import numpy as np

from .. import git, history
from ..errors import UserError
from ..history import History, Problem, Series
from .config import RegressionConfig
from .detector import Change, detect
from .model import Flag, Report, graph_link


def analyse_results(results_dir: str | Path, repo: str | Path | None = None,
                    config: RegressionConfig | None = None, since: str | None = None) -> Report:
    """The report over an asv results folder: what ``mdperf regressions`` prints and the site publishes.

    ``repo``: the measured repository, for commit order and for resolving ``since`` (a hash, branch, tag or
    relative name); bad input raises UserError.
    """
    config = config or RegressionConfig()
    try:
        hist = history.read(results_dir, repo, config.higher_is_better)
    except FileNotFoundError as exc:
        raise UserError(f"cannot read results: {exc}") from None
    if since is not None and repo is not None:
        since = git.resolve(repo, since) or since
    return analyse(hist, config, since=since)


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
    workers = min(os.cpu_count() or 1, 8)
    if workers < 2 or sum(j[0].size for j in jobs) < PARALLEL_MIN_POINTS:
        return [_detect_one(j) for j in jobs]
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
