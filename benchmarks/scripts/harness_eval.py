"""What mdperf's timed loop costs a step: resolved to a few tenths of a percent; writes docs/results/harness.md and .json.

    python benchmarks/scripts/harness_eval.py [--rounds 400] [--block 20] [--atoms 108] [--out docs/results]

One process, one dynamics object, one thread (``mdperf.threads``).  Each round runs one block of ``--block`` steps
under each condition, in a fresh random order, timed by the same outer clock:

* ``bare``: no observer attached (what ``asv``'s own ``time_`` benchmark runs);
* ``inert``: an observer that does nothing (ASE's own cost of calling one per step);
* ``recorder``: mdperf's StepRecorder, as ``measure`` attaches it to a 1,000-step window (a clock read, the NaN
  check, an energy sample every 10 steps, an RSS sample every 50);
* ``recorder, gc off``: the same with Python's garbage collector disabled for the block (is it collection?).

Per round each condition's time is divided by that round's ``bare``: the median of those paired ratios, with a
bootstrap 95 % interval, is the cost.  The same on a calculator that does nothing (zero forces): there the step is
ASE's Velocity Verlet alone, and the difference is the harness's absolute cost in µs per step.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from mdperf import calculators, systems, threads  # noqa: E402
from mdperf.protocols import make_dynamics  # noqa: E402
from mdperf.result import atomic_write_text  # noqa: E402
from mdperf.steps import StepRecorder  # noqa: E402


class Null(Calculator):
    """Zero forces and energy: a step is then the integrator and ASE's bookkeeping alone."""

    implemented_properties = ["energy", "forces"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results = {"energy": 0.0, "forces": np.zeros((len(self.atoms), 3))}


def _dynamics(calc_name: str, atoms_n: int):
    structure = systems.build("ar", atoms_n)
    spec = systems.get_system("ar")
    structure.calc = Null() if calc_name == "null" else calculators.create(calc_name, system=spec)
    threads.apply(1)
    structure.get_forces()
    dyn = make_dynamics(structure, "nve", timestep_fs=spec.timestep_fs, temperature_k=spec.temperature_k)
    dyn.run(50)
    return structure, dyn


def _block(structure, dyn, rec: StepRecorder, condition: str, steps: int) -> float:
    dyn.observers.clear()
    if condition == "inert":
        dyn.attach(lambda: None, interval=1)
    elif condition.startswith("recorder"):
        dyn.attach(rec, interval=1)
    off = condition.endswith("gc off")
    if off:
        gc.disable()
    t0 = time.perf_counter()
    dyn.run(steps)
    t = time.perf_counter() - t0
    if off:
        gc.enable()
    dyn.observers.clear()
    return t / steps


CONDITIONS = ("bare", "inert", "recorder", "recorder, gc off")


def experiment(calc_name: str, atoms_n: int, rounds: int, steps: int, seed: int) -> dict:
    structure, dyn = _dynamics(calc_name, atoms_n)
    # One recorder across the blocks, at the cadence of a 1,000-step window (an RSS sample every 50 steps, an energy
    # every 10): a block's own recorder would sample the RSS every step of a short block.
    total = 2 * rounds * steps
    rec = StepRecorder(structure, structure.calc, total, energy_interval=10, nve=True, blowup_ev_per_atom=1e9,
                       temperature_limit_k=1e9)
    rec.rss_every = 1000 // 20
    rec.start()
    rng = random.Random(seed)
    per: dict[str, list[float]] = {c: [] for c in CONDITIONS}
    for _ in range(rounds):
        order = list(CONDITIONS)
        rng.shuffle(order)
        for c in order:
            per[c].append(_block(structure, dyn, rec, c, steps))
    bare = np.array(per["bare"])
    brng = np.random.default_rng(seed)
    out = {"bare_step_us": 1e6 * statistics.median(per["bare"]), "conditions": {}}
    for c in CONDITIONS[1:]:
        x = np.array(per[c])
        ratio = x / bare
        boots = [float(np.median(brng.choice(ratio, ratio.size))) for _ in range(2000)]
        out["conditions"][c] = {
            "ratio": float(np.median(ratio)), "ratio_lo": float(np.percentile(boots, 2.5)),
            "ratio_hi": float(np.percentile(boots, 97.5)),
            "extra_us_per_step": 1e6 * float(np.median(x - bare)),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=400)
    ap.add_argument("--block", type=int, default=20)
    ap.add_argument("--atoms", type=int, default=108)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "docs" / "results"))
    args = ap.parse_args()
    load0, t0 = os.getloadavg()[0], time.time()
    runs = {f"torch-lj, {args.atoms} Ar atoms": experiment("torch-lj", args.atoms, args.rounds, args.block, args.seed),
            f"null calculator, {args.atoms} Ar atoms": experiment("null", args.atoms, args.rounds, args.block,
                                                                  args.seed)}
    lines = ["# The timed loop's cost per step", "",
             f"`python benchmarks/scripts/harness_eval.py --rounds {args.rounds} --block {args.block} --atoms "
             f"{args.atoms}`: {os.cpu_count()} cores, load {load0:.2f} at the start, {time.time() - t0:.0f} s, one "
             "thread. Blocks of each condition in random order per round, one process and one dynamics object; the "
             "ratio is the median of each round's time over its bare block's, with a bootstrap 95 % interval.", "",
             "| calculator | bare step | condition | ratio to bare (95 % interval) | extra µs per step |",
             "|---|---|---|---|---|"]
    for name, r in runs.items():
        for c, v in r["conditions"].items():
            lines.append(f"| {name} | {r['bare_step_us']:.1f} µs | {c} | {v['ratio']:.4f} "
                         f"({v['ratio_lo']:.4f}-{v['ratio_hi']:.4f}) | {v['extra_us_per_step']:.2f} |")
    lines.append("")
    out = Path(args.out)
    atomic_write_text(out / "harness.md", "\n".join(lines))
    atomic_write_text(out / "harness.json", json.dumps({"args": vars(args), "load_at_start": load0, "runs": runs},
                                                       indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
