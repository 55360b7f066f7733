"""``mdperf confirm``: re-measure a flagged change against its base, interleaved, and decide.

Statistics over history needs several more commits to confirm a small step, and cannot tell a step from a
noisy night.  Here the flagged commit and its base (the commit before it, or before its unmeasured range) are
each built once into a folder of their own (``pip install --no-deps --target``) and measured in turns — base,
commit, commit, base, … — each time in a fresh process of the existing asv environment's Python, with that
commit's folder first on the path.  Only the flagged cases run.  A one-sided Mann-Whitney test on the flagged
metric and a 95 % bootstrap interval of the ratio of medians (scipy.stats) decide: ``confirmed`` when the test
rejects "no change" at ``ALPHA`` and the interval clears 1 by ``MIN_EFFECT_PCT`` in the flag's direction;
``rejected`` only when a 99 % interval excludes half the flagged change; else ``inconclusive``, measured further
(as many rounds as the spread says the flagged size needs, up to ``MAX_ROUNDS``) and, still undecided, kept to
watch with the reason.  With ``--new``, the newest commit of a series that looks worse than its recent level is taken up
too (``suspicion``), so a step is confirmed the night it lands.  The
verdicts go to ``<results>/<machine>/mdperf-confirm.jsonl`` (:mod:`mdperf.regressions.verdicts`), which the
report, the site and the issues read.

asv's ``run --interleave-rounds`` was the first thing tried: it writes over the nightly's stored results of both
commits, and each round re-runs the suite's shared ``setup_cache`` — every case of the profile — where one
case is wanted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import children, git
from .asvconf import AsvSetup
from .errors import UserError
from .regressions import verdicts
from .regressions.model import Flag

ALPHA = 0.01
ROUNDS = 8  # per side (docs/design/confirm.md: why 8)
# The newest commit of a series is taken up when its value lies this many noise sigmas (and at least
# TRIGGER_MIN_PCT) on the bad side of its recent level: a step the history cannot confirm yet is re-measured the
# night it lands (docs/results/confirm-eval.md: the trade-off between this and the re-measurements a night costs).
TRIGGER_SIGMA = 1.0
TRIGGER_MIN_PCT = 0.5
RECENT = 20  # the recent level and noise: up to this many points before the newest
CONFIDENCE = 0.95  # of the bootstrap interval of the ratio
# The newest-commit trigger reads the step time only: each case carries a dozen series, and a trigger on any of
# them would take up nearly every case every night.
TRIGGER_BENCHMARKS = (".track_latency_p50_ms",)
MAX_CASES = 4  # cases re-measured per run of --new: what a night can afford (2 x rounds runs each)
MIN_EFFECT_PCT = 0.5  # the interval must clear 1 by this much: a change too small to matter is not an alarm
# A rejection silences a flag for good, so it takes more: the 99 % interval must exclude half the flagged change.
REJECT_CONFIDENCE = 0.99
MAX_ROUNDS = 24  # per side: how far an inconclusive re-measurement is extended (3 x ROUNDS)
SPREAD_MARGIN = 0.5  # ... or by this fraction of the re-measurement's spread, when that is larger


@dataclass
class Target:
    """One case to re-measure: a commit against its base, with the flags (benchmarks) it carries."""

    commit: str
    base: str
    machine: str
    params: dict[str, str]
    flags: list[Flag] = field(default_factory=list)
    run_wide: bool = False  # a representative case of an undecided run-wide shift at the commit

    @property
    def case(self) -> tuple[str, int, str]:
        p = {k: v.strip("'\"") for k, v in self.params.items()}
        return p["calculator"], int(p["atoms"]), p.get("device", "cpu")


def metric_of(benchmark: str) -> str | None:
    """The measurement's metric behind an mdperf suite benchmark (``md.Latency.track_latency_p50_ms``), or None
    when it is not one that a single measurement gives."""
    from .suite import benchmarks as suite

    parts = benchmark.split(".")
    if len(parts) < 3:
        return None
    cls, attr = getattr(suite, parts[-2], None), parts[-1]
    if cls is suite.Step and attr == "time_md_step":
        return "latency_median_ms"  # asv's own timer on one step: the same quantity
    return getattr(getattr(cls, attr, None), "metric", None)


def suspicion(values: np.ndarray, higher_is_better: bool, sigma: float = TRIGGER_SIGMA,
              min_pct: float = TRIGGER_MIN_PCT) -> tuple[float, float] | None:
    """(recent level, newest value) when the newest value lies on the bad side of the recent level by more than
    ``sigma`` robust noise sigmas and ``min_pct`` per cent; else None."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 6:  # too young to say what its level is
        return None
    recent, newest = x[-RECENT - 1:-1], float(x[-1])
    level = float(np.median(recent))
    if level == 0:
        return None
    noise = 1.4826 * float(np.median(np.abs(np.diff(recent)))) / np.sqrt(2)  # differences: steps left out
    worse = level - newest if higher_is_better else newest - level
    if worse > max(sigma * noise, abs(level) * min_pct / 100):
        return level, newest
    return None


def newest_suspicions(hist, machine: str, sigma: float = TRIGGER_SIGMA) -> list[Flag]:
    """A suspected regression at the newest commit of each series of ``machine`` that looks worse than its recent
    level (:func:`suspicion`); not in the report — only what confirm takes up."""
    from .regressions.model import graph_link

    out = []
    pos = hist.position()
    for s in hist.series:
        if s.machine != machine or not s.commits or not s.benchmark.endswith(TRIGGER_BENCHMARKS):
            continue
        found = suspicion(np.asarray(s.values, dtype=float), s.higher_is_better, sigma)
        if found is None:
            continue
        level, newest = found
        commit = s.commits[-1]
        prev = s.commits[-2] if len(s.commits) > 1 else None
        between = hist.order[pos[prev] + 1: pos[commit]] if prev in pos and commit in pos else []
        out.append(Flag(commit, between[0] if between else None, s.benchmark, s.params, s.machine, s.env, s.unit,
                        "regression", "suspected", 100 * (newest / level - 1), level, newest, float("nan"),
                        float("nan"), True, graph_link(s), 1, None, "", pos.get(commit, 0),
                        "the newest commit, worse than its recent level", None, s.key))
    return out


def at_commits(hist, machine: str, commits: list[str]) -> list[Flag]:
    """The step-time series of ``machine`` at the given commits, as suspected changes against the median of up to
    5 points before (a regression or an improvement by their direction), so that ``mdperf confirm COMMIT``
    answers "is this commit slower than its parent?" for any measured commit; a flag of the report on the same
    series and commit comes first (targets keeps one per benchmark)."""
    from .regressions.model import graph_link

    out = []
    pos = hist.position()
    for s in hist.series:
        if s.machine != machine or not s.benchmark.endswith(TRIGGER_BENCHMARKS):
            continue
        for c in commits:
            hit = [i for i, k in enumerate(s.commits) if k.startswith(c)]
            if not hit or hit[0] == 0 or s.values[hit[0]] is None:
                continue
            i = hit[0]
            prior = np.asarray([v for v in s.values[max(0, i - 5):i] if v is not None], dtype=float)
            if not prior.size:
                continue
            before, after = float(np.median(prior)), float(s.values[i])
            worse = after < before if s.higher_is_better else after > before
            prev = s.commits[i - 1]
            between = hist.order[pos[prev] + 1: pos[s.commits[i]]] if prev in pos and s.commits[i] in pos else []
            out.append(Flag(s.commits[i], between[0] if between else None, s.benchmark, s.params, s.machine, s.env,
                            s.unit, "regression" if worse else "improvement", "suspected",
                            100 * (after / before - 1) if before else 0.0, before, after, float("nan"), float("nan"),
                            False, graph_link(s), 1, None, "", pos.get(s.commits[i], 0), "asked for by commit", None,
                            s.key))
    return out


def targets(flags: list[Flag], repo: Path, machine: str, commits: list[str] | None = None,
            new: bool = False, max_cases: int | None = None) -> tuple[list[Target], list[str]]:
    """The cases to re-measure and why others are left out.  ``commits``: every regression or improvement
    flagged at them; ``new``: every new regression (confirmed, or suspected and among the newest), the newest
    commits' suspicions included."""
    chosen: dict[tuple, Target] = {}
    skipped: list[str] = []
    flags = _representatives(flags, machine, skipped)
    for f in flags:
        if f.machine != machine or f.kind == "transient":
            continue
        if commits is not None:
            if not any(f.commit.startswith(c) for c in commits):
                continue
        elif not (new and f.new and f.kind == "regression" and f.state in ("confirmed", "suspected")):
            continue
        if metric_of(f.benchmark) is None or not {"calculator", "atoms"} <= set(f.params):
            skipped.append(f"{f.benchmark} at {f.commit[:8]}: not a measurement mdperf confirm can repeat")
            continue
        first = f.range_start or f.commit
        if not git.has_parent(repo, first):
            skipped.append(f"{f.benchmark} at {f.commit[:8]}: the first commit has no parent to compare with")
            continue
        base = git.git(repo, "rev-parse", f"{first}^")
        k = (f.commit, json.dumps(f.params, sort_keys=True))
        t = chosen.setdefault(k, Target(f.commit, base, machine, dict(f.params)))
        t.run_wide = t.run_wide or f.run_wide == "undecided"
        if all(g.benchmark != f.benchmark for g in t.flags):  # a suspicion the report already flags: once
            t.flags.append(f)
    # The report's flags first (confirmed before suspected), then the newest commits' suspicions, largest first.
    order = sorted(chosen.values(), key=lambda t: (min(0 if g.state == "confirmed" else 1 if g.note == "" else 2
                                                        for g in t.flags), -max(abs(g.change_pct) for g in t.flags)))
    if max_cases is not None and len(order) > max_cases:
        skipped += [f"{t.case[0]} at {t.case[1]} atoms on {t.case[2]}, {t.commit[:8]}: over --max-cases {max_cases}"
                    for t in order[max_cases:]]
        order = order[:max_cases]
    return order, skipped


RUN_WIDE_CASES = 2  # representative cases re-measured for an undecided run-wide shift


def _representatives(flags: list[Flag], machine: str, skipped: list[str]) -> list[Flag]:
    """The flags with those of each undecided run-wide shift cut to its representative cases: the step time of up
    to RUN_WIDE_CASES cases that a measurement can repeat, the largest changes first.  One verdict on them decides
    the whole shift (the code's or the machine's)."""
    out, by_commit = [], {}
    for f in flags:
        if f.run_wide == "undecided" and f.machine == machine:
            by_commit.setdefault(f.commit, []).append(f)
        else:
            out.append(f)
    for commit, group in by_commit.items():
        able = [f for f in group if metric_of(f.benchmark) is not None and {"calculator", "atoms"} <= set(f.params)]
        able.sort(key=lambda f: (not f.benchmark.endswith(TRIGGER_BENCHMARKS), -abs(f.change_pct)))
        cases: list[str] = []
        for f in able:
            case = json.dumps(f.params, sort_keys=True)
            if case in cases or len(cases) >= RUN_WIDE_CASES:
                continue
            cases.append(case)
            out.append(f)
        if not cases:
            skipped.append(f"run-wide change at {commit[:8]}: none of its {len(group)} series is a measurement "
                           "mdperf confirm can repeat")
        elif len(group) > len(cases):
            skipped.append(f"run-wide change at {commit[:8]}: {len(group)} series, decided by {len(cases)} "
                           "representative case(s)")
    return out


def shift_verdict(found: list[str]) -> str:
    """A run-wide shift's verdict from its representative cases' verdicts: the code's (``confirmed``) when some
    are confirmed and none rejected, the machine's (``rejected``) when some are rejected and none confirmed, else
    ``inconclusive`` (they disagree, or none could decide)."""
    kinds = set(found)
    if "confirmed" in kinds and "rejected" not in kinds:
        return "confirmed"
    if "rejected" in kinds and "confirmed" not in kinds:
        return "rejected"
    return "inconclusive"


def run_wide_verdicts(targets_: list[Target], found: list[dict]) -> list[dict]:
    """The verdict on each undecided run-wide shift from its representatives' (:func:`shift_verdict`)."""
    from .regressions.model import RUN_WIDE

    out = []
    for commit in dict.fromkeys(t.commit for t in targets_ if t.run_wide):
        mine = [v for v in found if v["commit"] == commit and v["benchmark"] != RUN_WIDE
                and any(t.run_wide and t.commit == commit and t.params == v["params"] for t in targets_)]
        if not mine:
            continue
        verdict = shift_verdict([v["verdict"] for v in mine])
        first = mine[0]
        out.append({"benchmark": RUN_WIDE, "params": {}, "commit": commit, "base": first["base"], "verdict": verdict,
                    "ratio": first["ratio"], "ci": first["ci"], "p_value": first["p_value"], "rounds": first["rounds"],
                    "kind": first["kind"], "at": time.time(), "from": [v["benchmark"] + " " +
                                                                       json.dumps(v["params"], sort_keys=True)
                                                                       for v in mine],
                    "decided": {"confirmed": "code", "rejected": "machine"}.get(verdict, "undecided")})
    return out


def environment_python(setup: AsvSetup) -> Path:
    """The Python of a live benchmark environment (one of the current matrix, never a stale one)."""
    for env in setup.environments()[0]:
        py = env / "bin" / "python"
        if py.exists():
            return py
    raise UserError(f"no benchmark environment under {setup.env_dir}: run `mdperf track` first")


def build(setup: AsvSetup, python: Path, commit: str, where: Path, log: Path) -> Path:
    """The commit's package, installed into a folder of its own; the folder."""
    src, wheels, site = where / f"src-{commit[:12]}", where / f"wheel-{commit[:12]}", where / f"site-{commit[:12]}"
    src.mkdir(parents=True)
    data = git.git_io(setup.repo, "archive", "--format=tar", commit).stdout
    with tempfile.TemporaryFile() as tmp:
        tmp.write(data)
        tmp.seek(0)
        with tarfile.open(fileobj=tmp) as tar:
            tar.extractall(src, filter="data")
    with open(log, "a") as out:
        for isolation in (["--no-build-isolation"], []):  # as asv builds it; with isolation if that fails
            p = subprocess.run([str(python), "-m", "pip", "wheel", "--no-deps", *isolation, "-w", str(wheels),
                                str(src)], stdout=out, stderr=subprocess.STDOUT)
            if p.returncode == 0:
                break
        else:
            raise UserError(f"commit {commit[:8]} does not build; log: {log}")
        wheel = next(wheels.glob("*.whl"))
        p = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel)],
                           stdout=out, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            raise UserError(f"commit {commit[:8]}: its wheel does not install; log: {log}")
    shutil.rmtree(src, ignore_errors=True)
    return site


def measure_once(python: Path, site: Path, case: tuple[str, int, str], profile: dict) -> dict:
    """One measurement of the case in a fresh process of the environment's Python, the commit's package first."""
    from .suite.benchmarks import _CHILD, child_args

    calculator, atoms, device = case
    args = child_args(calculator, atoms, device)
    args.update({k: profile[k] for k in ("system", "steps", "warmup", "protocol", "dtype")})
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    with tempfile.TemporaryDirectory(prefix="mdperf-confirm-") as tmp:
        out = Path(tmp) / "result.json"
        # Run from an empty folder: `python -c` puts the working directory first on the path, and the checkout's
        # own package (the working tree, not the commit measured) would shadow the commit's folder.
        err = Path(tmp) / "stderr.txt"
        with open(err, "w") as fh:  # in a session that ends with confirm, whatever ends confirm
            rc = children.run([str(python), "-c", _CHILD, json.dumps(args), str(out)], stdout=subprocess.DEVNULL,
                              stderr=fh, env=env, cwd=tmp)
        if rc != 0 or not out.exists():
            last = (err.read_text(errors="replace").strip().splitlines() or ["no output"])[-1]
            raise UserError(f"measuring {calculator} at {atoms} atoms failed (exit {rc}): {last}")
        return json.loads(out.read_text())


START_S = 5.0  # a measuring child's own start: Python, torch, the system built (a 2-core machine, measured)
BUILD_S = 25.0  # one commit's wheel built and installed into its folder


def _case_figure(hist, machine: str, params: dict[str, str], benchmark: str, commit: str) -> float | None:
    """The newest value of the case's series at or before ``commit``, or None."""
    for s in hist.series:
        if s.machine == machine and s.benchmark.endswith(benchmark) and s.params == params and s.values:
            at = s.commits.index(commit) + 1 if commit in s.commits else len(s.commits)
            values = [v for v in s.values[:at] if v is not None and v == v]
            if values:
                return float(values[-1])
    return None


def estimate_s(targets_: list[Target], hist, profile: dict, rounds: int, max_rounds: int) -> tuple[float, float] | None:
    """(seconds at ``rounds`` a side, seconds if every case needs ``max_rounds``), from the cases' step and
    cold-start times in the history; None where a case has no step time to go by."""
    per_round = 0.0
    for t in targets_:
        step_ms = _case_figure(hist, t.machine, t.params, ".track_latency_p50_ms", t.commit)
        if step_ms is None:
            return None
        cold_ms = _case_figure(hist, t.machine, t.params, ".track_cold_start_ms", t.commit) or 0.0
        one = START_S + cold_ms / 1e3 + (profile["steps"] + profile["warmup"]) * step_ms / 1e3
        per_round += 2 * one  # base and commit
    builds = BUILD_S * len({c for t in targets_ for c in (t.base, t.commit)})
    return builds + rounds * per_round, builds + max_rounds * per_round


def _ratio_interval(a: np.ndarray, b: np.ndarray, confidence: float) -> tuple[float, float]:
    from scipy import stats

    boot = stats.bootstrap((b, a), lambda x, y, axis=-1: np.median(x, axis=axis) / np.median(y, axis=axis),
                           vectorized=True, paired=False, n_resamples=4000, method="percentile",
                           confidence_level=confidence, random_state=np.random.default_rng(0))
    return float(boot.confidence_interval.low), float(boot.confidence_interval.high)


def spread_of(base: list[float], commit: list[float]) -> float:
    """The re-measurement's own spread: the root-mean-square log deviation of each side from its median."""
    a, b = np.asarray(base, float), np.asarray(commit, float)
    if not ((a > 0).all() and (b > 0).all()):
        return 0.0
    logs = np.concatenate([np.log(a / np.median(a)), np.log(b / np.median(b))])
    return float(np.sqrt(np.mean(logs ** 2)))


def reject_bound_pct(flagged_pct: float | None) -> float:
    """How far from 1 the interval must stop short for a rejection: half the flagged change, at least
    MIN_EFFECT_PCT (a flag of unknown size: MIN_EFFECT_PCT)."""
    return max(MIN_EFFECT_PCT, abs(flagged_pct) / 2) if flagged_pct is not None and np.isfinite(flagged_pct) \
        else MIN_EFFECT_PCT


def rounds_needed(spread: float, flagged_pct: float | None) -> int:
    """Rounds per side that can resolve the flagged size: the 99 % interval of the ratio narrower, each side,
    than half the flagged change (a rejection possible), and a change of half the flagged size clearing the
    confirmation margin with its 95 % interval (a confirmation possible).  The median's standard error:
    1.2533 sigma / sqrt(n) a side.  A flag no larger than the margin cannot be resolved: a very large number."""
    half = float(np.log1p(reject_bound_pct(flagged_pct) / 100))
    if spread <= 0:
        return 4
    margin = float(np.log1p(max(MIN_EFFECT_PCT / 100, SPREAD_MARGIN * spread)))
    reject = 2 * (2.576 * 1.2533 * spread / half) ** 2
    if half <= margin:
        return 10**6
    confirm_ = 2 * (1.96 * 1.2533 * spread / (half - margin)) ** 2
    return int(np.ceil(max(reject, confirm_, 4)))


def decide(base: list[float], commit: list[float], up: bool, alpha: float = ALPHA,
           flagged_pct: float | None = None) -> dict:
    """The verdict on ``commit``'s values against ``base``'s for a change upwards (``up``) or downwards of about
    ``flagged_pct`` per cent: ``confirmed`` (the test rejects "no change" and the 95 % interval of the ratio
    clears 1 by the margin), ``rejected`` only when the 99 % interval excludes half the flagged change (evidence
    that it is not there), else ``inconclusive`` (the re-measurement could not tell)."""
    from scipy import stats

    a, b = np.asarray(base, float), np.asarray(commit, float)
    p = float(stats.mannwhitneyu(b, a, alternative="greater" if up else "less").pvalue)
    ratio = float(np.median(b) / np.median(a))
    lo, hi = _ratio_interval(a, b, CONFIDENCE)
    # The interval must clear 1 by MIN_EFFECT_PCT, or by half the re-measurement's own spread when that is larger:
    # on a noisy machine a small shift of the medians is not yet a change.
    spread = spread_of(base, commit)
    margin = max(MIN_EFFECT_PCT / 100, SPREAD_MARGIN * spread)
    confirmed = p < alpha and (lo > 1 + margin if up else hi < 1 - margin)
    bound = reject_bound_pct(flagged_pct) / 100
    rlo, rhi = _ratio_interval(a, b, REJECT_CONFIDENCE)
    rejected = not confirmed and (rhi < 1 + bound if up else rlo > 1 - bound)
    verdict = "confirmed" if confirmed else "rejected" if rejected else "inconclusive"
    return {"verdict": verdict, "ratio": ratio, "ci": [lo, hi], "p_value": p, "margin_pct": 100 * margin,
            "reject_ci": [rlo, rhi], "reject_bound_pct": 100 * bound, "spread_pct": 100 * spread}


BUILD_PREFIX = "mdperf-confirm-build-"  # + the pid of the confirm that made it, so an orphan can be told


def _remove_orphaned_folders() -> None:
    """The build folders of a confirm killed with -9 (its TemporaryDirectory never closed): removed."""
    import psutil

    for folder in Path(tempfile.gettempdir()).glob(f"{BUILD_PREFIX}*"):
        pid = folder.name[len(BUILD_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def confirm(setup: AsvSetup, targets_: list[Target], profile: dict, rounds: int = ROUNDS,
            on_progress: Callable[[str], None] = lambda text: None, max_rounds: int = MAX_ROUNDS) -> list[dict]:
    """Re-measure each target against its base, interleaved; the verdicts (also appended to the machine's file).
    An inconclusive case is measured further, up to ``max_rounds`` a side, as many rounds as its measured spread
    says the flagged size needs; still inconclusive, it stays a flag to watch, and the verdict says why."""
    from . import locks

    python = environment_python(setup)
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
                    sites[c] = build(setup, python, c, Path(tmp), logs / f"confirm-build-{c[:12]}.log")
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
                             kind=f.kind, flag_change_pct=f.change_pct,
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


def _measure_rounds(python: str, sites: dict[str, Path], t: Target, values: dict[str, list[dict]], upto: int,
                    profile: dict, on_progress: Callable[[str], None]) -> None:
    """Measure base and commit in ABBA order until each side has ``upto`` rounds."""
    for r in range(len(values[t.base]), upto):
        order = (t.base, t.commit) if r % 2 == 0 else (t.commit, t.base)
        for c in order:
            on_progress(f"{t.case[0]} at {t.case[1]} atoms on {t.case[2]}: round {r + 1}/{upto}, "
                        f"{'base' if c == t.base else 'commit'} {c[:8]}")
            values[c].append(measure_once(python, sites[c], t.case, profile))


def extend_to(found: list[dict], have: int, max_rounds: int = MAX_ROUNDS) -> int | None:
    """The rounds a side to measure to when some verdicts are inconclusive: what their spread says the flagged
    size needs, within ``max_rounds``; None when none is, or no more rounds are allowed."""
    open_ = [v for v in found if v["verdict"] == "inconclusive"]
    if not open_:
        return None
    upto = min(max_rounds, max(rounds_needed(v["spread_pct"] / 100, v.get("flag_change_pct")) for v in open_))
    upto = max(upto, min(max_rounds, have + 4))  # at least two more ABBA pairs
    return upto if upto > have else None


def inconclusive_note(v: dict, max_rounds: int = MAX_ROUNDS) -> str:
    """Why a re-measurement could not decide, and what would."""
    ci = v["ci"]
    text = (f"inconclusive: x{v['ratio']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] after {v['rounds']} rounds neither clears "
            f"1 nor excludes half the flagged {v['flag_change_pct']:+.1f}%")
    need = v.get("rounds_needed")
    if need and need > v["rounds"]:
        text += (f"; this spread ({v['spread_pct']:.1f} %) needs about {need} rounds a side"
                 + (f", over the budget of {max_rounds}: quiet the machine (docs/guides/regressions.md)"
                    if need > max_rounds else ""))
    return text + "; kept to watch"
