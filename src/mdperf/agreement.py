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


def _evaluate(name: str, structures: list[Any], device: str, dtype: str | None, system: str) -> tuple[np.ndarray, list[np.ndarray]]:
    calc = calculators.create(name, device=device, dtype=dtype, system=systems.get_system(system))
    energies, forces = [], []
    for a in structures:
        a = a.copy()
        a.calc = calc
        forces.append(np.asarray(a.get_forces(), dtype=float))
        energies.append(float(a.get_potential_energy()) / len(a))
    return np.asarray(energies), forces


def agreement(reference: str, other: str, system: str, atoms: int, *, device: str = "cpu", dtype: str | None = None,
              n_frames: int = 5, seed: int = 0) -> dict[str, float]:
    """Energy (per atom) and force errors of ``other`` against ``reference``, in meV/atom and meV/Å."""
    structures = frames(system, atoms, n_frames, seed)
    e_ref, f_ref = _evaluate(reference, structures, device, dtype, system)
    e_oth, f_oth = _evaluate(other, structures, device, dtype, system)
    de = np.abs(e_oth - e_ref) * 1e3
    df = np.abs(np.concatenate([(b - a).ravel() for a, b in zip(f_ref, f_oth)])) * 1e3
    return {"frames": n_frames, "energy_mae_mev_per_atom": float(de.mean()), "energy_max_mev_per_atom": float(de.max()),
            "force_mae_mev_per_a": float(df.mean()), "force_max_mev_per_a": float(df.max())}
