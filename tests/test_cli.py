import json
import subprocess
import sys

import pytest


def mdperf(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "mdperf.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_run_prints_table_and_writes_json(tmp_path):
    out = tmp_path / "r.json"
    p = mdperf("run", "--calc", "torch-lj", "--system", "ar", "--atoms", "108", "--steps", "50", "--json", str(out))
    assert p.returncode == 0, p.stderr
    assert "torch-lj on ar (108 atoms), nve, cpu/float64, 50 timed steps of 5 fs" in p.stdout
    for row in ("latency_p99_ms", "steps_per_s", "ns_per_day", "host_peak_rss_mib", "drift_mev_per_atom_ps"):
        assert row in p.stdout
    assert "skipped: not on CUDA" in p.stdout
    data = json.loads(out.read_text())
    assert data["metrics"]["latency_p99_ms"]["status"] == "ok"
    assert len(data["samples"]["latency_ms"]) == 50


def test_list_shows_availability():
    p = mdperf("list")
    assert p.returncode == 0, p.stderr
    assert "torch-nn" in p.stdout and "water" in p.stdout
    rows = {cells[1].strip(): [c.strip() for c in cells[2:-1]]
            for cells in (line.split("│") for line in p.stdout.splitlines()) if len(cells) == 7}
    assert rows["emt"][:2] == ["available", "emt does not run on cuda"]
    assert rows["torch-lj"][0] == "available"
    import importlib.util
    for name, package in (("mace", "mace"), ("sevennet", "sevenn")):
        cpu = rows[name][0]
        assert cpu == "available" if importlib.util.find_spec(package) else cpu.startswith(f"missing package {package}")


def test_list_reads_cuda_without_importing_torch_unless_asked():
    import subprocess
    import sys

    import torch

    p = subprocess.run([sys.executable, "-X", "importtime", "-m", "mdperf.cli", "list"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in p.stderr.splitlines() if line.startswith("import time")}
    assert "torch" not in imported and "ase.build" not in imported
    if torch.version.cuda is None:  # this wheel's own build record says it, read without importing torch
        assert "CUDA: not available on this machine (torch is a CPU-only build)" in p.stdout
    asked = subprocess.run([sys.executable, "-X", "importtime", "-m", "mdperf.cli", "list", "--cuda"],
                           capture_output=True, text=True)
    assert asked.returncode == 0, asked.stderr
    assert any(line.rstrip().endswith("| torch") for line in asked.stderr.splitlines())


def test_compare_relative_to_first():
    p = mdperf("compare", "ase-lj", "torch-lj", "--system", "ar", "--atoms", "256", "--steps", "20", "--warmup", "2")
    assert p.returncode == 0, p.stderr
    assert "relative to ase-lj" in p.stdout
    assert "1.00×" in p.stdout  # the first against itself


def test_compare_measures_each_calculator_in_its_own_process(tmp_path):
    out = tmp_path / "c.json"
    p = mdperf("compare", "calcs_for_tests:memory_hog", "torch-lj", "calcs_for_tests:crash_process", "--system", "ar",
               "--atoms", "108", "--steps", "20", "--warmup", "2", "--json", str(out))
    assert p.returncode == 1, p.stderr
    hog, lj, crash = json.loads(out.read_text())
    assert hog["status"] == lj["status"] == "ok", (hog["reason"], lj["reason"])
    # In the hog's process torch-lj would report the hog's 1 GiB as its own peak.
    peak = {r["case"]["calculator"]: r["metrics"]["host_peak_rss_mib"]["value"] for r in (hog, lj)}
    assert peak["torch-lj"] < peak["calcs_for_tests:memory_hog"] - 700, peak
    # A calculator that ends its process is an error row, every metric carrying why; the others were measured.
    assert crash["status"] == "error" and crash["reason"] == "measurement process exited with code 3"
    assert crash["metrics"]["latency_p99_ms"] == {"value": None, "unit": "ms", "status": "error",
                                                  "reason": "measurement process exited with code 3"}


def test_failed_calculator_exit_1_and_reason():
    p = mdperf("run", "--calc", "calcs_for_tests:raising", "--atoms", "32", "--steps", "20")
    assert p.returncode == 1
    assert "error: RuntimeError: model exploded on purpose" in p.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--calc", "nope"], "unknown calculator 'nope'; valid: emt, ase-lj"),
        (["run", "--calc", "torch-lj", "--system", "xe"], "unknown system 'xe'; valid: cu, al, si, ar, water"),
        (["run", "--calc", "torch-lj", "--atoms", "3"], "needs at least 32 atoms"),
        (["run", "--calc", "torch-lj", "--steps", "0"], "steps must be > 0"),
        (["run", "--calc", "torch-lj", "--device", "gpu"], "unknown device 'gpu'"),
        (["run", "--calc", "pkg.mod:"], "malformed calculator spec"),
        (["run", "--calc", "torch-lj", "--steps", "many"], "invalid int value"),
        (["compare", "torch-lj", "nope"], "unknown calculator 'nope'"),
        (["compare", "torch-lj", "ase-lj", "--atoms", "3"], "needs at least 32 atoms"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_one_line_exit_2(args, message):
    p = mdperf(*args)
    assert p.returncode == 2
    assert message in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "Traceback" not in p.stderr


def test_cuda_without_cuda_exit_2():
    from conftest import CUDA_REASON

    if not CUDA_REASON:
        pytest.skip("CUDA is present")
    p = mdperf("run", "--calc", "torch-lj", "--device", "cuda")
    assert p.returncode == 2 and "CUDA is not available" in p.stderr


def test_the_version_is_written_in_one_place():
    # pyproject reads mdperf.__version__: the installed metadata, `mdperf --version` and the module agree.
    import importlib.metadata
    from pathlib import Path

    import mdperf as package

    assert 'dynamic = ["version"]' in (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert importlib.metadata.version("mdperf") == package.__version__
    p = mdperf("--version")
    assert p.returncode == 0 and p.stdout.strip() == f"mdperf {package.__version__}"
