"""The noisy-machine guard: was the machine quiet while a case was measured?

Around each case the suite runs a short calibration loop — a fixed single-threaded workload, timed in wall and
CPU time — before and after.  A case is *noisy* when the loop's wall time moved by more than
``TOLERANCE_PCT`` between the two, or when the loop got less than ``MIN_CPU_SHARE`` of a core (its CPU time
over its wall time: another process held the core).  The second test catches a hog that ran through the whole
case, which leaves before and after equally slow.  The load average, the CPU clock and governor, and the GPU's
SM clock and temperature are recorded beside it where the machine tells them.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

TOLERANCE_PCT = 20.0  # at 10 % a quiet 2-core machine tripped it in 5 of 60 cases (docs/results/guard-eval.md)
MIN_CPU_SHARE = 0.9
# A single-threaded CPU case's own process (its CPU time over its wall time, start-up included): quiet, it keeps
# its core; beside hogs it gets a share of one.  The calibration loop alone missed that: a loop that starts after
# the parent slept through the case is given the core first by the scheduler (99 % under three hogs on two cores).
MIN_CASE_SHARE = 0.8
REPEATS = 5
WORK = 200_000  # about 10-20 ms of Python arithmetic per repeat on a current core


def _work(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def calibrate(repeats: int = REPEATS, work: int = WORK) -> dict[str, float]:
    """The loop's median wall time (ms) and its median share of a core."""
    walls, shares = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        _work(work)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        walls.append(wall * 1e3)
        shares.append(min(cpu / wall, 1.0) if wall > 0 else 1.0)
    return {"ms": statistics.median(walls), "cpu_share": statistics.median(shares)}


def facts() -> dict[str, Any]:
    """What the machine says about its load and clocks now; absent keys where it says nothing."""
    out: dict[str, Any] = {}
    try:
        out["load_avg_1m"] = os.getloadavg()[0]
    except (OSError, AttributeError):
        pass
    try:
        import psutil

        freq = psutil.cpu_freq()
        if freq is not None and freq.current:
            out["cpu_mhz"] = float(freq.current)
    except Exception:  # psutil raises various errors on machines without cpufreq
        pass
    gov = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    try:
        out["cpu_governor"] = gov.read_text().strip()
    except OSError:
        pass
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            h = pynvml.nvmlDeviceGetHandleByIndex(0)
            out["gpu_sm_clock_mhz"] = float(pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM))
            out["gpu_temp_c"] = float(pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU))
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no NVIDIA driver here: nothing to say
        pass
    return out


def children_cpu_s() -> float:
    """CPU seconds of this process's finished children: read before and after a case's own process."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def judge(before: dict[str, float], after: dict[str, float], tolerance_pct: float = TOLERANCE_PCT,
          min_cpu_share: float = MIN_CPU_SHARE, case_share: float | None = None) -> dict[str, Any]:
    """``case_share``: the case's own process's share of a core, where it ran on one CPU thread (else None)."""
    drift = 100.0 * abs(after["ms"] / before["ms"] - 1.0) if before["ms"] > 0 else 0.0
    share = min(before["cpu_share"], after["cpu_share"])
    starved = case_share is not None and case_share < MIN_CASE_SHARE
    noisy = drift > tolerance_pct or share < min_cpu_share or starved
    why = []
    if drift > tolerance_pct:
        why.append(f"the calibration loop moved {drift:.0f}% during the case")
    if share < min_cpu_share:
        why.append(f"the calibration loop got {100 * share:.0f}% of a core")
    if starved and case_share is not None:
        why.append(f"the case's own process got {100 * case_share:.0f}% of its core")
    out = {"noisy": noisy, "calibration_drift_pct": drift, "cpu_share_pct": 100.0 * share,
           "calibration_ms": [before["ms"], after["ms"]], "why": "; ".join(why)}
    if case_share is not None:
        out["case_cpu_share_pct"] = 100.0 * case_share
    return out


def metrics(g: dict[str, Any]) -> dict[str, float | None]:
    """The guard's figures as the suite's metrics (numbers, None where absent)."""
    return {"guard_noisy": 1.0 if g["noisy"] else 0.0, "guard_calibration_drift_pct": g["calibration_drift_pct"],
            "guard_cpu_share_pct": g["cpu_share_pct"], "load_avg_1m": g.get("load_avg_1m"),
            "cpu_mhz": g.get("cpu_mhz"), "gpu_sm_clock_mhz": g.get("gpu_sm_clock_mhz"),
            "gpu_temp_c": g.get("gpu_temp_c")}


# What a run's own step times say (mdperf run, compare, scale have no calibration loop around them). Quiet runs on
# a 2-core VM: P99 up to 2.9x the median (once 5.7x), the middle half up to 52 % wide; under hogs most runs beyond
# (docs/results/busy-signs.md). A warning, not a verdict: the figures are still what was measured.
TAIL_RATIO = 3.0
SPREAD_PCT = 60.0


def busy_signs(latency_ms: list[float]) -> str:
    """Why the step times say the machine was busy while they were taken ("" when they do not)."""
    if len(latency_ms) < 20:
        return ""
    ordered = sorted(latency_ms)
    median = statistics.median(ordered)
    if median <= 0:
        return ""
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    p99, iqr_pct = q[98], 100.0 * (q[74] - q[24]) / median
    why = []
    if p99 / median > TAIL_RATIO:
        why.append(f"P99 is {p99 / median:.1f}x the median")
    if iqr_pct > SPREAD_PCT:
        why.append(f"the middle half of the steps spans {iqr_pct:.0f}% of the median")
    return "; ".join(why)
