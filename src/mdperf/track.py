"""`mdperf track`: run the asv suite over a repository's commits, record each commit's outcome, publish.

One ``asv run`` per commit (from a one-line hash file), so a commit that fails to build or whose benchmarks
error is recorded as failed and the run goes on, and an interrupted run resumes with the commits not yet
recorded.  The ledger ``<results_dir>/../mdperf/track-<machine>.json`` holds each commit's outcome and timings.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import asvconf, asvresults, environment, git, locks, machine, progress
from .asvconf import AsvSetup
from .errors import UserError
from .result import atomic_write_text
from .suite import config as suite_config
from .suite import validate, wheelhouse
from .suite.config import PROGRESS_ENV


@dataclass
class CommitOutcome:
    commit: str
    status: str  # "ok" | "partial" (some benchmarks measured, some errored) | "failed"
    reason: str = ""
    wall_s: float = 0.0
    benchmark_s: float = 0.0  # time asv reports inside benchmarks (setup_cache included)
    date: float = field(default_factory=time.time)

    @property
    def overhead_s(self) -> float:
        """Build, install and asv's own start-up: the commit's wall time outside the benchmarks."""
        return max(0.0, self.wall_s - self.benchmark_s)


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        if path.exists():
            try:
                data = json.loads(path.read_text())
                entries = data.get("commits", {}) if isinstance(data, dict) else {}
                self.entries = {c: e for c, e in entries.items() if isinstance(e, dict)} \
                    if isinstance(entries, dict) else {}
            except (OSError, ValueError):
                self.entries = {}  # a damaged ledger only costs re-measuring

    def mark_running(self, commit: str) -> None:
        """Written before a commit's run: an interrupted run leaves it 'running', so the next one redoes it."""
        self.entries[commit] = {"status": "running", "date": time.time()}
        self._save()

    def finished(self) -> set[str]:
        return {c for c, e in self.entries.items() if e.get("status") in ("ok", "partial", "failed")}

    def failed(self) -> set[str]:
        """Failed and partial commits (--retry-failed measures both again)."""
        return {c for c, e in self.entries.items() if e.get("status") in ("partial", "failed")}

    def forget(self, commit: str) -> None:
        """An environment fault: the commit stays unmeasured, to be measured by the next run."""
        self.entries.pop(commit, None)
        self._save()

    def running(self) -> set[str]:
        return {c for c, e in self.entries.items() if e.get("status") == "running"}

    def _save(self) -> None:
        atomic_write_text(self.path, json.dumps({"version": 1, "commits": self.entries}, indent=1))

    def record(self, outcome: CommitOutcome) -> None:
        self.entries[outcome.commit] = {
            "status": outcome.status, "reason": outcome.reason, "wall_s": outcome.wall_s,
            "benchmark_s": outcome.benchmark_s, "overhead_s": outcome.overhead_s, "date": outcome.date,
        }
        self._save()


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


def _run_logged(cmd: list[str], log: Path, env: dict[str, str], cwd: Path, timeout_s: float | None = None) -> int:
    """Run ``cmd`` with its output in ``log``, in a session that ends with mdperf (mdperf.children.run)."""
    from . import children

    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as fh:
        return children.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=cwd, timeout_s=timeout_s)


def classify(setup: AsvSetup, machine_name: str, commit: str, returncode: int, log: Path) -> tuple[str, str, float]:
    """(status, reason, benchmark seconds) from asv's result file for ``commit``.  Status ``failed``: the
    commit's own failure (build, import, benchmark errors), recorded; ``fault``: the machine's (asv killed or
    crashed, results unwritable or cut short by a full disk), never recorded, to be measured again."""
    if returncode < 0 or returncode in (128 + signal.SIGKILL, 128 + signal.SIGTERM):
        return "fault", f"asv was killed (exit {returncode}); log: {log}", 0.0
    files = asvresults.result_paths(setup.results_dir / machine_name, commit)
    if not files:
        missing = _missing_module(log)
        if missing:  # the suite itself could not be imported: mdperf (or a dependency) is not in the environment
            return "failed", f"the benchmark environment is broken: {missing}; log: {log}", 0.0
        if _build_failure(log):
            return "failed", _build_failure(log), 0.0
        return "fault", f"asv wrote no results (exit {returncode}): {_last_error(log)}; log: {log}", 0.0
    failed, total, bench_s = [], 0, 0.0
    for f in files:
        try:
            rf = asvresults.load(f)
        except asvresults.ResultsError as exc:
            return "fault", f"asv left an unreadable result file {f.name} (a full disk?): {exc}", 0.0
        for name, row in rf.rows.items():
            total += 1
            values = row.result
            if values is None or (isinstance(values, list) and values and all(v is None for v in values)):
                failed.append(name)
        bench_s += rf.benchmark_s
    if total and len(failed) == total:
        return "failed", _build_failure(log) or _broken_environment(log) or f"every benchmark failed; log: {log}", bench_s
    if failed:
        why = _errors(log)
        return "partial", f"{len(failed)} of {total} benchmarks errored ({', '.join(sorted(failed)[:3])}" + \
            ("…" if len(failed) > 3 else "") + ")" + (f": {why}" if why else "") + f"; log: {log}", bench_s
    return "ok", "", bench_s


_ERROR_LINE = re.compile(r"^\s*(?:[\w.]+\.)?(\w*(?:Error|Exception)): (.+)$")


def _errors(log: Path, most: int = 2) -> str:
    """The distinct errors the benchmarks raised (their tracebacks' last lines in asv's log), for the reason."""
    seen: dict[str, None] = {}
    for line in _log_text(log).splitlines():
        found = _ERROR_LINE.match(line)
        if found and found.group(1) != "NotImplementedError":
            seen.setdefault(f"{found.group(1)}: {found.group(2).strip()[:240]}", None)
    return " | ".join(list(seen)[:most])


def _log_text(log: Path) -> str:
    try:
        return log.read_text(errors="replace")
    except OSError:
        return ""


# The suite's message for a dependency that fails to import (mdperf.suite.benchmarks, _api_missing), as the asv
# log shows it in each failed benchmark's traceback; and an import that fails before the suite exists.
_BROKEN_ENV = re.compile(r"RuntimeError: ((?:the benchmark environment is broken: |this commit has no ).*)")
_MISSING_MODULE = re.compile(r"(ModuleNotFoundError: No module named '[^']+')")


def _own_package_missing(setup: AsvSetup, machine_name: str, commit: str, status: str, log: Path) -> bool:
    """The suite could not even be imported because the measured project's own package is missing (No module named
    '<project>': mdperf measuring itself), which asv had just installed."""
    if status != "failed" or asvresults.result_paths(setup.results_dir / machine_name, commit):
        return False
    found = re.search(r"No module named '([\w.]+)'", _log_text(log))
    return bool(found) and found.group(1).split(".")[0] == setup.project.replace("-", "_")


def _broken_environment(log: Path) -> str:
    found = _BROKEN_ENV.search(_log_text(log))
    return f"{found.group(1).strip()}; log: {log}" if found else ""


def _missing_module(log: Path) -> str:
    found = _MISSING_MODULE.search(_log_text(log))
    return found.group(1) if found else ""


def _last_error(log: Path) -> str:
    """The last line of the log that names an error, for the fault's one-line reason."""
    lines = [ln.strip() for ln in _log_text(log).splitlines() if ln.strip()]
    errors = [ln for ln in lines if "Error" in ln or "error" in ln]
    return (errors or lines or ["empty log"])[-1][:300]


def _build_failure(log: Path) -> str:
    text = _log_text(log)
    if "Error running" in text or "Failed to build" in text or "failed to build" in text.lower():
        return f"build failed; log: {log}"
    return ""


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
    on_phase: Callable[..., None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_commit_start: Callable[[int, str, str], None] | None = None,
    on_commit_done: Callable[[int, CommitOutcome, str], None] | None = None,
    publish_site: bool = True,
) -> TrackSummary:
    """Measure the selected commits with asv and publish the site (unless ``publish_site`` is false: bisect
    measures one commit at a time); bad input raises UserError."""
    repo = git.find_repo(repo_path)
    setup = asvconf.load(repo, config)
    profile = profile or setup.default_profile
    suite_config.load(repo / "pyproject.toml", profile)  # the suite's cases exist, the profile is one of them
    ident = machine.identity(setup.torch_requirement)
    name = machine.name_for(machine_name, setup.torch_requirement)
    try:
        with locks.exclusive(setup.state_dir / f"track-{name}.lock", "mdperf track"), \
                locks.environments(setup.env_dir, f"mdperf track on machine {name}",
                                   lambda text: (on_phase or (lambda t, log: None))(text, None)):
            return _track_locked(setup, repo, name, ident, spec, last, profile, retry_failed,
                                 on_phase or (lambda text, log: None), on_start, on_commit_start, on_commit_done,
                                 publish_site)
    except OSError as exc:  # a read-only folder, a full disk: the machine's fault, said in one line
        raise TrackError(f"{exc.strerror or exc}: {exc.filename or ''}; nothing more was recorded") from None


def _track_locked(setup: AsvSetup, repo: Path, name: str, ident: dict[str, Any], spec: str | None,
                  last: int | None, profile: str, retry_failed: bool,
                  on_phase: Callable[..., None],
                  on_start: Callable[[int, int], None] | None,
                  on_commit_start: Callable[[int, str, str], None] | None,
                  on_commit_done: Callable[[int, CommitOutcome, str], None] | None,
                  publish_site: bool = True) -> TrackSummary:
    ledger = Ledger(setup.state_dir / f"track-{name}.json")
    for old in setup.state_dir.glob(f"hashfile-{name}-*.txt"):  # a run killed with -9 (this one holds the lock)
        old.unlink(missing_ok=True)
    measured = measured_commits(setup, name, ledger)
    if retry_failed:
        measured -= ledger.failed()
    commits, skipped = select_commits(setup, spec, last, measured)
    if retry_failed and spec is None and last is None:  # every failed commit of the branch, oldest first
        head = git.first_parent_list(repo, "HEAD")
        commits = [c for c in reversed(head) if c in ledger.failed() or c in commits]
    if on_start:
        on_start(len(commits), skipped)
    machine.register(name, ident)
    env = dict(os.environ, MDPERF_PROFILE=profile)
    logs = setup.state_dir / "logs" / name
    wheel = None
    if commits and setup.project != "mdperf" and (source := wheelhouse.source_dir()) is not None:
        # mdperf from a source checkout: its wheel, the same for every commit, is what the environment installs.
        on_phase("building mdperf's wheel for the benchmark environment", logs / "mdperf-wheel.log")
        try:
            wheel = wheelhouse.build(source, setup.state_dir / "wheelhouse", logs / "mdperf-wheel.log")
        except RuntimeError as exc:
            raise TrackError(str(exc)) from None
        env["PIP_FIND_LINKS"] = " ".join(filter(None, [str(wheel.parent), env.get("PIP_FIND_LINKS", "")]))
    if commits:
        on_phase("checking the configured calculators against the calculator contract", None)
        bad = validate.in_child(repo, repo / "pyproject.toml", profile)
        if bad:
            raise TrackError("the configured calculators fail the calculator contract, nothing measured: "
                             + " | ".join(bad))
    facts = environment.machine_facts()  # read once: the machine does not change within one track
    setup_s = 0.0
    outcomes: list[CommitOutcome] = []
    if commits:
        t0 = time.perf_counter()
        setup_log = logs / "asv-setup.log"
        on_phase("creating the benchmark environment (asv setup; the first time installs torch)", setup_log)
        rc = _run_logged(_asv(setup, "setup"), setup_log, env, repo)
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
            python = env_path / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
            bad = validate.in_child(repo, repo / "pyproject.toml", profile, python=str(python)) if python.exists() else []
            if bad:
                raise TrackError(f"the configured calculators fail in the benchmark environment {env_path.name}, "
                                 "nothing measured: " + " | ".join(bad))
    for i, commit in enumerate(commits):
        subject = git.subject(repo, commit)
        if on_commit_start:
            on_commit_start(i, commit, subject)
        hashfile = setup.state_dir / f"hashfile-{name}-{os.getpid()}.txt"  # this run's own
        log = logs / f"{commit[:12]}.log"
        progress_file = logs / f"{commit[:12]}.progress"
        progress_file.unlink(missing_ok=True)
        on_phase(f"measuring {commit[:10]} ({i + 1}/{len(commits)}) {subject[:50]}", log,
                 progress.CommitProgress(progress_file, i, len(commits), [o.wall_s for o in outcomes]))
        ledger.mark_running(commit)
        t0 = time.perf_counter()
        for attempt in (1, 2):
            try:
                atomic_write_text(hashfile, commit + "\n")
                rc = _run_logged(
                    _asv(setup, "run", f"HASHFILE:{hashfile}", "--machine", name, "--show-stderr",
                         "--launch-method", "forkserver" if sys.platform.startswith("linux") else "spawn"),
                    log, env | {PROGRESS_ENV: str(progress_file)}, repo,
                )
            finally:  # Ctrl-C, SIGTERM: nothing of this run's left behind
                hashfile.unlink(missing_ok=True)
                progress_file.unlink(missing_ok=True)
            status, reason, bench_s = classify(setup, name, commit, rc, log)
            if attempt == 1 and _own_package_missing(setup, name, commit, status, log):
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
        outcomes.append(outcome)
        if on_commit_done:
            on_commit_done(i, outcome, subject)
    site, publish_error, offline_note = None, "", ""
    busy = _busy(setup, name, [o.commit for o in outcomes if o.status in ("ok", "partial")])
    if not publish_site:
        return TrackSummary(name, outcomes, skipped, site, setup_s, busy=busy)
    on_phase("publishing the site", None)
    if any(setup.results_dir.glob(f"{name}/*.json")) or any(setup.results_dir.glob("*/*.json")):
        site, publish_error, offline_note = publish(setup, env, logs)
    return TrackSummary(name, outcomes, skipped, site, setup_s, publish_error, offline_note, busy)


def _busy(setup: AsvSetup, machine_name: str, commits: list[str]) -> str:
    """The guard's count over the cases measured in this run ("15 of 15 cases measured on a busy machine: ...")."""
    if not commits:
        return ""
    from . import history
    from .regressions.analysis import busy_text

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


def publish(setup: AsvSetup, env: dict[str, str] | None = None, logs: Path | None = None,
            assets: Path | None = None) -> tuple[Path | None, str, str]:
    """asv publish into html_dir, then mdperf's page and the site's libraries copied in (offline):
    (index.html, "", what the offline step did) or (None, reason, "")."""
    logs = logs or setup.state_dir / "logs"
    log = logs / "asv-publish.log"
    config, _ = _publish_view(setup)  # what it leaves out, the report lists as problems
    rc = _run_logged([sys.executable, "-m", "asv", "publish", "--config", str(config)], log, env or dict(os.environ),
                     setup.repo)
    index = setup.html_dir / "index.html"
    if rc != 0 or not index.exists():
        return None, f"asv publish failed (exit {rc}); log: {log}", ""
    from . import offline, site
    from .regressions import analyse_results, config, record

    try:
        cfg = config.load(None, setup.repo)
        report = analyse_results(setup.results_dir, setup.repo, cfg, record=setup.state_dir / record.FILE_NAME,
                                 update_record=False)  # the alert is `mdperf regressions`'s to make
        site.write(setup.html_dir, report)
    except Exception as exc:  # the asv site stands without mdperf's page; say why it is missing
        return index, f"mdperf changes page not written: {type(exc).__name__}: {exc}", ""
    try:
        _, offline_note = offline.make_offline(setup.html_dir, assets)
    except (UserError, OSError, ValueError) as exc:
        return index, f"site libraries not copied in: {exc}", ""
    return index, "", offline_note


def _publish_view(setup: AsvSetup) -> tuple[Path, list[str]]:
    """An asv configuration like the repository's whose results folder holds only the files mdperf can read
    (results are untrusted: pulled from other runners), every path absolute; the files left out."""
    from asv import util

    view = setup.state_dir / "publish-view"
    left_out = asvresults.readable_view(setup.results_dir, view / "results")
    conf = util.load_json(str(setup.config_path), api_version=1, js_comments=True)
    here = setup.config_path.resolve().parent
    conf.update(version=1, repo=str(setup.repo.resolve()), results_dir=str((view / "results").resolve()),
                html_dir=str(setup.html_dir.resolve()), env_dir=str(setup.env_dir.resolve()),
                benchmark_dir=str((here / conf.get("benchmark_dir", "benchmarks")).resolve()))
    atomic_write_text(view / "asv.conf.json", json.dumps(conf, indent=1))
    return view / "asv.conf.json", left_out


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 or math.isnan(seconds) else f"{seconds / 60:.1f} min"
