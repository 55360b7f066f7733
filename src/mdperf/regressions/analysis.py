"""The regression pipeline, once: asv results -> series -> changes per series -> a report of flags."""

from __future__ import annotations

import datetime
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
from .record import Record


def analyse_results(results_dir: str | Path, repo: str | Path | None = None,
                    config: RegressionConfig | None = None, since: str | None = None,
                    record: str | Path | None = None, update_record: bool = True) -> Report:
    """The report over an asv results folder: what ``mdperf regressions`` prints and the site publishes.

    ``repo``: the measured repository, for commit order, subjects and resolving ``since`` (a hash, branch, tag
    or relative name).  ``record``: the file of regressions already alerted (:mod:`.record`); with it, a
    confirmed regression is new only in the run that first confirms it, and ``update_record`` writes the new
    ones to it.  Bad input raises UserError.
    """
    config = config or RegressionConfig()
    try:
        hist = history.read(results_dir, repo, config.higher_is_better)
    except FileNotFoundError as exc:
        raise UserError(f"cannot read results: {exc}") from None
    if since is not None and repo is not None:
        since = git.resolve(repo, since) or since
    rec = Record.load(record) if since is None else Record(None)
    report = analyse(hist, config, since=since, record=rec if rec.path is not None else None)
    if rec.problem:
        report.problems.insert(0, Problem(str(rec.path), rec.problem))
    if repo is not None:
        subjects = git.subjects(repo, list(dict.fromkeys(f.commit for f in report.flags)))
        for f in report.flags:
            f.subject = subjects.get(f.commit, "")
    if update_record:
        try:
            rec.save()
        except OSError as exc:
            report.problems.insert(0, Problem(str(rec.path), f"record of reported regressions not written: {exc}"))
    return report


MIN_POINTS = 4  # fewer, and a series is too short to judge


def analyse(history: History, config: RegressionConfig | None = None, since: str | None = None,
            record: Record | None = None) -> Report:
    """Flags for every series of ``history``.  A confirmed regression is new after ``since`` when given, else
    when ``record`` has not seen it (and it is then added to the record), else in its series' last
    ``new_window`` points."""
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
        if len(s.values) < MIN_POINTS:
            n = len(s.values)
            problems.append(Problem(s.key, f"only {n} point{'' if n == 1 else 's'}; too short to judge "
                                           f"({MIN_POINTS} needed)"))
        else:
            todo.append(s)
    jobs = [(np.asarray(s.values), s.higher_is_better, config.for_benchmark(s.benchmark)) for s in todo]
    for s, outcome in zip(todo, _detect_all(jobs)):
        if isinstance(outcome, str):  # one series' failure is a line of the report, never the report's end
            problems.append(Problem(s.key, f"analysis failed: {outcome}"))
            continue
        for ch in outcome:
            flags.append(_flag(s, ch, history, pos, since_pos, config, record))
    flags.sort(key=lambda f: (-f.position, f.benchmark, f.params_text))
    return Report(flags, problems, len(history.series), len(history.measured), history.ordered_by, since)


PARALLEL_MIN_POINTS = 100_000  # below this much work, one process is faster than starting workers


def _detect_one(job: tuple) -> list[Change] | str:
    values, higher, cfg = job
    try:
        return detect(values, higher_is_better=higher, config=cfg)
    except Exception as exc:  # reported as the series' problem, with the error
        return f"{type(exc).__name__}: {exc}"


def _detect_all(jobs: list[tuple]) -> list[list[Change] | str]:
    """Detection over every series, spread over the machine's cores when there is enough of it."""
    workers = min(os.cpu_count() or 1, 8)
    if workers < 2 or sum(j[0].size for j in jobs) < PARALLEL_MIN_POINTS:
        return [_detect_one(j) for j in jobs]
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with ctx.Pool(workers) as pool:
        return pool.map(_detect_one, jobs, chunksize=max(1, len(jobs) // (4 * workers)))


def _flag(s: Series, ch: Change, history: History, pos: dict[str, int], since_pos: int | None,
          config: RegressionConfig, record: Record | None) -> Flag:
    commit = s.commits[ch.index]
    prev = s.commits[ch.index - 1] if ch.index > 0 else None
    range_start = None
    if prev is not None:  # commits between the two measured ones, in git order or by date
        between = history.order[pos[prev] + 1: pos[commit]]
        if between:
            range_start = between[0]
    alert = ch.kind == "regression" and ch.state == "confirmed"
    if since_pos is not None:
        new = pos[commit] > since_pos
    elif record is not None and alert:
        new = not record.seen(s.key, commit, pos)
        if new:
            record.add(s.key, commit)
    else:
        new = ch.index >= len(s.values) - config.new_window
    date = history.dates.get(commit)
    return Flag(commit, range_start, s.benchmark, s.params, s.machine, s.env, s.unit, ch.kind, ch.state,
                100 * ch.rel_change, float(ch.before), float(ch.after), float(ch.z), float(ch.p_value), bool(new),
                graph_link(s), ch.n_after, _iso(date), "", pos[commit])


def _iso(ms: float | None) -> str | None:
    if ms is None:
        return None
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
