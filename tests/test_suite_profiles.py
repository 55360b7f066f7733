"""The asv suite (mdperf.suite.benchmarks, configured by this repository's [tool.mdperf.suite]): which cases a
profile skips and why, one process per case, and what a broken environment does."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "src" / "mdperf" / "suite" / "benchmarks.py"
PROFILE_CASES = ROOT / "benchmarks" / "scripts" / "profile_cases.py"


def load_suite(monkeypatch, profile, pyproject=ROOT / "pyproject.toml"):
    monkeypatch.setenv("MDPERF_PROFILE", profile)
    monkeypatch.setenv("MDPERF_PYPROJECT", str(pyproject))
    spec = importlib.util.spec_from_file_location(f"suite_{profile}", SUITE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_full_profile_caps_the_ml_potentials_at_what_an_80gb_gpu_holds(monkeypatch):
    suite = load_suite(monkeypatch, "full")
    skip = suite._skip_reason_too_big
    # SevenNet ran out of memory at 16,384 atoms on an 80 GB H100; MACE would need ~100 GiB at 100,000.
    assert skip("sevennet", 2048, "cuda") is None
    assert skip("sevennet", 16384, "cuda") == ("profile full runs sevennet up to 2048 atoms "
                                               "(its GPU memory and time, docs/results/gpu.md)")
    assert skip("mace", 16384, "cuda") is None
    assert "up to 16384 atoms" in skip("mace", 100000, "cpu")
    assert skip("torch-nn", 100000, "cuda") is None
    assert "CPU reference" in skip("emt", 100000, "cpu")
    # The CPU half is trimmed to the nightly's budget: every calculator on the CPU up to 2,048 atoms.
    assert "on the CPU up to 2048 atoms" in skip("emt", 16384, "cpu")
    assert skip("torch-nn", 2048, "cpu") is None and "on the CPU up to 2048" in skip("torch-nn", 16384, "cpu")
    assert "does not run mace on the CPU" in skip("mace", 256, "cpu")
    # The case is skipped (asv's n/a) in setup, not failed.
    with pytest.raises(NotImplementedError, match="up to 2048 atoms"):
        suite._Tracked().setup({}, "sevennet", 100000, "cuda")


def test_profile_cases_times_each_case_and_extrapolates_to_the_profile(tmp_path):
    out = tmp_path / "rows.json"
    p = subprocess.run([sys.executable, str(PROFILE_CASES), "--profile", "quick", "--steps", "10", "--warmup", "2",
                        "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    (row,) = json.loads(out.read_text())
    assert (row["calculator"], row["atoms"], row["status"], row["steps"]) == ("torch-lj", 108, "ok", 10)
    # 10 steps run, the quick profile's 200 extrapolated from the measured mean step
    assert row["wall_s_at_profile_steps"] > row["wall_s"] + 150 * row["latency_mean_ms"] / 1e3
    assert "torch-lj" in p.stdout and "wall s (200 steps)" in p.stdout


def test_profile_cases_bad_input_is_one_line_exit_2():
    for args in (["--profile", "nope"], ["--device", "tpu"], ["--profile", "quick", "--calc", "emt"],
                 ["--steps", "0"]):
        p = subprocess.run([sys.executable, str(PROFILE_CASES), *args], capture_output=True, text=True, timeout=120)
        assert p.returncode == 2 and p.stderr.count("\n") == 1 and "profile_cases:" in p.stderr, p.stderr


def test_measure_all_gives_each_case_its_own_process(monkeypatch):
    # The first case holds 1 GiB for the rest of its process and the second ends its process. In one shared
    # process the third case's peak RSS would include the 1 GiB, and the second would end the whole run.
    # The test runner holds 1.5 GiB too: the kernel carries getrusage's peak across exec, so a case read that
    # way would report its parent's peak (seen on the GPU machine, where the runner had loaded CUDA).
    parent_block = np.ones(3 * 2**26)
    suite = load_suite(monkeypatch, "quick")
    monkeypatch.setenv("MDPERF_TEST_NO_CRASH_PID", str(os.getpid()))
    monkeypatch.setattr(suite, "PARAMS", [["calcs_for_tests:memory_hog", "calcs_for_tests:crash_process", "ase-lj"],
                                          [108], ["cpu"]])
    monkeypatch.setattr(suite, "PROFILE", dict(suite.PROFILE, steps=20, warmup=2))
    cache = suite.measure_all()
    hog, crash, lj = (cache[f"{c}|108|cpu"] for c in suite.PARAMS[0])
    assert hog["status"] == lj["status"] == "ok", (hog, lj)
    assert hog["metrics"]["host_peak_rss_mib"] > 1024
    assert lj["metrics"]["host_peak_rss_mib"] < hog["metrics"]["host_peak_rss_mib"] - 700
    assert {k: crash[k] for k in ("status", "reason")} == {"status": "error",
                                                            "reason": "measurement process exited with code 3: no output"}
    assert parent_block.sum() == 3 * 2**26  # held, resident, until the cases have run


def test_an_mdperf_without_measure_is_not_applicable_not_failed(monkeypatch):
    import types

    suite = load_suite(monkeypatch, "quick")
    monkeypatch.setitem(sys.modules, "mdperf", types.ModuleType("mdperf"))  # an mdperf that predates measure()
    cache = suite.measure_all()
    assert cache["error"].startswith("mdperf at this commit cannot be measured")
    with pytest.raises(NotImplementedError, match="cannot be measured"):
        suite.Latency().setup(cache, "torch-lj", 108, "cpu")


def test_a_dependency_that_fails_to_import_fails_every_case(monkeypatch, tmp_path):
    # An mdperf whose own dependency is missing from the benchmark environment (seen on an offline GPU runner:
    # scipy was not on the benchmarks' path) is a broken environment, not an older mdperf: every case must
    # fail, or the night reads as measured with every value n/a.
    (tmp_path / "mdperf").mkdir()
    (tmp_path / "mdperf" / "__init__.py").write_text("import a_dependency_not_installed_here\n")
    suite = load_suite(monkeypatch, "quick")
    for name in [m for m in sys.modules if m == "mdperf" or m.startswith("mdperf.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    cache = suite.measure_all()
    with pytest.raises(RuntimeError, match="environment is broken: ModuleNotFoundError.*a_dependency_not_installed"):
        suite.Latency().setup(cache, "torch-lj", 108, "cpu")
    with pytest.raises(RuntimeError, match="environment is broken"):
        suite.Step().setup("torch-lj", 108, "cpu")


def test_a_gpu_metric_not_measured_on_the_cpu_names_every_metric_of_its_class(monkeypatch):
    from mdperf import measure

    suite = load_suite(monkeypatch, "quick")
    r = measure("torch-lj", "ar", 108, 20, warmup=2)
    cache = {"torch-lj|108|cpu": {"status": "ok", "metrics": {k: m.value for k, m in r.metrics.items()},
                                  "metric_reasons": {k: m.reason for k, m in r.metrics.items() if m.status != "ok"}}}
    with pytest.raises(NotImplementedError) as info:
        suite.GpuMemory().setup(cache, "torch-lj", 108, "cpu")
    # asv cannot tell setup which of the class's benchmarks it runs for: the reason names all four, not the first
    assert str(info.value) == ("gpu_peak_allocated_mib, gpu_peak_reserved_mib, gpu_nvml_used_mib, "
                               "gpu_memory_growth_mib: not on CUDA")


def test_a_case_that_hangs_is_stopped_and_is_its_own_error(monkeypatch):
    import time

    monkeypatch.setenv("MDPERF_CASE_TIMEOUT_S", "8")  # mdperf track --case-timeout 8
    suite = load_suite(monkeypatch, "quick")
    t0 = time.perf_counter()
    got = suite._measure_in_child(suite.child_args("calcs_for_tests:hang_after_5", 32, "cpu", steps=20, warmup=0))
    assert got == {"status": "error", "reason": "the case did not finish within 8 s (track --case-timeout); stopped"}
    assert time.perf_counter() - t0 < 60


def _asv_versions(tmp_path, source, name, pyproject=ROOT / "pyproject.toml", profile="quick"):
    """asv's benchmark versions of a copy of the suite, found by asv's own discovery (what asv records per result)."""
    bench = tmp_path / name / "bench"
    bench.mkdir(parents=True)
    (bench / "__init__.py").write_text("")
    (bench / "md.py").write_text(source)
    out = tmp_path / name / "benchmarks.json"
    code = ("import sys; from asv_runner.discovery import list_benchmarks; "
            "list_benchmarks(sys.argv[1], open(sys.argv[2], 'w'))")
    env = {**os.environ, "MDPERF_PROFILE": profile, "MDPERF_PYPROJECT": str(pyproject)}
    p = subprocess.run([sys.executable, "-c", code, str(bench), str(out)], env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return {b["name"]: b["version"] for b in json.loads(out.read_text())}


def test_an_edit_that_keeps_the_meaning_keeps_every_series_and_a_bump_cuts_them(tmp_path):
    import re

    source = SUITE.read_text()
    pinned = re.search(r'^SUITE_VERSION = "([^"]+)"$', source, re.M)
    before = _asv_versions(tmp_path, source, "released")
    assert len(before) >= 15 and set(before.values()) == {pinned.group(1) + "+threads1"}
    # A later release edits the code the series are measured by (a comment, a docstring, a renamed local) but not
    # what any metric means: asv would otherwise hash the new source and start every series again.
    edited = (source.replace('    results = {}\n', '    # the cases, in the profile\'s order\n    found = {}\n')
              .replace("results[key]", "found[key]").replace("return results\n", "return found\n")
              .replace('"""Base of the track_ classes', '"""The base of every track_ class'))
    assert edited.count("found") >= 4 and edited != source
    assert _asv_versions(tmp_path, edited, "edited") == before
    # Without the pinned version the same edit would cut every series that reads the shared measurement.
    unpinned = lambda s: s.replace("    version = SERIES_VERSION\n", "")  # noqa: E731
    hashed = _asv_versions(tmp_path, unpinned(source), "h1")
    hashed_edit = _asv_versions(tmp_path, unpinned(edited), "h2")
    assert all(hashed[n] != hashed_edit[n] for n in hashed if ".track_" in n)
    # A change of meaning bumps the version: every series starts again, on purpose.
    bumped = _asv_versions(tmp_path, source.replace(pinned.group(0), 'SUITE_VERSION = "next"'), "bumped")
    assert bumped.keys() == before.keys() and set(bumped.values()) == {"next+threads1"}
    # Another thread count is another case: its series are its own, never a continuation of these.
    two = tmp_path / "two" / "pyproject.toml"
    two.parent.mkdir()
    two.write_text('[tool.mdperf.suite]\ncalculators = ["emt"]\natoms = [32]\nthreads = 2\n')
    assert set(_asv_versions(tmp_path, source, "two-threads", two, "default").values()) == \
        {pinned.group(1) + "+threads2"}
