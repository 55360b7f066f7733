"""Measure one case: a calculator on a system, at a size, under a protocol, on a device.

Warm-up steps are run and not counted; then every timed step is stamped by an ASE observer that does almost
nothing (a clock read, a NaN check, and every ``energy_interval`` steps one energy sample), so the timing does
not slow the run.  Each step's time is the gap between consecutive stamps; on CUDA the device is synchronised
before each stamp, so a step's time includes its kernels.
"""

from __future__ import annotations

import math
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, Callable

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.md.md import MolecularDynamics

from . import calculators, environment, memory, stats, systems
from .drift import energy_drift
from .errors import Unsupported, UserError
from .protocols import PROTOCOLS, make_dynamics
from .result import MeasureResult, Metric
from .steps import BlowUp, StepRecorder, _sync
from .threads import DEFAULT_THREADS
from .threads import apply as apply_threads
from .threads import check as check_threads
from .threads import read as read_threads

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
GPU_METRICS = ["gpu_peak_allocated_mib", "gpu_peak_reserved_mib", "gpu_nvml_used_mib", "gpu_memory_growth_mib"]
DRIFT_METRICS = ["drift_mev_per_atom_ps", "drift_stderr_mev_per_atom_ps", "energy_std_mev_per_atom",
                 "energy_max_dev_mev_per_atom"]


def _set(result: MeasureResult, names: list[str], status: str, reason: str) -> None:
    for name in names:
        if name not in result.metrics:
            result.metrics[name] = Metric(None, METRIC_UNITS[name], status, reason)  # type: ignore[arg-type]


MAX_STEPS = 10_000_000
DTYPES = ("float32", "float64")


def validate_case(device: str, steps: int, warmup: int, protocol: str, energy_interval: int) -> None:
    if device not in DEVICES:
        raise UserError(f"unknown device {device!r}; valid: {', '.join(DEVICES)}")
    if device == "cuda" and not calculators.cuda_available():
        raise UserError("--device cuda asked for, but CUDA is not available on this machine")
    if steps <= 0:
        raise UserError(f"steps must be > 0, got {steps}")
    if steps > MAX_STEPS:  # every step's latency, RSS and energy are kept: 10^7 steps is already ~1 GB of arrays
        raise UserError(f"steps must be <= {MAX_STEPS:,}, got {steps:,}")
    if warmup < 0:
        raise UserError(f"warm-up steps must be >= 0, got {warmup}")
    if protocol not in PROTOCOLS:
        raise UserError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    if energy_interval <= 0:
        raise UserError(f"energy interval must be > 0, got {energy_interval}")


@dataclass(frozen=True)
class Case:
    """One measured case, its defaults resolved: what a result's ``case`` record holds."""

    calculator: str
    system: str
    atoms_requested: int
    atoms: int  # as built: a whole number of unit cells
    protocol: str
    device: str
    dtype: str
    steps: int
    warmup: int
    timestep_fs: float
    temperature_k: float
    seed: int
    energy_interval: int
    calc_options: dict[str, Any] = field(default_factory=dict)  # the calculator's own keywords (a cutoff, a model)
    threads: int = DEFAULT_THREADS  # CPU threads (torch intra/inter-op, OpenMP, BLAS): part of the case

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Case":
        return cls(**{f.name: d[f.name] for f in fields(cls)
                      if f.name in d or (f.default is MISSING and f.default_factory is MISSING)})

    @property
    def label(self) -> str:
        """The calculator with its options, as shown and as the suite's parameter: ``mycalc:Calc[cutoff=5.0]``."""
        return calculator_label(self.calculator, self.calc_options)


def calculator_label(calculator: str, options: dict[str, Any] | None) -> str:
    """A calculator and its options as one name; a changed option is another series, never compared with the old."""
    if not options:
        return calculator
    import json

    return calculator + "[" + ",".join(f"{k}={json.dumps(v, sort_keys=True)}" for k, v in sorted(options.items())) + "]"


@dataclass
class PreparedCase:
    """A case ready to step: the structure with its calculator attached, its dynamics, and the cold start."""

    case: Case
    structure: Atoms
    calc: Calculator
    dyn: MolecularDynamics
    gpu: bool
    model_load_s: float
    first_call_s: float

    def step(self, n: int = 1) -> None:
        """Run ``n`` MD steps and wait for the device: what asv's ``time_`` benchmarks time."""
        self.dyn.run(n)
        _sync(self.gpu)


def describe_case(calculator: str, system: str, atoms: int, steps: int, *, protocol: str = "nve",
                  device: str = "cpu", dtype: str | None = None, warmup: int = 20, timestep_fs: float | None = None,
                  temperature_k: float | None = None, seed: int = 0, energy_interval: int = 10,
                  calc_options: dict[str, Any] | None = None, threads: int | None = None) -> Case:
    """Check the arguments (bad input raises UserError) and resolve their defaults into the case."""
    validate_case(device, steps, warmup, protocol, energy_interval)
    threads = DEFAULT_THREADS if threads is None else check_threads(threads)
    if dtype is not None and dtype not in DTYPES:
        raise UserError(f"unknown dtype {dtype!r}; valid: {', '.join(DTYPES)}")
    if timestep_fs is not None and not (math.isfinite(timestep_fs) and timestep_fs > 0):
        raise UserError(f"time step must be a finite number > 0 fs, got {timestep_fs}")
    if temperature_k is not None and not (math.isfinite(temperature_k) and temperature_k >= 0):
        raise UserError(f"temperature must be a finite number >= 0 K, got {temperature_k}")
    spec = systems.get_system(system)
    entry = calculators.resolve(calculator)
    if calc_options or entry.origin != "built-in":  # an option it does not take, a keyword it needs: bad input now
        calculators.check_options(calculator, entry.load_factory(), calc_options or {})
    return Case(calculator=calculator, system=system, atoms_requested=atoms, atoms=systems.atom_count(system, atoms),
                protocol=protocol, device=device, dtype=entry.effective_dtype(dtype), steps=steps, warmup=warmup,
                timestep_fs=spec.timestep_fs if timestep_fs is None else float(timestep_fs),
                temperature_k=spec.temperature_k if temperature_k is None else float(temperature_k), seed=seed,
                energy_interval=energy_interval, calc_options=dict(calc_options or {}), threads=threads)


def prepare(case: Case) -> PreparedCase:
    """Build the structure, the calculator (timed: model load, first call) and the dynamics for ``case``.

    Raises :class:`Unsupported` when the calculator is unavailable or cannot run the case, :class:`BlowUp` on a
    non-finite first evaluation; anything the calculator raises propagates.
    """
    entry = calculators.resolve(case.calculator)
    availability = entry.availability(case.device)
    if not availability.available:
        raise Unsupported(availability.reason)
    apply_threads(case.threads)
    spec = systems.get_system(case.system)
    structure = systems.build(case.system, case.atoms_requested, temperature_k=case.temperature_k, seed=case.seed)
    gpu = case.device == "cuda"
    _sync(gpu)
    # Cold start: build the calculator (model load) and its first evaluation (compile, first neighbour list).
    t0 = time.perf_counter()
    calc = entry.create(device=case.device, dtype=case.dtype, system=spec, options=case.calc_options)
    t1 = time.perf_counter()
    apply_threads(case.threads)  # building the calculator may have loaded torch, with its own default
    structure.calc = calc
    forces = structure.get_forces()
    _sync(gpu)
    t2 = time.perf_counter()
    energy0 = calc.results.get("energy")
    if energy0 is None or not math.isfinite(float(energy0)):
        raise BlowUp(0, "nan", f"energy is {energy0} on the first evaluation")
    if not np.all(np.isfinite(forces)):
        raise BlowUp(0, "nan", "forces contain NaN or inf on the first evaluation")
    dyn = make_dynamics(structure, case.protocol, timestep_fs=case.timestep_fs, temperature_k=case.temperature_k,
                        seed=case.seed)
    return PreparedCase(case, structure, calc, dyn, gpu, t1 - t0, t2 - t1)


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
    calc_options: dict[str, Any] | None = None,
    threads: int | None = None,
) -> MeasureResult:
    """Measure one case and return its result; bad input raises :class:`~mdperf.errors.UserError`.

    A calculator that is unavailable or cannot run the case gives a result with status ``skipped``; one that
    raises or blows up gives status ``error``.  Neither raises.
    """
    case = describe_case(calculator, system, atoms, steps, protocol=protocol, device=device, dtype=dtype,
                         warmup=warmup, timestep_fs=timestep_fs, temperature_k=temperature_k, seed=seed,
                         energy_interval=energy_interval, calc_options=calc_options, threads=threads)
    return measure_case(case, blowup_ev_per_atom=blowup_ev_per_atom, progress=progress, repo=repo)


def measure_case(case: Case, *, blowup_ev_per_atom: float = 1.0, progress: Callable[[int, int], None] | None = None,
                 repo: str = ".") -> MeasureResult:
    """:func:`measure` for a case :func:`describe_case` made."""
    result = MeasureResult(case=case.to_dict(), environment=environment.collect(repo))
    gpu = case.device == "cuda"
    nvml, nvml_reason = (memory.open_nvml() if gpu else (None, "not on CUDA"))
    try:
        _sync(gpu)
        nvml_baseline = nvml.used_mib() if nvml else None
        prepared = prepare(case)
        result.metrics["model_load_ms"] = Metric.ok(prepared.model_load_s * 1e3, "ms")
        result.metrics["first_call_ms"] = Metric.ok(prepared.first_call_s * 1e3, "ms")
        result.metrics["cold_start_ms"] = Metric.ok((prepared.model_load_s + prepared.first_call_s) * 1e3, "ms")
        if case.warmup:
            prepared.dyn.run(case.warmup)
        _timed_run(result, prepared, blowup_ev_per_atom, progress)
        if gpu:  # read at once, before anything else takes device memory
            if nvml is not None and nvml_baseline is not None:
                result.metrics["gpu_nvml_used_mib"] = Metric.ok(nvml.used_mib() - nvml_baseline, "MiB")
            else:
                result.metrics["gpu_nvml_used_mib"] = Metric.skipped("MiB", nvml_reason)
    except Unsupported as exc:
        return finish(result, "skipped", str(exc))
    except BlowUp as exc:
        result.blowup = {"step": exc.step, "kind": exc.kind, "message": exc.message}
        return finish(result, "error", str(exc))
    except Exception as exc:  # one failing calculator is a result, not a crash
        return finish(result, "error", f"{type(exc).__name__}: {exc}")
    finally:
        if nvml:
            nvml.close()
        result.environment["threads"] = read_threads()
    return finish(result, "ok", "")


def _timed_run(result: MeasureResult, prepared: PreparedCase, blowup_ev_per_atom: float,
               progress: Callable[[int, int], None] | None) -> None:
    case, dyn, structure, gpu = prepared.case, prepared.dyn, prepared.structure, prepared.gpu
    n_atoms, timestep_fs, energy_interval = len(structure), case.timestep_fs, case.energy_interval
    steps, nve = case.steps, case.protocol == "nve"
    synchronize = None
    if gpu:
        import torch

        synchronize = torch.cuda.synchronize
    rec = StepRecorder(structure, prepared.calc, steps, energy_interval=energy_interval, nve=nve,
                       blowup_ev_per_atom=blowup_ev_per_atom,
                       temperature_limit_k=max(10 * case.temperature_k, case.temperature_k + 5000.0),
                       progress=progress, synchronize=synchronize,
                       gpu_allocated_mib=(lambda: memory.torch_cuda_stats()["allocated_mib"]) if gpu else None)
    if gpu:
        import torch

        torch.cuda.reset_peak_memory_stats()
        gpu_start = memory.torch_cuda_stats()["allocated_mib"]
    if dyn.nsteps == 0:
        rec.k = -1  # ASE's own call before the first step becomes step 0
    else:
        rec.start()
    dyn.attach(rec, interval=1)
    dyn.run(steps)
    if progress is not None:
        progress(steps, steps)

    stamps, rss, e_steps, e_total = rec.stamps, rec.rss, rec.e_steps, rec.e_total
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
        result.samples["gpu_allocated_mib"] = rec.gpu

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


def finish(result: MeasureResult, status: str, reason: str) -> MeasureResult:
    """Set the result's status and give every metric not measured its status and reason."""
    result.status, result.reason = status, reason  # type: ignore[assignment]
    if status == "ok":
        if result.case["device"] != "cuda":
            _set(result, GPU_METRICS, "skipped", "not on CUDA")
        _set(result, DRIFT_METRICS, "skipped", f"not NVE (protocol {result.case['protocol']})")
    else:
        # Whatever was measured before a failure (the cold start, say) stays; the rest carries the reason.
        _set(result, list(METRIC_UNITS), status, reason)
    return result
