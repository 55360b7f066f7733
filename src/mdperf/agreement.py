"""How far a calculator's energies and forces are from a reference's (the teacher's) on the same frames: a
faster student that no longer agrees with its teacher is visible beside its speed-up (``mdperf compare
--agreement``).

The frames are the case's system, built with the case's seed, rattled by 0.05 Å with seeds 0..n-1: the same
for both calculators, evaluated in the same process, one calculator after the other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import calculators, systems

RATTLE_A = 0.05


def frames(system: str, atoms: int, n: int = 5, seed: int = 0) -> list[Any]:
    base = systems.build(system, atoms, seed=seed)
    out = []
    for k in range(n):
        a = base.copy()
        a.rattle(stdev=RATTLE_A, seed=seed + k)
        out.append(a)
    return out


# The suite's accuracy series (mdperf.suite.benchmarks.Accuracy): lower is better, units in the names.
METRICS = ("energy_mae_mev_per_atom", "force_mae_mev_per_a", "force_max_mev_per_a")
PARITY_POINTS = 2000  # force components kept for a parity figure: enough to see a band, small beside the results


def _evaluate(name: str, structures: list[Any], device: str, dtype: str | None, system: str,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    calc = calculators.create(name, device=device, dtype=dtype, system=systems.get_system(system), options=options)
    energies, forces = [], []
    for a in structures:
        a = a.copy()
        a.calc = calc
        forces.append(np.asarray(a.get_forces(), dtype=float))
        energies.append(float(a.get_potential_energy()) / len(a))
    return np.asarray(energies), forces


def agreement(reference: str, other: str, system: str, atoms: int, *, device: str = "cpu", dtype: str | None = None,
              n_frames: int = 5, seed: int = 0, options: dict[str, Any] | None = None,
              reference_options: dict[str, Any] | None = None, parity_points: int = 0) -> dict[str, Any]:
    """Energy (per atom) and force errors of ``other`` against ``reference``, in meV/atom and meV/Å; with
    ``parity_points``, that many force components of both (eV/Å, evenly spaced over the frames) under
    ``parity`` for a parity figure."""
    structures = frames(system, atoms, n_frames, seed)
    e_ref, f_ref = _evaluate(reference, structures, device, dtype, system, reference_options)
    e_oth, f_oth = _evaluate(other, structures, device, dtype, system, options)
    de = np.abs(e_oth - e_ref) * 1e3
    ref, oth = np.concatenate([a.ravel() for a in f_ref]), np.concatenate([b.ravel() for b in f_oth])
    df = np.abs(oth - ref) * 1e3
    out: dict[str, Any] = {"frames": n_frames, "energy_mae_mev_per_atom": float(de.mean()),
                           "energy_max_mev_per_atom": float(de.max()), "force_mae_mev_per_a": float(df.mean()),
                           "force_max_mev_per_a": float(df.max())}
    if parity_points:
        keep = np.unique(np.linspace(0, ref.size - 1, min(parity_points, ref.size)).astype(int))
        out["parity"] = {"reference": [round(float(x), 5) for x in ref[keep]],
                         "predicted": [round(float(x), 5) for x in oth[keep]], "unit": "eV/Å"}
    return out
