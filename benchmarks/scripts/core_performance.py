"""Performance figures for the measurement core; writes docs/results/performance-core.md.

    python benchmarks/scripts/core_performance.py [--device cpu|cuda] [--quick]

1. Harness overhead, three ways:
   a. side by side: wall time of mdperf's timed loop (stamps of the first and last step) against a bare
      ``dyn.run(n)`` with the same calculator and ~1 ms steps, interleaved pair by pair; the median ratio and a
      bootstrap interval, and whether the interval excludes the 1.005 target;
   b. the same with both sides bare (the control): how far two identical runs differ here;
   c. in one process, on one dynamics object, blocks of steps with mdperf's observer attached and detached in
      turns (ABBA): the harness's own cost per step, free of what differs between runs and processes;
   and the observer called alone.
2. mdperf's torch LJ against ASE's LennardJones at ~2,000 Ar atoms, same cutoff: time per step.
3. torch LJ cost per step from 500 to 100,000 atoms, and the slope of a log-log fit.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from mdperf import calculators, environment, measure, systems
from mdperf.protocols import make_dynamics
from mdperf.result import atomic_write_text
from mdperf.steps import StepRecorder

ROOT = Path(__file__).resolve().parents[2]


def bare_loop_s(calc_name: str, system: str, n_atoms: int, steps: int, warmup: int, device: str) -> float:
    atoms = systems.build(system, n_atoms)
    atoms.calc = calculators.create(calc_name, device=device, system=systems.get_system(system))
    dyn = make_dynamics(atoms, "nve", timestep_fs=systems.get_system(system).timestep_fs,
                        temperature_k=systems.get_system(system).temperature_k)
    dyn.run(warmup)
    t0 = time.perf_counter()
    dyn.run(steps)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def recorder_cost_us(device: str, steps: int = 200_000, repeats: int = 7) -> float:
    """The timing observer's own cost per step, called alone: exactly the work it adds to each step (on CUDA
    that includes the device synchronisation before each stamp, as in ``measure``)."""
    atoms = systems.build("ar", 64)
    atoms.calc = calculators.create("torch-lj", device=device, system=systems.get_system("ar"))
    atoms.get_forces()
    synchronize = torch.cuda.synchronize if device == "cuda" else None
    best = []
    for _ in range(repeats):
        rec = StepRecorder(atoms, atoms.calc, steps, energy_interval=10, nve=True, blowup_ev_per_atom=1.0,
                           temperature_limit_k=1e4, synchronize=synchronize)
        rec.start()
        t0 = time.perf_counter()
        for _ in range(steps):
            rec()
        best.append((time.perf_counter() - t0) / steps * 1e6)
    return float(np.median(best))


def _interval(ratios: list[float]) -> list[float]:
    """95 % bootstrap interval of the median ratio."""
    ci = stats.bootstrap((np.asarray(ratios),), np.median, n_resamples=4000, method="percentile",
                         random_state=np.random.default_rng(0)).confidence_interval
    return [float(ci.low), float(ci.high)]


def harness_overhead(device: str, pairs: int, steps: int, calc: str = "torch-lj", control: bool = False) -> dict:
    """Side by side (``control``: bare against bare)."""
    system, n = "ar", 64
    ratios, bare, timed = [], [], []
    for k in range(pairs):
        # Alternate which goes first so drift in machine speed does not favour one side.
        order = ("bare", "mdperf") if k % 2 == 0 else ("mdperf", "bare")
        got = {}
        for which in order:
            if which == "bare" or control:
                got[which] = bare_loop_s(calc, system, n, steps, 20, device)
            else:
                r = measure(calc, system, n, steps, warmup=20, device=device)
                got[which] = sum(r.samples["latency_ms"]) / 1e3
        bare.append(got["bare"])
        timed.append(got["mdperf"])
        ratios.append(got["mdperf"] / got["bare"])
    return {
        "calculator": calc, "system": system, "atoms": n, "steps": steps, "pairs": pairs,
        "bare_step_ms_median": float(np.median(bare)) / steps * 1e3,
        "ratio_median": float(np.median(ratios)),
        "ratio_iqr": [float(np.percentile(ratios, 25)), float(np.percentile(ratios, 75))],
        "ratio_ci95": _interval(ratios),
    }


def observer_ab(device: str, blocks: int = 400, block_steps: int = 50, calc: str = "torch-lj") -> dict:
    """One process, one dynamics: blocks with mdperf's observer attached and detached in turns (ABBA); the cost
    per step of having it, and the ratio, with a bootstrap interval over block pairs."""
    atoms = systems.build("ar", 64)
    atoms.calc = calculators.create(calc, device=device, system=systems.get_system("ar"))
    dyn = make_dynamics(atoms, "nve", timestep_fs=systems.get_system("ar").timestep_fs,
                        temperature_k=systems.get_system("ar").temperature_k)
    dyn.run(50)
    synchronize = torch.cuda.synchronize if device == "cuda" else None
    rec = StepRecorder(atoms, atoms.calc, blocks * block_steps, energy_interval=10, nve=True, blowup_ev_per_atom=1.0,
                       temperature_limit_k=1e5, synchronize=synchronize)
    rec.start()
    dyn.attach(rec, interval=1)
    attached = list(dyn.observers)
    on, off = [], []
    for i in range(blocks):
        with_it = (i % 4) in (1, 2)  # A B B A
        dyn.observers = attached if with_it else []
        t0 = time.perf_counter()
        dyn.run(block_steps)
        if synchronize is not None:
            synchronize()
        (on if with_it else off).append((time.perf_counter() - t0) / block_steps)
    on_a, off_a = np.asarray(on), np.asarray(off)
    ratios = on_a / off_a
    return {"blocks": blocks, "block_steps": block_steps, "step_ms_without": float(np.median(off_a)) * 1e3,
            "cost_us_per_step": float(np.median(on_a - off_a)) * 1e6, "ratio_median": float(np.median(ratios)),
            "ratio_ci95": _interval(list(ratios))}


def step_ms(calc: str, n: int, steps: int, device: str) -> tuple[int, float]:
    r = measure(calc, "ar", n, steps, warmup=3, device=device)
    if r.status != "ok":
        raise RuntimeError(f"{calc} at {n}: {r.status}: {r.reason}")
    return r.case["atoms"], r.value("latency_median_ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quick", action="store_true", help="fewer pairs and sizes (a smoke run)")
    ap.add_argument("--pairs", type=int, default=None, help="interleaved pairs for the overhead (default 20)")
    ap.add_argument("--out", default=None,
                    help="markdown file (default docs/results/performance-core.md, or performance-core-cuda.md on CUDA)")
    args = ap.parse_args()
    out = Path(args.out or ROOT / "docs" / "results" / ("performance-core-cuda.md" if args.device == "cuda" else
                                            "performance-core.md"))
    pairs = args.pairs or (4 if args.quick else 20)
    threads = torch.get_num_threads()

    # One intra-op thread: two threads on a 2-core machine shared with the harness's own Python jitter by ±10 %.
    torch.set_num_threads(1)
    overhead = harness_overhead(args.device, pairs=pairs, steps=500 if args.quick else 1000)
    control = harness_overhead(args.device, pairs=pairs, steps=500 if args.quick else 1000, control=True)
    ab = observer_ab(args.device, blocks=100 if args.quick else 400)
    harness_us = recorder_cost_us(args.device)
    torch.set_num_threads(threads)
    n_ase, t_ase = step_ms("ase-lj", 2000, 10, "cpu")
    n_tlj, t_tlj = step_ms("torch-lj", 2000, 100, args.device)
    sizes = [500, 2000, 8000] if args.quick else [500, 2000, 8000, 32000, 100_000]
    # A GPU step is milliseconds even at 100,000 atoms, so it affords many more timed steps per size.
    steps_at = (lambda n: 200 if n <= 8000 else 100) if args.device == "cuda" else (lambda n: 30 if n <= 8000 else 8)
    scaling = [step_ms("torch-lj", n, steps_at(n), args.device) for n in sizes]
    fit = stats.linregress(np.log([a for a, _ in scaling]), np.log([t for _, t in scaling]))
    # Fixed per-step cost (Python, kernel launches) flattens the small sizes; the largest three show whether
    # the cost that grows with the system grows linearly.
    upper = stats.linregress(np.log([a for a, _ in scaling[-3:]]), np.log([t for _, t in scaling[-3:]]))

    env = environment.collect(ROOT)
    data = {
        "date": datetime.date.today().isoformat(), "device": args.device, "cpu": env["cpu_model"],
        "cpu_count": env["cpu_count"], "gpu": env["gpu_name"], "torch": env["torch_version"],
        "commit": env["git_commit"], "overhead": overhead, "control": control, "observer_ab": ab,
        "harness_us_per_step": harness_us,
        "ase_lj_vs_torch_lj": {"atoms": n_ase, "ase_lj_ms": t_ase, "torch_lj_ms": t_tlj, "speedup": t_ase / t_tlj},
        "scaling": {"points": scaling, "loglog_slope": fit.slope, "slope_stderr": fit.stderr,
                    "loglog_slope_largest3": upper.slope},
    }
    lines = [
        f"# Measurement core performance ({args.device})",
        "",
        f"Produced by `python benchmarks/scripts/core_performance.py --device {args.device}` on {data['date']}, "
        f"{env['cpu_model']} ({env['cpu_count']} cores), {'GPU ' + str(env['gpu_name']) if args.device == 'cuda' else 'no GPU'}, "
        f"torch {env['torch_version']}, Python {platform.python_version()}, commit {str(env['git_commit'])[:10]}.",
        "",
        "## Harness overhead",
        "",
        f"mdperf's timed loop against a bare `dyn.run({overhead['steps']})`, {overhead['calculator']} on "
        f"{overhead['atoms']} Ar atoms ({overhead['bare_step_ms_median']:.3f} ms per step), {overhead['pairs']} "
        "interleaved pairs.",
        "",
        "| comparison | ratio (median) | 95 % interval | interquartile range | excludes the 1.005 target? |",
        "| --- | --- | --- | --- | --- |",
        f"| mdperf / bare, side by side | {overhead['ratio_median']:.4f} | {overhead['ratio_ci95'][0]:.4f} – "
        f"{overhead['ratio_ci95'][1]:.4f} | {overhead['ratio_iqr'][0]:.4f} – {overhead['ratio_iqr'][1]:.4f} | "
        f"{'yes: above it' if overhead['ratio_ci95'][0] > 1.005 else 'no'} |",
        f"| bare / bare, the control | {control['ratio_median']:.4f} | {control['ratio_ci95'][0]:.4f} – "
        f"{control['ratio_ci95'][1]:.4f} | {control['ratio_iqr'][0]:.4f} – {control['ratio_iqr'][1]:.4f} | "
        f"{'yes: above it' if control['ratio_ci95'][0] > 1.005 else 'no'} |",
        f"| observer attached / detached, one process ({ab['blocks']} blocks of {ab['block_steps']} steps, ABBA) | "
        f"{ab['ratio_median']:.4f} | {ab['ratio_ci95'][0]:.4f} – {ab['ratio_ci95'][1]:.4f} | — | "
        f"{'yes: above it' if ab['ratio_ci95'][0] > 1.005 else 'no: within it' if ab['ratio_ci95'][1] <= 1.005 else 'no'} |",
        "",
        f"The harness's own cost, from the one-process comparison: **{ab['cost_us_per_step']:.2f} µs per step** "
        f"({ab['step_ms_without']:.3f} ms steps). The timing observer called alone 200,000 times on the same "
        f"system (median of 7): {harness_us:.2f} µs per call, a ratio of {1 + harness_us / 1e3:.4f} at a 1 ms step.",
        "",
        "Side by side, each run builds its own calculator and dynamics in its own state of the process and machine; "
        "the bare/bare control shows how far two identical runs differ here, which bounds what the side-by-side "
        "ratio can resolve.",
        "",
        "## torch LJ against ASE LennardJones (same cutoff, 8.5 Å)",
        "",
        "| atoms | ASE LennardJones ms/step | mdperf torch-lj ms/step | speed-up | target |",
        "| --- | --- | --- | --- | --- |",
        f"| {n_ase} | {t_ase:.1f} | {t_tlj:.2f} | {t_ase / t_tlj:.1f}× | >= 5× |",
        "",
        "## torch LJ scaling with system size (median step)",
        "",
        "| atoms | ms/step | µs/atom-step |",
        "| --- | --- | --- |",
        *[f"| {a} | {t:.2f} | {t * 1e3 / a:.2f} |" for a, t in scaling],
        "",
        f"Log-log slope: **{fit.slope:.3f} ± {fit.stderr:.3f}** (1 is linear); over the largest three sizes "
        f"alone: {upper.slope:.3f}.",
        "",
    ]
    atomic_write_text(out, "\n".join(lines))
    atomic_write_text(out.with_suffix(".json"), json.dumps(data, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
