import numpy as np
import pytest

from mdperf import systems
from mdperf.errors import UserError


@pytest.mark.parametrize("name", list(systems.SYSTEMS))
def test_deterministic_periodic_and_near_requested_size(name):
    a = systems.build(name, 500, seed=3)
    b = systems.build(name, 500, seed=3)
    assert np.array_equal(a.positions, b.positions)
    assert np.array_equal(a.get_velocities(), b.get_velocities())
    assert a.pbc.all()
    per_cell = systems.SYSTEMS[name].atoms_per_cell
    # The nearest near-cubic supercell: within one layer of cells of the request.
    assert abs(len(a) - 500) <= 3 * per_cell * max(1, round((500 / per_cell) ** (2 / 3)))
    c = systems.build(name, 500, seed=4)
    assert not np.array_equal(a.get_velocities(), c.get_velocities())


@pytest.mark.parametrize("name", list(systems.SYSTEMS))
def test_velocities_at_requested_temperature(name):
    a = systems.build(name, 256, temperature_k=150)
    assert a.get_temperature() == pytest.approx(150, rel=0.02)
    assert np.allclose(a.get_momenta().sum(axis=0), 0, atol=1e-10)


def test_exact_counts_and_range():
    assert len(systems.build("cu", 32)) == 32
    assert len(systems.build("cu", 2048)) == 2048
    big = systems.build("ar", 100_000)
    assert abs(len(big) - 100_000) / 100_000 < 0.02


def test_supercell_repeats_nearest():
    assert systems.supercell_repeats(4, 32) == (2, 2, 2)
    assert systems.supercell_repeats(4, 48) in {(3, 2, 2), (2, 2, 3)}
    assert systems.supercell_repeats(8, 32) == (2, 2, 1)


def test_water_is_molecular():
    w = systems.build("water", 100, temperature_k=0)
    assert w.get_chemical_formula(empirical=True) == "H2O"
    d = w.get_distances(0, [1, 2])
    assert np.allclose(d, 0.97, atol=0.02)
    density = w.get_masses().sum() * 1.66054 / w.get_volume()
    assert density == pytest.approx(1.0, rel=0.01)


def test_bad_input():
    with pytest.raises(UserError, match="valid: cu, al, si, ar, water"):
        systems.build("xenon", 100)
    with pytest.raises(UserError, match="at least 32"):
        systems.build("cu", 8)


@pytest.mark.parametrize("name", list(systems.SYSTEMS))
@pytest.mark.parametrize("n", [40, 1000, 5000])
def test_atom_count_predicts_build(name, n):
    assert systems.atom_count(name, n) == len(systems.build(name, n))


def test_the_written_out_cells_are_those_ase_builds():
    """The cells are written out so that `mdperf list` need not import ase.build; they must stay ase's."""
    from ase.build import bulk, molecule

    for symbol, structure, a, basis in (("Cu", "fcc", 3.61, systems._FCC), ("Si", "diamond", 5.431, systems._DIAMOND)):
        ours, theirs = systems.cubic_cell(symbol, basis, a), bulk(symbol, structure, a=a, cubic=True)
        assert np.array_equal(ours.positions, theirs.positions) and np.allclose(ours.cell, theirs.cell)
        assert ours.get_chemical_symbols() == theirs.get_chemical_symbols() and ours.pbc.all()
    assert np.array_equal(np.array(systems._H2O_A), molecule("H2O").positions)
