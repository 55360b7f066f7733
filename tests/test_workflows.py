"""The GitHub Actions workflows are safe by construction (docs/ci.md), and every mdperf command they run is one
the CLI accepts.  actionlint and zizmor lint them in .ci/run; these tests hold the rules that are ours."""

import re
import shlex
from pathlib import Path

import pytest
import yaml

from mdperf.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
TEMPLATES = sorted((ROOT / "src" / "mdperf" / "suite" / "workflows").glob("mdperf-*.yml"))


def load(path):
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def steps(wf):
    for name, job in wf["jobs"].items():
        for step in job.get("steps", []):
            yield name, job, step


@pytest.mark.parametrize("path", WORKFLOWS + TEMPLATES, ids=lambda p: p.name)
def test_workflow_is_safe_by_construction(path):
    wf = load(path)
    assert wf["permissions"] == {}, "workflow-level permissions: none; each job asks for its own"
    assert "concurrency" in wf
    assert "pull_request_target" not in wf["on"] and "workflow_run" not in wf["on"]
    for name, job in wf["jobs"].items():
        assert "permissions" in job, f"{name}: no permissions of its own"
        assert isinstance(job.get("timeout-minutes"), int), f"{name}: no timeout"
    for name, _job, step in steps(wf):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", step["uses"]), f"{name}: {step['uses']} not pinned"
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False, f"{name}: checkout keeps credentials"
        assert "${{" not in step.get("run", ""), f"{name}: an expression inside run: (pass it through env:)"
    text = path.read_text()
    for line in text.splitlines():  # a pinned action says which release it is
        if "uses:" in line and "@" in line:
            assert re.search(r"@[0-9a-f]{40} # v\d", line), line


def test_the_nightlys_shape():
    wf = load(ROOT / ".github" / "workflows" / "mdperf-nightly.yml")
    assert set(wf["on"]) == {"schedule", "workflow_dispatch"}
    track, publish, deploy, alert = (wf["jobs"][k] for k in ("track", "publish", "deploy", "alert"))
    assert "self-hosted" in track["strategy"]["matrix"]["runner"][0]["labels"]
    assert track["permissions"] == {"contents": "read"}  # the GPU runner holds no write token
    assert publish["runs-on"] == "ubuntu-latest" and publish["permissions"] == {"contents": "write",
                                                                                "issues": "write"}
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])
    summary = next(s for s in publish["steps"] if s.get("name") == "Job summary")
    assert summary["if"] == "${{ always() }}" and "GITHUB_STEP_SUMMARY" in summary["run"]
    assert "new-regressions" in alert["if"] and alert["permissions"] == {}  # fails only for a new regression


def test_pull_request_code_never_reaches_the_gpu_runner():
    wf = load(ROOT / ".github" / "workflows" / "mdperf-pr.yml")
    assert set(wf["on"]) == {"pull_request"}
    for name, job in wf["jobs"].items():
        assert job["runs-on"] == "ubuntu-latest", name
    assert wf["jobs"]["compare"]["permissions"] == {"contents": "read"}
    assert "benchmark" in wf["jobs"]["compare"]["if"]  # a maintainer's label starts it
    assert not any("checkout" in s.get("uses", "") for s in wf["jobs"]["comment"]["steps"])


def mdperf_commands(path):
    wf = load(path)
    for _, _, step in steps(wf):
        script = step.get("run", "").replace("\\\n", " ")
        for m in re.finditer(r"(?:^|[;&|(]|then|do)\s*mdperf ([^;&|>\n]*)", script, re.M):
            yield shlex.split(m.group(1))


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_mdperf_command_of_the_workflows_is_one_the_cli_takes(path):
    parser = build_parser()
    for args in mdperf_commands(path):
        parser.parse_args(args)  # argparse exits (SystemExit) on an unknown command or option


def test_the_commands_are_found():
    found = {" ".join(a[:2]) for a in mdperf_commands(ROOT / ".github" / "workflows" / "mdperf-nightly.yml")}
    assert {"results pull", "track --profile", "results export", "results merge", "publish", "regressions --format",
            "results push", "site-assets"} <= found, found
