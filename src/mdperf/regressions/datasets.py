"""Synthetic benchmark histories with known changes, for evaluating detectors.

Noise models seen on real runners: Gaussian with heavy-tailed slow outliers, bimodal clock states (a run
lands on a slower clock now and then), and AR(1) drift (neighbouring runs share machine state).  Changes:
steps at known commits, pairs of close steps; negatives: reverting single-commit spikes and slow ramps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NOISE_KINDS = ("gaussian-outliers", "bimodal", "ar1")


@dataclass
class History:
    values: np.ndarray
    steps: list[tuple[int, float]] = field(default_factory=list)  # (first commit at the new level, rel size)
    noise: str = ""
    cv: float = 0.0
    negatives: list[tuple[int, str]] = field(default_factory=list)  # (where, "spike"/"ramp")


def noise(n: int, cv: float, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative noise factors (around 1) with coefficient of variation about ``cv``."""
    if kind == "gaussian-outliers":
        e = rng.normal(0, cv, n)
        out = rng.random(n) < 0.03
        e[out] += np.abs(rng.standard_t(2, out.sum())) * 5 * cv
    elif kind == "bimodal":
        slow = rng.random(n) < 0.3
        e = rng.normal(0, cv / 2, n) + slow * 2 * cv
    elif kind == "ar1":
        phi = 0.5
        e = np.empty(n)
        e[0] = rng.normal(0, cv)
        for i in range(1, n):
            e[i] = phi * e[i - 1] + rng.normal(0, cv * np.sqrt(1 - phi**2))
    else:
        raise ValueError(f"unknown noise kind {kind!r}; valid: {', '.join(NOISE_KINDS)}")
    return np.exp(e)


def with_steps(n: int, cv: float, kind: str, steps: list[tuple[int, float]], rng: np.random.Generator,
               base: float = 10.0) -> History:
    level = np.full(n, base)
    for at, rel in steps:
        level[at:] *= 1 + rel
    return History(level * noise(n, cv, kind, rng), sorted(steps), kind, cv)


def random_step_history(n: int, cv: float, kind: str, rel: float, rng: np.random.Generator,
                        margin: int = 30) -> History:
    at = int(rng.integers(margin, n - margin))
    return with_steps(n, cv, kind, [(at, rel)], rng)


def close_pair_history(n: int, cv: float, kind: str, rel: float, gap: int, rng: np.random.Generator) -> History:
    at = int(rng.integers(30, n - 30 - gap))
    return with_steps(n, cv, kind, [(at, rel), (at + gap, rel)], rng)


def spike_history(n: int, cv: float, kind: str, rel: float, rng: np.random.Generator) -> History:
    h = with_steps(n, cv, kind, [], rng)
    at = int(rng.integers(10, n - 10))
    h.values[at] *= 1 + rel
    h.negatives.append((at, "spike"))
    return h


def ramp_history(n: int, cv: float, kind: str, total_rel: float, rng: np.random.Generator) -> History:
    h = with_steps(n, cv, kind, [], rng)
    h.values *= np.exp(np.linspace(0, np.log1p(total_rel), n))
    h.negatives.append((0, "ramp"))
    return h
