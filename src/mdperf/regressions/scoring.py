"""Scoring a detector on histories with known changes: recall, precision, exact attribution, false alarms,
and detection delay (running the detector on each prefix, as a nightly tracker sees the history grow)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from scipy import stats

from . import datasets as D
from .datasets import History

# A detector: values -> indices of reported changes (first commit at the new level).
Detector = Callable[[np.ndarray], Sequence[int]]


@dataclass
class Score:
    true_steps: int = 0
    found: int = 0
    exact: int = 0
    detections: int = 0
    false_alarms: int = 0
    clean_commits: int = 0
    delays: list[int] = field(default_factory=list)
    found_within_3: int = 0
    online_false_alarms: int = 0
    online_commits: int = 0

    def add(self, other: "Score") -> None:
        for k in ("true_steps", "found", "exact", "detections", "false_alarms", "clean_commits", "found_within_3",
                  "online_false_alarms", "online_commits"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.delays.extend(other.delays)

    @property
    def recall(self) -> float:
        return self.found / self.true_steps if self.true_steps else float("nan")

    @property
    def precision(self) -> float:
        return (self.detections - self.false_alarms) / self.detections if self.detections else float("nan")

    @property
    def exact_rate(self) -> float:
        return self.exact / self.found if self.found else float("nan")

    @property
    def false_alarms_per_1000(self) -> float:
        return 1000 * self.false_alarms / self.clean_commits if self.clean_commits else float("nan")

    @property
    def online_false_alarms_per_1000(self) -> float:
        return 1000 * self.online_false_alarms / self.online_commits if self.online_commits else float("nan")

    @property
    def within_3_rate(self) -> float:
        return self.found_within_3 / self.true_steps if self.true_steps else float("nan")

    def delay_quantiles(self) -> tuple[float, float]:
        if not self.delays:
            return float("nan"), float("nan")
        return float(np.median(self.delays)), float(np.percentile(self.delays, 90))


def score(history: History, detector: Detector, *, tolerance: int = 3, max_delay: int = 10,
          online: bool = True) -> Score:
    """Match reported changes to true steps within ``tolerance`` commits; the rest are false alarms.

    Clean commits are those farther than ``tolerance`` from any true step: false alarms are counted per 1,000
    of them.  With ``online``, the delay of each found step is the number of commits after it that the
    detector needed, running on growing prefixes, to report it (capped at ``max_delay``).
    """
    s = Score()
    n = history.values.size
    reported = sorted(set(detector(history.values)))
    truth = [at for at, _ in history.steps]
    s.true_steps = len(truth)
    s.detections = len(reported)
    used: set[int] = set()
    for at in truth:
        near = [r for r in reported if abs(r - at) <= tolerance and r not in used]
        if near:
            best = min(near, key=lambda r: abs(r - at))
            used.add(best)
            s.found += 1
            s.exact += best == at
    s.false_alarms = len([r for r in reported if r not in used])
    near_truth = np.zeros(n, dtype=bool)
    for at in truth:
        near_truth[max(0, at - tolerance): at + tolerance + 1] = True
    s.clean_commits = int((~near_truth).sum())
    if online:
        for at in truth:
            for d in range(0, max_delay + 1):
                end = at + 1 + d
                if end > n:
                    break
                if any(abs(r - at) <= tolerance for r in detector(history.values[:end])):
                    s.delays.append(d)
                    s.found_within_3 += d <= 3
                    break
    return s


def online_false_alarms(history: History, detector: Detector, *, start: int = 20, tolerance: int = 3) -> tuple[int, int]:
    """False alarms as a nightly tracker raises them: run the detector on every prefix from ``start`` commits
    on and count each change reported away from every true step once (changes within ``tolerance`` commits
    of one already counted are the same alarm), even if a later prefix withdraws it.  Returns (alarms,
    commits analysed)."""
    n = history.values.size
    truth = [at for at, _ in history.steps]
    seen: list[int] = []
    for end in range(start, n + 1):
        for r in detector(history.values[:end]):
            if all(abs(r - at) > tolerance for at in truth) and all(abs(r - s) > tolerance for s in seen):
                seen.append(r)
    return len(seen), max(n - start + 1, 0)


def exact_commit_ceiling(step_sigmas: float) -> float:
    """The most often any method can name the exact commit of a step ``step_sigmas`` noise sigmas high, in
    independent Gaussian noise: the chance that least squares with the levels known places it exactly.  With a
    uniform prior on the commit that is the maximum-likelihood place, so no estimator names it more often
    (unknown levels only lower it).

    Moving the boundary k commits the wrong way changes the log-likelihood by a Gaussian random walk with
    drift -d^2/2 and variance d^2 per commit (d = ``step_sigmas``); placing is exact when the walks on both
    sides stay below 0, each with probability exp(-sum_k P(S_k > 0) / k) (Spitzer's formula).
    """
    d = abs(float(step_sigmas))
    if d == 0:
        return 0.0
    k = np.arange(1, 20001, dtype=float)
    one_side = np.exp(-np.sum(stats.norm.sf(0.5 * d * np.sqrt(k)) / k))
    return float(one_side**2)


def oracle_exact_rate(kind: str, cv: float, rel: float, *, histories: int = 2000, n: int = 150,
                      seed: int = 0) -> tuple[int, int]:
    """How often the best possible placing names the exact commit of a ``rel`` step in ``kind`` noise of
    coefficient of variation ``cv``, on histories drawn as :func:`datasets.random_step_history` draws them:
    the most likely place given everything a detector must estimate (the noise's own density or, for AR(1),
    its whitened likelihood; both levels).  The step's commit is uniform, so no method names it more often:
    this is the exact-commit ceiling of a noise kind, where :func:`exact_commit_ceiling` is that of Gaussian
    noise.  Returns (exact, histories), for an interval."""
    rng = np.random.default_rng(seed)
    d = float(np.log1p(rel))
    logpdf = None if kind == "ar1" else D.noise_logpdf(kind, cv)
    exact = 0
    for _ in range(histories):
        h = D.random_step_history(n, cv, kind, rel, rng)
        at = h.steps[0][0]
        y = np.log(h.values / 10.0)  # the level before the step: with_steps' base
        ks = np.arange(1, n)  # the first commit at the new level
        if logpdf is not None:
            before, after = np.cumsum(logpdf(y)), np.cumsum(logpdf(y - d)[::-1])[::-1]
            ll = before[ks - 1] + after[ks]
        else:
            # Whitened AR(1): u[t] = y[t] - phi y[t-1] sees the step as d at its commit and d (1 - phi) after,
            # so the log-likelihood of each place is linear in cumulative sums of u.
            phi = D.AR1_PHI
            u = y[1:] - phi * y[:-1]  # u[t-1] belongs to commit t
            tail = np.concatenate([np.cumsum(u[::-1])[::-1], [0.0]])  # tail[j] = sum of u[j:]
            cross = u[ks - 1] + (1 - phi) * tail[ks]
            ll = d * cross - 0.5 * d**2 * (1 + (1 - phi) ** 2 * (n - 1 - ks))
        exact += int(ks[int(np.argmax(ll))] == at)
    return exact, histories
