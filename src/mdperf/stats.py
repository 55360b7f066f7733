"""Summary statistics of per-step latency samples."""

from __future__ import annotations

import numpy as np

# Metric name -> percentile (None: a non-percentile statistic).
LATENCY_STATS = ("mean", "median", "p90", "p95", "p99", "max", "std")


def latency_summary_ms(samples_s: np.ndarray) -> dict[str, float]:
    """Mean, median, P90, P95, P99, max and standard deviation, in milliseconds, of samples in seconds.

    Percentiles use numpy's default (linear interpolation between closest ranks).
    """
    ms = np.asarray(samples_s, dtype=float) * 1e3
    if ms.size == 0:
        raise ValueError("no samples")
    p50, p90, p95, p99 = np.percentile(ms, [50, 90, 95, 99])
    return {
        "mean": float(ms.mean()),
        "median": float(p50),
        "p90": float(p90),
        "p95": float(p95),
        "p99": float(p99),
        "max": float(ms.max()),
        "std": float(ms.std(ddof=1)) if ms.size > 1 else 0.0,
    }


def throughput(mean_step_s: float, n_atoms: int, timestep_fs: float) -> dict[str, float]:
    """Steps per second, microseconds per atom-step and simulated ns per day at ``timestep_fs``."""
    steps_per_s = 1.0 / mean_step_s
    return {
        "steps_per_s": steps_per_s,
        "us_per_atom_step": mean_step_s * 1e6 / n_atoms,
        "ns_per_day": steps_per_s * timestep_fs * 1e-6 * 86400.0,
    }
