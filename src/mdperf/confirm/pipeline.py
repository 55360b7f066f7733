"""``mdperf confirm`` from its inputs to its verdicts: the flags of the report, the suspicions of the newest
commits (``--new``) and of the commits asked for, the cases chosen within the night's budget, an estimate of
the time, then the re-measurement."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .. import git
from ..asvconf import AsvSetup
from ..errors import UserError
from ..suite import config as suite_config
from .measure import confirm
from .targets import MAX_CASES, Target, estimate_s, targets
from .verdict import MAX_ROUNDS, ROUNDS


@dataclass
class Plan:
    """What one ``mdperf confirm`` will re-measure, and why the rest is left out."""

    machine: str
    profile: dict[str, Any]
    rounds: int
    max_rounds: int
    targets: list[Target] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    estimate_s: tuple[float, float] | None = None  # (at `rounds`, if every case needs `max_rounds`)


def rounds_of(rounds: int | None, max_rounds: int | None, max_cases: int | None) -> tuple[int, int]:
    """(rounds, max_rounds) with their defaults; UserError for values that cannot decide anything."""
    rounds = ROUNDS if rounds is None else rounds
    if rounds < 4:
        raise UserError(f"--rounds must be >= 4 (a rank test cannot decide on fewer), got {rounds}")
    if max_cases is not None and max_cases < 1:
        raise UserError(f"--max-cases must be >= 1, got {max_cases}")
    max_rounds = max(MAX_ROUNDS, rounds) if max_rounds is None else max_rounds
    if max_rounds < rounds:
        raise UserError(f"--max-rounds must be >= --rounds ({rounds}), got {max_rounds}")
    return rounds, max_rounds


def plan(setup: AsvSetup, machine: str, commits: list[str], new: bool, profile_name: str | None = None,
         rounds: int | None = None, max_rounds: int | None = None, max_cases: int | None = None) -> Plan:
    """The cases to re-measure for ``commits`` (each flagged change at them, or their step time against their
    parent's) and, with ``new``, every new regression and the newest commits' suspicions."""
    from .. import history
    from ..regressions import analyse_results, config, record
    from ..regressions.suspicions import at_commits, newest_suspicions

    if not commits and not new:
        raise UserError("give the flagged commits to re-measure, or --new")
    rounds, max_rounds = rounds_of(rounds, max_rounds, max_cases)
    repo = setup.repo
    profile_name = profile_name or setup.default_profile
    cfg_suite = suite_config.load(repo / "pyproject.toml", profile_name)  # the profile exists
    suite_config.import_suite(repo / "pyproject.toml", profile_name)  # the benchmarks' metrics, as asv has them
    resolved = [git.resolve(repo, c) for c in commits]
    for given, full in zip(commits, resolved):
        if full is None:
            raise UserError(f"unknown commit {given!r} in {repo}")
    found = [c for c in resolved if c is not None]
    cfg = config.load(None, repo)
    rep = analyse_results(setup.results_dir, repo, cfg, record=setup.state_dir / record.FILE_NAME,
                          update_record=False)
    flags = list(rep.flags)
    hist = history.read(setup.results_dir, repo, cfg.higher_is_better, cfg.run_gap_h)
    if new:  # the newest commits that look worse: re-measured the night they land
        flags += newest_suspicions(hist, machine)
    if found:  # the step time at each commit against its parent's, where the report has no flag of its own
        flags += at_commits(hist, machine, found)
    cases = max_cases if max_cases is not None else (MAX_CASES if new else None)
    chosen, skipped = targets(flags, repo, machine, found or None, new, cases)
    profile = cfg_suite.case_profile()
    return Plan(machine, profile, rounds, max_rounds, chosen, skipped,
                estimate_s(chosen, hist, profile, rounds, max_rounds) if chosen else None)


def run(setup: AsvSetup, p: Plan, on_progress: Callable[[str], None] = lambda text: None) -> list[dict]:
    """The verdicts of the plan's cases (also appended to the machine's verdicts file)."""
    return confirm(setup, p.targets, p.profile, p.rounds, on_progress=on_progress, max_rounds=p.max_rounds)
