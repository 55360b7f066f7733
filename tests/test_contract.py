"""The stricter calculator contract: each check catches the bug it is there for, in a calculator that passes the
older check (forces = -dE/dx), and the built-in calculators pass every check; `mdperf validate` prints a line per
check with its figure and exits 1 on a failure."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from contract_calcs import MinimumImageLJ, OrthorhombicLJ, StressSignLJ, WrapsInPlaceLJ
from mdperf import calculators, systems
from mdperf.calculators import validate_calculator
from mdperf.suite.validate import BLOCKING, other_precision

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("calc, fails", [
    (MinimumImageLJ(), {"periodic images", "one-atom cell"}),
    (WrapsInPlaceLJ(), {"input atoms unchanged"}),
    (OrthorhombicLJ(), {"rigid rotation"}),
    (StressSignLJ(), {"stress = (1/V) dE/dε"}),
], ids=["minimum-image", "wraps-in-place", "orthorhombic", "stress-sign"])
def test_each_bug_passes_the_older_check_and_fails_its_own(calc, fails):
    atoms = systems.build("ar", 32)  # a 10.5 Å cell, the cutoff 8.5 Å: past half the cell
    older = validate_calculator(calc, atoms, invariances=False)
    assert all(c.ok for c in older.checks if c.name in BLOCKING), str(older)
    report = validate_calculator(calc, atoms)
    assert {c.name for c in report.failures()} == fails, str(report)
    for c in report.failures():
        assert any(ch.isdigit() for ch in c.message), c.line()  # failures with numbers


def test_a_cell_larger_than_twice_the_cutoff_hides_the_minimum_image_bug_from_replication_only():
    atoms = systems.build("ar", 256)  # 21 Å: every image within the cutoff is the nearest one
    report = validate_calculator(MinimumImageLJ(), atoms)
    assert {c.name for c in report.failures()} == {"one-atom cell"}, str(report)


@pytest.mark.parametrize("name", ["torch-lj", "torch-morse", "torch-nn", "ase-lj", "emt"])
def test_the_built_in_calculators_pass_every_check(name):
    entry = calculators.resolve(name)
    system = systems.get_system("cu" if name == "emt" else "ar")
    atoms = systems.build(system.name, 32)
    calc = entry.create(system=system)
    report = validate_calculator(calc, atoms, other_precision=other_precision(entry, "cpu", None, system, {}))
    assert report.ok, str(report)
    checked = {c.name for c in report.checks if not c.skipped}
    assert {"periodic images", "one-atom cell", "rigid rotation", "lattice-vector translation"} <= checked
    if "float32" in entry.dtypes and "float64" in entry.dtypes:
        assert "float32 = float64" in checked


def mdperf(*args):
    return subprocess.run([sys.executable, "-m", "mdperf.cli", *args], cwd=HERE, capture_output=True, text=True,
                          timeout=600)


def test_mdperf_validate_prints_a_line_per_check_and_exits_1_on_a_failure():
    p = mdperf("validate", "contract_calcs:make_minimum_image")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "periodic images: failed (the cell repeated twice, per copy: |ΔE| 1.8 meV/atom" in p.stdout, p.stdout
    assert "force = -dE/dx: ok" in p.stdout and "13 checks: 9 ok, 2 failed, 2 skipped" in p.stdout, p.stdout
    p = mdperf("validate", "torch-lj", "--format", "json")
    assert p.returncode == 0, p.stdout + p.stderr
    found = json.loads(p.stdout)
    assert found["ok"] and {c["status"] for c in found["checks"]} == {"ok"} and len(found["checks"]) == 13
    p = mdperf("validate", "no-such-calculator")
    assert p.returncode == 2 and "unknown calculator" in p.stderr and "Traceback" not in p.stderr, p.stderr
