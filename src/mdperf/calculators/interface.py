"""The calculator contract, stated once, and a validator that checks it on a small system.

An mdperf calculator is an ASE :class:`~ase.calculators.calculator.Calculator` that, for a periodic
:class:`~ase.Atoms`:

* returns ``energy`` as a finite float in eV (``atoms.get_potential_energy()``);
* returns ``forces`` as a finite ``(n_atoms, 3)`` array in eV/Å, equal to ``-dE/dx``;
* computes energy together with forces, so that ``calc.results["energy"]`` is current after every force call
  (mdperf reads it there to track energy conservation without a second evaluation);
* optionally returns ``stress`` (Voigt, eV/Å^3) — required only by the NPT protocol — equal to ``(1/V) dE/dε``;
* treats the cell as periodic: every periodic image counts (a cell smaller than twice the cutoff included: the
  energy of the cell repeated twice is twice its energy), an atom moved by a lattice vector changes nothing, a
  one-atom cell works, and a rigid rotation of cell and atoms leaves the energy alone and rotates the forces;
* leaves the ``Atoms`` it is given unchanged;
* where it runs in both float32 and float64, gives the same energy and forces in both within stated tolerances.

A calculator is made by a *factory*: a callable taking any of the keyword arguments ``device`` ("cpu" or
"cuda"), ``dtype`` ("float32" or "float64") and ``system`` (a :class:`mdperf.systems.System` or ``None``) and
returning the calculator.  It may raise :class:`mdperf.errors.Unsupported` for a case it cannot run.

Every rule is one check of :func:`validate_calculator`, a line of its report with the figure it measured
(docs/reference/contract.md: the checks, their tolerances and why).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

# Tolerances of the invariance checks: what a float32 model's rounding stays well inside, a missed image or a
# cell read as orthorhombic far outside (docs/reference/contract.md).
E_TOL_EV_PER_ATOM = 1e-4  # 0.1 meV/atom
F_TOL_EV_PER_A = 1e-3  # 1 meV/Å, plus F_RTOL of the largest force
F_RTOL = 1e-3
PRECISION_E_TOL_EV_PER_ATOM = 1e-3  # float32 against float64: 1 meV/atom
PRECISION_F_TOL_EV_PER_A = 1e-2  # ... and 10 meV/Å
STRESS_STRAIN = 1e-5  # the finite-difference strain
STRESS_RTOL, STRESS_ATOL_EV_PER_A3 = 1e-2, 1e-5  # 1 % of the largest component, 1.6 MPa
ROTATION = (0.3, -0.7, 0.5)  # a fixed rotation vector (rad): no symmetry of a cubic cell maps it to itself


@dataclass
class Check:
    name: str
    ok: bool
    message: str = ""  # the figure it measured; a failure's numbers
    skipped: str = ""  # why it was not checked ("" when it was)

    @property
    def status(self) -> str:
        return "skipped" if self.skipped else "ok" if self.ok else "failed"

    def line(self) -> str:
        detail = self.skipped or self.message
        return f"{self.name}: {self.status}" + (f" ({detail})" if detail else "")


@dataclass
class ValidationReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok or c.skipped for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not (c.ok or c.skipped)]

    def __str__(self) -> str:
        return "; ".join(c.line() for c in self.checks)


def _evaluate(calc: Calculator, atoms: Atoms) -> tuple[float, np.ndarray]:
    a = atoms.copy()
    a.calc = calc
    return float(a.get_potential_energy()), np.asarray(a.get_forces(), dtype=float)


def _compare(name: str, e: float, f: np.ndarray, e_ref: float, f_ref: np.ndarray, n: int, what: str,
             e_tol: float = E_TOL_EV_PER_ATOM, f_tol: float = F_TOL_EV_PER_A) -> Check:
    """Energy per atom and forces against a reference, each within its tolerance, the figures in the message."""
    de = abs(e - e_ref) / n
    df = float(np.abs(f - f_ref).max()) if f.shape == f_ref.shape else float("inf")
    ftol = f_tol + F_RTOL * float(np.abs(f_ref).max())
    ok = bool(de <= e_tol and df <= ftol)
    return Check(name, ok, f"{what}: |ΔE| {1e3 * de:.3g} meV/atom (tolerance {1e3 * e_tol:.3g}), max |ΔF| "
                           f"{1e3 * df:.3g} meV/Å (tolerance {1e3 * ftol:.3g})")


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except Exception as exc:  # a check that raises is a failed check, with what it raised
        return Check(name, False, f"raised {type(exc).__name__}: {exc}")


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
    other_precision: Callable[[], Calculator] | None = None,
    invariances: bool = True,
) -> ValidationReport:
    """Check ``calc`` against the contract on ``atoms`` (use a small system: it is evaluated many times).

    Force = -dE/dx is checked by central finite differences of step ``step_a`` on ``n_checked`` randomly
    chosen (fixed-seed) Cartesian components, after a fixed-seed rattle of ``rattle_a`` so that a perfect lattice
    (where every force is zero) cannot pass by symmetry.  With ``invariances``, the periodic-cell, input and
    rotation checks follow; ``other_precision`` builds the same calculator in its other dtype (float32 against
    float64), else that check is skipped.
    """
    report = ValidationReport()
    given = atoms
    atoms = atoms.copy()
    if rattle_a:
        atoms.rattle(stdev=rattle_a, seed=seed)
    before = atoms.copy()
    atoms.calc = calc
    report.checks.append(Check("is an ASE calculator", isinstance(calc, Calculator), f"got {type(calc).__name__}"))
    try:
        energy = float(atoms.get_potential_energy())
        forces = np.asarray(atoms.get_forces(), dtype=float)
    except Exception as exc:  # the contract check reports, it does not crash
        report.checks.append(Check("evaluates", False, f"{type(exc).__name__}: {exc}"))
        return report
    report.checks.append(Check("energy finite", bool(np.isfinite(energy)), f"energy = {energy:.6g} eV"))
    shape_ok = forces.shape == (len(atoms), 3)
    report.checks.append(Check("forces shape", shape_ok, f"forces shape {forces.shape}, expected {(len(atoms), 3)}"))
    finite = bool(np.all(np.isfinite(forces)))
    report.checks.append(Check("forces finite", finite, "" if finite else "forces contain NaN or inf"))
    if not (shape_ok and finite and np.isfinite(energy)):
        return report
    cached = calc.results.get("energy")
    report.checks.append(
        Check(
            "energy computed with forces",
            bool(cached is not None and np.isclose(float(cached), energy)),
            "" if cached is not None and np.isclose(float(cached), energy)
            else "calc.results['energy'] is not set by the force call",
        )
    )
    report.checks.append(_unchanged(before, atoms))
    report.checks.append(_forces_fd(atoms, forces, n_checked, step_a, rtol, atol_ev_per_a, seed))
    if not invariances:
        return report
    n = len(atoms)
    periodic = bool(atoms.pbc.all())
    why = "" if periodic else "the system is not periodic in all three directions"
    checks: list[tuple[str, Callable[[], Check]]] = [
        ("periodic images", lambda: _replicated(calc, atoms, energy, forces)),
        ("lattice-vector translation", lambda: _translated(calc, atoms, energy, forces)),
        ("one-atom cell", lambda: _one_atom(calc, given)),
        ("rigid rotation", lambda: _rotated(calc, atoms, energy, forces)),
    ]
    for name, check in checks:
        report.checks.append(Check(name, True, skipped=why) if why else _guarded(name, check))
    report.checks.append(_guarded("stress = (1/V) dE/dε", lambda: _stress(calc, atoms)))
    if other_precision is None:
        report.checks.append(Check("float32 = float64", True, skipped="the calculator runs in one precision"))
    else:
        report.checks.append(_guarded("float32 = float64", lambda: _compare(
            "float32 = float64", *_evaluate(other_precision(), atoms), energy, forces, n, "the other precision",
            PRECISION_E_TOL_EV_PER_ATOM, PRECISION_F_TOL_EV_PER_A)))
    return report


def _unchanged(before: Atoms, after: Atoms) -> Check:
    """The Atoms given to the calculator: positions, numbers, cell, pbc and per-atom arrays as they were."""
    changed = [what for what, a, b in (("positions", before.positions, after.positions),
                                        ("numbers", before.numbers, after.numbers),
                                        ("cell", before.cell.array, after.cell.array),
                                        ("pbc", before.pbc, after.pbc))
               if np.shape(a) != np.shape(b) or not np.array_equal(a, b)]
    changed += [f"array {k!r}" for k in set(before.arrays) | set(after.arrays)
                if k not in ("positions", "numbers") and (k not in before.arrays or k not in after.arrays
                                                           or not np.array_equal(before.arrays[k], after.arrays[k]))]
    if "positions" in changed and before.positions.shape == after.positions.shape:
        moved = np.linalg.norm(after.positions - before.positions, axis=1)
        changed[changed.index("positions")] = (f"positions ({int(np.count_nonzero(moved))} of {len(moved)} atoms "
                                               f"moved, up to {float(moved.max()):.3g} Å)")
    return Check("input atoms unchanged", not changed, "changed: " + ", ".join(changed) if changed else "")


def _forces_fd(atoms: Atoms, forces: np.ndarray, n_checked: int, step_a: float, rtol: float, atol: float,
               seed: int) -> Check:
    rng = np.random.default_rng(seed)
    worst, msg = 0.0, ""
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
        tol = atol + rtol * abs(fd)
        if err / tol >= worst:
            worst = err / tol
            msg = f"atom {i} axis {k}: force {forces[i, k]:.6g} vs -dE/dx {fd:.6g} eV/Å"
    return Check("force = -dE/dx", worst <= 1.0, msg)


def _replicated(calc: Calculator, atoms: Atoms, energy: float, forces: np.ndarray) -> Check:
    """The cell repeated twice along its first vector: twice the energy, the same forces on each copy (a cutoff
    past half the cell, read by the minimum image, misses images and fails here)."""
    e2, f2 = _evaluate(calc, atoms.repeat((2, 1, 1)))
    return _compare("periodic images", e2 / 2, f2, energy, np.concatenate([forces, forces]), len(atoms),
                    "the cell repeated twice, per copy")


def _translated(calc: Calculator, atoms: Atoms, energy: float, forces: np.ndarray) -> Check:
    moved = atoms.copy()
    moved.positions[0] += moved.cell[0] - 2 * moved.cell[1] + moved.cell[2]
    return _compare("lattice-vector translation", *_evaluate(calc, moved), energy, forces, len(atoms),
                    "atom 0 moved by a + -2b + c")


def _one_atom(calc: Calculator, atoms: Atoms) -> Check:
    """One atom of the system's first element in a cubic cell of its nearest like-atom distance: finite, no force
    (inversion symmetry), and the energy per atom of the same crystal as 2x2x2 cells."""
    symbol = atoms.get_chemical_symbols()[0]
    same = atoms[[i for i, s in enumerate(atoms.get_chemical_symbols()) if s == symbol]]
    d = same.get_all_distances(mic=True) if len(same) > 1 else np.array([[0, 3.0]])
    a = float(np.min(d[d > 0.1])) if np.any(d > 0.1) else 3.0
    one = Atoms(symbol, cell=np.eye(3) * a, pbc=True)
    e1, f1 = _evaluate(calc, one)
    e8, f8 = _evaluate(calc, one.repeat(2))
    if not (np.isfinite(e1) and np.all(np.isfinite(f1)) and f1.shape == (1, 3)):
        return Check("one-atom cell", False, f"energy {e1}, forces {f1.tolist()} in a {a:.3g} Å cubic cell of {symbol}")
    c = _compare("one-atom cell", e8 / 8, f8, e1, np.zeros((8, 3)), 1,
                 f"{symbol} in a {a:.3g} Å cubic cell against 2x2x2 of it")
    if float(np.abs(f1).max()) > F_TOL_EV_PER_A:
        return Check("one-atom cell", False, f"a force of {1e3 * float(np.abs(f1).max()):.3g} meV/Å on the only atom "
                                             "(zero by symmetry); " + c.message)
    return c


def _rotation() -> np.ndarray:
    v = np.asarray(ROTATION, dtype=float)
    angle = float(np.linalg.norm(v))
    k = v / angle
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def _rotated(calc: Calculator, atoms: Atoms, energy: float, forces: np.ndarray) -> Check:
    """Cell and atoms rotated rigidly (the cell then no longer upper-triangular): the same energy, forces
    rotated with them."""
    r = _rotation()
    turned = atoms.copy()
    turned.set_cell(atoms.cell.array @ r.T, scale_atoms=False)
    turned.positions = atoms.positions @ r.T
    e, f = _evaluate(calc, turned)
    return _compare("rigid rotation", e, f @ r, energy, forces, len(atoms), "rotated by 49° about a fixed axis")


def _strain_derivative(calc: Calculator, atoms: Atoms, h: float = STRESS_STRAIN) -> np.ndarray:
    """(1/V) dE/dε in Voigt order by central differences (a shear strained symmetrically, as ASE does)."""
    out = np.zeros(6)
    cell = atoms.cell.array.copy()
    for v, (i, j) in enumerate([(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]):
        e = []
        for sign in (1, -1):
            strain = np.eye(3)
            strain[i, j] += sign * (h if i == j else h / 2)
            strain[j, i] = strain[i, j] if i != j else strain[i, i]
            b = atoms.copy()
            b.set_cell(cell @ strain, scale_atoms=True)
            e.append(_evaluate(calc, b)[0])
        out[v] = (e[0] - e[1]) / (2 * h * atoms.get_volume())
    return out


def _stress(calc: Calculator, atoms: Atoms) -> Check:
    if "stress" not in getattr(calc, "implemented_properties", ()):
        return Check("stress = (1/V) dE/dε", True, skipped="the calculator gives no stress")
    a = atoms.copy()
    a.calc = calc
    stress = np.asarray(a.get_stress(voigt=True), dtype=float)
    fd = _strain_derivative(calc, atoms)
    err = float(np.abs(stress - fd).max())
    tol = STRESS_ATOL_EV_PER_A3 + STRESS_RTOL * float(np.abs(fd).max())
    return Check("stress = (1/V) dE/dε", err <= tol,
                 f"max |Δσ| {err:.3g} eV/Å³ (tolerance {tol:.3g}); stress {np.round(stress, 6).tolist()}, "
                 f"by strain {np.round(fd, 6).tolist()}")
