import json

import numpy as np
import pytest

from conftest import CUDA_REASON, needs_cuda
from mdperf import MeasureResult, measure
from mdperf.errors import UserError
from mdperf.measurement import METRIC_UNITS
from mdperf.result import SCHEMA_VERSION


def _all_metrics_have_status(r):
    assert set(r.metrics) == set(METRIC_UNITS)
    for name, m in r.metrics.items():
        assert m.status in ("ok", "skipped", "error"), name
        assert (m.value is not None) == (m.status == "ok"), name
        if m.status != "ok":
            assert m.reason, name


def test_nve_result_has_every_metric_with_status(monkeypatch):
    # The allocator setting is recorded: it changes the reserved and NVML figures many-fold (docs/results/gpu.md).
    monkeypatch.setenv("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")
    r = measure("torch-lj", "ar", 108, 200, warmup=5)
    assert r.status == "ok", r.reason
    _all_metrics_have_status(r)
    assert len(r.samples["latency_ms"]) == 200
    lat = np.array(r.samples["latency_ms"])
    assert r.value("latency_mean_ms") == pytest.approx(lat.mean())
    assert r.value("latency_p99_ms") == pytest.approx(np.percentile(lat, 99))
    assert r.value("latency_max_ms") >= r.value("latency_p99_ms") >= r.value("latency_p95_ms") >= r.value("latency_median_ms")
    assert r.value("steps_per_s") == pytest.approx(1e3 / lat.mean())
    assert r.value("cold_start_ms") > 0 and r.value("host_peak_rss_mib") > 50
    assert r.metrics["gpu_peak_allocated_mib"].reason == "not on CUDA"
    assert r.case["atoms"] == 108 and r.case["timestep_fs"] == 5.0
    env = r.environment
    for key in ("mdperf_version", "ase_version", "torch_version", "numpy_version", "python", "cpu_model", "git_commit"):
        assert key in env
    assert env["pytorch_cuda_alloc_conf"] == "expandable_segments:True"
    # 200 steps, an energy sample every 10: 21 samples including step 0
    assert len(r.samples["energy_total_ev_per_atom"]) == 21


def test_timed_steps_sum_to_the_wall_time_of_the_loop():
    import time

    # Each step holds one force call of at least 20 ms: every sample sees it, and together they fit the loop.
    t0 = time.perf_counter()
    r = measure("calcs_for_tests:sleeps_20ms", "ar", 32, 50, warmup=0)
    total = time.perf_counter() - t0
    assert r.status == "ok", r.reason
    lat = r.samples["latency_ms"]
    assert len(lat) == 50 and min(lat) >= 20.0
    assert 50 * 0.020 <= sum(lat) / 1e3 < total


def test_drift_small_for_small_step_and_larger_for_too_large():
    small = measure("torch-lj", "ar", 108, 400, timestep_fs=2)
    large = measure("torch-lj", "ar", 108, 400, timestep_fs=60)
    assert small.status == large.status == "ok"
    assert small.value("drift_mev_per_atom_ps") < 1e-3
    assert large.value("drift_mev_per_atom_ps") > 10 * small.value("drift_mev_per_atom_ps")
    assert large.value("energy_max_dev_mev_per_atom") > 20 * small.value("energy_max_dev_mev_per_atom")


def test_blow_up_stops_the_run_and_says_where():
    r = measure("torch-lj", "ar", 108, 400, timestep_fs=80)
    assert r.status == "error"
    assert r.blowup is not None and 0 < r.blowup["step"] < 400
    assert r.reason.startswith(f"blow-up at step {r.blowup['step']}")
    assert r.metrics["latency_mean_ms"].status == "error"


def test_nan_calculator_is_an_error_with_the_step():
    r = measure("calcs_for_tests:nan_after_10", "ar", 32, 100, warmup=0)
    assert r.status == "error"
    assert r.blowup["kind"] == "nan"
    # The first call and steps 1-9 were ten good calls; step 10's call returned NaN.
    assert r.blowup["step"] == 10
    _all_metrics_have_status(r)
    assert r.metrics["cold_start_ms"].status == "ok"


def test_raising_calculator_is_an_error_not_a_crash():
    r = measure("calcs_for_tests:raising", "ar", 32, 100, warmup=0)
    assert r.status == "error"
    assert r.reason == "RuntimeError: model exploded on purpose"
    assert r.metrics["latency_p99_ms"].status == "error"
    assert r.metrics["latency_p99_ms"].reason == r.reason


def test_missing_package_is_skipped_with_reason():
    import importlib.util

    if importlib.util.find_spec("sevenn") is not None:
        pytest.skip("sevenn is installed here")
    r = measure("sevennet", "cu", 32, 10)
    assert r.status == "skipped"
    assert r.reason == "missing package sevenn (pip install 'mdperf[sevenn]')"
    _all_metrics_have_status(r)
    assert all(m.status == "skipped" for m in r.metrics.values())


def test_unsupported_case_is_skipped():
    r = measure("emt", "ar", 32, 10)
    assert r.status == "skipped" and r.reason == "EMT has no parameters for Ar"


@pytest.mark.parametrize("protocol", ["nvt", "npt"])
def test_thermostat_and_barostat(protocol):
    r = measure("torch-lj", "ar", 108, 100, protocol=protocol, warmup=5)
    assert r.status == "ok", r.reason
    assert r.metrics["drift_mev_per_atom_ps"].status == "skipped"
    assert r.metrics["drift_mev_per_atom_ps"].reason == f"not NVE (protocol {protocol})"


def test_npt_without_stress_is_skipped():
    r = measure("emt", "cu", 32, 20, protocol="npt")
    assert r.status == "ok", "EMT gives stress"
    r = measure("calcs_for_tests:wrong_sign", "ar", 32, 20, protocol="npt")
    assert r.status == "skipped" and r.reason == "NPT needs stress, which this calculator does not give"


def test_json_round_trip(tmp_path):
    r = measure("torch-nn", "water", 48, 30, warmup=2)
    path = tmp_path / "sub" / "r.json"
    r.write_json(path)
    data = json.loads(path.read_text())
    assert data["schema_version"] == SCHEMA_VERSION
    back = MeasureResult.from_json(path.read_text())
    assert back.metrics == r.metrics and back.case == r.case
    assert not list(path.parent.glob(".*tmp"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(steps=0), "steps must be > 0"),
        (dict(device="tpu"), "unknown device 'tpu'"),
        (dict(protocol="nph"), "unknown protocol"),
        (dict(atoms=4), "at least 32 atoms"),
    ],
)
def test_bad_input_raises_user_error(kwargs, message):
    args = dict(calculator="torch-lj", system="ar", atoms=64, steps=10) | kwargs
    with pytest.raises(UserError, match=message):
        measure(**args)


@pytest.mark.skipif(not CUDA_REASON, reason="CUDA is present")
def test_cuda_without_cuda_is_bad_input():
    with pytest.raises(UserError, match="CUDA is not available"):
        measure("torch-lj", "ar", 64, 10, device="cuda")


@needs_cuda
@pytest.mark.parametrize("calc", ["torch-lj", "torch-nn"])
def test_cuda_metrics(calc):
    r = measure(calc, "ar", 2000, 200, device="cuda", dtype="float32")
    assert r.status == "ok", r.reason
    for name in ("gpu_peak_allocated_mib", "gpu_peak_reserved_mib", "gpu_nvml_used_mib", "gpu_memory_growth_mib"):
        assert r.metrics[name].status == "ok", r.metrics[name]
    assert r.value("gpu_peak_reserved_mib") >= r.value("gpu_peak_allocated_mib") > 0
    assert r.environment["gpu_name"]
    # GPU memory against step, sampled with the RSS, for the memory panel of the figures
    gpu = r.samples["gpu_allocated_mib"]
    assert len(gpu) == len(r.samples["host_rss_mib"]) and 0 < max(gpu) <= r.value("gpu_peak_allocated_mib") + 1e-6


@needs_cuda
def test_cuda_matches_cpu():
    from ase.calculators.lj import LennardJones  # noqa: F401

    from mdperf import systems
    from mdperf.calculators.torch_pair import TorchLennardJones

    atoms = systems.build("ar", 500)
    a, b = atoms.copy(), atoms.copy()
    a.calc = TorchLennardJones(cutoff_a=8.5, device="cpu")
    b.calc = TorchLennardJones(cutoff_a=8.5, device="cuda")
    assert np.allclose(a.get_forces(), b.get_forces(), rtol=1e-8, atol=1e-10)


def test_a_case_is_resolved_once_frozen_and_recorded_as_a_dict():
    from dataclasses import FrozenInstanceError

    from mdperf.measurement import Case, describe_case, measure_case

    case = describe_case("ase-lj", "ar", 100, 20, warmup=2)
    assert isinstance(case, Case) and case.atoms == 108 and case.timestep_fs == 5.0 and case.dtype == "float64"
    with pytest.raises(FrozenInstanceError):
        case.steps = 10  # type: ignore[misc]
    assert Case.from_dict(case.to_dict()) == case
    r = measure_case(case)
    assert r.status == "ok", r.reason
    assert r.case == case.to_dict() and len(r.samples["latency_ms"]) == 20
