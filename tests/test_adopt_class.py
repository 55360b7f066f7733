"""A real calculator repository adopted as it is, with the commands of docs/adopting.md's second walk-through:
a setup.py-only package with a dependency of its own (toolz, not in mdperf's interpreter), a calculator that is a
class (``dtype: torch.dtype``, a ``cutoff`` option, ``**kwargs`` passed to ASE), five commits before mdperf was
added.  ``mdperf init`` + ``mdperf track --last 6`` must measure all six, with no edits — real asv, real git."""

import importlib.util
import json
import uuid
from pathlib import Path

import pytest
from benchmarks.eval.class_repo import make_class_repo

import walkthrough

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def walk_through():
    return walkthrough.commands("class-walk-through")


@pytest.fixture(scope="module")
def adopted(tmp_path_factory):
    repo = tmp_path_factory.mktemp("class") / "ljtorch"
    info = make_class_repo(repo)
    machine = f"class-{uuid.uuid4().hex[:8]}"
    stale = repo / ".asv" / "env" / "0123456789abcdef0123456789abcdef"  # an earlier matrix's environment

    def stale_environment():  # an earlier matrix's, there when track starts
        stale.mkdir(parents=True)
        (stale / "asv-env-info.json").write_text("{}")

    outputs = walkthrough.walk(repo, "class-walk-through", machine, before_track=stale_environment)
    return {"repo": repo, "machine": machine, "outputs": outputs, "stale": stale, **info}


def test_init_finds_the_setup_py_dependency_and_takes_the_class_with_its_option(adopted):
    out = " ".join(adopted["outputs"]["mdperf init"].stdout.split())
    assert "dependencies, from the package's metadata" in out and "toolz>=0.11" in out
    assert "ljtorch.calc:LJ[cutoff=7.0]" in out
    conf = (adopted["repo"] / "asv.conf.json").read_text()
    assert '"pip+toolz>=0.11": ""' in conf
    # the git add line the walk-through uses is the one init printed
    add = next(c for c in walk_through() if c.startswith("git add"))
    assert add in out


def test_every_commit_before_and_at_the_adoption_is_measured(adopted):
    out = adopted["outputs"]["mdperf track"].stdout
    assert "6 measured, 0 failed" in out, out[-3000:]
    ledger = json.loads((adopted["repo"] / ".asv" / "mdperf" / f"track-{adopted['machine']}.json").read_text())
    assert len(ledger["commits"]) == 6 and all(e["status"] == "ok" for e in ledger["commits"].values())
    for c in adopted["commits"]:  # the five commits from before mdperf existed in the repository
        assert c in ledger["commits"]


def test_the_pre_check_did_not_need_the_packages_dependency_in_mdperfs_interpreter(adopted):
    if importlib.util.find_spec("toolz") is not None:
        pytest.skip("toolz is installed in the tests' interpreter: this check needs it absent there")
    assert "checking the configured calculators in the benchmark environment" in adopted["outputs"]["mdperf track"].stdout


def test_the_option_is_part_of_the_case_in_every_result(adopted):
    from mdperf import asvresults

    files = [f for f in asvresults.result_paths(adopted["repo"] / ".asv" / "results" / adopted["machine"])]
    assert len(files) == 6
    for f in files:
        rows = asvresults.load(f).rows
        row = rows["md.Latency.track_latency_p50_ms"]
        assert row.params[0] == ["'ljtorch.calc:LJ[cutoff=7.0]'"]
        assert row.result and row.result[0] and row.result[0] > 0


def test_an_earlier_matrixs_environment_is_named_and_removed(adopted):
    out = adopted["outputs"]["mdperf track"].stdout
    assert f"removing the stale benchmark environment {adopted['stale'].name}" in out
    assert not adopted["stale"].exists()


def test_a_commit_where_some_benchmarks_errored_is_partial_with_the_error(adopted, tmp_path):
    from mdperf import asvconf, asvresults
    from mdperf.track import classify

    repo, machine = adopted["repo"], adopted["machine"]
    setup = asvconf.load(repo)
    commit = adopted["commits"][0]
    (f,) = asvresults.result_paths(setup.results_dir / machine, commit)
    original = f.read_text()
    data = json.loads(original)
    columns = data["result_columns"]
    data["results"]["md.Step.time_md_step"][columns.index("result")] = [None]
    log = tmp_path / "asv.log"
    log.write_text("Traceback (most recent call last):\n  ...\nRuntimeError: ljtorch.calc:LJ|108|cpu: CUDA error\n")
    try:
        f.write_text(json.dumps(data))
        status, reason, _ = classify(setup, machine, commit, 0, log)
    finally:
        f.write_text(original)
    assert status == "partial"
    assert "1 of" in reason and "md.Step.time_md_step" in reason and "RuntimeError: ljtorch.calc:LJ|108|cpu" in reason
