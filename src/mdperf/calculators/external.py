"""Adapters for external machine-learned potentials, behind optional extras.

Each works offline: SevenNet's ``7net-0`` weights ship inside the sevenn wheel; MACE is built from
``mace.modules`` with fixed-seed weights unless trained weights are on disk (``MDPERF_MACE_MODEL``).
"""

from __future__ import annotations

import os

from ase.calculators.calculator import Calculator

from ..systems import System


def make_sevennet(device: str = "cpu", system: System | None = None) -> Calculator:
    from sevenn.calculator import SevenNetCalculator

    return SevenNetCalculator("7net-0", device=device)


def _fixed_seed_mace(dtype: str, seed: int = 0):
    import mace  # noqa: F401  (import mace before e3nn: mace pins and patches the e3nn it needs)
    import numpy as np
    import torch
    from e3nn import o3
    from mace import modules

    torch.manual_seed(seed)
    z = list(range(1, 90))
    model = modules.MACE(
        r_max=5.0,
        num_bessel=8,
        num_polynomial_cutoff=5,
        max_ell=2,
        interaction_cls=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
        interaction_cls_first=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
        num_interactions=2,
        num_elements=len(z),
        hidden_irreps=o3.Irreps("32x0e + 32x1o"),
        MLP_irreps=o3.Irreps("16x0e"),
        gate=torch.nn.functional.silu,
        atomic_energies=np.zeros(len(z)),
        avg_num_neighbors=20.0,
        atomic_numbers=z,
        correlation=3,
        radial_type="bessel",
    )
    return model.to(torch.float64 if dtype == "float64" else torch.float32)


def make_mace(device: str = "cpu", dtype: str = "float64", system: System | None = None) -> Calculator:
    from mace.calculators import MACECalculator

    path = os.environ.get("MDPERF_MACE_MODEL")
    if path:
        return MACECalculator(model_paths=path, device=device, default_dtype=dtype)
    return MACECalculator(models=_fixed_seed_mace(dtype), device=device, default_dtype=dtype)
