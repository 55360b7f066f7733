"""mdperf's PyTorch pair potentials (Lennard-Jones and Morse) with analytic forces and stress.

The energy is shifted to zero at the cutoff, forces are not, exactly as ASE's ``LennardJones`` with
``smooth=False``: in float64 the two agree to round-off on the same system and cutoff.
"""

from __future__ import annotations

import torch

from .torch_base import TorchCalculator


class TorchPairPotential(TorchCalculator):
    """A radial pair potential ``u(r) - u(rc)``; subclasses give ``u`` and ``du/dr``."""

    def _pair(self, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _compute(self, positions, cell, numbers, pbc, want_stress):
        i, j, shifts = self.neighbours(positions, cell, pbc)
        vec = positions[j] - positions[i] + shifts @ cell
        r = torch.linalg.norm(vec, dim=1)
        u, du_dr = self._pair(r)
        u_rc, _ = self._pair(torch.full((1,), self.cutoff_a, dtype=r.dtype, device=r.device))
        u = u - u_rc
        n = positions.shape[0]
        energies = torch.zeros(n, dtype=r.dtype, device=r.device)
        half = 0.5 * u
        energies.index_add_(0, i, half).index_add_(0, j, half)
        # Force on the first atom of a pair: du/dr * unit vector towards the second; the second gets the opposite.
        fvec = (du_dr / r).unsqueeze(1) * vec
        forces = torch.zeros_like(positions)
        forces.index_add_(0, i, fvec).index_add_(0, j, -fvec)
        virial = (fvec.T @ vec) if want_stress else None
        return energies, forces, virial


class TorchLennardJones(TorchPairPotential):
    def __init__(self, epsilon_ev: float = 0.0104, sigma_a: float = 3.405, cutoff_a: float | None = None, **kw):
        super().__init__(cutoff_a=3 * sigma_a if cutoff_a is None else cutoff_a, **kw)
        self.epsilon_ev, self.sigma_a = float(epsilon_ev), float(sigma_a)

    def _pair(self, r):
        s6 = (self.sigma_a / r) ** 6
        s12 = s6 * s6
        return 4 * self.epsilon_ev * (s12 - s6), -24 * self.epsilon_ev * (2 * s12 - s6) / r


class TorchMorse(TorchPairPotential):
    def __init__(self, d_ev: float = 0.3429, alpha_per_a: float = 1.3588, r0_a: float = 2.866,
                 cutoff_a: float = 6.0, **kw):
        super().__init__(cutoff_a=cutoff_a, **kw)
        self.d_ev, self.alpha, self.r0_a = float(d_ev), float(alpha_per_a), float(r0_a)

    def _pair(self, r):
        e1 = torch.exp(-self.alpha * (r - self.r0_a))
        return self.d_ev * (e1 * e1 - 2 * e1), -2 * self.alpha * self.d_ev * (e1 * e1 - e1)
