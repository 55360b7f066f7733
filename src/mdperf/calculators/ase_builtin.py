"""ASE's own EMT and LennardJones: CPU reference points."""

from __future__ import annotations

from ase.calculators.calculator import Calculator

from ..errors import Unsupported
from ..systems import System

# Elements ASE's EMT has parameters for.
EMT_ELEMENTS = frozenset({"Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt", "H", "C", "N", "O"})


def _cpu_only(name: str, device: str) -> None:
    if device != "cpu":
        raise Unsupported(f"{name} runs on the CPU only")


def make_emt(device: str = "cpu", system: System | None = None) -> Calculator:
    from ase.calculators.emt import EMT

    _cpu_only("EMT", device)
    if system is not None:
        missing = sorted(set(system.elements) - EMT_ELEMENTS)
        if missing:
            raise Unsupported(f"EMT has no parameters for {', '.join(missing)}")
    return EMT()


def make_ase_lj(device: str = "cpu", system: System | None = None) -> Calculator:
    from ase.calculators.lj import LennardJones

    _cpu_only("ASE LennardJones", device)
    if system is None:
        return LennardJones(epsilon=0.0104, sigma=3.405, rc=8.5)
    p = system.pair
    return LennardJones(epsilon=p.lj_epsilon_ev, sigma=p.lj_sigma_a, rc=p.lj_cutoff_a)
