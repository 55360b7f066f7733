"""Calculator registry: one table from name to factory, each with an availability check.

Names resolve in this order: a built-in entry, an entry point in the group ``mdperf.calculators``, then a
``package.module:function`` spec.  See :mod:`mdperf.calculators.interface` for the contract.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import re
import sys
from dataclasses import dataclass, replace
from typing import Any, Callable

from ase.calculators.calculator import Calculator

from ..errors import FactoryError, Unsupported, UserError
from ..systems import System
from .interface import ValidationReport, validate_calculator

__all__ = [
    "CalculatorEntry", "Availability", "REGISTRY", "resolve", "available_names", "create",
    "validate_calculator", "ValidationReport", "Unsupported", "CalculatorError", "check_options", "called",
    "add_search_path", "cuda_available", "cuda_hint",
]

ENTRY_POINT_GROUP = "mdperf.calculators"
_SPEC = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str = ""  # why not, e.g. "missing package sevenn (pip install 'mdperf[sevenn]')"


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def cuda_hint() -> Availability:
    """Whether CUDA can be used, read without importing torch (which takes seconds): torch's own build record
    (``torch/version.py``) and NVML's device count.  What only torch can tell (its runtime against this driver) is
    ``cuda_available()``; ``mdperf list --cuda`` asks it."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return Availability(False, "torch is not installed")
    version_py = os.path.join(list(spec.submodule_search_locations)[0], "version.py")
    try:
        text = open(version_py, encoding="utf-8").read()
    except OSError:
        text = ""
    if re.search(r"^cuda\b[^=\n]*=\s*None\s*$", text, re.M):
        return Availability(False, "torch is a CPU-only build")
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            count = pynvml.nvmlDeviceGetCount()
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no driver, no library: NVML's own errors all mean "no GPU here"
        return Availability(False, "needs CUDA: no NVIDIA driver (NVML) on this machine")
    if count == 0:
        return Availability(False, "needs CUDA: NVML sees no GPU")
    return Availability(True)


@dataclass(frozen=True)
class CalculatorEntry:
    name: str
    factory: Callable[..., Calculator] | str  # a callable, or "module:function" imported on first use
    description: str
    requires: tuple[str, ...] = ()  # importable modules the factory needs
    extra: str | None = None  # the pip extra that installs them
    devices: tuple[str, ...] = ("cpu",)
    dtypes: tuple[str, ...] = ("float64",)
    origin: str = "built-in"

    def availability(self, device: str = "cpu", cuda: Availability | None = None) -> Availability:
        """Whether the entry runs on ``device`` here; ``cuda``, when given, is the machine's CUDA reading (e.g.
        ``cuda_hint()``) in place of asking torch."""
        for module in self.requires:
            if importlib.util.find_spec(module) is None:
                hint = f" (pip install 'mdperf[{self.extra}]')" if self.extra else ""
                return Availability(False, f"missing package {module}{hint}")
        if device not in self.devices:
            return Availability(False, f"{self.name} does not run on {device}")
        if device == "cuda" and cuda is not None and not cuda.available:
            return cuda
        if device == "cuda" and cuda is None and not cuda_available():
            return Availability(False, "needs CUDA, which is not available")
        return Availability(True)

    def load_factory(self) -> Callable[..., Calculator]:
        if callable(self.factory):
            return self.factory
        return _import_spec(self.factory)

    def effective_dtype(self, dtype: str | None) -> str:
        """The dtype a case runs in: the one asked for, else the entry's default (its first)."""
        return dtype or self.dtypes[0]

    def create(self, *, device: str = "cpu", dtype: str | None = None, system: System | None = None,
               options: dict[str, Any] | None = None) -> Calculator:
        """Build the calculator.  ``device``, ``dtype`` and ``system`` are passed only where the factory (a function
        or a calculator class) names them — ``dtype`` as a ``torch.dtype`` where it expects one — and ``options``
        as given; an error names what was passed."""
        factory = self.load_factory()
        dtype = self.effective_dtype(dtype)
        if dtype not in self.dtypes:
            raise Unsupported(f"{self.name} runs in {', '.join(self.dtypes)}, not {dtype}")
        params = _parameters(factory)
        kwargs: dict[str, Any] = {}
        if "device" in params:
            kwargs["device"] = device
        elif device != "cpu":
            raise Unsupported(f"{self.name} takes no device argument, so it runs on the CPU only")
        if "dtype" in params:
            kwargs["dtype"] = _dtype_argument(params["dtype"], dtype)
        elif dtype != self.dtypes[0]:
            raise Unsupported(f"{self.name} takes no dtype argument, so it runs in {self.dtypes[0]} only")
        if "system" in params:
            kwargs["system"] = system
        check_options(self.name, factory, options or {})
        kwargs.update(options or {})
        try:
            calc = factory(**kwargs)
        except Unsupported:
            raise
        except SystemExit as exc:  # a plug-in must not end mdperf (and with it the measurement) silently
            raise RuntimeError(f"{self.name}'s factory called sys.exit({exc.code!r})") from None
        except Exception as exc:
            raise CalculatorError(f"{called(self.name, kwargs)} raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(calc, Calculator):
            raise TypeError(f"{called(self.name, kwargs)} returned {type(calc).__name__}, not an ASE Calculator")
        return calc


RESERVED_OPTIONS = ("device", "dtype", "system")  # set by the case (--device, --dtype, --system), never options


class CalculatorError(RuntimeError):
    """The factory (or the class's constructor) raised: the message names what mdperf passed it."""


def called(name: str, kwargs: dict[str, Any]) -> str:
    """``name(device='cpu', dtype=torch.float64, cutoff=5.0)``: the call mdperf made, for error messages."""
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def _parameters(factory: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """The keyword parameters a factory or calculator class names (``**kwargs`` itself left out: mdperf never
    passes ``device``, ``dtype`` or ``system`` through it)."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return {}
    return {n: p for n, p in params.items()
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}


def _takes_any(factory: Callable[..., Any]) -> bool:
    try:
        return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return True


def _dtype_argument(param: inspect.Parameter, dtype: str) -> Any:
    """``dtype`` as the factory expects it: a ``torch.dtype`` when its annotation or default is one, else the
    name ("float64")."""
    annotation, default = param.annotation, param.default
    wants_torch = "torch.dtype" in (annotation if isinstance(annotation, str) else repr(annotation))
    if not wants_torch and default is not inspect.Parameter.empty:
        wants_torch = type(default).__module__ == "torch" and type(default).__name__ == "dtype"
    if not wants_torch:
        return dtype
    import torch

    return getattr(torch, dtype)


def check_options(name: str, factory: Callable[..., Any], options: dict[str, Any]) -> None:
    """UserError for an option the factory does not take, or one the case itself sets."""
    for key in options:
        if key in RESERVED_OPTIONS:
            raise UserError(f"{name}: {key} is set by the case (--{key}), not as an option")
    params = _parameters(factory)
    unknown = [k for k in options if k not in params]
    if unknown and not _takes_any(factory):
        takes = ", ".join(p for p in params if p not in RESERVED_OPTIONS) or "none"
        raise UserError(f"{name} takes no option {unknown[0]!r}; the options it takes: {takes}")
    missing = [n for n, p in params.items() if p.default is inspect.Parameter.empty and n not in RESERVED_OPTIONS
               and n not in options]
    if missing:
        raise UserError(f"{name} needs {', '.join(missing)}: give --calc-option {missing[0]}=VALUE "
                        "(or options in [tool.mdperf.suite])")


def _torch_lj(device: str = "cpu", dtype: str = "float64", system: System | None = None) -> Calculator:
    from .torch_pair import TorchLennardJones

    if system is None:
        return TorchLennardJones(device=device, dtype=dtype)
    p = system.pair
    return TorchLennardJones(p.lj_epsilon_ev, p.lj_sigma_a, p.lj_cutoff_a, device=device, dtype=dtype)


def _torch_morse(device: str = "cpu", dtype: str = "float64", system: System | None = None) -> Calculator:
    from .torch_pair import TorchMorse

    if system is None:
        return TorchMorse(device=device, dtype=dtype)
    p = system.pair
    return TorchMorse(p.morse_d_ev, p.morse_alpha_per_a, p.morse_r0_a, p.morse_cutoff_a, device=device, dtype=dtype)


def _torch_nn(device: str = "cpu", dtype: str = "float64", system: System | None = None) -> Calculator:
    from .torch_nn import TorchNNPotential

    return TorchNNPotential(device=device, dtype=dtype)


_TORCH: dict[str, Any] = dict(requires=("torch", "vesin"), devices=("cpu", "cuda"), dtypes=("float64", "float32"))

REGISTRY: dict[str, CalculatorEntry] = {
    e.name: e
    for e in [
        CalculatorEntry("emt", "mdperf.calculators.ase_builtin:make_emt", "ASE EMT (CPU reference)"),
        CalculatorEntry("ase-lj", "mdperf.calculators.ase_builtin:make_ase_lj", "ASE LennardJones (CPU reference)"),
        CalculatorEntry("torch-lj", _torch_lj, "mdperf PyTorch Lennard-Jones, vesin neighbour list", **_TORCH),
        CalculatorEntry("torch-morse", _torch_morse, "mdperf PyTorch Morse, vesin neighbour list", **_TORCH),
        CalculatorEntry("torch-nn", _torch_nn, "mdperf small NN potential (fixed-seed student stand-in)", **_TORCH),
        CalculatorEntry(
            "mace", "mdperf.calculators.external:make_mace", "MACE, fixed-seed weights (or $MDPERF_MACE_MODEL)",
            requires=("mace", "e3nn"), extra="mace", devices=("cpu", "cuda"), dtypes=("float64", "float32"),
        ),
        CalculatorEntry(
            "sevennet", "mdperf.calculators.external:make_sevennet", "SevenNet 7net-0 (weights in the wheel)",
            requires=("sevenn",), extra="sevenn", devices=("cpu", "cuda"), dtypes=("float32",),
        ),
    ]
}


SEARCH_PATH_ENV = "PYTHONPATH"


def add_search_path(folder: str | os.PathLike[str]) -> None:
    """Make modules in ``folder`` (the suite's benchmark folder, where a factory written for mdperf lives)
    importable here and in every process started from here: appended to ``sys.path`` and to ``PYTHONPATH``, after
    the installed packages, so that it never shadows the measured commit's own package."""
    folder = os.path.abspath(folder)
    if folder not in sys.path:
        sys.path.append(folder)
    parts = [p for p in os.environ.get(SEARCH_PATH_ENV, "").split(os.pathsep) if p]
    if folder not in parts:
        os.environ[SEARCH_PATH_ENV] = os.pathsep.join([*parts, folder])


_NAME = re.compile(r"^[A-Za-z0-9_][\w.-]*$")  # a registry name or an entry point's


def check_name(name: str, where: str = "calculator") -> None:
    """A calculator name is a registry or entry-point name, or ``package.module:attr`` of Python identifiers
    (never a path: ``../../etc:passwd`` is bad input)."""
    if not (_SPEC.match(name) if ":" in name else _NAME.match(name)):
        raise UserError(f"{where}: malformed calculator {name!r}; expected a name (`mdperf list`) or "
                        "package.module:function")


def _import_spec(spec: str) -> Callable[..., Calculator]:
    if not _SPEC.match(spec):
        raise UserError(f"malformed calculator spec {spec!r}; expected package.module:function")
    module_name, func_name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:  # the spec's own module absent, or a dependency of it
        raise FactoryError(f"cannot import {module_name!r} for calculator spec {spec!r}: "
                           f"{type(exc).__name__}: {exc}", missing=exc.name or "", module=module_name) from None
    except Exception as exc:  # any error the package raises while importing
        raise FactoryError(f"cannot import {module_name!r} for calculator spec {spec!r}: "
                           f"{type(exc).__name__}: {exc}", module=module_name) from None
    func: Any = module
    for part in func_name.split("."):  # a function, a class, or a class's classmethod (Class.from_options)
        func = getattr(func, part, None)
    if not callable(func):
        raise FactoryError(f"{module_name!r} has no callable {func_name!r} (calculator spec {spec!r})",
                           module=module_name, absent=func_name)
    return func


def supports(factory: Callable[..., Calculator]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(devices, dtypes) a plug-in factory can be asked for: without a ``device`` parameter it runs on the CPU
    only, without a ``dtype`` parameter in float64 only (``**kwargs`` is not read as either)."""
    params = _parameters(factory)
    devices = ("cpu", "cuda") if "device" in params else ("cpu",)
    dtypes = ("float64", "float32") if "dtype" in params else ("float64",)
    return devices, dtypes


def described(entry: CalculatorEntry) -> CalculatorEntry:
    """A plug-in's entry with the devices and dtypes its factory actually takes (built-ins as registered);
    FactoryError when it cannot be imported."""
    if entry.origin == "built-in":
        return entry
    devices, dtypes = supports(entry.load_factory())
    return replace(entry, devices=devices, dtypes=dtypes)


def _entry_points() -> dict[str, CalculatorEntry]:
    found = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        # What it supports is read off its factory when it is used or listed (importing every plug-in here
        # would import them all to resolve any name).
        found[ep.name] = CalculatorEntry(
            ep.name, ep.value, f"entry point from {ep.dist.name if ep.dist else '?'}",
            devices=("cpu", "cuda"), dtypes=("float64", "float32"), origin="entry point",
        )
    return found


def all_entries() -> dict[str, CalculatorEntry]:
    """Built-ins, then entry points (a built-in name cannot be shadowed)."""
    return {**_entry_points(), **REGISTRY}


def available_names(device: str = "cpu") -> list[str]:
    return [n for n, e in all_entries().items() if e.availability(device).available]


def resolve(name: str) -> CalculatorEntry:
    """The entry for a registry name, an entry-point name or a ``package.module:function`` spec."""
    entries = all_entries()
    if name in entries:
        return entries[name]
    if ":" in name:
        devices, dtypes = supports(_import_spec(name))  # fail now, as bad input, rather than mid-measurement
        return CalculatorEntry(name, name, "user spec", devices=devices, dtypes=dtypes, origin="spec")
    raise UserError(f"unknown calculator {name!r}; valid: {', '.join(entries)} or package.module:function")


def create(name: str, *, device: str = "cpu", dtype: str | None = None, system: System | None = None,
           options: dict[str, Any] | None = None) -> Calculator:
    return resolve(name).create(device=device, dtype=dtype, system=system, options=options)
