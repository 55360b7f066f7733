"""MD protocols: NVE (velocity Verlet), NVT (Langevin), NPT (isotropic MTK barostat), all from ase.md."""

from __future__ import annotations

import numpy as np
from ase import Atoms, units
from ase.md.md import MolecularDynamics

from .errors import Unsupported, UserError

PROTOCOLS = ("nve", "nvt", "npt")


def make_dynamics(
    atoms: Atoms,
    protocol: str,
    *,
    timestep_fs: float,
    temperature_k: float,
    pressure_gpa: float = 0.0,
    seed: int = 0,
) -> MolecularDynamics:
    """Dynamics for ``atoms`` (with its calculator attached). NPT needs a calculator that gives stress."""
    if timestep_fs <= 0:
        raise UserError(f"time step must be > 0 fs, got {timestep_fs}")
    dt = timestep_fs * units.fs
    if protocol == "nve":
        from ase.md.verlet import VelocityVerlet

        return VelocityVerlet(atoms, timestep=dt)
    if protocol == "nvt":
        from ase.md.langevin import Langevin

        return Langevin(atoms, timestep=dt, temperature_K=temperature_k, friction=0.01 / units.fs,
                        fixcm=False, rng=np.random.default_rng(seed))
    if protocol == "npt":
        calc = atoms.calc
        if calc is None or "stress" not in getattr(calc, "implemented_properties", ()):
            raise Unsupported("NPT needs stress, which this calculator does not give")
        from ase.md.nose_hoover_chain import IsotropicMTKNPT

        return IsotropicMTKNPT(atoms, timestep=dt, temperature_K=temperature_k,
                               pressure_au=pressure_gpa * units.GPa, tdamp=100 * dt, pdamp=1000 * dt)
    raise UserError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
