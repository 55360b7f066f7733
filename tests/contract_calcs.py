"""Calculators with the bugs the stricter contract is there to catch, each otherwise a consistent Lennard-Jones
(so forces = -dE/dx holds and the older check passes): written the way such bugs are written."""

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

EPS_EV, SIGMA_A, CUTOFF_A = 0.0104, 3.40, 8.5


def _lj(d: np.ndarray):
    r = np.linalg.norm(d, axis=-1)
    inside = r < CUTOFF_A
    r, d = r[inside], d[inside]
    s6 = (SIGMA_A / r) ** 6
    e = 4 * EPS_EV * (s6 * s6 - s6)
    f_over_r = 24 * EPS_EV * (2 * s6 * s6 - s6) / r ** 2  # -dE/dr / r
    return inside, e, f_over_r[:, None] * d


class MinimumImageLJ(Calculator):
    """Each pair once, at its nearest image: wrong when the cutoff exceeds half the cell."""

    implemented_properties = ["energy", "forces"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        pos, cell = self.atoms.positions, self.atoms.cell.array
        i, j = np.triu_indices(len(pos), 1)
        frac = (pos[j] - pos[i]) @ np.linalg.inv(cell)
        d = (frac - np.round(frac)) @ cell
        inside, e, f = _lj(d)
        forces = np.zeros_like(pos)
        np.add.at(forces, i[inside], -f)
        np.add.at(forces, j[inside], f)
        self.results = {"energy": float(e.sum()), "forces": forces}


class _Images(Calculator):
    """Lennard-Jones over every image within the cutoff (ase's neighbour list): correct, and the base of the
    next two."""

    implemented_properties = ["energy", "forces"]

    def _pairs(self, atoms):
        from ase.neighborlist import neighbor_list

        i, j, d = neighbor_list("ijD", atoms, CUTOFF_A)
        inside, e, f = _lj(d)
        forces = np.zeros((len(atoms), 3))
        np.add.at(forces, i[inside], -f)  # each pair seen from both ends: half the energy each time
        return float(e.sum()) / 2, forces

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        energy, forces = self._pairs(self.atoms)
        self.results = {"energy": energy, "forces": forces}


class WrapsInPlaceLJ(_Images):
    """Wraps the caller's atoms into the cell before computing (the MD's unwrapped positions are lost)."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        atoms.wrap()
        super().calculate(atoms, properties, system_changes)


class OrthorhombicLJ(_Images):
    """Reads the cell as its diagonal (an orthorhombic box), as code written for cubic boxes does."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        Calculator.calculate(self, atoms, properties, system_changes)
        boxed = self.atoms.copy()
        boxed.set_cell(np.diag(np.diag(self.atoms.cell.array)), scale_atoms=False)
        energy, forces = self._pairs(boxed)
        self.results = {"energy": energy, "forces": forces}


def make_minimum_image():
    return MinimumImageLJ()


class StressSignLJ(Calculator):
    """ASE's Lennard-Jones with its stress of the opposite sign (the convention mixed up)."""

    implemented_properties = ["energy", "forces", "stress"]

    def __init__(self):
        from ase.calculators.lj import LennardJones

        super().__init__()
        self.inner = LennardJones(epsilon=EPS_EV, sigma=SIGMA_A, rc=CUTOFF_A, smooth=True)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.inner.calculate(self.atoms, ["energy", "forces", "stress"], all_changes)
        r = self.inner.results
        self.results = {"energy": r["energy"], "forces": r["forces"], "stress": -r["stress"]}
