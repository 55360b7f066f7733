"""`mdperf track`: run the asv suite over a repository's commits, record each commit's outcome, publish.

One ``asv run`` per commit (from a one-line hash file), so a commit that fails to build or whose benchmarks
error is recorded as failed and the run goes on, and an interrupted run resumes with the commits not yet
recorded.  The ledger ``<results_dir>/../mdperf/track-<machine>.json`` holds each commit's outcome and timings.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import asvconf, asvresults, benchenv, children, environment, git, locks, machine, progress
from .asvconf import AsvSetup
from .asvlog import classify, own_package_missing
from .errors import UserError
from .ledger import CommitOutcome, Ledger
from .publish import publish
from .result import atomic_write_text
from .suite import config as suite_config
from .suite import validate, wheelhouse
from .suite.config import CASE_TIMEOUT_ENV, PARITY_ENV, PARITY_FILE, PROGRESS_ENV

__all__ = ["CommitOutcome", "Ledger", "TrackError", "TrackSummary", "classify", "publish", "select_commits",
           "track"]


def measured_commits(setup: AsvSetup, machine_name: str, ledger: Ledger) -> set[str]:
    """Commits with an outcome in the ledger, plus those asv has results for (measured by plain asv), less
    those whose run was interrupted (asv may have left partial results)."""
    done = ledger.finished()
    for f in asvresults.result_paths(setup.results_dir / machine_name):
        try:
            done.add(asvresults.load(f).commit)
        except asvresults.ResultsError:
            pass
    return done - ledger.running()


def select_commits(setup: AsvSetup, spec: str | None, last: int | None, measured: set[str]) -> tuple[list[str], int]:
    """The commits to measure, oldest first, and how many in the range were skipped as already measured."""
    repo = setup.repo
    if spec and last:
        raise UserError("give a range or --last, not both")
    if last is not None and last <= 0:
        raise UserError(f"--last must be > 0, got {last}")
    if spec:
        if ".." in spec:
            candidates = git.first_parent_list(repo, spec)
        else:
            _verify(repo, spec)
            if git.is_branch(repo, spec):
                candidates = git.first_parent_list(repo, spec)
            else:
                candidates = [git.git(repo, "rev-parse", f"{spec}^{{commit}}")]
    elif last:
        candidates = git.first_parent_list(repo, "HEAD", f"--max-count={last}")
    else:
        head = git.first_parent_list(repo, "HEAD")
        seen = [c for c in head if c in measured]
        if not seen:
            candidates = head[: setup.default_last]
        else:
            newest_measured = seen[0]  # rev-list is newest first
            candidates = head[: head.index(newest_measured)]
    if setup.first_commit:
        _verify(repo, setup.first_commit)
        before = (set(git.first_parent_list(repo, f"{setup.first_commit}^@"))
                  if git.has_parent(repo, setup.first_commit) else set())
        candidates = [c for c in candidates if c not in before]
    todo = [c for c in candidates if c not in measured]
    return list(reversed(todo)), len(candidates) - len(todo)


def _verify(repo: Path, rev: str) -> None:
    if git.resolve(repo, rev) is None:
        raise UserError(f"unknown commit or branch {rev!r} in {repo}")


def _asv(setup: AsvSetup, *args: str) -> list[str]:
    return [sys.executable, "-m", "asv", *args, "--config", str(setup.config_path)]


@dataclass
class TrackSummary:
    machine: str
    measured: list[CommitOutcome]
    skipped: int
    site: Path | None
    setup_s: float
    publish_error: str = ""
    offline_note: str = ""  # whether the site holds its libraries (offline.make_offline)
    busy: str = ""  # what the guard saw when it marked cases of this run noisy ("" when it marked none)

    @property
    def failed(self) -> list[CommitOutcome]:
        return [o for o in self.measured if o.status == "failed"]

    @property
    def partial(self) -> list[CommitOutcome]:
        return [o for o in self.measured if o.status == "partial"]


def track(
    repo_path: str | Path = ".",
    spec: str | None = None,
    *,
    last: int | None = None,
    profile: str | None = None,
    machine_name: str | None = None,
    config: str | None = None,
    retry_failed: bool = False,
    case_timeout_s: float | None = None,
    on_phase: Callable[..., None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_commit_start: Callable[[int, str, str], None] | None = None,
    on_commit_done: Callable[[int, CommitOutcome, str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    publish_site: bool = True,
) -> TrackSummary:
    """Measure the selected commits with asv and publish the site (unless ``publish_site`` is false: bisect
    measures one commit at a time); bad input raises UserError.  ``case_timeout_s``: the suite's limit on each
    case's measuring process (``track --case-timeout``)."""
    repo = git.find_repo(repo_path)
    setup = asvconf.load(repo, config)
    profile = profile or setup.default_profile
    suite_config.load(repo / "pyproject.toml", profile)  # the suite's cases exist, the profile is one of them
    ident = machine.identity(setup.torch_requirement)
    name = machine.name_for(machine_name, setup.torch_requirement)
    phase = on_phase or (lambda text, log, detail=None: None)
    hooks = _Hooks(phase, on_start, on_commit_start, on_commit_done, on_warning or (lambda text: None))
    try:
        with locks.exclusive(setup.state_dir / f"track-{name}.lock", "mdperf track"), \
                locks.environments(setup.env_dir, f"mdperf track on machine {name}", lambda text: phase(text, None)):
            return _track_locked(_Run(setup, repo, name, ident, profile, case_timeout_s, hooks), spec, last,
                                 retry_failed, publish_site)
    except OSError as exc:  # a read-only folder, a full disk: the machine's fault, said in one line
        raise TrackError(f"{exc.strerror or exc}: {exc.filename or ''}; nothing more was recorded") from None


@dataclass
class _Hooks:
    phase: Callable[..., None]
    start: Callable[[int, int], None] | None = None
    commit_start: Callable[[int, str, str], None] | None = None
    commit_done: Callable[[int, CommitOutcome, str], None] | None = None
    warning: Callable[[str], None] = lambda text: None  # said once, kept on screen: measuring goes on


@dataclass
class _Run:
    """One track, as its phases share it: where, which machine, what asv's processes get."""

    setup: AsvSetup
    repo: Path
    name: str
    ident: dict[str, Any]
    profile: str
    case_timeout_s: float | None
    hooks: _Hooks
    env: dict[str, str] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        return self.setup.state_dir / "logs" / self.name


def _track_locked(run: _Run, spec: str | None, last: int | None, retry_failed: bool,
                  publish_site: bool) -> TrackSummary:
    """The phases of one track: choose the commits, prepare the environments, measure each commit, publish."""
    ledger = Ledger(run.setup.state_dir / f"track-{run.name}.json")
    commits, skipped = _choose(run, ledger, spec, last, retry_failed)
    if run.hooks.start:
        run.hooks.start(len(commits), skipped)
    machine.register(run.name, run.ident)
    run.env = _asv_env(run)
    setup_s = _prepare_environments(run) if commits else 0.0
    facts = environment.machine_facts()  # read once: the machine does not change within one track
    outcomes: list[CommitOutcome] = []
    for i, commit in enumerate(commits):
        outcomes.append(_measure_commit(run, ledger, facts, commit, i, len(commits), [o.wall_s for o in outcomes]))
    busy = _busy(run.setup, run.name, [o.commit for o in outcomes if o.status in ("ok", "partial")])
    if not publish_site:
        return TrackSummary(run.name, outcomes, skipped, None, setup_s, busy=busy)
    site, publish_error, offline_note = None, "", ""
    run.hooks.phase("publishing the site", None)
    if any(run.setup.results_dir.glob(f"{run.name}/*.json")) or any(run.setup.results_dir.glob("*/*.json")):
        site, publish_error, offline_note = publish(run.setup, run.env, run.logs)
    return TrackSummary(run.name, outcomes, skipped, site, setup_s, publish_error, offline_note, busy)


def _choose(run: _Run, ledger: Ledger, spec: str | None, last: int | None,
            retry_failed: bool) -> tuple[list[str], int]:
    """The commits to measure, oldest first, and how many of the range were already measured."""
    for old in run.setup.state_dir.glob(f"hashfile-{run.name}-*.txt"):  # a run killed with -9 (we hold the lock)
        old.unlink(missing_ok=True)
    measured = measured_commits(run.setup, run.name, ledger)
    if retry_failed:
        measured -= ledger.failed()
    commits, skipped = select_commits(run.setup, spec, last, measured)
    if retry_failed and spec is None and last is None:  # every failed commit of the branch, oldest first
        head = git.first_parent_list(run.repo, "HEAD")
        commits = [c for c in reversed(head) if c in ledger.failed() or c in commits]
    return commits, skipped


def _asv_env(run: _Run) -> dict[str, str]:
    """What asv's processes get: the profile, the case limit, where the accuracy cases' force pairs go (the suite
    reads them inside asv)."""
    env = dict(os.environ, MDPERF_PROFILE=run.profile)
    env[PARITY_ENV] = str(run.setup.results_dir / run.name / PARITY_FILE)
    if run.case_timeout_s is not None:
        env[CASE_TIMEOUT_ENV] = repr(run.case_timeout_s)
    return env


def _prepare_environments(run: _Run) -> float:
    """mdperf's wheel (from a source checkout), the calculators checked, asv's environments created, stale ones
    removed and each live one checked again; the seconds asv's set-up took."""
    setup, repo, logs, on_phase = run.setup, run.repo, run.logs, run.hooks.phase
    wheel = None
    if setup.project != "mdperf" and (source := wheelhouse.source_dir()) is not None:
        # mdperf from a source checkout: its wheel, the same for every commit, is what the environment installs.
        on_phase("building mdperf's wheel for the benchmark environment", logs / "mdperf-wheel.log")
        try:
            wheel = wheelhouse.build(source, setup.state_dir / "wheelhouse", logs / "mdperf-wheel.log")
        except RuntimeError as exc:
            raise TrackError(str(exc)) from None
        run.env["PIP_FIND_LINKS"] = " ".join(filter(None, [str(wheel.parent), run.env.get("PIP_FIND_LINKS", "")]))
    on_phase("checking the configured calculators against the calculator contract", None)
    bad, warned = validate.in_child(repo, repo / "pyproject.toml", run.profile)
    for text in warned:  # said, and measured all the same: the measurement is true at the sizes it is right for
        run.hooks.warning(f"the calculator contract's stricter checks fail for {text} (mdperf validate shows "
                          "each check)")
    if bad:
        raise TrackError("the configured calculators fail the calculator contract, nothing measured: "
                         + " | ".join(bad))
    t0 = time.perf_counter()
    setup_log = logs / "asv-setup.log"
    on_phase("creating the benchmark environment (asv setup; the first time installs torch)", setup_log)
    rc = children.run_logged(_asv(setup, "setup"), setup_log, run.env, repo)
    setup_s = time.perf_counter() - t0
    # asv 0.6 `setup` exits 1 even when it succeeds (it returns its list of environments), so judge by
    # whether an environment exists and nothing was raised.
    text = setup_log.read_text(errors="replace")
    live, stale = setup.environments()
    if "Traceback" in text or not live:
        raise TrackError(f"could not create the benchmark environment (asv setup exit {rc}); log: {setup_log}")
    for old in stale:  # an earlier matrix's: asv never uses it again, and checking it would fail falsely
        on_phase(f"removing the stale benchmark environment {old.name} (of an earlier matrix in asv.conf.json)",
                 None)
        shutil.rmtree(old, ignore_errors=True)
    if wheel is not None:
        try:
            wheelhouse.refresh(live, wheel, logs / "mdperf-wheel.log")
        except RuntimeError as exc:
            raise TrackError(str(exc)) from None
    on_phase("checking the configured calculators in the benchmark environment", None)
    for env_path in live:
        python = benchenv.python_of(env_path)
        bad = validate.in_child(repo, repo / "pyproject.toml", run.profile, python=str(python))[0] \
            if python.exists() else []
        if bad:
            raise TrackError(f"the configured calculators fail in the benchmark environment {env_path.name}, "
                             "nothing measured: " + " | ".join(bad))
    return setup_s


def _measure_commit(run: _Run, ledger: Ledger, facts: dict[str, str], commit: str, i: int, n: int,
                    walls: list[float]) -> CommitOutcome:
    """One ``asv run`` of one commit (again, once, when its own package vanished right after install), its
    outcome recorded; a machine's fault leaves it unmeasured and stops the track."""
    setup, name, on_phase = run.setup, run.name, run.hooks.phase
    subject = git.subject(run.repo, commit)
    if run.hooks.commit_start:
        run.hooks.commit_start(i, commit, subject)
    hashfile = setup.state_dir / f"hashfile-{name}-{os.getpid()}.txt"  # this run's own
    log = run.logs / f"{commit[:12]}.log"
    progress_file = run.logs / f"{commit[:12]}.progress"
    progress_file.unlink(missing_ok=True)
    on_phase(f"measuring {commit[:10]} ({i + 1}/{n}) {subject[:50]}", log,
             progress.CommitProgress(progress_file, i, n, walls))
    ledger.mark_running(commit)
    t0 = time.perf_counter()
    for attempt in (1, 2):
        try:
            atomic_write_text(hashfile, commit + "\n")
            rc = children.run_logged(
                _asv(setup, "run", f"HASHFILE:{hashfile}", "--machine", name, "--show-stderr",
                     "--launch-method", "forkserver" if sys.platform.startswith("linux") else "spawn"),
                log, run.env | {PROGRESS_ENV: str(progress_file)}, run.repo,
            )
        finally:  # Ctrl-C, SIGTERM: nothing of this run's left behind
            hashfile.unlink(missing_ok=True)
            progress_file.unlink(missing_ok=True)
        status, reason, bench_s = classify(setup, name, commit, rc, log)
        if attempt == 1 and own_package_missing(setup, name, commit, status, log):
            # asv has just installed it: something removed it meanwhile (another run, a person). Measured
            # again before anything is recorded; missing twice, it is this commit's packaging.
            on_phase(f"measuring {commit[:10]} again: its own package vanished from the environment right "
                     "after asv installed it", log)
            for f in asvresults.result_paths(setup.results_dir / name, commit):
                f.unlink(missing_ok=True)
            continue
        break
    wall = time.perf_counter() - t0
    if status == "fault":  # the machine's, not the commit's: leave it unmeasured and stop here
        ledger.forget(commit)
        for f in asvresults.result_paths(setup.results_dir / name, commit):
            f.unlink(missing_ok=True)
        raise TrackError(f"stopped at {commit[:10]}: {reason}. Nothing was recorded for it; fix the cause "
                         "and run again")
    if status in ("ok", "partial"):
        _record_facts(setup, name, commit, facts)
    outcome = CommitOutcome(commit, status, reason, wall, bench_s)
    ledger.record(outcome)
    if run.hooks.commit_done:
        run.hooks.commit_done(i, outcome, subject)
    return outcome


def _busy(setup: AsvSetup, machine_name: str, commits: list[str]) -> str:
    """The guard's count over the cases measured in this run ("15 of 15 cases measured on a busy machine: ...")."""
    if not commits:
        return ""
    from . import history
    from .regressions.coverage import busy_text

    try:
        return busy_text(history.read(setup.results_dir), machine_name, commits)
    except (FileNotFoundError, OSError):
        return ""


def _record_facts(setup: AsvSetup, machine_name: str, commit: str, facts: dict[str, str]) -> None:
    """What the machine was for this commit's results, for the regression report's machine events."""
    mdir = setup.results_dir / machine_name
    entries = []
    for f in asvresults.result_paths(mdir, commit):
        try:
            rf = asvresults.load(f)
        except asvresults.ResultsError:
            continue  # classify() has judged the run; an unreadable file has no run to describe
        if rf.commit == commit:
            entries.append({"commit": commit, "env": rf.env, "started_at": rf.run_at, "facts": facts})
    if entries:
        asvresults.append_runs(mdir, entries)


class TrackError(RuntimeError):
    """mdperf track could not run at all (exit 2)."""
