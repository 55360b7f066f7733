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

import numpy as np

from . import git, history
from .regressions.model import Flag


@dataclass
class Bisection:
    flag: Flag
    candidates: list[str]  # the range's commits, oldest first; the change is at one of them
    measured: list[str] = field(default_factory=list)  # by this bisection, in order
    failed: list[str] = field(default_factory=list)  # did not build or run: skipped
    named: str | None = None  # the first commit at the new level, once known
    undecided: str = ""  # why the search stopped at a commit it could not place
    steps: list[str] = field(default_factory=list)  # what each placement read, where it says more than a level
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


def run(b: Bisection, classify: Callable[[str], str | None],
        on_progress: Callable[[str], None] = lambda text: None) -> Bisection:
    """Narrow ``b`` by placing middle commits with ``classify(commit) -> "before" | "after" | None`` (None: it did
    not build or run, skipped for its neighbour; :class:`Undecided`: the search stops there, said); returns it,
    ``named`` set when one commit remains."""
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
        b.measured.append(commit)
        try:
            level = classify(commit)
        except Undecided as exc:
            b.undecided = f"{commit[:8]}: {exc}"
            break
        if level is None:
            b.failed.append(commit)
            skip.add(i)
        elif level == "after":
            b.hi = i
        else:
            b.lo = i
    b.named = b.candidates[b.hi] if b.hi - b.lo == 1 else None
    return b


class Undecided(Exception):
    """A middle commit that could not be placed at either level: the search stops, and says why."""


def track_classify(setup, machine: str, profile: str | None, config_path: str | None,
                   flag: Flag) -> Callable[[str], str | None]:
    """Placing a commit of a flagged range: an ordinary ``mdperf track`` of it (recorded, so that the report then
    names the commit), its value put at the nearer of the flag's levels."""
    measure = track_measure(setup, machine, profile, config_path)

    def classify(commit: str) -> str | None:
        value = value_at(setup.results_dir, flag, commit) if measure(commit) else None
        return None if value is None else _level(value, flag)

    return classify


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
             f"narrowed to {b.candidates[b.lo + 1][:8]}..{b.candidates[b.hi][:8]} "
             + (f"(could not place {b.undecided})" if b.undecided else "(commits between failed)"))
    return (f"{where}; {len(b.measured)} measurement(s)"
            + (f", {len(b.failed)} commit(s) did not build or run" if b.failed else ""))


# A named range whose ends look alike in the history is still re-measured for a change of at least this size, so
# that "the ends do not differ" has a stated meaning: not by half of it (confirm's rejection bound).
RANGE_MIN_PCT = 5.0
RANGE_CASES = 4  # step-time cases re-measured at a named range's ends (as confirm --new: what a night affords)


@dataclass
class RangeCheck:
    """A range a person named (``A..B``, no flag within it): whether its ends differ, re-measured as confirm does."""

    start: str  # A: the commit before the range
    end: str  # B
    candidates: list[str]  # A's successors up to B, oldest first
    measured_first: list[str] = field(default_factory=list)  # ends that had no step time on the machine yet
    verdicts: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bisection: Bisection | None = None  # set when the ends differ
    verdict: dict = field(default_factory=dict)  # the confirmed verdict the search follows (its case and ratio)
    profile: dict = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        """differ (a verdict confirmed a change), same (every verdict rejected one), undecided (else)."""
        kinds = {v["verdict"] for v in self.verdicts}
        if "confirmed" in kinds:
            return "differ"
        return "same" if kinds == {"rejected"} else "undecided"


def named_range(repo: Path, spec: str) -> tuple[str, str, list[str]]:
    """(A, B, A's successors up to B oldest first) of ``spec`` ``A..B``; UserError when it names no range."""
    from .errors import UserError

    a, _, b = spec.partition("..")
    ends = [git.resolve(repo, x) if x else None for x in (a, b)]
    for given, full in zip((a, b), ends):
        if full is None:
            raise UserError(f"unknown commit {given!r} in the range {spec!r}")
    start, end = ends[0], ends[1]
    assert start is not None and end is not None
    between = list(reversed(git.first_parent_list(repo, f"{start}..{end}")))
    if not between or not git.is_ancestor(repo, start, end):
        raise UserError(f"{spec}: {b} does not come after {a} on its first-parent line")
    return start, end, between


def _step_times(results_dir: Path, repo: Path, machine: str, commit: str) -> bool:
    return any(s.machine == machine and s.benchmark.endswith(".track_latency_p50_ms") and commit in s.commits
               for s in history.read(results_dir, repo).series)


def range_flags(hist: history.History, machine: str, start: str, end: str, first: str) -> list[Flag]:
    """The step-time series of ``machine`` measured at both ends, as a suspected change at ``end`` against
    ``start`` (the range beginning at ``first``): what ``confirm`` re-measures."""
    from dataclasses import replace

    out = []
    pos = hist.position()
    for s in hist.series:
        if s.machine != machine or not s.benchmark.endswith(".track_latency_p50_ms"):
            continue
        if start not in s.commits or end not in s.commits:
            continue
        before, after = s.values[s.commits.index(start)], s.values[s.commits.index(end)]
        if before is None or after is None or not before > 0:
            continue
        pct = 100 * (after / before - 1)
        worse = after < before if s.higher_is_better else after > before
        sized = math.copysign(max(abs(pct), RANGE_MIN_PCT), pct if pct else 1.0)
        f = Flag.at(s, end, start, hist, pos, kind="regression" if worse else "improvement", state="suspected",
                    detected="suspected", change_pct=sized, before=before, after=before * (1 + sized / 100),
                    new=False, commits_at_level=1, note=f"the ends of the range {start[:8]}..{end[:8]}")
        out.append(replace(f, range_start=first))
    return out


def check_range(setup, machine: str, spec: str, measure: Callable[[str], bool], profile_name: str | None = None,
                on_progress: Callable[[str], None] = lambda text: None) -> RangeCheck:
    """Measure the ends of ``spec`` where they are not measured yet, re-measure them against each other as
    ``confirm`` does (interleaved, three verdicts), and, when they differ, the :class:`Bisection` to run."""
    from .confirm import confirm, targets
    from .regressions import config
    from .suite import config as suite_config

    repo = setup.repo
    start, end, between = named_range(repo, spec)
    rc = RangeCheck(start, end, between)
    for c in (start, end):
        if not _step_times(setup.results_dir, repo, machine, c):
            on_progress(f"measuring {c[:10]} first (an end of the range without a step time on {machine})")
            rc.measured_first.append(c)
            if not measure(c):
                rc.skipped.append(f"{c[:8]} did not build or run: the range cannot be judged from it")
    cfg = config.load(None, repo)
    hist = history.read(setup.results_dir, repo, cfg.higher_is_better, cfg.run_gap_h)
    flags = range_flags(hist, machine, start, end, between[0])
    if not flags:
        rc.skipped.append(f"no step time measured at both {start[:8]} and {end[:8]} on {machine}")
        return rc
    chosen, skipped = targets(flags, repo, machine, [end], max_cases=RANGE_CASES)
    rc.skipped += skipped
    profile_name = profile_name or setup.default_profile
    suite_config.import_suite(repo / "pyproject.toml", profile_name)
    profile = suite_config.load(repo / "pyproject.toml", profile_name).case_profile()
    rc.verdicts = confirm(setup, chosen, profile, on_progress=on_progress)
    if rc.outcome == "differ":
        rc.verdict = max((v for v in rc.verdicts if v["verdict"] == "confirmed"), key=lambda v: abs(math.log(v["ratio"])))
        rc.profile = profile
        f = next(f for f in flags if f.params == rc.verdict["params"])
        f.after, f.change_pct = f.before * rc.verdict["ratio"], 100 * (rc.verdict["ratio"] - 1)
        b = Bisection(f, between)
        b.hi = len(between) - 1
        rc.bisection = b
    return rc


SEARCH_ROUNDS = 4  # of each of A, the commit and B per placement, added while undecided ...
SEARCH_MAX_ROUNDS = 12  # ... up to this many each; then the search stops on the commit, said
PLACE_CONFIDENCE = 0.95  # the share of bootstrap resamples that must put the commit on one side


def placement(a: list[float], m: list[float], b: list[float], up: bool, n: int = 2000) -> tuple[float, float, float]:
    """Where a commit's values ``m`` lie between the ends' ``a`` and ``b`` measured beside it: (its position on a
    log scale, 0 at A's median and 1 at B's; the share of bootstrap resamples of the three medians that put it
    nearer B; the share that put it nearer A).  A resample whose ends read the wrong way round (B not above A when
    ``up``) counts for neither side."""
    rng = np.random.default_rng(0)

    def medians(x: list[float]) -> np.ndarray:
        v = np.asarray(x, dtype=float)
        return np.log(np.median(v[rng.integers(0, v.size, (n, v.size))], axis=1))

    la, lm, lb = medians(a), medians(m), medians(b)
    gap = lb - la
    ok = gap > 0 if up else gap < 0
    pos = np.where(ok, (lm - la) / np.where(gap == 0, 1.0, gap), np.nan)
    ma, mm, mb = (float(np.log(np.median(x))) for x in (a, m, b))
    point = (mm - ma) / (mb - ma) if mb != ma else float("nan")
    return point, float(np.mean(ok & (pos > 0.5))), float(np.mean(ok & (pos < 0.5)))


def search_range(setup, rc: RangeCheck, on_progress: Callable[[str], None] = lambda text: None) -> Bisection:
    """Search a named range whose ends differ, each middle commit measured in the same sitting as the two ends
    (built once, in turns) and placed on the side of the nearer end's median once 95 % of bootstrap resamples of
    the three agree: no level from another night is compared with a value of this one.  Undecided after
    ``SEARCH_MAX_ROUNDS`` each, the search stops on that commit and says so (:class:`Undecided`)."""
    from .confirm import Sitting
    from .confirm.measure import SittingFailed
    from .confirm.targets import Target

    b = rc.bisection
    assert b is not None
    v = rc.verdict
    up = v["ratio"] > 1
    case = Target(rc.end, rc.start, b.flag.machine, v["params"]).case
    metric = v["metric"]
    with Sitting(setup, case, rc.profile, on_progress) as sit:
        def classify(commit: str) -> str | None:
            got: dict[str, list[float]] = {c: [] for c in (rc.start, commit, rc.end)}
            while len(got[commit]) < SEARCH_MAX_ROUNDS:
                try:
                    new = sit.measure([rc.start, commit, rc.end], SEARCH_ROUNDS, metric)
                except SittingFailed as exc:
                    if exc.commit == commit:
                        b.steps.append(f"{commit[:8]} skipped: {exc}")
                        return None
                    raise Undecided(f"an end did not run in this sitting: {exc}") from None
                for c, vals in new.items():
                    got[c] += vals
                where, after, before = placement(got[rc.start], got[commit], got[rc.end], up)
                read = (f"{commit[:8]} {np.median(got[commit]):.3g} against {rc.start[:8]} "
                        f"{np.median(got[rc.start]):.3g} and {rc.end[:8]} {np.median(got[rc.end]):.3g} ({metric}, "
                        f"{len(got[commit])} rounds each, one sitting")
                if max(after, before) >= PLACE_CONFIDENCE:
                    level = "after" if after > before else "before"
                    b.steps.append(f"{read}): {level} ({100 * max(after, before):.0f} % of resamples)")
                    return level
            raise Undecided(f"{read}): nearer {'B' if where > 0.5 else 'A'} in {100 * max(after, before):.0f} % of "
                            f"resamples, short of {100 * PLACE_CONFIDENCE:.0f} %: too noisy here; quiet the machine "
                            "and run again")

        return run(b, classify, on_progress)


def range_summary(rc: RangeCheck) -> str:
    """What the re-measurement of a named range's ends found, as its line says it."""
    done = [v for v in rc.verdicts if v["verdict"] != "inconclusive"] or rc.verdicts
    figures = "; ".join(f"{params_text_of(v)} x{v['ratio']:.3f} [{v['ci'][0]:.3f}, {v['ci'][1]:.3f}] "
                        f"{v['verdict']}" for v in done)
    if rc.outcome == "differ":
        return f"the ends differ (re-measured, {figures})"
    if rc.outcome == "same":
        bound = max(v["reject_bound_pct"] for v in rc.verdicts)
        return (f"the ends do not differ by {bound:.1f} % or more (re-measured, {figures}): no commit of "
                f"{len(rc.candidates)} to name")
    why = "; ".join(rc.skipped) if not rc.verdicts else "; ".join(
        v.get("note") or v["verdict"] for v in rc.verdicts)
    return f"could not tell whether the ends differ: {why}"


def params_text_of(v: dict) -> str:
    return history.params_text(v["params"])
