"""``mdperf init``: make a repository trackable — its asv configuration, a thin ``benchmarks/md.py`` that
imports mdperf's suite, and the cases in ``[tool.mdperf.suite]`` of its pyproject.toml.

Nothing is copied from mdperf: the suite's code stays in the installed mdperf (upgrading mdperf upgrades the
suite), the cases stay in configuration.  mdperf's own repository is set up the same way.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import git
from ..errors import UserError
from ..result import atomic_write_text
from .config import SuiteConfig, from_table
from .dependencies import _project, _requirement_name, matrix_entry, package_requirements

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover
    pass

SUITE_FILE = '''"""asv benchmarks of this repository: mdperf's suite (mdperf.suite.benchmarks), its cases read from
[tool.mdperf.suite] in pyproject.toml.  Written by `mdperf init`; upgrading mdperf upgrades the suite."""

import os

_HERE = os.path.dirname(os.path.abspath(__file__))
os.environ.setdefault("MDPERF_PYPROJECT", os.path.join(_HERE, os.pardir, "pyproject.toml"))
os.environ.setdefault("MDPERF_SUITE_DIR", _HERE)  # its modules (a factory written for mdperf) import everywhere
from mdperf.suite.benchmarks import *  # noqa: E402,F401,F403
'''

# What every benchmark environment holds besides the measured package, installed once per environment in this
# order (torch first, so that later packages find it satisfied).
BASE_REQS = ("setuptools", "wheel", "numpy", "ase", "nvidia-ml-py", "vesin", "vesin-torch", "psutil", "scipy", "rich")


WRAPPER_MODULE = "mdperf_factory"  # benchmarks/mdperf_factory.py: a factory beside the suite (mdperf init --wrap)
WRAPPER_FILE = '''"""The calculator mdperf measures, as a factory beside the suite (written by `mdperf init --wrap`; yours to edit).

It lives in the benchmark folder, which asv takes from the working tree for every commit, so it is the same for
the whole history, before this file was committed too.  mdperf passes `device`, `dtype` (a name, "float64") and
the options of [tool.mdperf.suite] as keywords.  Import the package inside the function: asv imports this module
once per run, and a commit without the package must fail as that commit's, not the whole run.
"""


def make(device="cpu", dtype="float64", **options):
    from mdperf.calculators import resolve

    # Edit here what differs over the history (a class that moved, a model file): mdperf then passes the class
    # device and dtype as it takes them (a torch.dtype where it expects one), and the options.
    return resolve(@SPEC@).create(device=device, dtype=dtype, options=options)
'''


@dataclass
class InitResult:
    written: list[Path] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    config: SuiteConfig | None = None
    dependencies: list[str] = field(default_factory=list)  # the package's runtime requirements, as found
    dependencies_from: str = ""  # how they were read, or why they could not be
    notes: list[str] = field(default_factory=list)  # what the suite cannot do, said at once

    @property
    def git_add(self) -> str:
        """The `git add` line for what init wrote (the benchmark folder and .github as folders)."""
        tops = []
        for p in self.written:
            rel = p.relative_to(self.repo)
            top = rel.parts[0]
            tops.append(top)
        return "git add " + " ".join(dict.fromkeys(tops)) if tops else ""

    repo: Path = Path(".")


def calculator_paths(spec: str) -> list[str]:
    """Where a ``package.module:function`` spec's module lives in a checkout (flat and src layouts)."""
    if ":" not in spec:
        return []
    module = spec.split(":")[0].replace(".", "/")
    return [f"{root}{module}{tail}" for root in ("", "src/") for tail in (".py", "/__init__.py")]


def _torch_version() -> str:
    try:
        return importlib.metadata.version("torch").split("+")[0]
    except importlib.metadata.PackageNotFoundError:
        return ""


def asv_config(project: str, branch: str, reqs: dict[str, str], no_build_isolation: bool) -> str:
    """asv.conf.json for the repository: its project built per commit without its dependencies, everything else
    installed once per environment from ``reqs``."""
    isolation = " --no-build-isolation" if no_build_isolation else ""
    why_isolation = (", without build isolation so no setuptools download per commit" if no_build_isolation
                     else "")
    req_lines = ",\n".join(f"            {json.dumps(k)}: {json.dumps(v)}" for k, v in reqs.items())
    return f'''{{
    // {project}'s airspeed-velocity configuration, written by `mdperf init`. `mdperf track` drives it.
    "version": 1,
    "project": {json.dumps(project)},
    "repo": ".",
    "branches": [{json.dumps(branch)}],
    "dvcs": "git",
    "environment_type": "virtualenv",
    // Build only the project's own wheel (asv's default `pip wheel` also builds every dependency and then
    // fails with "Found multiple wheels"){why_isolation}.
    "build_command": ["python -m pip wheel --no-deps{isolation} -w {{build_cache_dir}} {{build_dir}}"],
    // Install it without touching dependencies: they are installed once per environment, from "matrix"
    // below, and reused for every commit (asv's default force-reinstalls them, torch included, each time).
    "install_command": ["in-dir={{env_dir}} python -m pip install --no-deps {{wheel_file}}"],
    "uninstall_command": ["return-code=any python -m pip uninstall -y {{project}}"],
    // THE place where the torch version is chosen. Installed first and one at a time (asv's order), so
    // later packages that depend on torch find it satisfied. On a Linux GPU runner the PyPI wheel of this
    // version is the CUDA build; on a CPU-only machine pip takes the CPU wheel of the same version. To pin
    // a CUDA flavour explicitly, replace the value, e.g. "2.13.0+cu128", and add PIP_EXTRA_INDEX_URL to the
    // runner's environment.
    "matrix": {{
        "req": {{
{req_lines}
        }}
    }},
    "benchmark_dir": "benchmarks",
    // Environments, results and the html site live under one git-ignored folder.
    "env_dir": ".asv/env",
    "results_dir": ".asv/results",
    "html_dir": ".asv/html",
    "build_cache_size": 4,
    "install_timeout": 1800,
    "default_benchmark_timeout": 600
}}
'''


WORKFLOWS = ("mdperf-nightly.yml", "mdperf-pr.yml")


def workflow_files(repo: Path, project: str, mdperf_requirement: str) -> dict[Path, str]:
    """The GitHub Actions workflows (docs/ci.md) and Dependabot's settings, from the templates in
    ``mdperf/suite/workflows``; mdperf's own repository installs itself from the checkout, any other repository
    installs itself and ``mdperf_requirement``."""
    from importlib import resources

    install = "-e ." if project == "mdperf" else f'-e . "{mdperf_requirement}"'
    folder = resources.files("mdperf.suite") / "workflows"
    files = {repo / ".github" / "workflows" / name: (folder / name).read_text().replace("@MDPERF_INSTALL@", install)
             for name in WORKFLOWS}
    files[repo / ".github" / "dependabot.yml"] = (folder / "dependabot.yml").read_text()
    return files


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def _toml_value(v: Any) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(str(k))} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v) if v == v and v not in (float("inf"), float("-inf")) else ("nan" if v != v else
                                                                               ("inf" if v > 0 else "-inf"))
    if isinstance(v, int):
        return str(v)
    return json.dumps(str(v))


def suite_table_text(cfg: SuiteConfig) -> str:
    lines = ["", "# The benchmark suite's cases (mdperf init; docs/reference/settings.md). `mdperf track --profile",
             "# NAME` measures [tool.mdperf.suite.profiles.NAME] instead: its keys replace these.",
             "[tool.mdperf.suite]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in cfg.to_table().items()]
    return "\n".join(lines) + "\n"


_SUITE_HEADER = re.compile(r"^\s*\[+\s*tool\.mdperf\.suite(\.[^\]]*)?\s*\]+\s*$")
_ANY_HEADER = re.compile(r"^\s*\[")


def _without_suite_table(text: str) -> str:
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        if _ANY_HEADER.match(line):
            skipping = bool(_SUITE_HEADER.match(line))
        if not skipping:
            out.append(line)
    return "".join(out)


def init(repo: str | Path, *, calculators: list[str] | None = None, system: str | None = None,
         atoms: list[int] | None = None, devices: list[str] | None = None, steps: int | None = None,
         warmup: int | None = None, reference: str | None = None, force: bool = False,
         mdperf_requirement: str | None = None, options: dict[str, dict[str, Any]] | None = None,
         wrap: bool = False, read_metadata: bool = True) -> InitResult:
    """Write the repository's asv configuration, suite file and cases; refuse to overwrite without ``force``.
    Without ``calculators``, an existing ``[tool.mdperf.suite]`` is kept (and required).  ``wrap``: a factory
    module beside the suite (``benchmarks/mdperf_factory.py``) that calls the one class named, measured instead
    of it.  ``read_metadata``: the package's runtime requirements from its metadata into the matrix."""
    repo = Path(repo)
    if mdperf_requirement is not None and (not mdperf_requirement.strip() or
                                           any(ch in mdperf_requirement for ch in '"\'`$\\') or
                                           any(ord(ch) < 32 for ch in mdperf_requirement)):
        # it is written into the workflows' shell steps: a newline or a quote would add a step of its own
        raise UserError(f"--mdperf-requirement {mdperf_requirement!r}: one pip requirement, without quotes, "
                        "backslashes, $ or control characters")
    pyproject = repo / "pyproject.toml"
    data = _project(pyproject)
    project = str(data.get("project", {}).get("name") or _setup_name(repo) or repo.resolve().name)
    existing = data.get("tool", {}).get("mdperf", {}).get("suite")
    result = InitResult(repo=repo)
    wrapper = None
    if wrap:
        if not calculators or len(calculators) != 1 or ":" not in calculators[0]:
            raise UserError("--wrap needs one --calc package.module:Class to wrap")
        wrapper = WRAPPER_FILE.replace("@SPEC@", json.dumps(calculators[0]))
        if options and calculators[0] in options:
            options = dict(options)
            options[f"{WRAPPER_MODULE}:make"] = options.pop(calculators[0])
        calculators = [f"{WRAPPER_MODULE}:make"]
    if options and not calculators:
        raise UserError("--calc-option needs --calc (or edit options in [tool.mdperf.suite])")
    if calculators:
        table: dict[str, Any] = {"calculators": list(calculators)}
        if options:
            table["options"] = {k: dict(v) for k, v in options.items()}
        for key, value in (("system", system), ("atoms", atoms), ("devices", devices), ("steps", steps),
                           ("warmup", warmup), ("reference", reference)):
            if value is not None:
                table[key] = value
        table.setdefault("system", "ar")
        table.setdefault("atoms", [108])
        table.setdefault("steps", 300)
        cfg = from_table(table)
        if existing is not None and not force:
            raise UserError(f"{pyproject} already has [tool.mdperf.suite]; --force replaces it")
    elif existing is not None:
        if any(v is not None for v in (system, atoms, devices, steps, warmup, reference)):
            raise UserError("--system, --atoms, --devices, --steps, --warmup and --reference need --calc "
                            "(or edit [tool.mdperf.suite] in pyproject.toml)")
        cfg = from_table(existing, where=f"{pyproject} [tool.mdperf.suite]")
        result.kept.append(f"{pyproject.name} [tool.mdperf.suite]")
    else:
        raise UserError("--calc is required: the calculator(s) to track (a name or package.module:function)")
    result.config = cfg

    reqs: dict[str, str] = {"torch": _torch_version()}
    reqs.update({name: "" for name in BASE_REQS})
    if project != "mdperf":
        try:
            reqs["mdperf"] = importlib.metadata.version("mdperf")
        except importlib.metadata.PackageNotFoundError:
            reqs["mdperf"] = ""
        found, how = package_requirements(repo) if read_metadata else (None, "not read (read_metadata=False)")
        if found is None:  # say so, and fall back on what pyproject.toml declares
            found = [str(d) for d in data.get("project", {}).get("dependencies", []) or []]
            how = f"{how}; [project].dependencies of pyproject.toml instead" if found else how
        result.dependencies, result.dependencies_from = found, how
        have = {k.lower() for k in reqs}
        for dep in found:
            try:
                key, value = matrix_entry(str(dep))
            except Exception:
                key, value = _requirement_name(str(dep)), ""
            name = _requirement_name(key[4:] if key.startswith("pip+") else key)
            if name and name.lower() not in have and name.lower().replace("_", "-") not in have:
                reqs[key] = value
                have.add(name.lower())
    backend = str(data.get("build-system", {}).get("build-backend", "setuptools.build_meta"))
    branch = git.current_branch(repo) or "main"
    files = {repo / "asv.conf.json": asv_config(project, branch, reqs, backend.startswith("setuptools")),
             repo / "benchmarks" / "md.py": SUITE_FILE}
    if wrapper is not None:
        files[repo / "benchmarks" / f"{WRAPPER_MODULE}.py"] = wrapper
    mdperf_req = f"mdperf=={reqs['mdperf']}" if reqs.get("mdperf") else "mdperf"
    workflows = workflow_files(repo, project, mdperf_requirement or mdperf_req)
    dependabot = repo / ".github" / "dependabot.yml"
    if dependabot.exists() and dependabot.read_text() != workflows[dependabot]:
        del workflows[dependabot]  # the repository's own Dependabot settings stay; docs/ci.md says what to add
        result.kept.append(".github/dependabot.yml (yours: add the github-actions ecosystem to it)")
    files.update(workflows)
    clash = [p for p, text in files.items() if p.exists() and p.read_text() != text]
    if clash and not force:
        raise UserError(f"{', '.join(str(p.relative_to(repo)) for p in clash)} exist(s) and differ(s); "
                        "--force overwrites")
    for p, text in files.items():
        if p.exists() and p.read_text() == text:
            result.kept.append(str(p.relative_to(repo)))
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(p, text)
        result.written.append(p)
    init_py = repo / "benchmarks" / "__init__.py"
    if not init_py.exists():
        atomic_write_text(init_py, "")
        result.written.append(init_py)
    if calculators:
        old = pyproject.read_text() if pyproject.exists() else ""
        new = _without_suite_table(old).rstrip("\n")
        atomic_write_text(pyproject, (new + "\n" if new else "") + suite_table_text(cfg))
        result.written.append(pyproject)
    gitignore = repo / ".gitignore"
    lines = gitignore.read_text().splitlines() if gitignore.exists() else []
    if not any(line.strip().rstrip("/") in (".asv", "/.asv") for line in lines):
        atomic_write_text(gitignore, "\n".join(lines + [".asv/"]) + "\n")
        result.written.append(gitignore)
    result.notes += _limits(repo, cfg)
    return result


MIN_DRIFT_STEPS = 20  # 3 energy samples at mdperf's energy interval of 10 steps: the fewest a drift fit takes


def _limits(repo: Path, cfg: SuiteConfig) -> list[str]:
    """What the suite as configured cannot do, said by init rather than found out a night later."""
    notes = []
    if cfg.protocol == "nve" and cfg.steps < MIN_DRIFT_STEPS:
        notes.append(f"with {cfg.steps} steps the energy-drift metrics are skipped: a drift fit needs "
                     f">= {MIN_DRIFT_STEPS} steps (3 energy samples); use --steps {max(100, MIN_DRIFT_STEPS)} or more")
    for spec in cfg.calculators:
        paths = calculator_paths(spec)
        if not paths or spec.startswith(f"{WRAPPER_MODULE}:"):
            continue
        have, total = git.commits_with_path(repo, paths)
        if total and 0 < have < total:
            notes.append(f"{spec.split(':')[0]} is in {have} of the branch's {total} commits: older ones will fail "
                         f"as 'this commit has no {spec.split(':')[0]}'. To measure them, keep the factory beside "
                         f"the suite: mdperf init --wrap (docs/adopting.md)")
    return notes


def _setup_name(repo: Path) -> str:
    """The name in setup.py's or setup.cfg's ``name=`` (read, not run): the asv project's name."""
    for f, pattern in (("setup.cfg", r"^\s*name\s*=\s*([\w.-]+)"), ("setup.py", r"name\s*=\s*[\"']([\w.-]+)[\"']")):
        try:
            found = re.search(pattern, (repo / f).read_text(), flags=re.M)
        except OSError:
            continue
        if found:
            return found.group(1)
    return ""
