import numpy as np
import pytest
from ase.calculators.lj import LennardJones

from mdperf import calculators, systems
from mdperf.calculators import CalculatorEntry, validate_calculator
from mdperf.calculators.torch_nn import TorchNNPotential
from mdperf.calculators.torch_pair import TorchLennardJones, TorchMorse
from mdperf.errors import Unsupported, UserError


def _pair(atoms, calc):
    a = atoms.copy()
    a.calc = calc
    return a.get_potential_energy(), a.get_forces(), a.get_stress()


@pytest.mark.parametrize("name, n", [("ar", 256), ("cu", 108)])
def test_torch_lj_matches_ase_lj_float64(name, n):
    atoms = systems.build(name, n)
    atoms.rattle(0.05, seed=1)
    p = systems.get_system(name).pair
    e_ref, f_ref, s_ref = _pair(atoms, LennardJones(epsilon=p.lj_epsilon_ev, sigma=p.lj_sigma_a, rc=p.lj_cutoff_a))
    e, f, s = _pair(atoms, TorchLennardJones(p.lj_epsilon_ev, p.lj_sigma_a, p.lj_cutoff_a, dtype="float64"))
    assert abs(e - e_ref) <= 1e-6 * abs(e_ref)
    assert np.abs(f - f_ref).max() <= 1e-6 * np.abs(f_ref).max()
    assert np.abs(s - s_ref).max() <= 1e-6 * np.abs(s_ref).max()


def test_float32_close_to_float64():
    atoms = systems.build("ar", 256)
    e64, f64, _ = _pair(atoms, TorchLennardJones(cutoff_a=8.5, dtype="float64"))
    e32, f32, _ = _pair(atoms, TorchLennardJones(cutoff_a=8.5, dtype="float32"))
    assert e32 == pytest.approx(e64, rel=1e-4)
    assert np.abs(f32 - f64).max() <= 1e-3 * np.abs(f64).max()


@pytest.mark.parametrize("calc", [TorchMorse(), TorchNNPotential(), TorchLennardJones(0.415, 2.338, 5.0)],
                         ids=["morse", "nn", "lj"])
@pytest.mark.parametrize("system", ["cu", "water"])
def test_torch_models_pass_contract_with_finite_differences(calc, system):
    report = validate_calculator(calc, systems.build(system, 48), n_checked=8)
    assert report.ok, str(report)


def test_nn_stress_is_strain_derivative():
    atoms = systems.build("water", 48)
    atoms.calc = TorchNNPotential()
    stress = atoms.get_stress()
    cell0, h = atoms.cell.array.copy(), 1e-5
    energies = []
    for sign in (1, -1):
        b = atoms.copy()
        b.calc = TorchNNPotential()
        b.set_cell(cell0 @ (np.eye(3) + sign * h * np.diag([1, 0, 0])), scale_atoms=True)
        energies.append(b.get_potential_energy())
    assert stress[0] == pytest.approx((energies[0] - energies[1]) / (2 * h) / atoms.get_volume(), rel=1e-4)


def test_validator_catches_wrong_forces():
    from calcs_for_tests import not_a_calculator, wrong_sign

    report = validate_calculator(wrong_sign(), systems.build("ar", 32))
    assert not report.ok
    assert [c.name for c in report.failures()] == ["force = -dE/dx"]
    assert not validate_calculator(not_a_calculator(), systems.build("ar", 32)).ok


def test_registry_names_and_unknown():
    names = set(calculators.all_entries())
    assert {"emt", "ase-lj", "torch-lj", "torch-morse", "torch-nn", "mace", "sevennet"} <= names
    with pytest.raises(UserError, match="valid: emt, ase-lj, torch-lj"):
        calculators.resolve("nope")


def test_availability_reasons():
    missing = CalculatorEntry("x", "x:y", "test", requires=("no_such_module_mdperf",), extra="x")
    a = missing.availability()
    assert not a.available and a.reason == "missing package no_such_module_mdperf (pip install 'mdperf[x]')"
    assert "does not run on cuda" in calculators.resolve("emt").availability("cuda").reason
    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    if not cuda:
        assert calculators.resolve("torch-lj").availability("cuda").reason == "needs CUDA, which is not available"
    assert calculators.resolve("torch-lj").availability("cpu").available


def test_emt_unsupported_element():
    with pytest.raises(Unsupported, match="EMT has no parameters for Ar"):
        calculators.create("emt", system=systems.get_system("ar"))
    assert calculators.create("emt", system=systems.get_system("cu")) is not None


def test_spec_resolution_and_bad_specs():
    entry = calculators.resolve("calcs_for_tests:cpu_lj")
    assert entry.origin == "spec"
    calc = entry.create()
    assert isinstance(calc, LennardJones)
    with pytest.raises(Unsupported, match="no device argument"):
        entry.create(device="cuda")
    with pytest.raises(UserError, match="malformed calculator spec"):
        calculators.resolve("calcs_for_tests:")
    with pytest.raises(UserError, match="cannot import"):
        calculators.resolve("no_such_pkg_mdperf.mod:f")
    with pytest.raises(UserError, match="no callable"):
        calculators.resolve("calcs_for_tests:missing")
    with pytest.raises(TypeError, match="not an ASE Calculator"):
        calculators.resolve("calcs_for_tests:not_a_calculator").create()


def test_entry_point_group(tmp_path, monkeypatch):
    # A real installed distribution (a dist-info on sys.path) declaring the entry point.
    dist = tmp_path / "mdperf_testplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mdperf-testplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[mdperf.calculators]\nmy-student = calcs_for_tests:cpu_lj\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = calculators.resolve("my-student")
    assert entry.origin == "entry point"
    assert isinstance(entry.create(), LennardJones)
    assert "my-student" in calculators.available_names()
