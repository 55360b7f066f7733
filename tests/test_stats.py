import numpy as np
import pytest

from mdperf.drift import energy_drift
from mdperf.stats import latency_summary_ms, throughput


def test_percentiles_on_known_samples():
    s = latency_summary_ms(np.arange(1, 101) / 1e3)  # 1..100 ms
    assert s["mean"] == pytest.approx(50.5)
    assert s["median"] == pytest.approx(50.5)
    assert s["p90"] == pytest.approx(90.1)
    assert s["p95"] == pytest.approx(95.05)
    assert s["p99"] == pytest.approx(99.01)
    assert s["max"] == pytest.approx(100)
    assert s["std"] == pytest.approx(np.std(np.arange(1, 101), ddof=1))


def test_tail_shows_rare_slow_steps():
    samples = np.full(1000, 1e-3)
    samples[::50] = 10e-3  # 2 % of steps ten times slower
    s = latency_summary_ms(samples)
    assert s["median"] == pytest.approx(1.0)
    assert s["p95"] == pytest.approx(1.0)
    assert s["p99"] == pytest.approx(10.0)


def test_throughput_units():
    t = throughput(mean_step_s=2e-3, n_atoms=1000, timestep_fs=2.0)
    assert t["steps_per_s"] == pytest.approx(500)
    assert t["us_per_atom_step"] == pytest.approx(2.0)
    # 500 steps/s * 2 fs = 1e-12 s of simulated time per second -> 86400 * 1e-3 ns per day
    assert t["ns_per_day"] == pytest.approx(86.4)


def test_drift_of_a_known_line():
    t = np.linspace(0, 2, 201)  # ps
    e = -3.0 + 0.004 * t  # eV/atom: 4 meV/atom/ps
    d = energy_drift(t, e)
    assert d["drift_mev_per_atom_ps"] == pytest.approx(4.0)
    assert d["energy_max_dev_mev_per_atom"] == pytest.approx(8.0)
    assert energy_drift(t, -3.0 - 0.004 * t)["drift_mev_per_atom_ps"] == pytest.approx(4.0)
    with pytest.raises(ValueError):
        energy_drift(t[:2], e[:2])
