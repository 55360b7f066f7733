"""The shapes real benchmark histories have, with their expected flags, beside the noise models of
:mod:`datasets`: staircases, regressions fixed days later, a transient excursion that settles at a new level,
exact piecewise-constant metrics (iteration counts, bytes), young histories, and clusters of outliers.

Each generator returns a :class:`~datasets.SyntheticHistory` whose ``steps`` are the changes a person sees and
expects flagged at their commit, and whose ``negatives`` are what must not be confirmed as a lasting change
(``"cluster"``: 2-3 outliers in a row; ``"transient"``: a run of 1-3 commits that returns).
"""

from __future__ import annotations

import numpy as np

from .datasets import SyntheticHistory, noise

SHAPES = ("staircase", "fixed-regression", "transient-settles", "exact-levels", "exact-fixed", "young",
          "outlier-cluster", "transient")


def _history(levels: np.ndarray, cv: float, kind: str, rng: np.random.Generator) -> np.ndarray:
    return levels * (noise(levels.size, cv, kind, rng) if cv > 0 else 1.0)


def _steps_of(levels: np.ndarray) -> list[tuple[int, float]]:
    return [(i, float(levels[i] / levels[i - 1] - 1)) for i in range(1, levels.size) if levels[i] != levels[i - 1]]


def staircase(n: int, cv: float, kind: str, rng: np.random.Generator) -> SyntheticHistory:
    """Two or three steps up in a row, 6-15 commits apart, each +5 % to +25 % (12.7 -> 15.6 -> 17.6 ms)."""
    levels = np.full(n, 10.0)
    at = int(rng.integers(n // 4, n // 2))
    for _ in range(int(rng.integers(2, 4))):
        if at >= n - 5:
            break
        levels[at:] *= 1 + rng.uniform(0.05, 0.25)
        at += int(rng.integers(6, 16))
    return SyntheticHistory(_history(levels, cv, kind, rng), _steps_of(levels), kind, cv)


def fixed_regression(n: int, cv: float, kind: str, rng: np.random.Generator, rel: float | None = None,
                     lasting: int | None = None) -> SyntheticHistory:
    """A regression of +10 % to +40 % fixed 5-12 commits later: both ends are changes."""
    rel = rng.uniform(0.10, 0.40) if rel is None else rel
    lasting = int(rng.integers(5, 13)) if lasting is None else lasting
    levels = np.full(n, 10.0)
    at = int(rng.integers(max(8, n // 3), n - lasting - 6))
    levels[at:at + lasting] *= 1 + rel
    return SyntheticHistory(_history(levels, cv, kind, rng), _steps_of(levels), kind, cv)


def transient_settles(n: int, cv: float, kind: str, rng: np.random.Generator) -> SyntheticHistory:
    """A jump of 10-30x for 2-3 commits that settles at +300 % to +600 % (152 -> 4,200 -> 700-940): the lasting
    change is at the jump's first commit; the fall from the excursion to the new level is a step too."""
    levels = np.full(n, 150.0)
    at = int(rng.integers(n // 3, n - 15))
    width = int(rng.integers(2, 4))
    levels[at:] *= 1 + rng.uniform(3.0, 6.0)
    levels[at:at + width] = 150.0 * rng.uniform(10, 30)
    values = _history(levels, cv, kind, rng)
    return SyntheticHistory(values, [(at, float(levels[at] / 150.0 - 1))], kind, cv)


def exact_levels(n: int, rng: np.random.Generator) -> SyntheticHistory:
    """A metric with no noise at all (an iteration count, bytes), constant between 1-3 changes of 5 % to 2.5x
    either way (2.66 -> 6.79 -> 3.50)."""
    levels = np.full(n, float(rng.choice([2.66, 1024.0 ** 2 * 37, 812.0])))
    at = int(rng.integers(5, n // 2))
    for _ in range(int(rng.integers(1, 4))):
        if at >= n - 3:
            break
        factor = rng.choice([-1, 1]) * rng.uniform(np.log(1.05), np.log(2.5))
        levels[at:] *= np.exp(factor)
        at += int(rng.integers(4, 20))
    return SyntheticHistory(levels.copy(), _steps_of(levels), "exact", 0.0)


def exact_fixed(n: int, rng: np.random.Generator) -> SyntheticHistory:
    """Deterministic memory +60 % for 4 commits, then back: both ends."""
    levels = np.full(n, 512.0 * 1024**2)
    at = int(rng.integers(5, n - 8))
    levels[at:at + 4] *= 1.6
    return SyntheticHistory(levels.copy(), _steps_of(levels), "exact", 0.0)


def young(cv: float, kind: str, rng: np.random.Generator, before: int = 8, lasting: int = 5,
          after: int = 5, rel: float = 0.20) -> SyntheticHistory:
    """A new adopter's history: 8 commits, a +20 % regression for 5, the fix, 5 more."""
    levels = np.full(before + lasting + after, 10.0)
    levels[before:before + lasting] *= 1 + rel
    return SyntheticHistory(_history(levels, cv, kind, rng), _steps_of(levels), kind, cv)


def outlier_cluster(n: int, cv: float, kind: str, rng: np.random.Generator) -> SyntheticHistory:
    """Clean noise with 1-3 clusters of 2-3 commits each +8 % to +37 % slower: not lasting changes."""
    h = SyntheticHistory(_history(np.full(n, 10.0), cv, kind, rng), [], kind, cv)
    at = int(rng.integers(5, 15))
    for _ in range(int(rng.integers(1, 4))):  # apart by 8 or more commits: each its own cluster
        width = int(rng.integers(2, 4))
        if at + width > n - 2:
            break
        h.values[at:at + width] *= 1 + rng.uniform(0.08, 0.37)
        h.negatives.append((at, "cluster"))
        at += width + int(rng.integers(8, 20))
    return h


def transient(n: int, cv: float, kind: str, rng: np.random.Generator) -> SyntheticHistory:
    """A run of 1-3 commits +15 % to +50 % that returns to the earlier level: a transient, not a regression
    confirmed and then fixed."""
    h = SyntheticHistory(_history(np.full(n, 10.0), cv, kind, rng), [], kind, cv)
    at, width = int(rng.integers(n // 3, n - 6)), int(rng.integers(1, 4))
    h.values[at:at + width] *= 1 + rng.uniform(0.15, 0.50)
    h.negatives.append((at, "transient"))
    return h


def make(shape: str, n: int, cv: float, kind: str, rng: np.random.Generator) -> SyntheticHistory:
    """One history of ``shape`` (exact shapes ignore ``cv`` and ``kind``; ``young`` ignores ``n``)."""
    if shape == "staircase":
        return staircase(n, cv, kind, rng)
    if shape == "fixed-regression":
        return fixed_regression(n, cv, kind, rng)
    if shape == "transient-settles":
        return transient_settles(n, cv, kind, rng)
    if shape == "exact-levels":
        return exact_levels(n, rng)
    if shape == "exact-fixed":
        return exact_fixed(n, rng)
    if shape == "young":
        return young(cv, kind, rng)
    if shape == "outlier-cluster":
        return outlier_cluster(n, cv, kind, rng)
    if shape == "transient":
        return transient(n, cv, kind, rng)
    raise ValueError(f"unknown shape {shape!r}; valid: {', '.join(SHAPES)}")
