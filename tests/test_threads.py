"""Every case runs with a declared CPU thread count, in every process that measures, and the count is recorded."""

import json
import subprocess
import sys

import pytest

from mdperf import benchenv
from mdperf.errors import UserError
from mdperf.suite.config import case_args, from_table


def mdperf(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "mdperf.cli", *args], capture_output=True, text=True, timeout=timeout)


def _in_fresh_process(code):
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_apply_sets_torch_and_the_loaded_pools_and_the_childrens_variables():
    got = _in_fresh_process(
        "import json, os, torch, numpy; from mdperf import threads; threads.apply(3); "
        "print(json.dumps({'intra': torch.get_num_threads(), 'inter': torch.get_num_interop_threads(), "
        "'omp': os.environ['OMP_NUM_THREADS'], 'read': threads.read()}))")
    assert got["intra"] == 3 and got["inter"] == 3 and got["omp"] == "3"
    assert got["read"]["torch_intraop"] == 3 and "openblas=3" in got["read"]["pools"]


def test_apply_does_not_import_torch_for_a_calculator_that_does_not_use_it():
    got = _in_fresh_process("import json, sys; from mdperf import threads; threads.apply(2); "
                            "print(json.dumps('torch' in sys.modules))")
    assert got is False


@pytest.mark.parametrize("threads", [None, 2])
def test_run_declares_applies_and_records_the_count(threads):
    extra = ["--threads", str(threads)] if threads else []
    p = mdperf("run", "--calc", "torch-lj", "--atoms", "108", "--steps", "20", "--warmup", "2", "--json", "-", *extra)
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    want = threads or 1
    assert data["case"]["threads"] == want
    assert data["environment"]["threads"]["torch_intraop"] == want
    assert data["environment"]["threads"]["OMP_NUM_THREADS"] == str(want)
    assert f"{want} CPU thread" in p.stderr  # the header, on stderr when stdout carries the JSON


def test_run_takes_one_count_and_bad_counts_are_bad_input():
    p = mdperf("run", "--calc", "torch-lj", "--threads", "1,2")
    assert p.returncode == 2 and "compare or scale sweep several" in p.stderr
    p = mdperf("run", "--calc", "torch-lj", "--threads", "0")
    assert p.returncode == 2 and "thread counts must be >= 1" in p.stderr


def test_compare_and_scale_sweep_the_count(tmp_path):
    p = mdperf("compare", "torch-lj", "--atoms", "108", "--steps", "20", "--warmup", "2", "--threads", "1,2",
               "--json", str(tmp_path / "c.json"))
    assert p.returncode == 0, p.stderr
    rows = json.loads((tmp_path / "c.json").read_text())
    assert [(r["case"]["threads"], r["environment"]["threads"]["torch_intraop"]) for r in rows] == [(1, 1), (2, 2)]
    p = mdperf("scale", "--calc", "torch-lj", "--atoms", "32", "108", "--steps", "10", "--warmup", "2",
               "--threads", "1,2", "--out", str(tmp_path / "s"))
    assert p.returncode == 0, p.stderr
    data = json.loads((tmp_path / "s" / "scaling.json").read_text())
    assert sorted((r["threads"], r["atoms"]) for r in data["rows"]) == [(1, 32), (1, 108), (2, 32), (2, 108)]
    assert set(data["slopes"]) == {"torch-lj @1 threads", "torch-lj @2 threads"}


def test_the_suite_declares_the_count_per_profile_and_its_child_runs_with_it():
    table = {"calculators": ["torch-lj"], "atoms": [32], "steps": 10, "warmup": 2,
             "profiles": {"wide": {"threads": 2}}}
    assert from_table(table).threads == 1
    wide = from_table(table, "wide")
    assert wide.threads == 2 and wide.to_table()["threads"] == 2
    with pytest.raises(UserError, match="threads must be an integer >= 1"):
        from_table({**table, "threads": 0})
    args = case_args(wide.case_profile(), "torch-lj", 32, "cpu")
    assert args["threads"] == 2
    answer = benchenv.measure_in_child(sys.executable, args, timeout_s=300)
    assert answer["status"] == "ok", answer
    assert answer["threads"]["torch_intraop"] == 2 and answer["threads"]["OMP_NUM_THREADS"] == "2"


def test_the_guard_marks_a_single_threaded_case_whose_own_process_was_starved():
    """The calibration loop can read a full core beside hogs (the scheduler favours a loop that just woke); the
    case's own process's share of its core cannot hide that."""
    from mdperf import guard

    quiet = {"ms": 13.6, "cpu_share": 0.99}
    assert not guard.judge(quiet, quiet, case_share=1.0)["noisy"]
    starved = guard.judge(quiet, quiet, case_share=0.55)
    assert starved["noisy"] and starved["case_cpu_share_pct"] == pytest.approx(55.0)
    assert "the case's own process got 55% of its core" in starved["why"]
    assert "case_cpu_share_pct" not in guard.judge(quiet, quiet)  # several threads, or CUDA: not judged by it
