"""`mdperf init`, the suite's configuration, and `mdperf track`'s guard rails — on real temporary repositories,
without running asv (tests/test_adopt.py does)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks.eval.calc_repo import make_calc_repo

from mdperf import calculators
from mdperf.errors import UserError
from mdperf.suite import config as suite_config
from mdperf.suite import validate

ROOT = Path(__file__).resolve().parents[1]


def mdperf(cwd, *args, timeout=600):
    return subprocess.run([sys.executable, "-m", "mdperf.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def calc_repo(tmp_path):
    repo = tmp_path / "mycalc"
    make_calc_repo(repo, n_commits=3, slow=None, broken=None)
    return repo


def test_init_writes_config_suite_and_cases_and_refuses_to_overwrite(calc_repo):
    p = mdperf(calc_repo, "init", "--calc", "mycalc:make", "--system", "ar", "--atoms", "108", "512",
               "--steps", "300", "--reference", "ase-lj")
    assert p.returncode == 0, p.stderr
    assert "next: " in p.stdout
    cfg = suite_config.load(calc_repo / "pyproject.toml")
    assert (cfg.calculators, cfg.system, cfg.atoms, cfg.steps, cfg.reference) == (
        ("mycalc:make",), "ar", (108, 512), 300, "ase-lj")
    conf = (calc_repo / "asv.conf.json").read_text()
    assert '"repo": "."' in conf and '"branches": ["main"]' in conf and "--no-build-isolation" in conf
    assert ".asv/" in (calc_repo / ".gitignore").read_text()
    before = (calc_repo / "pyproject.toml").read_text()
    again = mdperf(calc_repo, "init", "--calc", "other:make")
    assert again.returncode == 2 and "--force" in again.stderr and again.stderr.count("\n") == 1
    assert (calc_repo / "pyproject.toml").read_text() == before
    forced = mdperf(calc_repo, "init", "--calc", "mycalc:make", "--atoms", "64", "--force")
    assert forced.returncode == 0, forced.stderr
    text = (calc_repo / "pyproject.toml").read_text()
    assert text.count("[tool.mdperf.suite]") == 1 and "atoms = [64]" in text and text.startswith("[build-system]")


def test_init_needs_a_calculator(calc_repo):
    p = mdperf(calc_repo, "init")
    assert p.returncode == 2 and "--calc is required" in p.stderr


def test_init_on_mdperfs_own_repository_reproduces_what_it_tracks(tmp_path):
    repo = tmp_path / "mdperf"
    repo.mkdir()
    for name in ("pyproject.toml", "asv.conf.json", ".gitignore"):
        shutil.copy(ROOT / name, repo / name)
    (repo / "benchmarks").mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    p = mdperf(repo, "init")
    assert p.returncode == 0, p.stderr
    assert "kept pyproject.toml [tool.mdperf.suite]" in p.stdout
    assert (repo / "asv.conf.json").read_text() == (ROOT / "asv.conf.json").read_text()
    assert (repo / "benchmarks" / "md.py").read_text() == (ROOT / "benchmarks" / "md.py").read_text()
    for name in (".github/workflows/mdperf-nightly.yml", ".github/workflows/mdperf-pr.yml", ".github/dependabot.yml"):
        assert (repo / name).read_text() == (ROOT / name).read_text(), name  # the workflows mdperf runs on itself
    assert "profiles default, full, quick" in p.stdout


@pytest.mark.parametrize("table, message", [
    ({}, "calculators is required"),
    ({"calculators": ["emt"], "atoms": [0]}, "atoms must be"),
    ({"calculators": ["emt"], "devices": ["tpu"]}, "devices must be cpu"),
    ({"calculators": ["emt"], "stepz": 3}, "unknown key"),
    ({"calculators": ["emt"], "profiles": {"quick": {"atomz": [1]}}}, "unknown key"),
])
def test_suite_config_errors_name_the_key(table, message):
    with pytest.raises(UserError, match=message):
        suite_config.from_table(table)


def test_profiles_replace_the_tables_keys():
    table = {"calculators": ["emt"], "atoms": [256], "reference_max_atoms": 512,
             "profiles": {"quick": {"atoms": [108], "steps": 50}}}
    quick = suite_config.from_table(table, "quick")
    assert quick.atoms == (108,) and quick.steps == 50 and quick.calculators == ("emt",)
    assert quick.profiles == ("default", "quick")
    assert "CPU reference" in suite_config.from_table(table).skip_reason("emt", 1000)
    with pytest.raises(UserError, match="unknown profile 'full'; valid: default, quick"):
        suite_config.from_table(table, "full")


def test_cpu_caps_trim_the_cpu_half_only():
    cfg = suite_config.from_table({"calculators": ["torch-lj", "mace"], "atoms": [256, 2048, 16384],
                                   "cpu_max_atoms": {"all": 2048, "mace": 256, "sevennet": 0}})
    assert cfg.skip_reason("torch-lj", 2048, "cpu") is None
    assert "on the CPU up to 2048 atoms" in cfg.skip_reason("torch-lj", 16384, "cpu")
    assert "on the CPU up to 256 atoms" in cfg.skip_reason("mace", 2048, "cpu")
    assert cfg.skip_reason("mace", 16384, "cuda") is None  # the GPU half keeps every size
    assert "does not run sevennet on the CPU" in cfg.skip_reason("sevennet", 256, "cpu")
    assert cfg.to_table()["cpu_max_atoms"] == {"all": 2048, "mace": 256, "sevennet": 0}
    with pytest.raises(UserError, match="cpu_max_atoms must map"):
        suite_config.from_table({"calculators": ["emt"], "cpu_max_atoms": {"all": -1}})


def test_a_broken_factory_is_caught_before_anything_is_measured(calc_repo, tmp_path):
    (calc_repo / "mycalc" / "__init__.py").write_text(
        (calc_repo / "mycalc" / "__init__.py").read_text().replace("forces = (coef[:, :, None] * d).sum(1)",
                                                                   "forces = -(coef[:, :, None] * d).sum(1)"))
    assert mdperf(calc_repo, "init", "--calc", "mycalc:make", "--system", "ar").returncode == 0
    found, warned = validate.in_child(calc_repo, calc_repo / "pyproject.toml", "default")
    assert len(found) == 1 and found[0].startswith("mycalc:make on cpu: force = -dE/dx")
    # the test repository's calculator reads pairs by the minimum image of a diagonal cell: said, never blocking
    assert len(warned) == 1 and "periodic images: the cell repeated twice" in warned[0], warned
    assert "rigid rotation" in warned[0] and "input atoms unchanged" not in warned[0], warned
    subprocess.run(["git", "add", "-A"], cwd=calc_repo, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=calc_repo, check=True)
    p = mdperf(calc_repo, "track", "--last", "1", "--machine", "guard")
    assert p.returncode == 2 and "fail the calculator contract" in p.stderr and "force = -dE/dx" in p.stderr
    assert not (calc_repo / ".asv" / "results").exists()  # nothing measured, nothing written


def test_track_refuses_a_configuration_of_another_repository(calc_repo, tmp_path):
    assert mdperf(calc_repo, "init", "--calc", "mycalc:make").returncode == 0
    other = tmp_path / "other"
    make_calc_repo(other, n_commits=2, slow=None, broken=None)
    p = mdperf(other, "track", "--config", str(calc_repo / "asv.conf.json"), "--machine", "guard")
    assert p.returncode == 2 and "measures the repository at" in p.stderr, p.stderr
    assert not (other / ".asv").exists() and not (calc_repo / ".asv").exists()
    conf = calc_repo / "asv.conf.json"
    conf.write_text(conf.read_text().replace('"results_dir": ".asv/results"', '"results_dir": "../elsewhere"'))
    p = mdperf(calc_repo, "track", "--machine", "guard")
    assert p.returncode == 2 and "outside the tracked repository" in p.stderr


def test_the_environment_folder_may_be_a_link_to_a_folder_the_checkout_keeps(calc_repo, tmp_path):
    from mdperf import asvconf

    assert mdperf(calc_repo, "init", "--calc", "mycalc:make").returncode == 0
    kept = tmp_path / "runner-tool-cache" / "asv-env"  # outside the workspace, as in the nightly workflow
    kept.mkdir(parents=True)
    (calc_repo / ".asv").mkdir()
    (calc_repo / ".asv" / "env").symlink_to(kept)
    setup = asvconf.load(calc_repo)
    assert setup.env_dir == calc_repo.resolve() / ".asv" / "env" and setup.env_dir.resolve() == kept.resolve()


def test_list_says_what_a_plugin_factory_takes(calc_repo):
    assert mdperf(calc_repo, "init", "--calc", "mycalc:make").returncode == 0
    p = subprocess.run([sys.executable, "-m", "mdperf.cli", "list"], cwd=calc_repo, capture_output=True, text=True,
                       env={**__import__("os").environ, "PYTHONPATH": str(calc_repo), "COLUMNS": "300"})
    row = next(line for line in p.stdout.splitlines() if "mycalc:make" in line)
    assert "does not run on cuda" in row and "float64" in row and "float32" not in row
    entry = calculators.resolve("calcs_for_tests:memory_hog")
    assert calculators.described(entry).devices in (("cpu",), ("cpu", "cuda"))


def test_a_factory_that_cannot_be_imported_is_a_factory_error():
    from mdperf.errors import FactoryError

    with pytest.raises(FactoryError, match="cannot import 'no_such_calc_pkg'"):
        calculators.resolve("no_such_calc_pkg:make")


def test_compare_measures_the_reference_first(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.mdperf.suite]\ncalculators = ["torch-lj"]\nreference = "ase-lj"\n')
    p = mdperf(tmp_path, "compare", "torch-lj", "--system", "ar", "--atoms", "32", "--steps", "5", "--warmup", "1",
               "--json", "c.json")
    assert p.returncode == 0, p.stderr
    rows = json.loads((tmp_path / "c.json").read_text())
    assert [r["case"]["calculator"] for r in rows] == ["ase-lj", "torch-lj"]
    assert "relative to ase-lj" in p.stdout


def test_a_suite_that_cannot_be_imported_fails_the_commit_with_why(tmp_path):
    from mdperf.asvconf import AsvSetup
    from mdperf.track import classify

    log = tmp_path / "c.log"
    log.write_text("Discovering benchmarks\nTraceback (most recent call last):\n"
                   "ModuleNotFoundError: No module named 'mdperf'\n")
    setup = AsvSetup(tmp_path, tmp_path / "asv.conf.json", tmp_path / "results", tmp_path / "html", tmp_path / "env",
                     {}, "mycalc", None, 3, "default")
    status, reason, _ = classify(setup, "m", "a" * 40, 1, log)
    assert status == "failed"
    assert reason.startswith("the benchmark environment is broken: ModuleNotFoundError: No module named 'mdperf'")


def test_the_suite_reports_the_speedup_against_the_reference(monkeypatch, tmp_path):
    import importlib.util

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.mdperf.suite]\ncalculators = ["torch-lj"]\nreference = "ase-lj"\nsystem = "ar"\n'
                         'atoms = [32]\nsteps = 10\nwarmup = 2\n')
    monkeypatch.setenv("MDPERF_PYPROJECT", str(pyproject))
    monkeypatch.delenv("MDPERF_PROFILE", raising=False)
    spec = importlib.util.spec_from_file_location("suite_ref", ROOT / "src" / "mdperf" / "suite" / "benchmarks.py")
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    cache = suite.measure_all()
    assert set(cache) == {"torch-lj|32|cpu", "ase-lj|32|cpu"}  # the reference measured beside the case
    bench = suite.Reference()
    bench.setup(cache, "torch-lj", 32, "cpu")
    expected = cache["ase-lj|32|cpu"]["metrics"]["latency_median_ms"] / cache["torch-lj|32|cpu"]["metrics"][
        "latency_median_ms"]
    assert bench.track_speedup_vs_reference(cache, "torch-lj", 32, "cpu") == pytest.approx(expected)
    from mdperf.history import higher_is_better

    assert higher_is_better("md.Reference.track_speedup_vs_reference", "x")
