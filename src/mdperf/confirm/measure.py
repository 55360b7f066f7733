"""Re-measuring: each commit built once into a folder of its own, then base and commit measured in turns
(ABBA) in fresh processes of the live benchmark environment's Python (:mod:`mdperf.benchenv`), extended while
undecided; the verdicts appended to the machine's file."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

from .. import benchenv
from ..asvconf import AsvSetup
from ..errors import UserError
from ..regressions import verdicts
from ..suite.config import case_args
from .targets import Target, metric_of, run_wide_verdicts
from .verdict import MAX_ROUNDS, ROUNDS, decide, extend_to, inconclusive_note, rounds_needed


def measure_once(python: str | Path, site: Path, case: tuple[str, int, str], profile: dict) -> dict:
    """One measurement of the case in a fresh process of the environment's Python, the commit's package first."""
    calculator, atoms, device = case
    args = case_args(profile, calculator, atoms, device)
    try:
        return benchenv.measure_in_child(python, args, site=site)
    except benchenv.ChildFailed as exc:
        raise UserError(f"measuring {calculator} at {atoms} atoms failed (exit {exc.returncode}): {exc.last}") from None


BUILD_PREFIX = "mdperf-confirm-build-"  # + the pid of the confirm that made it, so an orphan can be told


def _remove_orphaned_folders() -> None:
    """The build folders of a confirm killed with -9 (its TemporaryDirectory never closed): removed."""
    import psutil

    for folder in Path(tempfile.gettempdir()).glob(f"{BUILD_PREFIX}*"):
        pid = folder.name[len(BUILD_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _measured_kind(flagged: str, reversed_: bool) -> str:
    """The kind of change the re-measurement found: the flag's, or the opposite where it measured the other way."""
    if not reversed_:
        return flagged
    return {"regression": "improvement", "improvement": "regression"}.get(flagged, flagged)


def confirm(setup: AsvSetup, targets_: list[Target], profile: dict, rounds: int = ROUNDS,
            on_progress: Callable[[str], None] = lambda text: None, max_rounds: int = MAX_ROUNDS) -> list[dict]:
    """Re-measure each target against its base, interleaved; the verdicts (also appended to the machine's file).
    An inconclusive case is measured further, up to ``max_rounds`` a side, as many rounds as its measured spread
    says the flagged size needs; still inconclusive, it stays a flag to watch, and the verdict says why."""
    from .. import locks

    python = benchenv.live_python(setup)
    out: list[dict] = []
    logs = setup.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    _remove_orphaned_folders()
    with locks.environments(setup.env_dir, "mdperf confirm", on_progress), \
            tempfile.TemporaryDirectory(prefix=f"{BUILD_PREFIX}{os.getpid()}-") as tmp:
        sites: dict[str, Path] = {}
        for t in targets_:
            for c in (t.base, t.commit):
                if c not in sites:
                    on_progress(f"building {c[:8]} into a folder of its own")
                    sites[c] = benchenv.install_commit(setup, python, c, Path(tmp), logs / f"confirm-build-{c[:12]}.log")
            values: dict[str, list[dict]] = {t.base: [], t.commit: []}
            _measure_rounds(python, sites, t, values, rounds, profile, on_progress)
            self_verdicts: list[dict] = []
            for attempt in range(2):
                self_verdicts = []
                for f in t.flags:
                    metric = metric_of(f.benchmark)
                    a = [v["metrics"].get(metric) for v in values[t.base]]
                    b = [v["metrics"].get(metric) for v in values[t.commit]]
                    if any(x is None for x in a + b):
                        continue
                    v = decide(a, b, up=f.after > f.before, flagged_pct=f.change_pct)
                    v.update(commit=t.commit, base=t.base, benchmark=f.benchmark, params=f.params, metric=metric,
                             rounds=len(a), base_values=a, commit_values=b, at=time.time(),
                             kind=_measured_kind(f.kind, v["reversed"]), flag_change_pct=f.change_pct,
                             rounds_needed=rounds_needed(v["spread_pct"] / 100, f.change_pct))
                    self_verdicts.append(v)
                upto = extend_to(self_verdicts, len(values[t.base]), max_rounds)
                if attempt or upto is None:
                    break
                on_progress(f"{t.case[0]} at {t.case[1]} atoms: inconclusive after {len(values[t.base])} rounds "
                            f"(spread {max(v['spread_pct'] for v in self_verdicts):.1f} %); measuring to {upto} "
                            "rounds")
                _measure_rounds(python, sites, t, values, upto, profile, on_progress)
            for v in self_verdicts:
                if v["verdict"] == "inconclusive":
                    v["note"] = inconclusive_note(v, max_rounds)
            out.extend(self_verdicts)
            if self_verdicts:
                verdicts.append(setup.results_dir, t.machine, self_verdicts)
    shifts = run_wide_verdicts(targets_, out)
    if shifts:
        verdicts.append(setup.results_dir, targets_[0].machine, shifts)
    return out + shifts


def _measure_rounds(python: Path, sites: dict[str, Path], t: Target, values: dict[str, list[dict]], upto: int,
                    profile: dict, on_progress: Callable[[str], None]) -> None:
    """Measure base and commit in ABBA order until each side has ``upto`` rounds."""
    for r in range(len(values[t.base]), upto):
        order = (t.base, t.commit) if r % 2 == 0 else (t.commit, t.base)
        for c in order:
            on_progress(f"{t.case[0]} at {t.case[1]} atoms on {t.case[2]}: round {r + 1}/{upto}, "
                        f"{'base' if c == t.base else 'commit'} {c[:8]}")
            values[c].append(measure_once(python, sites[c], t.case, profile))


class SittingFailed(UserError):
    """A commit of a sitting that did not build or run."""

    def __init__(self, commit: str, message: str):
        super().__init__(f"{commit[:8]}: {message}")
        self.commit = commit


class Sitting:
    """Commits measured in one sitting on one case: each built once into a folder of its own, then measured in
    turns (the order rotated each round) in fresh processes, so that values compared with each other were taken
    under the same conditions.  A context manager: it holds the environments' lock and the build folders."""

    def __init__(self, setup: AsvSetup, case: tuple[str, int, str], profile: dict,
                 on_progress: Callable[[str], None] = lambda text: None, who: str = "mdperf bisect"):
        self.setup, self.case, self.profile, self.on_progress, self.who = setup, case, profile, on_progress, who
        self.sites: dict[str, Path] = {}
        self.values: dict[str, list[dict]] = {}

    def __enter__(self) -> "Sitting":
        from contextlib import ExitStack

        from .. import locks

        self.python = benchenv.live_python(self.setup)
        self.logs = self.setup.state_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        _remove_orphaned_folders()
        self._stack = ExitStack()
        self._stack.enter_context(locks.environments(self.setup.env_dir, self.who, self.on_progress))
        self.tmp = Path(self._stack.enter_context(
            tempfile.TemporaryDirectory(prefix=f"{BUILD_PREFIX}{os.getpid()}-")))
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def site(self, commit: str) -> Path:
        """The commit's own folder, built the first time it is asked for."""
        if commit not in self.sites:
            self.on_progress(f"building {commit[:8]} into a folder of its own")
            self.sites[commit] = benchenv.install_commit(self.setup, self.python, commit, self.tmp,
                                                         self.logs / f"{self.who.split()[-1]}-build-{commit[:12]}.log")
        return self.sites[commit]

    def measure(self, commits: list[str], rounds: int, metric: str) -> dict[str, list[float]]:
        """``rounds`` new values of ``metric`` for each of ``commits``, measured in turns; UserError when one does
        not build or run."""
        sites = {}
        for c in commits:
            try:
                sites[c] = self.site(c)
            except UserError as exc:
                raise SittingFailed(c, str(exc)) from None
        got: dict[str, list[float]] = {c: [] for c in commits}
        for r in range(rounds):
            order = commits[r % len(commits):] + commits[:r % len(commits)]
            for c in (order if r % 2 == 0 else order[::-1]):
                self.on_progress(f"{self.case[0]} at {self.case[1]} atoms on {self.case[2]}: round {r + 1}/{rounds}, "
                                 f"{c[:8]}")
                try:
                    v = measure_once(self.python, sites[c], self.case, self.profile)["metrics"].get(metric)
                except UserError as exc:
                    raise SittingFailed(c, str(exc)) from None
                if v is None:
                    raise SittingFailed(c, f"{metric} was not measured")
                got[c].append(float(v))
        return got
