"""A calculator taken as it is (issue: adopt a real calculator repository): a class whose constructor takes
``device``, ``dtype: torch.dtype``, options and ``**kwargs``; options from the command line and
``[tool.mdperf.suite]``, part of the case; the package's dependencies from its metadata, whatever its backend;
only live benchmark environments; honest per-commit status.  Real ASE calculators and real git repositories."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from ase.calculators.calculator import Calculator, all_changes
from benchmarks.eval.class_repo import make_class_repo

from mdperf import calculators
from mdperf.cli import parse_calc_options
from mdperf.errors import FactoryError, UserError
from mdperf.measurement import Case, calculator_label, describe_case, measure
from mdperf.suite import config as suite_config
from mdperf.suite import init as suite_init

ROOT = Path(__file__).resolve().parents[1]


class Recorder(Calculator):
    """An LJ-free stand-in that records how it was built, and refuses what ASE's Calculator would refuse."""

    implemented_properties = ["energy", "forces"]
    built: dict = {}

    def __init__(self, device="cpu", dtype: torch.dtype = torch.float64, cutoff=5.0, **kwargs):
        super().__init__(**kwargs)  # ASE's Calculator: an unknown keyword (system=...) raises TypeError
        Recorder.built = {"device": device, "dtype": dtype, "cutoff": cutoff, **kwargs}
        if not isinstance(dtype, torch.dtype):
            raise TypeError(f"tensor(): argument 'dtype' must be torch.dtype, not {type(dtype).__name__}")

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        import numpy as np

        self.results = {"energy": 0.0, "forces": np.zeros((len(self.atoms), 3))}


class NeedsModel(Calculator):
    def __init__(self, model_path, device="cpu"):
        super().__init__()


def _entry(obj, name="test:Calc"):
    return calculators.CalculatorEntry(name, obj, "test", devices=("cpu",), dtypes=("float64", "float32"),
                                       origin="spec")


def test_a_class_gets_a_torch_dtype_and_never_system_through_kwargs():
    calc = _entry(Recorder).create(device="cpu", dtype="float32", system=object(), options={"cutoff": 4.0})
    assert isinstance(calc, Recorder)
    assert Recorder.built == {"device": "cpu", "dtype": torch.float32, "cutoff": 4.0}  # no system=, no strings


def test_a_factory_that_names_a_string_dtype_gets_the_name():
    seen = {}

    def make(device="cpu", dtype="float64", system=None):
        seen.update(device=device, dtype=dtype, system=system)
        return Recorder()

    _entry(make).create(dtype="float32", system="S")
    assert seen == {"device": "cpu", "dtype": "float32", "system": "S"}


def test_an_error_of_the_constructor_names_what_mdperf_passed():
    class Bad(Recorder):
        def __init__(self, device="cpu", dtype="float64", cutoff=5.0):
            raise ValueError("cutoff too large")

    with pytest.raises(calculators.CalculatorError, match=r"test:Calc\(device='cpu', dtype='float64', cutoff=9.0\) "
                                                          r"raised ValueError: cutoff too large"):
        _entry(Bad).create(options={"cutoff": 9.0})


def test_options_a_class_does_not_take_or_needs_are_bad_input():
    with pytest.raises(UserError, match="takes no option 'cutof'; the options it takes: model_path"):
        calculators.check_options("x", NeedsModel, {"cutof": 1, "model_path": "m.pt"})
    with pytest.raises(UserError, match="needs model_path: give --calc-option model_path=VALUE"):
        calculators.check_options("x", NeedsModel, {})
    with pytest.raises(UserError, match="dtype is set by the case"):
        calculators.check_options("x", Recorder, {"dtype": "float32"})


def test_without_a_device_parameter_a_factory_runs_on_the_cpu_only_even_with_kwargs():
    def make(**kwargs):
        return Recorder()

    assert calculators.supports(make) == (("cpu",), ("float64",))
    assert calculators.supports(Recorder) == (("cpu", "cuda"), ("float64", "float32"))


@pytest.mark.parametrize("pairs, calcs, expected", [
    (["cutoff=5"], ["a:B"], {"a:B": {"cutoff": 5}}),
    (["cutoff=5.5", "model=models/x.pt", "flag=true", 'names=["a","b"]'], ["a:B"],
     {"a:B": {"cutoff": 5.5, "model": "models/x.pt", "flag": True, "names": ["a", "b"]}}),
    (["pkg.mod:Calc.cutoff=4", "torch-lj.x=1"], ["pkg.mod:Calc", "torch-lj"],
     {"pkg.mod:Calc": {"cutoff": 4}, "torch-lj": {"x": 1}}),
])
def test_calc_options_are_toml_literals_per_calculator(pairs, calcs, expected):
    assert parse_calc_options(pairs, calcs) == expected


@pytest.mark.parametrize("pairs, calcs, message", [
    (["cutoff"], ["a:B"], "expected"),
    (["cutoff=1"], ["a:B", "c:D"], "say which one it is for"),
    (["x:Y.cutoff=1"], ["a:B"], "is not one of the calculators"),
    (["a:B.1x=1"], ["a:B"], "not a keyword name"),
])
def test_calc_options_bad_input(pairs, calcs, message):
    with pytest.raises(UserError, match=message):
        parse_calc_options(pairs, calcs)


def test_options_are_part_of_the_case_and_its_label(tmp_path):
    (tmp_path / "optcalc.py").write_text(textwrap.dedent('''
        from ase.calculators.lj import LennardJones

        def make(cutoff=6.0):
            return LennardJones(sigma=3.4, epsilon=0.0104, rc=cutoff)
    '''))
    calculators.add_search_path(tmp_path)
    r = measure("optcalc:make", "ar", 32, 5, warmup=0, calc_options={"cutoff": 5.0})
    assert r.status == "ok", r.reason
    assert r.case["calc_options"] == {"cutoff": 5.0}
    assert Case.from_dict(r.case).label == "optcalc:make[cutoff=5.0]"
    old = dict(r.case)
    del old["calc_options"]  # a result written before options existed still reads
    assert Case.from_dict(old).calc_options == {}
    assert calculator_label("a:B", {"z": 1, "a": "x"}) == 'a:B[a="x",z=1]'
    with pytest.raises(UserError, match="takes no option"):
        describe_case("optcalc:make", "ar", 32, 5, calc_options={"rc": 5.0})


def test_options_round_trip_through_pyproject_and_label_the_suites_parameter(tmp_path):
    cfg = suite_config.from_table({"calculators": ["pkg.mod:Calc", "emt"], "options": {"pkg.mod:Calc": {"cutoff": 4.5}}})
    text = suite_init.suite_table_text(cfg)
    assert 'options = { "pkg.mod:Calc" = { cutoff = 4.5 } }' in text
    (tmp_path / "pyproject.toml").write_text(text)
    again = suite_config.load(tmp_path / "pyproject.toml")
    assert again.options == {"pkg.mod:Calc": {"cutoff": 4.5}}
    assert list(again.by_label()) == ["pkg.mod:Calc[cutoff=4.5]", "emt"]
    with pytest.raises(UserError, match="device is set by the suite"):
        suite_config.from_table({"calculators": ["a:B"], "options": {"a:B": {"device": "cuda"}}})


def test_a_spec_absent_at_a_commit_is_told_apart_from_a_missing_dependency():
    from mdperf.suite.benchmarks import _factory_failure

    with pytest.raises(FactoryError) as absent:
        calculators.resolve("json.no_such_module:make")
    assert absent.value.spec_absent
    assert _factory_failure(absent.value).startswith("this commit has no json.no_such_module")
    with pytest.raises(FactoryError) as no_name:
        calculators.resolve("json:no_such_factory")
    assert _factory_failure(no_name.value).startswith("this commit has no json:no_such_factory")
    dep = FactoryError("cannot import 'ljtorch.calc': No module named 'toolz'", missing="toolz", module="ljtorch.calc")
    assert not dep.spec_absent
    msg = _factory_failure(dep)
    assert "the benchmark environment is broken: it lacks toolz" in msg and '"toolz": ""' in msg


def test_init_reads_setup_py_dependencies_and_says_what_it_cannot_do(tmp_path):
    repo = tmp_path / "ljtorch"
    make_class_repo(repo, n_commits=3, slow=(1, 2))
    (repo / "ljtorch" / "late.py").write_text("def make():\n    pass\n")  # a factory only from the newest commit
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "a factory"], cwd=repo, check=True)
    p = subprocess.run([sys.executable, "-m", "mdperf.cli", "init", "--calc", "ljtorch.late:make", "--steps", "10",
                        "--no-probe"], cwd=repo, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    out = " ".join(p.stdout.split())
    assert "dependencies, from the package's metadata" in out and "toolz>=0.11" in out
    conf = (repo / "asv.conf.json").read_text()
    assert '"pip+toolz>=0.11": ""' in conf and '"project": "ljtorch"' in conf
    assert "energy-drift metrics are skipped" in out
    assert "ljtorch.late is in 1 of the branch's 4 commits" in out and "mdperf init --wrap" in out
    assert "git add asv.conf.json benchmarks .github pyproject.toml .gitignore" in out


@pytest.mark.parametrize("requirement, entry, pip_gets", [
    ("numpy", ("numpy", ""), "numpy"), ("numpy==1.26.4", ("numpy", "1.26.4"), "numpy==1.26.4"),
    ("numpy>=1.20,<2", ("pip+numpy<2,>=1.20", ""), "numpy<2,>=1.20"),
    ("toolz >= 0.11", ("pip+toolz>=0.11", ""), "toolz>=0.11"),
])
def test_a_requirement_becomes_a_matrix_entry_asv_hands_to_pip_as_written(requirement, entry, pip_gets):
    from asv import util

    key, value = suite_init.matrix_entry(requirement)
    assert (key, value) == entry
    declaration = util.ParsedPipDeclaration(f"{key[4:]} {value}" if key.startswith("pip+") else f"{key} {value}")
    assert f"{declaration.pkgname}{declaration.specification or ''}" == pip_gets


def test_wrap_writes_a_factory_beside_the_suite_that_resolves_from_there(tmp_path):
    repo = tmp_path / "ljtorch"
    make_class_repo(repo, n_commits=1)
    p = subprocess.run([sys.executable, "-m", "mdperf.cli", "init", "--calc", "ljtorch.calc:LJ", "--calc-option",
                        "cutoff=7.0", "--wrap", "--no-probe"], cwd=repo, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert (repo / "benchmarks" / "mdperf_factory.py").exists()
    cfg = suite_config.load(repo / "pyproject.toml")
    assert cfg.calculators == ("mdperf_factory:make",) and cfg.options == {"mdperf_factory:make": {"cutoff": 7.0}}
    # `mdperf list` in the repository resolves it from the benchmark folder, no PYTHONPATH
    p = subprocess.run([sys.executable, "-m", "mdperf.cli", "list"], cwd=repo, capture_output=True, text=True,
                       env={**__import__("os").environ, "COLUMNS": "200"})
    assert p.returncode == 0 and "mdperf_factory:make" in p.stdout and "cannot import" not in p.stdout, p.stdout


def test_confirms_measuring_child_finds_the_factory_beside_the_suite(tmp_path, monkeypatch):
    from mdperf import confirm

    repo = tmp_path / "ljtorch"
    make_class_repo(repo, n_commits=1)
    assert subprocess.run([sys.executable, "-m", "mdperf.cli", "init", "--calc", "ljtorch.calc:LJ", "--wrap",
                           "--no-probe"], cwd=repo, capture_output=True, text=True).returncode == 0
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", "")
    calculators.add_search_path(repo / "benchmarks")  # what the CLI does inside a tracked repository
    # the commit's package first (here the repository itself, as confirm's build folder would hold it), with a
    # stand-in for its dependency toolz, which the benchmark environment would have
    (repo / "toolz.py").write_text("def last(xs):\n    return list(xs)[-1]\n")
    got = confirm.measure_once(Path(sys.executable), repo, ("mdperf_factory:make", 108, "cpu"),
                               {"system": "ar", "steps": 20, "warmup": 2, "protocol": "nve", "dtype": "float64"})
    assert got["status"] == "ok", got["reason"]
    assert got["metrics"]["latency_median_ms"] > 0


def test_only_the_current_matrixs_environments_are_live(tmp_path):
    from mdperf import asvconf

    repo = tmp_path / "ljtorch"
    make_class_repo(repo, n_commits=1)
    suite_init.init(repo, calculators=["emt"], read_metadata=False)
    setup = asvconf.load(repo)
    live = setup.live_environments()
    assert len(live) == 1
    for env in (live[0], setup.env_dir / "0123456789abcdef"):  # the current one, and an earlier matrix's
        env.mkdir(parents=True)
        (env / "asv-env-info.json").write_text("{}")
    assert setup.environments() == ([live[0]], [setup.env_dir / "0123456789abcdef"])
