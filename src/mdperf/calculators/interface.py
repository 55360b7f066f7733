"""The calculator contract, stated once, and a validator that checks it on a small system.

An mdperf calculator is an ASE :class:`~ase.calculators.calculator.Calculator` that, for a periodic
:class:`~ase.Atoms`:

* returns ``energy`` as a finite float in eV (``atoms.get_potential_energy()``);
* returns ``forces`` as a finite ``(n_atoms, 3)`` array in eV/Å, equal to ``-dE/dx``;
* computes energy together with forces, so that ``calc.results["energy"]`` is current after every force call
  (mdperf reads it there to track energy conservation without a second evaluation);
* optionally returns ``stress`` (Voigt, eV/Å^3) — required only by the NPT protocol.

A calculator is made by a *factory*: a callable taking any of the keyword arguments ``device`` ("cpu" or
"cuda"), ``dtype`` ("float32" or "float64") and ``system`` (a :class:`mdperf.systems.System` or ``None``) and
returning the calculator.  It may raise :class:`mdperf.errors.Unsupported` for a case it cannot run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator


@dataclass
class Check:
    name: str
    ok: bool
    message: str = ""


@dataclass
class ValidationReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def __str__(self) -> str:
        return "; ".join(f"{c.name}: {'ok' if c.ok else c.message}" for c in self.checks)


def validate_calculator(
    calc: Calculator,
    atoms: Atoms,
    *,
    n_checked: int = 6,
    step_a: float = 1e-4,
    rtol: float = 1e-3,
    atol_ev_per_a: float = 1e-4,
    rattle_a: float = 0.05,
    seed: int = 0,
) -> ValidationReport:
    """Check ``calc`` against the contract on ``atoms`` (use a small system: it is evaluated many times).

    Force = -dE/dx is checked by central finite differences of step ``step_a`` on ``n_checked`` randomly
    chosen (fixed-seed) Cartesian components, after a fixed-seed rattle of ``rattle_a`` so that a perfect lattice
    (where every force is zero) cannot pass by symmetry.
    """
    report = ValidationReport()
    atoms = atoms.copy()
    if rattle_a:
        atoms.rattle(stdev=rattle_a, seed=seed)
    atoms.calc = calc
    report.checks.append(Check("is an ASE calculator", isinstance(calc, Calculator), f"got {type(calc).__name__}"))
    try:
        energy = float(atoms.get_potential_energy())
        forces = np.asarray(atoms.get_forces(), dtype=float)
    except Exception as exc:  # the contract check reports, it does not crash
        report.checks.append(Check("evaluates", False, f"{type(exc).__name__}: {exc}"))
        return report
    report.checks.append(Check("energy finite", bool(np.isfinite(energy)), f"energy = {energy}"))
    shape_ok = forces.shape == (len(atoms), 3)
    report.checks.append(Check("forces shape", shape_ok, f"forces shape {forces.shape}, expected {(len(atoms), 3)}"))
    finite = bool(np.all(np.isfinite(forces)))
    report.checks.append(Check("forces finite", finite, "forces contain NaN or inf"))
    if not (shape_ok and finite and np.isfinite(energy)):
        return report
    cached = calc.results.get("energy")
    report.checks.append(
        Check(
            "energy computed with forces",
            bool(cached is not None and np.isclose(float(cached), energy)),
            "calc.results['energy'] is not set by the force call",
        )
    )
    rng = np.random.default_rng(seed)
    worst = 0.0
    msg = ""
    base = atoms.positions.copy()
    for _ in range(n_checked):
        i, k = int(rng.integers(len(atoms))), int(rng.integers(3))
        energies = []
        for sign in (1, -1):
            pos = base.copy()
            pos[i, k] += sign * step_a
            atoms.positions = pos
            energies.append(float(atoms.get_potential_energy()))
        atoms.positions = base
        fd = -(energies[0] - energies[1]) / (2 * step_a)
        err = abs(fd - forces[i, k])
        tol = atol_ev_per_a + rtol * abs(fd)
        if err / tol > worst:
            worst = err / tol
            msg = f"atom {i} axis {k}: force {forces[i, k]:.6g} vs -dE/dx {fd:.6g} eV/Å"
    report.checks.append(Check("force = -dE/dx", worst <= 1.0, msg))
    return report
