"""The external ML potentials against the calculator contract, where their extras are installed.

mace-torch and sevenn need different e3nn versions, so each lives in its own environment
(`pip install -e ".[test,mace]"` or `".[test,sevenn]"`); elsewhere these tests are skipped with the reason.
"""

import importlib.util

import pytest

from mdperf import measure, systems
from mdperf.calculators import create, validate_calculator


def _need(module, extra):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} not installed (pip install 'mdperf[{extra}]')")


def test_mace_fixed_seed_model_meets_contract():
    _need("mace", "mace")
    calc = create("mace", system=systems.get_system("cu"))
    report = validate_calculator(calc, systems.build("cu", 32), n_checked=4)
    assert report.ok, str(report)


def test_sevennet_meets_contract_and_measures():
    _need("sevenn", "sevenn")
    calc = create("sevennet", dtype="float32", system=systems.get_system("cu"))
    # float32: a finite-difference step of 0.01 Å keeps round-off in the energy (~1e-5 eV) out of the check.
    report = validate_calculator(calc, systems.build("cu", 32), n_checked=4, step_a=0.01, rtol=0.02,
                                 atol_ev_per_a=0.01)
    assert report.ok, str(report)
    r = measure("sevennet", "cu", 32, 5, warmup=1)
    assert r.status == "ok", r.reason
