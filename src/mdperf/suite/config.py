"""The benchmark suite's cases, from ``[tool.mdperf.suite]`` in the measured repository's pyproject.toml.

    [tool.mdperf.suite]
    calculators = ["mycalc:make"]      # registry names, entry points or package.module:function
    system = "ar"
    atoms = [108, 512]
    devices = ["cpu"]
    steps = 300
    warmup = 20
    reference = "emt"                  # optional: the teacher; every case also reports its speed-up against it

    [tool.mdperf.suite.profiles.quick]  # `mdperf track --profile quick`: these keys replace the ones above
    atoms = [108]
    steps = 100

The table without a profile is the ``default`` profile.  Settings: docs/reference/settings.md.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROFILE_ENV = "MDPERF_PROFILE"  # which profile the suite measures (mdperf track --profile sets it)
CASE_TIMEOUT_ENV = "MDPERF_CASE_TIMEOUT_S"  # track --case-timeout, read by the suite inside asv's processes
PROGRESS_ENV = "MDPERF_PROGRESS"  # a file the suite appends its progress to (mdperf.progress reads it)
PARITY_ENV = "MDPERF_PARITY_FILE"  # where the suite keeps the accuracy cases' force pairs (track names the machine's)
PARITY_FILE = "mdperf-parity.jsonl"  # beside asv's results of a machine (not .json: asv does not read it)
PYPROJECT_ENV = "MDPERF_PYPROJECT"  # where the suite reads its cases (the thin benchmarks file sets it)
DEFAULT_PROFILE = "default"

SUITE_DIR_ENV = "MDPERF_SUITE_DIR"  # the benchmark folder (the thin benchmarks file sets it): its modules are importable
_KEYS = {"options", "calculators", "system", "atoms", "devices", "dtype", "steps", "warmup", "protocol", "reference",
         "reference_max_atoms", "max_atoms", "cpu_max_atoms", "threads", "profiles"}
CPU_REFERENCES = ("emt", "ase-lj")  # slow pure-Python references: only up to reference_max_atoms


@dataclass(frozen=True)
class SuiteConfig:
    calculators: tuple[str, ...]
    system: str = "cu"
    atoms: tuple[int, ...] = (256,)
    devices: tuple[str, ...] = ("cpu",)
    steps: int = 1000
    warmup: int = 20
    protocol: str = "nve"
    dtype: str | None = None  # None: each calculator's own default
    reference: str | None = None
    reference_max_atoms: int | None = None  # emt and ase-lj only up to this many atoms
    max_atoms: dict[str, int] = field(default_factory=dict)  # per calculator, the largest size it runs
    # On the CPU only, per calculator ("all": every calculator), the largest size it runs: a GPU nightly's CPU half
    # keeps the sizes that fit its budget (docs/ci.md)
    cpu_max_atoms: dict[str, int] = field(default_factory=dict)
    profile: str = DEFAULT_PROFILE
    profiles: tuple[str, ...] = (DEFAULT_PROFILE,)
    # Per calculator, the keywords its factory or class is called with (a cutoff, a model path); part of the case:
    # the suite's parameter is the calculator's label with them (mdperf.measurement.calculator_label).
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    # CPU threads every case of the profile runs with (mdperf.threads); part of each series' asv version
    threads: int = 1

    def label(self, calculator: str) -> str:
        from ..measurement import calculator_label

        return calculator_label(calculator, self.options.get(calculator))

    def by_label(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """The suite's parameter values (labels), each to its calculator and options; the reference included."""
        names = [*self.calculators, *([self.reference] if self.reference else [])]
        return {self.label(n): (n, dict(self.options.get(n, {}))) for n in dict.fromkeys(names)}

    def case_profile(self) -> dict[str, Any]:
        """The profile as the suite's cases read it: the parameter values (calculator labels), the case's settings,
        and ``labels``: each label's calculator and options."""
        return {"calculator": [self.label(c) for c in self.calculators], "atoms": list(self.atoms),
                "device": list(self.devices), "system": self.system, "steps": self.steps, "warmup": self.warmup,
                "protocol": self.protocol, "dtype": self.dtype, "threads": self.threads,
                "reference": self.label(self.reference) if self.reference else None, "labels": self.by_label()}

    def skip_reason(self, calculator: str, atoms: int, device: str = "cpu") -> str | None:
        """Why a case of the profile is not run (its size), or None."""
        limit = self.reference_max_atoms
        if calculator in CPU_REFERENCES and limit is not None and atoms > limit:
            return f"{calculator} is a CPU reference; profile {self.profile} skips it above {limit} atoms"
        cap = self.max_atoms.get(calculator)
        if cap is not None and atoms > cap:
            return (f"profile {self.profile} runs {calculator} up to {cap} atoms "
                    "(its GPU memory and time, docs/results/gpu.md)")
        cpu_cap = self.cpu_max_atoms.get(calculator, self.cpu_max_atoms.get("all"))
        if device == "cpu" and cpu_cap == 0:
            return f"profile {self.profile} does not run {calculator} on the CPU (its time budget)"
        if device == "cpu" and cpu_cap is not None and atoms > cpu_cap:
            return f"profile {self.profile} runs {calculator} on the CPU up to {cpu_cap} atoms (its time budget)"
        return None

    def to_table(self) -> dict[str, Any]:
        """The keys as pyproject.toml holds them (defaults left out)."""
        t: dict[str, Any] = {"calculators": list(self.calculators), "system": self.system, "atoms": list(self.atoms),
                             "devices": list(self.devices), "steps": self.steps, "warmup": self.warmup}
        if self.protocol != "nve":
            t["protocol"] = self.protocol
        if self.dtype:
            t["dtype"] = self.dtype
        if self.reference:
            t["reference"] = self.reference
        if self.reference_max_atoms is not None:
            t["reference_max_atoms"] = self.reference_max_atoms
        if self.max_atoms:
            t["max_atoms"] = dict(self.max_atoms)
        if self.cpu_max_atoms:
            t["cpu_max_atoms"] = dict(self.cpu_max_atoms)
        if self.options:
            t["options"] = {k: dict(v) for k, v in self.options.items()}
        if self.threads != 1:
            t["threads"] = self.threads
        return t


def read_table(pyproject: str | Path) -> dict[str, Any]:
    """``[tool.mdperf.suite]`` of a pyproject.toml; UserError when it is missing or unreadable."""
    p = Path(pyproject)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise UserError(f"no {p}: the suite's cases live in its [tool.mdperf.suite] table (mdperf init writes it)") \
            from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"cannot read {p}: {exc}") from None
    table = data.get("tool", {}).get("mdperf", {}).get("suite")
    if not isinstance(table, dict):
        raise UserError(f"{p} has no [tool.mdperf.suite] table (mdperf init writes it)")
    return table


def from_table(table: dict[str, Any], profile: str | None = None, where: str = "[tool.mdperf.suite]") -> SuiteConfig:
    """The cases of ``profile`` (default: the table itself); bad values raise UserError naming the key."""
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(_KEYS))}")
    profiles = table.get("profiles", {}) or {}
    if not isinstance(profiles, dict):
        raise UserError(f"{where}: profiles must be a table of tables")
    for name, prof in profiles.items():
        if not isinstance(prof, dict):
            raise UserError(f"{where}: profiles.{name} must be a table")
        bad = sorted(set(prof) - (_KEYS - {"profiles"}))
        if bad:
            raise UserError(f"{where} profile {name}: unknown key(s) {', '.join(bad)}")
    names = (DEFAULT_PROFILE, *sorted(k for k in profiles if k != DEFAULT_PROFILE))
    profile = profile or DEFAULT_PROFILE
    if profile not in names:
        raise UserError(f"unknown profile {profile!r}; valid: {', '.join(names)}")
    values = {k: v for k, v in table.items() if k != "profiles"}
    values.update(profiles.get(profile, {}))
    if not values.get("calculators"):
        raise UserError(f"{where}: calculators is required (a list of names or package.module:function)")

    def strings(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        v = values.get(key, list(default))
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not v or not all(isinstance(x, str) and x for x in v):
            raise UserError(f"{where}: {key} must be a non-empty list of strings, got {v!r}")
        return tuple(v)

    def integer(key: str, default: int | None, minimum: int) -> int | None:
        v = values.get(key, default)
        if v is None:
            return None
        if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
            raise UserError(f"{where}: {key} must be an integer >= {minimum}, got {v!r}")
        return v

    atoms = values.get("atoms", [256])
    if isinstance(atoms, int):
        atoms = [atoms]
    if not isinstance(atoms, list) or not atoms or not all(isinstance(a, int) and a > 0 for a in atoms):
        raise UserError(f"{where}: atoms must be a non-empty list of positive integers, got {atoms!r}")
    devices = strings("devices", ("cpu",))
    if set(devices) - {"cpu", "cuda"}:
        raise UserError(f"{where}: devices must be cpu and/or cuda, got {list(devices)}")
    caps = {}
    for key, least in (("max_atoms", 1), ("cpu_max_atoms", 0)):  # a CPU cap of 0: not on the CPU at all
        cap = values.get(key, {}) or {}
        if not isinstance(cap, dict) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= least
                                                for v in cap.values()):
            kind = "positive integers" if least else "whole numbers >= 0"
            raise UserError(f"{where}: {key} must map calculator names to {kind}, got {cap!r}")
        caps[key] = dict(cap)
    options = values.get("options", {}) or {}
    if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
        raise UserError(f"{where}: options must map calculator names to tables of keywords, got {options!r}")
    from ..calculators import RESERVED_OPTIONS

    for calc, opts in options.items():
        reserved = sorted(set(opts) & set(RESERVED_OPTIONS))
        if reserved:
            raise UserError(f"{where}: options.{calc}: {reserved[0]} is set by the suite's own key, not an option")
    for key in ("system", "protocol", "dtype", "reference"):
        if key in values and not isinstance(values[key], str):
            raise UserError(f"{where}: {key} must be a string, got {values[key]!r}")
    from ..calculators import check_name

    for name in [*strings("calculators", ()), *([values["reference"]] if values.get("reference") else [])]:
        check_name(name, where)
    return SuiteConfig(
        calculators=strings("calculators", ()), system=str(values.get("system", "cu")), atoms=tuple(atoms),
        devices=devices, steps=integer("steps", 1000, 1) or 1000, warmup=_at_least_zero(integer("warmup", 20, 0)),
        protocol=str(values.get("protocol", "nve")), dtype=values.get("dtype"), reference=values.get("reference"),
        reference_max_atoms=integer("reference_max_atoms", None, 1), max_atoms=caps["max_atoms"],
        cpu_max_atoms=caps["cpu_max_atoms"], profile=profile,
        profiles=names, options={k: dict(v) for k, v in options.items()},
        threads=integer("threads", 1, 1) or 1)


def suite_dir(pyproject: str | Path) -> Path:
    """The benchmark folder of the repository whose pyproject.toml this is: asv.conf.json's ``benchmark_dir``,
    else ``benchmarks`` beside it.  Its modules are importable in every process mdperf and asv start."""
    root = Path(pyproject).resolve().parent
    conf = root / "asv.conf.json"
    name = "benchmarks"
    if conf.exists():
        import json
        import re

        try:  # asv's JSON allows // comments
            text = re.sub(r"^\s*//.*$", "", conf.read_text(), flags=re.M)
            name = str(json.loads(text).get("benchmark_dir") or name)
        except (OSError, ValueError):
            pass
    return root / name


def _at_least_zero(value: int | None) -> int:
    return 0 if value is None else value


def load(pyproject: str | Path, profile: str | None = None) -> SuiteConfig:
    return from_table(read_table(pyproject), profile, f"{pyproject} [tool.mdperf.suite]")


def case_args(profile: dict[str, Any], label: str, atoms: int, device: str, steps: int | None = None,
              warmup: int | None = None) -> dict[str, Any]:
    """The measuring child's case (:data:`mdperf.benchenv.CHILD`) for a parameter value of the suite: the
    calculator behind the label, with its options, at the profile's settings."""
    name, options = profile.get("labels", {}).get(label, (label, {}))
    args = {"calculator": name, "system": profile["system"], "atoms": atoms, "steps": steps or profile["steps"],
            "device": device, "warmup": profile["warmup"] if warmup is None else warmup,
            "protocol": profile["protocol"], "dtype": profile["dtype"], "threads": profile.get("threads", 1)}
    if options:
        args["calc_options"] = options
    return args


def import_suite(pyproject: Path, profile: str) -> Any:
    """mdperf's suite module (:mod:`mdperf.suite.benchmarks`) as asv imports it for this repository and profile:
    it reads its cases at import, from the two variables the repository's thin benchmarks file sets, so they are
    set for the import and restored after it."""
    import importlib
    import os

    saved = {k: os.environ.get(k) for k in (PROFILE_ENV, PYPROJECT_ENV)}
    os.environ[PROFILE_ENV], os.environ[PYPROJECT_ENV] = profile, str(pyproject)
    try:
        sys.modules.pop("mdperf.suite.benchmarks", None)
        return importlib.import_module("mdperf.suite.benchmarks")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
