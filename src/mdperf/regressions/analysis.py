"""The regression pipeline, once: asv results -> series -> environment events -> changes per series, net of
the events, within each version of a benchmark -> a report of flags, events and benchmark changes."""

from __future__ import annotations

import json
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import git, history
from ..errors import UserError
from ..history import History, Problem, Series
from . import events, verdicts
from .config import RegressionConfig
from .coverage import GUARD, _iso, _noisy_points, coverage
from .detector import Change, detect
from .model import RUN_WIDE, BenchmarkChange, Flag, Report, RunWideChange
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
        hist = history.read(results_dir, repo, config.higher_is_better, config.run_gap_h)
    except FileNotFoundError as exc:
        raise UserError(f"cannot read results: {exc}") from None
    unreadable = [p for p in hist.problems if p.reason.startswith("unreadable result file")]
    if not hist.series and unreadable:
        raise UserError(f"no readable results in {results_dir}: {len(unreadable)} result file(s) unreadable, "
                        f"e.g. {unreadable[0].path}: {unreadable[0].reason}")
    if since is not None and repo is not None:
        since = git.resolve(repo, since) or since
    rec = Record.load(record) if since is None else Record(None)
    report = analyse(hist, config, since=since, record=rec if rec.path is not None else None,
                     confirmed=verdicts.load(Path(results_dir)))
    if rec.problem:
        report.problems.insert(0, Problem(str(rec.path), rec.problem))
    report.record = rec if rec.path is not None else None
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
SIZE_POINTS = 5  # a flag's size: the medians of up to this many commits each side
TREND_POINTS = 15  # the site's picture of a flag: up to this many commits each side


@dataclass
class _Part:
    """One stretch of a series that is judged on its own: one version of the benchmark, backfills left out (and,
    for the quiet reading, the points the guard marked noisy)."""

    series: Series
    index: np.ndarray  # the series' points in it
    values: np.ndarray
    marked: np.ndarray  # per point of the part: the guard marked its case noisy
    weak: bool = False  # the reading with the noisy points in: weaker evidence, to watch only


def analyse(history: History, config: RegressionConfig | None = None, since: str | None = None,
            record: Record | None = None, confirmed: dict | None = None) -> Report:
    """Flags for every series of ``history``.  A confirmed regression is new after ``since`` when given, else
    when ``record`` has not seen it (and it is then added to the record), else in its series' last
    ``new_window`` points."""
    config = config or RegressionConfig()
    confirmed = confirmed or {}
    pos = history.position()
    since_pos = None
    if since is not None:
        matches = [c for c in history.order if c.startswith(since)]
        if not matches:
            raise UserError(f"--since {since!r}: no such commit in the results or the repository")
        since_pos = pos[matches[0]]
    env = events.find(history, config.events)
    for e in env.events:  # a re-measurement of a run-wide shift decides whose it is
        for c in e.commits:
            v = confirmed.get(verdicts.key(e.machine, RUN_WIDE, {}, c))
            if v and v.get("verdict") in ("confirmed", "rejected"):
                e.decided = "code" if v["verdict"] == "confirmed" else "machine"
    flags: list[Flag] = []
    problems = list(history.problems)
    parts: list[_Part] = []
    changed: dict[tuple[str, str, str], int] = {}  # (benchmark, machine, commit) -> series whose version changed
    named: dict[tuple[str, str, str], str] = {}  # the same -> "before -> after" where the versions are names
    left: dict[tuple[str, int], str] = {}  # (series key, point) -> why it was not judged (model.LEFT_OUT)
    noisy = _noisy_points(history)
    for s in history.series:
        if GUARD in s.benchmark:  # the guard's records: never flagged themselves
            continue
        values = np.asarray(s.values, dtype=float)
        case = (s.machine, json.dumps(s.params, sort_keys=True))
        backfill = np.array([c in history.backfilled for c in s.commits])
        # A deterministic series (fixed frames) reads the same on a busy machine: the guard's mark says nothing of it.
        marked = np.array([(case + (c,)) in noisy and not any(k in s.benchmark for k in DETERMINISTIC)
                           for c in s.commits])
        judged = ~backfill & ~marked
        pieces = _versions(s)
        for i in pieces[1:]:
            key = (s.benchmark, s.machine, s.commits[i])
            changed[key] = changed.get(key, 0) + 1
            named.setdefault(key, _named_versions(s, i))
        bounds = pieces + [len(s.values)]
        mine = [_Part(s, idx, values[idx], marked[idx]) for lo, hi in zip(bounds, bounds[1:])
                for idx in [np.arange(lo, hi)[judged[lo:hi]]] if idx.size >= MIN_POINTS]
        inside = set(int(i) for p in mine for i in p.index)
        for i in range(len(s.values)):
            if i not in inside:
                left[(s.key, i)] = ("backfill" if backfill[i] else "noisy" if marked[i] else
                                    "version" if len(pieces) > 1 and judged.sum() >= MIN_POINTS else "short")
        if not mine:
            n = int(judged.sum())
            why = "" if len(pieces) == 1 else f" in any one version of the benchmark ({len(pieces)} versions)"
            problems.append(Problem(s.label, f"only {n} point{'' if n == 1 else 's'}{why}; too short to judge "
                                           f"({MIN_POINTS} needed)" + (f"; {int(marked.sum())} marked noisy"
                                                                       if marked.any() else "")))
        parts.extend(mine)
        if marked.any():  # the noisy points kept, as weaker evidence: what only they show is to watch
            parts.extend(_Part(s, idx, values[idx], marked[idx], weak=True) for lo, hi in zip(bounds, bounds[1:])
                         for idx in [np.arange(lo, hi)[~backfill[lo:hi]]] if idx.size >= MIN_POINTS)
    jobs = [(p.values, p.series.higher_is_better, config.for_benchmark(p.series.benchmark)) for p in parts]
    held: dict[tuple[str, str, int], tuple[events.Event, list[Flag]]] = {}
    quiet_at: dict[str, list[int]] = {}  # series key -> points where the quiet reading found a change
    outcomes = list(zip(parts, _detect_all(jobs)))
    for part, outcome in sorted(outcomes, key=lambda po: po[0].weak):  # the quiet reading first
        if isinstance(outcome, str):  # one series' failure is a line of the report, never the report's end
            problems.append(Problem(part.series.label, f"analysis failed: {outcome}"))
            for i in part.index:
                left[(part.series.key, int(i))] = "analysis"
            continue
        for ch in outcome:
            at = int(part.index[ch.index])
            if part.weak:
                if ch.kind == "transient" or any(abs(at - q) <= 2 for q in quiet_at.get(part.series.key, [])):
                    continue
            elif ch.kind != "transient":  # a lasting change the quiet points show: the noisy reading defers to it
                quiet_at.setdefault(part.series.key, []).append(at)
            flag = _flag(part, ch, outcome, history, env, pos, since_pos, config, record, confirmed, held)
            if flag is not None:
                flags.append(flag)
    flags.extend(_remeasured(history, flags, confirmed, pos, since_pos, record))
    flags.sort(key=lambda f: (-f.position, f.benchmark, f.params_text))
    run_wide = [_run_wide(e, fs, history) for e, fs in held.values()]
    run_wide.sort(key=lambda r: -pos.get(r.commit, 0))
    bench_changes = [BenchmarkChange(b, m, c, n, _iso(history.dates.get(c)), named.get((b, m, c), ""))
                     for (b, m, c), n in sorted(changed.items(), key=lambda kv: -pos[kv[0][2]])]
    return Report(flags, problems, len(history.series), len(history.measured), history.ordered_by, since,
                  sorted(env.events, key=lambda e: (e.started or "", e.machine), reverse=True), bench_changes,
                  len(history.backfilled), run_wide, coverage(history, env, left), suite_versions=_newest_names(history))


def _run_wide(e: events.Event, flags: list[Flag], history: History) -> RunWideChange:
    commits = [f.commit for f in flags]
    commit = max(set(commits), key=commits.count)
    first = next(f for f in flags if f.commit == commit)
    return RunWideChange(e.machine, e.env, commit, first.range_start, e.shift_pct, e.moved, e.series, flags,
                         _iso(history.dates.get(commit)))


def _is_name(version: str) -> bool:
    return not all(c in "0123456789abcdef" for c in version)


def _newest_names(history: History) -> dict[str, list[str]]:
    """Per machine, the named versions of its series' newest points (see Report.suite_versions)."""
    out: dict[str, set[str]] = {}
    for s in history.series:
        newest = next((v for v in reversed(s.versions) if v), None)
        if newest and _is_name(newest):
            out.setdefault(s.machine, set()).add(newest)
    return {m: sorted(v) for m, v in sorted(out.items())}


def _named_versions(s: Series, i: int) -> str:
    """"before -> after" for the version change at point ``i`` when both are names (mdperf's suite pins
    ``mdperf-suite-N+threadsT``), not asv's hashes of the code."""
    before = next((v for v in reversed(s.versions[:i]) if v), None)
    after = s.versions[i]
    if before and after and _is_name(before + after):
        return f"{before} -> {after}"
    return ""


def _versions(s: Series) -> list[int]:
    """Where each version of the benchmark begins: 0, then every point whose known version differs from the
    last known one (asv never compares results across its benchmark's code changing)."""
    starts, last = [0], None
    for i, v in enumerate(s.versions):
        if v is None:
            continue
        if last is not None and v != last:
            starts.append(i)
        last = v
    return starts


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


def _flag(part: _Part, ch: Change, found: list[Change], history: History, env: events.Environment,
          pos: dict[str, int], since_pos: int | None, config: RegressionConfig, record: Record | None,
          confirmed: dict, holding: dict | None = None) -> Flag | None:
    """The flag for a change, or None when it only moved with an environment event (counted there).  A change
    that moved with an undecided run-wide shift is added to ``holding`` under its event too."""
    s, idx = part.series, part.index
    i = int(idx[ch.index])
    commit = s.commits[i]
    prev = s.commits[int(idx[ch.index - 1])] if ch.index > 0 else None
    # The size: medians of the commits each side, as far as the neighbouring changes.
    cuts = [c.index for c in found]
    k = cuts.index(ch.index)
    lo = cuts[k - 1] if k > 0 else 0
    hi = cuts[k + 1] if k + 1 < len(cuts) else len(idx)
    end = ch.index + ch.n_after if ch.kind == "transient" else hi
    until = start = ch.index  # the level before: up to the change, or up to a transient just before it
    if k > 0 and found[k - 1].kind == "transient" and found[k - 1].index + found[k - 1].n_after == ch.index:
        until = start = found[k - 1].index
        lo = cuts[k - 2] if k > 1 else 0
    before = float(np.median(part.values[max(lo, start - SIZE_POINTS):until]))
    after = float(np.median(part.values[ch.index:min(end, ch.index + SIZE_POINTS)]))
    # How long the new level held: up to the next lasting change (a transient interrupts it, not ends it).
    held = next((c.index for c in found[k + 1:] if c.kind != "transient"), len(idx)) - ch.index
    rel = after / before - 1 if before else float(ch.rel_change)
    note = ""
    run_wide, holder = "", None
    prev_run = s.runs[int(idx[ch.index - 1])] if ch.index > 0 else s.runs[i]
    for r in range(prev_run + 1, s.runs[i] + 1) if prev_run < s.runs[i] else [s.runs[i]]:
        event = env.event_at(s.machine, s.env, r)  # an event between the two measured points coincides
        if event is None or not (event.absorbs or event.undecided or event.decided == "code"):
            continue
        if event.absorbs:
            if env.stands_out(s.key, event, r):
                note = f"stands out from a run-wide shift in this range ({event.shift_pct:+.0f}% on most series)"
                break
            event.absorbed += 1  # it moved with the machine: the event reports it
            return None
        if event.decided == "code":
            run_wide = "code"
            note = (f"moved with {event.moved} of {event.series} series of its run; re-measured: the code's, not "
                    "the machine's")
        else:  # undecided: held with the run-wide change, which reports it (a machine verdict re-reads standing out)
            run_wide, holder = "undecided", event
            note = (f"moved with {event.moved} of {event.series} series of its run; code or machine is undecided "
                    "until re-measured")
        break
    detected = ch.state
    if detected == "suspected" and ch.kind != "transient" and _deterministic(s.benchmark, part.values[lo:until]):
        detected = "confirmed"  # the same frames and weights give the same number: one point after is the change
        note = "a deterministic series (fixed frames): confirmed at the first commit after"
    if part.weak:  # seen only with the points the guard marked noisy: weaker evidence, never confirmed by them
        detected = "suspected"
        note = (note + "; " if note else "") + ("seen only with points measured on a busy machine (marked noisy): "
                                                "to watch; mdperf confirm --new re-measures it")
    verdict = confirmed.get(verdicts.key(s.machine, s.benchmark, s.params, commit)) if ch.kind != "transient" else None
    remeasured = ""
    if run_wide == "code" and ch.kind != "transient":  # its run's shift re-measured as the code's
        remeasured = "confirmed"
    if verdict is not None and (verdict["verdict"] != "inconclusive" or not remeasured):
        remeasured = verdict["verdict"]  # re-measured (mdperf confirm): it decides, unless it could not
    state = remeasured if remeasured in ("confirmed", "rejected") else detected
    kind = ch.kind
    if verdict is not None and verdict.get("reversed") and verdict.get("kind", kind) != kind:
        # re-measured the other way than the history read it: the re-measurement's change, its size by its ratio
        kind, rel, after = verdict["kind"], float(verdict["ratio"]) - 1, before * float(verdict["ratio"])
        note = (note + "; " if note else "") + f"re-measured against its base: a {kind}, not what the history read"
    alert = kind == "regression" and state == "confirmed"
    # re-measured and not reproduced (rejected): nothing to watch or alert
    new = state != "rejected" and _is_new(s, commit, pos, since_pos, record if alert else None,
                                          ch.index >= len(idx) - config.new_window)
    date = history.dates.get(commit)
    lo_t, hi_t = max(0, ch.index - TREND_POINTS), min(len(idx), ch.index + TREND_POINTS)
    trend = ([float(v) for v in part.values[lo_t:hi_t]], ch.index - lo_t, min(end, hi_t) - lo_t, max(lo, lo_t) - lo_t)
    flag = Flag.at(s, commit, prev, history, pos, kind=kind, state=state, detected=detected,
                   remeasured=remeasured, change_pct=100 * rel, before=before,
                   after=after, z=float(ch.z), p_value=float(ch.p_value), new=bool(new),
                   commits_at_level=ch.n_after if ch.kind == "transient" else held, date=_iso(date), note=note,
                   trend=trend, verdict=_verdict_summary(verdict), run_wide=run_wide,
                   noisy_points=[bool(m) for m in part.marked[lo_t:hi_t]] if part.marked.any() else None)
    if holder is not None and holding is not None:
        holding.setdefault((holder.machine, holder.env, holder.run), (holder, []))[1].append(flag)
    return flag


DETERMINISTIC = (".Accuracy.",)  # suite classes whose values repeat exactly at one commit (mdperf.agreement)


def _deterministic(benchmark: str, before: np.ndarray) -> bool:
    """An accuracy series whose level before the change repeats to 1e-6: each of its values is the value."""
    v = np.asarray(before, dtype=float)
    v = v[np.isfinite(v)]
    return (any(k in benchmark for k in DETERMINISTIC) and v.size >= 2
            and float(np.ptp(v)) <= 1e-6 * max(float(np.abs(v).max()), 1e-12))


def _remeasured(history: History, flags: list[Flag], confirmed: dict, pos: dict[str, int], since_pos: int | None,
                record: Record | None) -> list[Flag]:
    """Flags for changes that only re-measurement found: mdperf confirm took up the newest commit of a series
    (before the history could show a step) and confirmed it.  Levels: the medians of up to 5 points each side."""
    have = {verdicts.key(f.machine, f.benchmark, f.params, f.commit) for f in flags}
    by_key = {(s.machine, s.benchmark, json.dumps(s.params, sort_keys=True)): s for s in history.series}
    out = []
    for k, v in confirmed.items():
        if v.get("verdict") != "confirmed" or v.get("kind", "regression") != "regression" or k in have:
            continue
        machine, benchmark, params, commit = k
        s = by_key.get((machine, benchmark, params))
        if s is None or commit not in s.commits or commit not in pos:
            continue
        i = s.commits.index(commit)
        vals = np.asarray(s.values, dtype=float)
        before_v, after_v = vals[max(0, i - SIZE_POINTS):i], vals[i:i + SIZE_POINTS]
        before_v, after_v = before_v[np.isfinite(before_v)], after_v[np.isfinite(after_v)]
        if not before_v.size or not after_v.size:
            continue
        before, after = float(np.median(before_v)), float(np.median(after_v))
        new = _is_new(s, commit, pos, since_pos, record, True)
        out.append(Flag.at(s, commit, s.commits[i - 1] if i > 0 else None, history, pos, kind="regression",
                           state="confirmed", detected="", remeasured="confirmed", change_pct=100 * (after / before - 1) if before else 0.0,
                           before=before, after=after, p_value=float(v.get("p_value", float("nan"))), new=new,
                           commits_at_level=len(vals) - i, date=_iso(history.dates.get(commit)),
                           note="found by re-measuring the newest commit against its base",
                           verdict=_verdict_summary(v)))
    return out


def _is_new(s: Series, commit: str, pos: dict[str, int], since_pos: int | None, record: Record | None,
            otherwise: bool) -> bool:
    """Whether a flag is new: after ``--since``; else, for an alert, not yet in the record of alerts (added to it
    now); else ``otherwise`` (within the newest ``new_window`` points)."""
    if since_pos is not None:
        return pos[commit] > since_pos
    if record is not None:
        if record.seen(s.key, commit, pos):
            return False
        record.add(s.key, commit)
        return True
    return bool(otherwise)


def _verdict_summary(v: dict | None) -> dict | None:
    if v is None:
        return None
    return {k: v.get(k) for k in ("verdict", "ratio", "ci", "p_value", "rounds", "base", "at", "note")}


