"""A user's calculator repository, as a new adopter has it: a small package ``mycalc`` whose factory
``mycalc:make`` returns a numpy Lennard-Jones ASE calculator, committed as a git history with a slowdown, its fix
and a commit whose package cannot be imported.  Used by tests/test_adopt.py and
benchmarks/scripts/adoption_perf.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

PYPROJECT = '''[build-system]
requires = ["setuptools>=61", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "mycalc"
version = "0.1.0"
dependencies = ["numpy", "ase"]

[tool.setuptools]
packages = ["mycalc"]
'''

CALC = '''"""A Lennard-Jones calculator in numpy (argon), all pairs under the minimum image."""

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

EPSILON, SIGMA, CUTOFF = 0.0104, 3.40, 8.5


class LJ(Calculator):
    implemented_properties = ["energy", "forces"]

    def __init__(self, epsilon=EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        energy, forces = 0.0, None
        for _ in range(REPEAT):
            energy, forces = self._lj(self.atoms, self.epsilon)
        if EXTRA:  # a partial slowdown: the pair terms of a fraction of the atoms computed again
            self._rows(self.atoms, max(1, int(len(self.atoms) * EXTRA)))
        self.results = {"energy": energy, "forces": forces}

    @staticmethod
    def _rows(atoms, k):
        pos = atoms.get_positions()
        cell = atoms.cell.array.diagonal()
        d = pos[:k, None, :] - pos[None, :, :]
        d -= cell * np.round(d / cell)
        r2 = (d ** 2).sum(-1)
        r2[r2 == 0] = np.inf
        return float((np.where(r2 < CUTOFF ** 2, (SIGMA ** 2 / r2) ** 3, 0.0)).sum())

    @staticmethod
    def _lj(atoms, epsilon):
        pos = atoms.get_positions()
        cell = atoms.cell.array.diagonal()
        d = pos[:, None, :] - pos[None, :, :]
        d -= cell * np.round(d / cell)
        r2 = (d ** 2).sum(-1)
        np.fill_diagonal(r2, np.inf)
        mask = r2 < CUTOFF ** 2
        inv6 = np.where(mask, (SIGMA ** 2 / r2) ** 3, 0.0)
        energy = float(2 * epsilon * (inv6 ** 2 - inv6).sum())
        coef = np.where(mask, 24 * epsilon * (2 * inv6 ** 2 - inv6) / r2, 0.0)
        forces = (coef[:, :, None] * d).sum(1)
        return energy, forces


def make(system=None):
    return LJ(EPSILON * STUDENT)


def teacher(system=None):
    """The exact potential: the reference a student (``make``) is held to."""
    return LJ(EPSILON)
'''


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def make_calc_repo(repo: Path, n_commits: int = 15, slow: tuple[int, int] | None = (5, 10),
                   broken: int | None = 2, slow_extra: float | None = None,
                   student: tuple[int, float, float] | None = None) -> dict[str, list[str] | str]:
    """The repository at ``repo``: ``n_commits`` commits; from ``slow[0]`` to ``slow[1]`` (exclusive) every force
    call does the work twice (+100 %), or with ``slow_extra`` the pair terms of that fraction of the atoms once
    more (a partial slowdown); at ``broken`` the package raises on import; with ``student`` (k, before, after) the
    factory's epsilon is ``before`` times the teacher's (``mycalc:teacher``) until commit k, ``after`` times from
    it (its force error grows by (after - 1) / (before - 1)).  Returns the commits, oldest first, with the slow,
    fixed, broken and worse ones named."""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "adopter@example.invalid")
    git(repo, "config", "user.name", "adopter")
    (repo / "mycalc").mkdir(exist_ok=True)
    (repo / "pyproject.toml").write_text(PYPROJECT)
    commits: list[str] = []
    for i in range(n_commits):
        is_slow = bool(slow and slow[0] <= i < slow[1])
        repeat = 2 if is_slow and slow_extra is None else 1
        extra = slow_extra if is_slow and slow_extra is not None else 0.0
        scale = 1.0 if student is None else student[1] if i < student[0] else student[2]
        text = CALC.replace("\nEPSILON", f"\nREPEAT = {repeat}\nEXTRA = {extra}\nSTUDENT = {scale!r}\nEPSILON")
        if i == broken:
            text += "\nraise ImportError('mycalc is broken at this commit')\n"
        (repo / "mycalc" / "__init__.py").write_text(text)
        (repo / "CHANGES.md").write_text("".join(f"- change {k}\n" for k in range(i + 1)))
        git(repo, "add", "-A")
        message = ("slow: compute every force twice" if slow and i == slow[0] and slow_extra is None else
                   f"slow: pair terms of {slow_extra:.0%} of the atoms again" if slow and i == slow[0] else
                   "fix: compute forces once" if slow and i == slow[1] else
                   "break the import" if i == broken else
                   "student: a coarser fit (forces further from the teacher)" if student and i == student[0] else
                   f"change {i}")
        git(repo, "commit", "-q", "-m", message)
        commits.append(git(repo, "rev-parse", "HEAD"))
    out: dict[str, list[str] | str] = {"commits": commits}
    if slow:
        out["slow"] = commits[slow[0]]
        if slow[1] < n_commits:
            out["fixed"] = commits[slow[1]]
    if broken is not None:
        out["broken"] = commits[broken]
    if student is not None:
        out["worse"] = commits[student[0]]
    return out
