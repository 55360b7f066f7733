"""A calculator repository as real ones are, with no mdperf in its history: a setup.py-only package ``ljtorch``
(no pyproject.toml) with a dependency of its own (toolz), whose calculator is a class — ``ljtorch.calc:LJ(device,
dtype: torch.dtype, cutoff, **kwargs)``, the keywords passed on to ASE's Calculator — and no factory anywhere.
One commit computes the energy twice (+100 %), a later one fixes it.  Used by tests/test_adopt_class.py."""

from __future__ import annotations

from pathlib import Path

from .calc_repo import git

SETUP = '''from setuptools import setup

setup(
    name="ljtorch",
    version="0.3.0",
    description="Lennard-Jones in PyTorch, as an ASE calculator",
    packages=["ljtorch"],
    install_requires=["torch", "ase", "toolz>=0.11"],
)
'''

CALC = '''"""A Lennard-Jones ASE calculator in PyTorch (argon), all pairs under the minimum image."""

import toolz  # a dependency of the package's own, declared only in setup.py
import torch
from ase.calculators.calculator import Calculator, all_changes


class LJ(Calculator):
    implemented_properties = ["energy", "forces"]

    def __init__(self, device="cpu", dtype: torch.dtype = torch.float64, cutoff=8.5, epsilon=0.0104, sigma=3.40,
                 **kwargs):
        super().__init__(**kwargs)
        if not isinstance(dtype, torch.dtype):
            raise TypeError(f"dtype must be a torch.dtype, got {dtype!r}")
        self.device, self.dtype = torch.device(device), dtype
        self.cutoff, self.epsilon, self.sigma = float(cutoff), float(epsilon), float(sigma)

    def _energy(self, pos, cell):
        d = pos[:, None, :] - pos[None, :, :]
        d = d - cell * torch.round(d / cell)
        r2 = (d ** 2).sum(-1) + torch.eye(len(pos), dtype=pos.dtype, device=pos.device) * 1e6
        inv6 = torch.where(r2 < self.cutoff ** 2, (self.sigma ** 2 / r2) ** 3, torch.zeros_like(r2))
        return 2 * self.epsilon * (inv6 ** 2 - inv6).sum()

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        pos = torch.tensor(self.atoms.get_positions(), dtype=self.dtype, device=self.device, requires_grad=True)
        cell = torch.tensor(self.atoms.cell.array.diagonal(), dtype=self.dtype, device=self.device)
        energies = [self._energy(pos, cell) for _ in range(REPEAT)]
        energy = toolz.last(energies)
        forces = -torch.autograd.grad(energy, pos)[0]
        self.results = {"energy": float(energy), "forces": forces.detach().cpu().numpy()}
'''


def make_class_repo(repo: Path, n_commits: int = 5, slow: tuple[int, int] = (2, 4)) -> dict[str, list[str] | str]:
    """``n_commits`` commits before any adoption; from ``slow[0]`` to ``slow[1]`` (exclusive) the energy is computed
    twice.  Returns the commits, oldest first, and the slow one."""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "adopter@example.invalid")
    git(repo, "config", "user.name", "adopter")
    (repo / "ljtorch").mkdir(exist_ok=True)
    (repo / "setup.py").write_text(SETUP)
    (repo / "ljtorch" / "__init__.py").write_text('"""Lennard-Jones in PyTorch."""\n')
    commits: list[str] = []
    for i in range(n_commits):
        repeat = 2 if slow[0] <= i < slow[1] else 1
        (repo / "ljtorch" / "calc.py").write_text(CALC.replace("\nclass LJ", f"\nREPEAT = {repeat}\n\n\nclass LJ"))
        (repo / "README.md").write_text("".join(f"- change {k}\n" for k in range(i + 1)))
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "slow: the energy twice" if i == slow[0] else
            "fix: the energy once" if i == slow[1] else f"change {i}")
        commits.append(git(repo, "rev-parse", "HEAD"))
    return {"commits": commits, "slow": commits[slow[0]] if slow[0] < n_commits else ""}
