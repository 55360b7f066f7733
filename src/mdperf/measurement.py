"""Measure one case: a calculator on a system, at a size, under a protocol, on a device.

Warm-up steps are run and not counted; then every timed step is stamped by an ASE observer that does almost
nothing (a clock read, a NaN check, and every ``energy_interval`` steps one energy sample), so the timing does
not slow the run.  Each step's time is the gap between consecutive stamps; on CUDA the device is synchronised
before each stamp, so a step's time includes its kernels.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np
from ase import units

from . import calculators, environment, memory, stats, systems
from .drift import energy_drift
from .errors import Unsupported, UserError
from .protocols import PROTOCOLS, make_dynamics
from .result import MeasureResult, Metric

DEVICES = ("cpu", "cuda")

# name -> unit, in report order
METRIC_UNITS: dict[str, str] = {
    **{f"latency_{s}_ms": "ms" for s in stats.LATENCY_STATS},
    "steps_per_s": "steps/s",
    "us_per_atom_step": "µs/atom-step",
    "ns_per_day": "ns/day",
    "cold_start_ms": "ms",
    "model_load_ms": "ms",
    "first_call_ms": "ms",
    "host_peak_rss_mib": "MiB",
    "host_rss_growth_mib": "MiB",
    "gpu_peak_allocated_mib": "MiB",
    "gpu_peak_reserved_mib": "MiB",
    "gpu_nvml_used_mib": "MiB",
    "gpu_memory_growth_mib": "MiB",
    "drift_mev_per_atom_ps": "meV/atom/ps",
    "drift_stderr_mev_per_atom_ps": "meV/atom/ps",
    "energy_std_mev_per_atom": "meV/atom",
    "energy_max_dev_mev_per_atom": "meV/atom",
}
TIMING_METRICS = [m for m in METRIC_UNITS if m.startswith("latency_")] + ["steps_per_s", "us_per_atom_step", "ns_per_day"]
COLD_METRICS = ["cold_start_ms", "model_load_ms", "first_call_ms"]
HOST_METRICS = ["host_peak_rss_mib", "host_rss_growth_mib"]
GPU_METRICS = ["gpu_peak_allocated_mib", "gpu_peak_reserved_mib", "gpu_nvml_used_mib", "gpu_memory_growth_mib"]
DRIFT_METRICS = ["drift_mev_per_atom_ps", "drift_stderr_mev_per_atom_ps", "energy_std_mev_per_atom",
                 "energy_max_dev_mev_per_atom"]


class BlowUp(RuntimeError):
    def __init__(self, step: int, kind: str, message: str) -> None:
        super().__init__(f"blow-up at step {step}: {message}")
        self.step, self.kind, self.message = step, kind, message


def _set(result: MeasureResult, names: list[str], status: str, reason: str) -> None:
    for name in names:
        if name not in result.metrics:
            result.metrics[name] = Metric(None, METRIC_UNITS[name], status, reason)  # type: ignore[arg-type]


def _cuda_available() -> bool:
    return calculators.cuda_available()


def validate_case(device: str, steps: int, warmup: int, protocol: str, energy_interval: int) -> None:
    if device not in DEVICES:
        raise UserError(f"unknown device {device!r}; valid: {', '.join(DEVICES)}")
    if device == "cuda" and not _cuda_available():
        raise UserError("--device cuda asked for, but CUDA is not available on this machine")
    if steps <= 0:
        raise UserError(f"steps must be > 0, got {steps}")
    if warmup < 0:
        raise UserError(f"warm-up steps must be >= 0, got {warmup}")
    if protocol not in PROTOCOLS:
        raise UserError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    if energy_interval <= 0:
        raise UserError(f"energy interval must be > 0, got {energy_interval}")


def measure(
    calculator: str,
    system: str = "ar",
    atoms: int = 256,
    steps: int = 1000,
    *,
    protocol: str = "nve",
    device: str = "cpu",
    dtype: str | None = None,
    warmup: int = 20,
    timestep_fs: float | None = None,
    temperature_k: float | None = None,
    seed: int = 0,
    energy_interval: int = 10,
    blowup_ev_per_atom: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
    repo: str = ".",
) -> MeasureResult:
    """Measure one case and return its result; bad input raises :class:`~mdperf.errors.UserError`.

    A calculator that is unavailable or cannot run the case gives a result with status ``skipped``; one that
    raises or blows up gives status ``error``.  Neither raises.
    """
    validate_case(device, steps, warmup, protocol, energy_interval)
    spec = systems.get_system(system)
    entry = calculators.resolve(calculator)
    structure = systems.build(system, atoms, temperature_k=temperature_k, seed=seed)
    timestep_fs = spec.timestep_fs if timestep_fs is None else float(timestep_fs)
    temperature_k = spec.temperature_k if temperature_k is None else float(temperature_k)
    case: dict[str, Any] = {
        "calculator": calculator, "system": system, "atoms_requested": atoms, "atoms": len(structure),
        "protocol": protocol, "device": device, "dtype": entry.effective_dtype(dtype), "steps": steps,
        "warmup": warmup, "timestep_fs": timestep_fs, "temperature_k": temperature_k, "seed": seed,
        "energy_interval": energy_interval,
    }
    result = MeasureResult(case=case, environment=environment.collect(repo))

    availability = entry.availability(device)
    if not availability.available:
        return _finish(result, "skipped", availability.reason)

    gpu = device == "cuda"
    nvml, nvml_reason = (memory.open_nvml() if gpu else (None, "not on CUDA"))
    try:
        if gpu:
            import torch

            torch.cuda.synchronize()
        nvml_baseline = nvml.used_mib() if nvml else None
        # Cold start: build the calculator (model load) and its first evaluation (compile, first neighbour list).
        t0 = time.perf_counter()
        try:
            calc = entry.create(device=device, dtype=dtype, system=spec)
        except Unsupported as exc:
            return _finish(result, "skipped", str(exc))
        t1 = time.perf_counter()
        structure.calc = calc
        structure.get_forces()
        _sync(gpu)
        t2 = time.perf_counter()
        result.metrics["model_load_ms"] = Metric.ok((t1 - t0) * 1e3, "ms")
        result.metrics["first_call_ms"] = Metric.ok((t2 - t1) * 1e3, "ms")
        result.metrics["cold_start_ms"] = Metric.ok((t2 - t0) * 1e3, "ms")
        energy0 = calc.results.get("energy")
        if energy0 is None or not math.isfinite(float(energy0)):
            raise BlowUp(0, "nan", f"energy is {energy0} on the first evaluation")
        if not np.all(np.isfinite(structure.get_forces())):
            raise BlowUp(0, "nan", "forces contain NaN or inf on the first evaluation")
        try:
            dyn = make_dynamics(structure, protocol, timestep_fs=timestep_fs, temperature_k=temperature_k, seed=seed)
        except Unsupported as exc:
            return _finish(result, "skipped", str(exc))
        if warmup:
            dyn.run(warmup)
        _timed_run(result, dyn, structure, calc, steps, gpu, energy_interval, blowup_ev_per_atom, temperature_k,
                   timestep_fs, progress, nvml, nvml_baseline, nvml_reason)
    except BlowUp as exc:
        result.blowup = {"step": exc.step, "kind": exc.kind, "message": exc.message}
        return _finish(result, "error", str(exc))
    except Exception as exc:  # one failing calculator is a result, not a crash
        return _finish(result, "error", f"{type(exc).__name__}: {exc}")
    finally:
        if nvml:
            nvml.close()
    return _finish(result, "ok", "")


def _sync(gpu: bool) -> None:
    if gpu:
        import torch

        torch.cuda.synchronize()


def _timed_run(result, dyn, structure, calc, steps, gpu, energy_interval, blowup_ev_per_atom, temperature_k,
               timestep_fs, progress, nvml, nvml_baseline, nvml_reason) -> None:
    n_atoms = len(structure)
    nve = result.case["protocol"] == "nve"
    stamps = np.full(steps + 1, np.nan)
    n_energy = steps // energy_interval + 1
    e_steps = np.zeros(n_energy, dtype=int)
    e_total = np.full(n_energy, np.nan)
    rss_every = max(1, steps // 20)
    rss: list[float] = []
    progress_every = max(1, steps // 200)
    start = dyn.nsteps
    reference: dict[str, float] = {}
    t_limit = max(10 * temperature_k, temperature_k + 5000.0)
    perf_counter = time.perf_counter
    synchronize = None
    if gpu:
        import torch

        synchronize = torch.cuda.synchronize

    def sample(k: int) -> None:
        epot = float(calc.results["energy"])
        ekin = structure.get_kinetic_energy()
        idx = k // energy_interval
        e_steps[idx], e_total[idx] = k, (epot + ekin) / n_atoms
        if not reference:
            reference["etot"], reference["epot"] = e_total[idx], epot / n_atoms
        jump = abs(e_total[idx] - reference["etot"]) if nve else abs(epot / n_atoms - reference["epot"])
        if jump > blowup_ev_per_atom:
            raise BlowUp(k, "energy-jump", f"energy moved {jump:.3g} eV/atom (limit {blowup_ev_per_atom})")
        temperature = 2 * ekin / (3 * n_atoms * units.kB)
        if temperature > t_limit:
            raise BlowUp(k, "temperature", f"temperature {temperature:.0f} K (limit {t_limit:.0f} K)")

    def observe() -> None:
        if synchronize is not None:
            synchronize()
        k = dyn.nsteps - start
        stamps[k] = perf_counter()
        energy = calc.results.get("energy")
        if energy is None or energy != energy or energy in (math.inf, -math.inf):
            raise BlowUp(k, "nan", f"energy is {energy}")
        if k % energy_interval == 0:
            sample(k)
        if k % rss_every == 0:
            rss.append(memory.host_rss_mib())
        if progress is not None and k % progress_every == 0:
            progress(k, steps)

    if gpu:
        import torch

        torch.cuda.reset_peak_memory_stats()
        gpu_start = memory.torch_cuda_stats()["allocated_mib"]
    # The first stamp: ASE calls observers before the first step only when no step has run yet.
    stamps[0] = perf_counter()
    if start == 0:
        rss.append(memory.host_rss_mib())
    else:
        sample(0)
        rss.append(memory.host_rss_mib())
    dyn.attach(observe, interval=1)
    dyn.run(steps)
    if progress is not None:
        progress(steps, steps)

    latency_s = np.diff(stamps)
    result.samples["latency_ms"] = [float(x) for x in latency_s * 1e3]
    summary = stats.latency_summary_ms(latency_s)
    for key, value in summary.items():
        result.metrics[f"latency_{key}_ms"] = Metric.ok(value, "ms")
    for key, value in stats.throughput(summary["mean"] / 1e3, n_atoms, timestep_fs).items():
        result.metrics[key] = Metric.ok(value, METRIC_UNITS[key])
    result.metrics["host_peak_rss_mib"] = Metric.ok(memory.host_peak_rss_mib(), "MiB")
    result.metrics["host_rss_growth_mib"] = Metric.ok(rss[-1] - rss[0], "MiB")
    result.samples["host_rss_mib"] = rss

    if gpu:
        cuda = memory.torch_cuda_stats()
        result.metrics["gpu_peak_allocated_mib"] = Metric.ok(cuda["peak_allocated_mib"], "MiB")
        result.metrics["gpu_peak_reserved_mib"] = Metric.ok(cuda["peak_reserved_mib"], "MiB")
        result.metrics["gpu_memory_growth_mib"] = Metric.ok(cuda["allocated_mib"] - gpu_start, "MiB")
        if nvml is not None and nvml_baseline is not None:
            result.metrics["gpu_nvml_used_mib"] = Metric.ok(nvml.used_mib() - nvml_baseline, "MiB")
        else:
            result.metrics["gpu_nvml_used_mib"] = Metric.skipped("MiB", nvml_reason)

    valid = ~np.isnan(e_total)
    times_ps = e_steps[valid] * timestep_fs / 1e3
    result.samples["energy_time_ps"] = [float(t) for t in times_ps]
    result.samples["energy_total_ev_per_atom"] = [float(e) for e in e_total[valid]]
    if nve:
        if valid.sum() >= 3:
            for key, value in energy_drift(times_ps, e_total[valid]).items():
                result.metrics[key] = Metric.ok(value, METRIC_UNITS[key])
        else:
            _set(result, DRIFT_METRICS, "skipped",
                 f"only {int(valid.sum())} energy samples (steps / energy interval < 3)")


def _finish(result: MeasureResult, status: str, reason: str) -> MeasureResult:
    result.status, result.reason = status, reason  # type: ignore[assignment]
    if status == "ok":
        if result.case["device"] != "cuda":
            _set(result, GPU_METRICS, "skipped", "not on CUDA")
        _set(result, DRIFT_METRICS, "skipped", f"not NVE (protocol {result.case['protocol']})")
    else:
        # Whatever was measured before a failure (the cold start, say) stays; the rest carries the reason.
        _set(result, list(METRIC_UNITS), status, reason)
    return result
