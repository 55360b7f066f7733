"""Scoring a detector on histories with known changes: recall, precision, exact attribution, false alarms,
and detection delay (running the detector on each prefix, as a nightly tracker sees the history grow)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from scipy import stats

from . import datasets as D
from .datasets import SyntheticHistory

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
    best_exact: int = 0  # of the steps found, those the best possible placing names exactly (oracle_places)

    def add(self, other: "Score") -> None:
        for k in ("true_steps", "found", "exact", "detections", "false_alarms", "clean_commits", "found_within_3",
                  "online_false_alarms", "online_commits", "best_exact"):
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
    def best_exact_rate(self) -> float:
        """What the best possible placing (:func:`oracle_places`) reaches on the same found steps."""
        return self.best_exact / self.found if self.found else float("nan")

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


def score(history: SyntheticHistory, detector: Detector, *, tolerance: int = 3, max_delay: int = 10,
          online: bool = True, best: Sequence[int] | None = None) -> Score:
    """Match reported changes to true steps within ``tolerance`` commits; the rest are false alarms.

    ``best``: the best possible place of each true step (:func:`oracle_places`), to count how many of the
    steps found it names exactly (``best_exact``).

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
    for j, at in enumerate(truth):
        near = [r for r in reported if abs(r - at) <= tolerance and r not in used]
        if near:
            nearest = min(near, key=lambda r: abs(r - at))
            used.add(nearest)
            s.found += 1
            s.exact += nearest == at
            s.best_exact += best is not None and best[j] == at
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


def online_false_alarms(history: SyntheticHistory, detector: Detector, *, start: int = 20, tolerance: int = 3) -> tuple[int, int]:
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


@functools.lru_cache(maxsize=32)
def _noise_logpdf(kind: str, cv: float):
    return D.noise_logpdf(kind, cv)  # the outliers' density is a convolution: built once per (kind, cv)


def _ar1_innovations(r: np.ndarray) -> np.ndarray:
    """AR(1) residuals (last axis: commits) whitened into independent values of the marginal variance: the
    first as it is, each later one less phi times its predecessor, over sqrt(1 - phi^2)."""
    phi = D.AR1_PHI
    return np.concatenate([r[..., :1], (r[..., 1:] - phi * r[..., :-1]) / np.sqrt(1 - phi**2)], axis=-1)


def oracle_places(history: SyntheticHistory) -> list[int]:
    """The best possible place of each of ``history``'s steps: the most likely commit given everything a
    detector must estimate (the noise's own density or, for AR(1), its whitened likelihood; every level; the
    other steps' places), searched between the neighbouring steps.  The step's commit is uniform, so over every
    step no method names it more often; on the steps a method found it is the reference that method's placing
    is scored against (``best`` of :func:`score`)."""
    y = np.log(history.values)
    n = y.size
    ats = [at for at, _ in history.steps]
    sizes = np.log1p([rel for _, rel in history.steps])
    t = np.arange(n)
    places = []
    for j, d in enumerate(sizes):
        lo, hi = (ats[j - 1] if j else 0), (ats[j + 1] if j + 1 < len(ats) else n)
        ks = np.arange(lo + 1, hi)  # the first commit at the new level, one commit at least each side
        others = np.log(history.base) + sum(sizes[i] * (t >= ats[i]) for i in range(len(ats)) if i != j)
        r = y - others - d * (t[None, :] >= ks[:, None])  # residuals, one row per candidate place
        if history.noise == "ar1":
            ll = -0.5 * np.sum(_ar1_innovations(r) ** 2, axis=1)  # over cv^2, which every place shares
        else:
            ll = np.sum(_noise_logpdf(history.noise, history.cv)(r), axis=1)
        places.append(int(ks[int(np.argmax(ll))]))
    return places


def oracle_exact_rate(kind: str, cv: float, rel: float, *, histories: int = 2000, n: int = 150,
                      seed: int = 0) -> tuple[int, int]:
    """How often the best possible placing (:func:`oracle_places`) names the exact commit of a ``rel`` step in
    ``kind`` noise of coefficient of variation ``cv``, over every step of histories drawn as
    :func:`datasets.random_step_history` draws them: the exact-commit ceiling of a noise kind, where
    :func:`exact_commit_ceiling` is that of Gaussian noise.  Returns (exact, histories), for an interval."""
    rng = np.random.default_rng(seed)
    exact = 0
    for _ in range(histories):
        h = D.random_step_history(n, cv, kind, rel, rng)
        exact += int(oracle_places(h) == [h.steps[0][0]])
    return exact, histories


def _step_llr(kind: str, cv: float, d: float, y: np.ndarray) -> np.ndarray:
    """Per-commit log-likelihood ratio, stepped by ``d`` against not, of log values ``y`` (rows: histories)
    around level 0: the noise's own density, or for AR(1) the whitened values against their settled shift."""
    if kind == "ar1":
        phi = D.AR1_PHI
        m = d * np.sqrt((1 - phi) / (1 + phi))  # a settled step d, whitened: d (1 - phi) / sqrt(1 - phi^2)
        return (m * _ar1_innovations(y) - 0.5 * m * m) / cv**2
    logpdf = _noise_logpdf(kind, cv)
    return logpdf(y - d) - logpdf(y)


def _cusum_alarms(llr: np.ndarray, threshold: float, start: int) -> np.ndarray:
    """Page's CUSUM over each row from commit ``start`` on, reset after each alarm: alarm flags per commit."""
    s = np.zeros(llr.shape[0])
    alarms = np.zeros(llr.shape, dtype=bool)
    for t in range(start, llr.shape[1]):
        s = np.maximum(0.0, s + llr[:, t])
        alarms[:, t] = s > threshold
        s[alarms[:, t]] = 0.0
    return alarms


def oracle_delay_rate(kind: str, cv: float, rel: float, *, false_alarms_per_1000: float = 1.0, within: int = 3,
                      histories: int = 2000, n: int = 150, start: int = 20, seed: int = 0) -> tuple[int, int, float]:
    """How often an ideal nightly detector raising ``false_alarms_per_1000`` per 1,000 clean commits reports a
    ``rel`` step in ``kind`` noise by the ``within``-th commit after it: Page's CUSUM knowing the noise's density
    (AR(1): its whitened likelihood), both levels and the step's size.  For a known shift it has the least
    worst-case delay at a given false-alarm rate (Lorden; Moustakides): a reference for detectors that must
    estimate all that, not a strict bound on this share.  Its threshold is set on ``histories`` clean
    histories, run night by night from commit ``start`` on (as :func:`online_false_alarms` counts); the rate
    is over ``histories // 4`` histories drawn as :func:`datasets.random_step_history` draws them.  Returns
    (reported, step histories, threshold)."""
    rng = np.random.default_rng(seed)
    d = float(np.log1p(rel))

    def llr(hs: list[SyntheticHistory]) -> np.ndarray:
        return _step_llr(kind, cv, d, np.log(np.array([h.values / h.base for h in hs])))

    clean = llr([D.with_steps(n, cv, kind, [], rng) for _ in range(histories)])
    commits = histories * (n - start)
    lo, hi = 0.0, 50.0  # the false-alarm rate falls as the threshold rises: bisect for the lowest that meets it
    for _ in range(30):
        mid = (lo + hi) / 2
        if 1000 * _cusum_alarms(clean, mid, start).sum() / commits <= false_alarms_per_1000:
            hi = mid
        else:
            lo = mid
    steps = [D.random_step_history(n, cv, kind, rel, rng) for _ in range(histories // 4)]
    alarms = _cusum_alarms(llr(steps), hi, start)
    reported = sum(bool(alarms[i, h.steps[0][0]: h.steps[0][0] + within + 1].any()) for i, h in enumerate(steps))
    return reported, len(steps), hi
