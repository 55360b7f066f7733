"""Shared plumbing for mdperf's own PyTorch calculators: device and dtype, the vesin neighbour list."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

try:
    from vesin_torch import NeighborList
except ImportError:  # vesin-torch < 0.6 shipped it as vesin.torch
    from vesin.torch import NeighborList

from ..errors import UserError

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(device: str) -> torch.device:
    if device not in ("cpu", "cuda"):
        raise UserError(f"unknown device {device!r}; valid: cpu, cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda asked for, but CUDA is not available on this machine")
    return torch.device(device)


def resolve_dtype(dtype: str) -> torch.dtype:
    try:
        return DTYPES[dtype]
    except KeyError:
        raise UserError(f"unknown dtype {dtype!r}; valid: {', '.join(DTYPES)}") from None


class TorchCalculator(Calculator):
    """Base: moves the structure to the device once per call and fills ``results`` from ``_compute``."""

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, cutoff_a: float, device: str = "cpu", dtype: str = "float64", **kwargs) -> None:
        super().__init__(**kwargs)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype)
        self.cutoff_a = float(cutoff_a)
        self._nl = NeighborList(cutoff=self.cutoff_a, full_list=False)

    def neighbours(self, positions: torch.Tensor, cell: torch.Tensor, pbc: bool) -> tuple[torch.Tensor, ...]:
        """Half neighbour list: first and second index, and the vector from the first to the second atom."""
        i, j, shifts = self._nl.compute(positions, cell, pbc, quantities="ijS")
        return i, j, shifts.to(positions.dtype)

    def calculate(self, atoms: Atoms | None = None, properties=None, system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        want_stress = properties is not None and "stress" in properties
        if want_stress and self.atoms.cell.rank != 3:
            raise ValueError("stress needs a 3D periodic cell")
        kw: dict[str, Any] = {"device": self.device, "dtype": self.dtype}
        positions = torch.as_tensor(self.atoms.positions, **kw)
        cell = torch.as_tensor(self.atoms.cell.array, **kw)
        numbers = torch.as_tensor(self.atoms.numbers, device=self.device)
        pbc = bool(self.atoms.pbc.all())
        energies, forces, virial = self._compute(positions, cell, numbers, pbc, want_stress)
        # One host copy per property; this is also where the device is synchronised.
        energies_np = energies.detach().to(torch.float64).cpu().numpy()
        self.results["energies"] = energies_np
        self.results["energy"] = self.results["free_energy"] = float(energies_np.sum())
        self.results["forces"] = forces.detach().to(torch.float64).cpu().numpy()
        if virial is not None:
            v = virial.detach().to(torch.float64).cpu().numpy() / self.atoms.get_volume()
            self.results["stress"] = np.array([v[0, 0], v[1, 1], v[2, 2], v[1, 2], v[0, 2], v[0, 1]])

    def _compute(
        self, positions: torch.Tensor, cell: torch.Tensor, numbers: torch.Tensor, pbc: bool, want_stress: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Return per-atom energies (eV), forces (eV/Å) and, if asked, dE/d(strain) (eV) as a 3x3 tensor."""
        raise NotImplementedError
