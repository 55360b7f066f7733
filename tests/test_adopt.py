"""Track your own calculator: `mdperf init` and `mdperf track` over a real calculator repository with real asv —
the commands of docs/adopting.md, in its order.

The repository (benchmarks/eval/calc_repo.py): a numpy Lennard-Jones package `mycalc` with a factory
`mycalc:make`, 15 commits plus the one that adds mdperf's files; every force computed twice from commit 5 to 9
(+100 %), fixed at 10; at commit 2 the package raises on import.
"""

import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from benchmarks.eval.calc_repo import make_calc_repo

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def mdperf(repo, *args, timeout=1800):
    # A heartbeat every 2 s instead of 30, so that the log of a short run shows it.
    return subprocess.run([sys.executable, "-m", "mdperf.cli", *args], cwd=repo, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "MDPERF_HEARTBEAT_S": "2"})


def adopting_commands():
    """The shell commands of docs/adopting.md's walk-through, in order."""
    text = (ROOT / "docs" / "adopting.md").read_text()
    block = text.split("<!-- walk-through -->", 2)[1]
    return [line[2:] for line in block.splitlines() if line.startswith("$ ")]


@pytest.fixture(scope="module")
def adopted(tmp_path_factory):
    repo = tmp_path_factory.mktemp("adopter") / "mycalc"
    info = make_calc_repo(repo)
    machine = f"adopt-{uuid.uuid4().hex[:8]}"
    outputs = {}
    for cmd in adopting_commands():
        args = shlex.split(cmd)
        if args[:2] == ["mdperf", "preview"]:
            continue  # serves until stopped: tests/test_track.py covers it
        if args[0] == "mdperf":
            if args[1] == "track":
                args += ["--machine", machine]
            p = mdperf(repo, *args[1:])
        elif args[0] == "git":
            p = subprocess.run(args, cwd=repo, capture_output=True, text=True)
        else:
            continue  # pip install: the test's environment has mdperf already
        outputs[" ".join(args[:2])] = p
        assert p.returncode in (0, 1), f"{cmd}: {p.stdout}\n{p.stderr}"
    return {"repo": repo, "machine": machine, "outputs": outputs, **info}


def test_init_writes_the_suite_and_says_what_next(adopted):
    repo, out = adopted["repo"], adopted["outputs"]["mdperf init"].stdout
    for name in ("asv.conf.json", "benchmarks/md.py", "pyproject.toml", ".gitignore"):
        assert f"wrote {name}" in out
    assert "next: " in out and "mdperf track" in out
    assert "from mdperf.suite.benchmarks import *" in (repo / "benchmarks" / "md.py").read_text()
    assert 'calculators = ["mycalc:make"]' in (repo / "pyproject.toml").read_text()
    conf = (repo / "asv.conf.json").read_text()
    assert '"project": "mycalc"' in conf and '"mdperf": "' in conf and '"numpy": ""' in conf
    # The package's own files are untouched above the appended table.
    assert (repo / "pyproject.toml").read_text().startswith("[build-system]")


def test_track_says_what_it_is_doing_while_it_works(adopted):
    out = adopted["outputs"]["mdperf track"].stdout
    assert "creating the benchmark environment (asv setup" in out
    assert f"measuring {adopted['slow'][:10]} (" in out
    # plain lines in a log, with the elapsed time and asv's own last line (the benchmark it runs)
    assert re.search(r"measuring [0-9a-f]{10} \(\d+/16\) .* — 0 min \d\d s — .*(Running|md\.)", out), out[-3000:]


def test_every_commit_measured_the_broken_one_failed_with_why(adopted):
    out = adopted["outputs"]["mdperf track"].stdout
    assert re.search(r"15 measured, 1 failed", out), out
    ledger = json.loads((adopted["repo"] / ".asv" / "mdperf" / f"track-{adopted['machine']}.json").read_text())
    broken = ledger["commits"][adopted["broken"]]
    assert broken["status"] == "failed"
    assert "cannot import 'mycalc'" in broken["reason"] and "broken at this commit" in broken["reason"]
    assert all(ledger["commits"][c]["status"] == "ok" for c in adopted["commits"] if c != adopted["broken"])
    assert (adopted["repo"] / ".asv" / "html" / "index.html").exists()
    assert (adopted["repo"] / ".asv" / "html" / "mdperf.html").exists()


def test_regressions_name_the_slow_commit_and_its_fix(adopted):
    p = mdperf(adopted["repo"], "regressions", "--format", "json", "--no-record")
    flags = json.loads(p.stdout)["flags"]
    latency = [f for f in flags if f["benchmark"] == "md.Latency.track_latency_p50_ms" and f["state"] == "confirmed"]
    assert [(f["commit"], f["kind"]) for f in latency] == [(adopted["fixed"], "improvement"),
                                                            (adopted["slow"], "regression")], latency
    assert latency[1]["change_pct"] > 25


def test_mdperf_in_the_environment_is_the_same_wheel_for_every_commit(adopted):
    from mdperf.suite import wheelhouse

    if wheelhouse.source_dir() is None:
        pytest.skip("mdperf is installed from an index here: the environment pins it instead of a wheelhouse")
    envs = list((adopted["repo"] / ".asv" / "env").glob("*/mdperf-wheel.sha256"))
    assert len(envs) == 1  # installed once, into the one environment
    wheels = list((adopted["repo"] / ".asv" / "mdperf" / "wheelhouse").glob("mdperf-*.whl"))
    assert len(wheels) == 1


def test_a_dependency_the_environment_lacks_stops_the_track_before_measuring(adopted):
    repo = adopted["repo"]
    init = repo / "mycalc" / "__init__.py"
    good = init.read_text()
    # hypothesis is in the tests' interpreter (the test extra) but not in the benchmark environment
    init.write_text("import hypothesis  # noqa: F401\n" + good)
    subprocess.run(["git", "commit", "-qam", "use a package the environment lacks"], cwd=repo, check=True)
    try:
        p = mdperf(repo, "track", "--machine", adopted["machine"])
    finally:
        init.write_text(good)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "fail in the benchmark environment" in p.stderr and "hypothesis" in p.stderr
    ledger = json.loads((repo / ".asv" / "mdperf" / f"track-{adopted['machine']}.json").read_text())["commits"]
    assert len(ledger) == 16  # nothing recorded for the new commit
