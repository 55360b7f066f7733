"""Synthetic benchmark histories with known changes, for evaluating detectors.

Noise models seen on real runners: Gaussian with heavy-tailed slow outliers, bimodal clock states (a run
lands on a slower clock now and then), and AR(1) drift (neighbouring runs share machine state).  Changes:
steps at known commits, pairs of close steps; negatives: reverting single-commit spikes and slow ramps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import stats

NOISE_KINDS = ("gaussian-outliers", "bimodal", "ar1")


@dataclass
class SyntheticHistory:
    values: np.ndarray
    steps: list[tuple[int, float]] = field(default_factory=list)  # (first commit at the new level, rel size)
    noise: str = ""
    cv: float = 0.0
    negatives: list[tuple[int, str]] = field(default_factory=list)  # (where, "spike"/"ramp")
    base: float = 10.0  # the level before the first step


# The noise models' parameters, stated once: the sampler below and the densities the exact-commit oracle needs.
OUTLIER_RATE, OUTLIER_SCALE = 0.03, 5.0  # gaussian-outliers: 3 % of runs slowed by 5 cv x |Student t, 2 dof|
SLOW_RATE, SLOW_SHIFT = 0.3, 2.0  # bimodal: 30 % of runs on a clock 2 cv slower, each mode cv / 2 wide
AR1_PHI = 0.5  # ar1: lag-1 correlation of neighbouring runs


def noise(n: int, cv: float, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative noise factors (around 1) with coefficient of variation about ``cv``."""
    if kind == "gaussian-outliers":
        e = rng.normal(0, cv, n)
        out = rng.random(n) < OUTLIER_RATE
        e[out] += np.abs(rng.standard_t(2, out.sum())) * OUTLIER_SCALE * cv
    elif kind == "bimodal":
        slow = rng.random(n) < SLOW_RATE
        e = rng.normal(0, cv / 2, n) + slow * SLOW_SHIFT * cv
    elif kind == "ar1":
        phi = AR1_PHI
        e = np.empty(n)
        e[0] = rng.normal(0, cv)
        for i in range(1, n):
            e[i] = phi * e[i - 1] + rng.normal(0, cv * np.sqrt(1 - phi**2))
    else:
        raise ValueError(f"unknown noise kind {kind!r}; valid: {', '.join(NOISE_KINDS)}")
    return np.exp(e)


def noise_logpdf(kind: str, cv: float) -> Callable[[np.ndarray], np.ndarray]:
    """Log density of the log noise ``log(noise(...))`` of an independent noise kind, exactly (the outliers'
    heavy tail by numerical convolution on a fine grid).  AR(1) noise has no per-run density: its likelihood
    is the whitened one (:data:`AR1_PHI`)."""
    def normal(x, mu, sd):
        return stats.norm.logpdf(x, mu, sd)
    if kind == "bimodal":
        return lambda x: np.logaddexp(np.log1p(-SLOW_RATE) + normal(x, 0, cv / 2),
                                      np.log(SLOW_RATE) + normal(x, SLOW_SHIFT * cv, cv / 2))
    if kind == "gaussian-outliers":
        # An outlier adds u = 5 cv |T| (T: Student t, 2 dof) to the normal noise: its density is that of u
        # convolved with the normal, on a grid of cv / 20 out to 400 cv, and u's own density beyond.
        h, scale = cv / 20, OUTLIER_SCALE * cv
        u = np.arange(0, 400 * cv, h)
        pu = 2 * stats.t.pdf(u / scale, 2) / scale * h
        pu[0] /= 2
        k = np.arange(-8 * cv, 8 * cv + h / 2, h)
        grid_x = np.arange(u.size + k.size - 1) * h + k[0]
        grid = np.convolve(pu, stats.norm.pdf(k, 0, cv))

        def logpdf(x):
            x = np.asarray(x, dtype=float)
            far = 2 * stats.t.pdf(np.maximum(x, 0) / scale, 2) / scale * (x > 0)
            out = np.where(x <= grid_x[-1], np.interp(x, grid_x, grid, left=0.0), far)
            with np.errstate(divide="ignore"):  # 0 below the grid: outliers only slow a run
                log_out = np.log(out)
            # In logs, so a run far from any level reads as very unlikely, never as log 0 = -inf.
            return np.logaddexp(np.log1p(-OUTLIER_RATE) + stats.norm.logpdf(x, 0, cv), np.log(OUTLIER_RATE) + log_out)
        return logpdf
    if kind == "ar1":
        raise ValueError("AR(1) noise has no per-run density; use its whitened likelihood (AR1_PHI)")
    raise ValueError(f"unknown noise kind {kind!r}; valid: {', '.join(NOISE_KINDS)}")


def with_steps(n: int, cv: float, kind: str, steps: list[tuple[int, float]], rng: np.random.Generator,
               base: float = 10.0) -> SyntheticHistory:
    level = np.full(n, base)
    for at, rel in steps:
        level[at:] *= 1 + rel
    return SyntheticHistory(level * noise(n, cv, kind, rng), sorted(steps), kind, cv, base=base)


def random_step_history(n: int, cv: float, kind: str, rel: float, rng: np.random.Generator,
                        margin: int = 30) -> SyntheticHistory:
    at = int(rng.integers(margin, n - margin))
    return with_steps(n, cv, kind, [(at, rel)], rng)


def close_pair_history(n: int, cv: float, kind: str, rel: float, gap: int, rng: np.random.Generator) -> SyntheticHistory:
    at = int(rng.integers(30, n - 30 - gap))
    return with_steps(n, cv, kind, [(at, rel), (at + gap, rel)], rng)


def spike_history(n: int, cv: float, kind: str, rel: float, rng: np.random.Generator) -> SyntheticHistory:
    h = with_steps(n, cv, kind, [], rng)
    at = int(rng.integers(10, n - 10))
    h.values[at] *= 1 + rel
    h.negatives.append((at, "spike"))
    return h


def ramp_history(n: int, cv: float, kind: str, total_rel: float, rng: np.random.Generator) -> SyntheticHistory:
    h = with_steps(n, cv, kind, [], rng)
    h.values *= np.exp(np.linspace(0, np.log1p(total_rel), n))
    h.negatives.append((0, "ramp"))
    return h
