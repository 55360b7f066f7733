"""Named, deterministic benchmark systems built with ASE.

A system is requested at an atom count; it is built as the periodic supercell whose count is nearest to the
request (the real count is reported).  Positions and velocities come from a fixed seed: the same arguments give
identical arrays.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from ase import Atoms, units

from .errors import UserError

MAX_ATOMS = 2_000_000


@dataclass(frozen=True)
class PairParams:
    """Pair-potential parameters suited to a system (used by the pair calculators)."""

    lj_epsilon_ev: float
    lj_sigma_a: float
    lj_cutoff_a: float
    morse_d_ev: float
    morse_alpha_per_a: float
    morse_r0_a: float
    morse_cutoff_a: float


@dataclass(frozen=True)
class System:
    name: str
    description: str
    unit_cell: Callable[[np.random.Generator], Atoms]
    min_atoms: int
    temperature_k: float
    timestep_fs: float
    pair: PairParams
    # Random displacement (Å) applied to the lattice so fluids start off-lattice; 0 keeps a crystal.
    rattle_a: float = 0.0
    elements: tuple[str, ...] = field(default_factory=tuple)

    @property
    def atoms_per_cell(self) -> int:
        return len(self.unit_cell(np.random.default_rng(0)))


# The conventional cubic cells, atoms in the order ase.build.bulk(..., cubic=True) gives them (a test compares):
# written out because ase.build costs 0.4 s to import (scipy's sparse graphs) and `mdperf list` counts cells.
_FCC = ((0.0, 0.0, 0.0), (0.0, 0.5, 0.5), (0.5, 0.0, 0.5), (0.5, 0.5, 0.0))
_DIAMOND = tuple(p for q in _FCC for p in (q, tuple(x + 0.25 for x in q)))


def cubic_cell(symbol: str, basis: tuple[tuple[float, ...], ...], a: float) -> Atoms:
    return Atoms(symbol * len(basis), cell=(a, a, a), scaled_positions=basis, pbc=True)


def _fcc(symbol: str, a: float) -> Callable[[np.random.Generator], Atoms]:
    return lambda rng: cubic_cell(symbol, _FCC, a)


def _diamond_si(rng: np.random.Generator) -> Atoms:
    return cubic_cell("Si", _DIAMOND, 5.431)


# Argon at reduced density 0.8 (sigma = 3.405 Å): 4 atoms per fcc cell of side (4 / 0.8)^(1/3) sigma.
_AR_A = (4 / 0.8) ** (1 / 3) * 3.405


def _argon(rng: np.random.Generator) -> Atoms:
    return cubic_cell("Ar", _FCC, _AR_A)


# ase.build.molecule("H2O") (the G2 geometry), written out for the same reason as the cubic cells.
_H2O_A = ((0.0, 0.0, 0.119262), (0.0, 0.763239, -0.477047), (0.0, -0.763239, -0.477047))

# Liquid water at 1 g/cm^3: 0.03343 molecules per Å^3, 8 molecules per cubic cell.
_WATER_CELL_A = (8 / 0.03343) ** (1 / 3)


def _water(rng: np.random.Generator) -> Atoms:
    h2o = Atoms("OH2", positions=_H2O_A)
    h2o.positions -= h2o.get_center_of_mass()
    cell = Atoms(cell=[_WATER_CELL_A] * 3, pbc=True)
    step = _WATER_CELL_A / 2
    for ix, iy, iz in itertools.product(range(2), repeat=3):
        m = h2o.copy()
        # Fixed-seed orientation per molecule: the rng is the system's own, so the box is deterministic.
        m.rotate(float(rng.uniform(0, 360)), v=rng.normal(size=3) + 1e-9, center=(0, 0, 0))
        m.positions += (np.array([ix, iy, iz]) + 0.5) * step
        cell += m
    return cell


SYSTEMS: dict[str, System] = {
    s.name: s
    for s in [
        System(
            "cu", "fcc copper, a = 3.61 Å", _fcc("Cu", 3.61), 32, 300.0, 2.0,
            PairParams(0.415, 2.338, 5.0, 0.3429, 1.3588, 2.866, 6.0), elements=("Cu",),
        ),
        System(
            "al", "fcc aluminium, a = 4.05 Å", _fcc("Al", 4.05), 32, 300.0, 2.0,
            PairParams(0.392, 2.620, 5.6, 0.2703, 1.1646, 3.253, 6.5), elements=("Al",),
        ),
        System(
            "si", "diamond silicon, a = 5.431 Å", _diamond_si, 32, 300.0, 1.0,
            # Pair potentials do not hold diamond; these keep it bound for performance runs only.
            PairParams(0.5, 2.095, 4.5, 0.3, 1.5, 2.35, 5.0), elements=("Si",),
        ),
        System(
            "ar", "Lennard-Jones argon fluid, reduced density 0.8", _argon, 32, 94.4, 5.0,
            PairParams(0.0104, 3.405, 8.5, 0.0104, 1.0, 3.82, 8.5), rattle_a=0.1, elements=("Ar",),
        ),
        System(
            "water", "liquid water box, 1 g/cm^3, random orientations", _water, 24, 300.0, 0.5,
            # A stand-in for pair potentials (O-H near the LJ minimum): a load test, not physics.
            PairParams(0.01, 0.855, 3.0, 0.01, 2.0, 0.96, 3.0), elements=("H", "O"),
        ),
    ]
}


def get_system(name: str) -> System:
    try:
        return SYSTEMS[name]
    except KeyError:
        raise UserError(f"unknown system {name!r}; valid: {', '.join(SYSTEMS)}") from None


def supercell_repeats(atoms_per_cell: int, n_atoms: int) -> tuple[int, int, int]:
    """Near-cubic repeats (each differing by at most one) whose atom count is nearest to ``n_atoms``."""
    base = max(1, int(np.floor(max(1.0, n_atoms / atoms_per_cell) ** (1 / 3))))
    candidates = {
        tuple(sorted((base + a, base + b, base + c), reverse=True))
        for a, b, c in itertools.product((0, 1), repeat=3)
    }
    # Nearest count wins; on a tie the smaller system.
    return min(candidates, key=lambda r: (abs(atoms_per_cell * r[0] * r[1] * r[2] - n_atoms), r))  # type: ignore[return-value]


def thermal_momenta(masses: np.ndarray, temperature_k: float, rng: np.random.Generator) -> np.ndarray:
    """Maxwell-Boltzmann momenta with zero total momentum, rescaled to exactly ``temperature_k``.

    Drawn here rather than by ASE's helpers so the same seed gives the same velocities across ASE versions.
    """
    p = rng.normal(size=(len(masses), 3)) * np.sqrt(masses * units.kB * temperature_k)[:, None]
    p -= p.sum(axis=0) / masses.sum() * masses[:, None]
    ekin = 0.5 * np.sum(p * p / masses[:, None])
    dof = 3 * len(masses)
    if temperature_k > 0 and ekin > 0:
        p *= np.sqrt(0.5 * dof * units.kB * temperature_k / ekin)
    return p


def atom_count(name: str, n_atoms: int) -> int:
    """The atom count ``build(name, n_atoms)`` gives, without building it (bad sizes raise UserError)."""
    system = _check_size(name, n_atoms)
    per_cell = system.atoms_per_cell
    reps = supercell_repeats(per_cell, n_atoms)
    return per_cell * reps[0] * reps[1] * reps[2]


def _check_size(name: str, n_atoms: int) -> System:
    system = get_system(name)
    if n_atoms < system.min_atoms:
        raise UserError(f"system {name!r} needs at least {system.min_atoms} atoms, got {n_atoms}")
    if n_atoms > MAX_ATOMS:
        raise UserError(f"at most {MAX_ATOMS} atoms, got {n_atoms}")
    return system


def build(
    name: str,
    n_atoms: int,
    *,
    temperature_k: float | None = None,
    seed: int = 0,
) -> Atoms:
    """Build system ``name`` with about ``n_atoms`` atoms; velocities drawn at ``temperature_k`` from ``seed``."""
    system = _check_size(name, n_atoms)
    rng = np.random.default_rng(seed)
    cell = system.unit_cell(rng)
    atoms = cell.repeat(supercell_repeats(len(cell), n_atoms))
    if system.rattle_a:
        atoms.positions += rng.normal(scale=system.rattle_a, size=atoms.positions.shape)
    atoms.wrap()
    t = system.temperature_k if temperature_k is None else temperature_k
    if t < 0:
        raise UserError(f"temperature must be >= 0 K, got {t}")
    atoms.set_momenta(thermal_momenta(atoms.get_masses(), t, rng))
    atoms.info["mdperf_system"] = name
    return atoms
