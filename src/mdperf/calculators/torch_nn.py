"""mdperf's small neural-network potential: a stand-in for a trained "student" model.

Atom-centred radial descriptors (Gaussians times a cosine cutoff, weighted by a per-element embedding of the
neighbour), then a per-atom MLP; the energy is the sum of atomic energies.  Forces and stress come from
autograd, so they are exactly -dE/dx and the dynamics conserve energy.  Weights come from a fixed seed.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .torch_base import TorchCalculator


class RadialMLP(nn.Module):
    centres: torch.Tensor  # buffers (register_buffer): they move with .to(device)
    neighbour_embedding: torch.Tensor
    centre_embedding: torch.Tensor

    def __init__(self, cutoff_a: float, n_radial: int, n_channels: int, hidden: int, seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.cutoff_a = cutoff_a
        self.register_buffer("centres", torch.linspace(0.8, cutoff_a, n_radial))
        self.width = (cutoff_a - 0.8) / n_radial
        # Fixed-seed element embeddings, indexed by atomic number.
        self.register_buffer("neighbour_embedding", torch.randn(119, n_channels, generator=gen))
        self.register_buffer("centre_embedding", torch.randn(119, n_channels, generator=gen))
        self.mlp = nn.Sequential(
            nn.Linear(n_radial * n_channels + n_channels, hidden), nn.SiLU(),
            nn.Linear(hidden, hidden), nn.SiLU(),
            nn.Linear(hidden, 1),
        )
        with torch.no_grad():
            for p in self.mlp.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[-1]))
            # A gentle energy scale (tens of meV per atom) keeps random weights from blowing up MD.
            last = self.mlp[-1]
            assert isinstance(last, nn.Linear)
            last.weight.mul_(0.05)

    def forward(self, vec: torch.Tensor, i: torch.Tensor, j: torch.Tensor, numbers: torch.Tensor) -> torch.Tensor:
        r = torch.linalg.norm(vec, dim=1)
        fc = 0.5 * (torch.cos(math.pi * r / self.cutoff_a) + 1.0)
        g = torch.exp(-(((r.unsqueeze(1) - self.centres) / self.width) ** 2)) * fc.unsqueeze(1)
        n = numbers.shape[0]
        # Half list: each pair feeds both of its atoms with the other's embedding.
        feat_ij = (g.unsqueeze(2) * self.neighbour_embedding[numbers[j]].unsqueeze(1)).flatten(1)
        feat_ji = (g.unsqueeze(2) * self.neighbour_embedding[numbers[i]].unsqueeze(1)).flatten(1)
        desc = torch.zeros(n, feat_ij.shape[1], dtype=vec.dtype, device=vec.device)
        desc.index_add_(0, i, feat_ij).index_add_(0, j, feat_ji)
        x = torch.cat([desc, self.centre_embedding[numbers]], dim=1)
        return self.mlp(x).squeeze(1)


class TorchNNPotential(TorchCalculator):
    def __init__(self, cutoff_a: float = 5.0, n_radial: int = 8, n_channels: int = 4, hidden: int = 64,
                 seed: int = 0, **kw) -> None:
        super().__init__(cutoff_a=cutoff_a, **kw)
        self.model = RadialMLP(cutoff_a, n_radial, n_channels, hidden, seed).to(self.device, self.dtype)

    def _compute(self, positions, cell, numbers, pbc, want_stress):
        i, j, shifts = self.neighbours(positions.detach(), cell, pbc)
        leaf = positions.detach().requires_grad_(True)
        # Stress by the strain trick: dE/d(strain) at zero strain is the virial.
        strain = torch.zeros((3, 3), dtype=positions.dtype, device=positions.device, requires_grad=want_stress)
        deform = torch.eye(3, dtype=positions.dtype, device=positions.device) + strain
        pos = leaf @ deform
        vec = pos[j] - pos[i] + shifts @ (cell @ deform)
        energies = self.model(vec, i, j, numbers)
        inputs = [leaf, strain] if want_stress else [leaf]
        grads = torch.autograd.grad(energies.sum(), inputs)
        virial = grads[1] if want_stress else None
        return energies, -grads[0], virial
