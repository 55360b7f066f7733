"""Calculator registry: one table from name to factory, each with an availability check.

Names resolve in this order: a built-in entry, an entry point in the group ``mdperf.calculators``, then a
``package.module:function`` spec.  See :mod:`mdperf.calculators.interface` for the contract.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import re
from dataclasses import dataclass, replace
from typing import Any, Callable

from ase.calculators.calculator import Calculator

from ..errors import FactoryError, Unsupported, UserError
from ..systems import System
from .interface import ValidationReport, validate_calculator

__all__ = [
    "CalculatorEntry", "Availability", "REGISTRY", "resolve", "available_names", "create",
    "validate_calculator", "ValidationReport", "Unsupported",
]

ENTRY_POINT_GROUP = "mdperf.calculators"
_SPEC = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")


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

    def availability(self, device: str = "cpu") -> Availability:
        for module in self.requires:
            if importlib.util.find_spec(module) is None:
                hint = f" (pip install 'mdperf[{self.extra}]')" if self.extra else ""
                return Availability(False, f"missing package {module}{hint}")
        if device not in self.devices:
            return Availability(False, f"{self.name} does not run on {device}")
        if device == "cuda" and not cuda_available():
            return Availability(False, "needs CUDA, which is not available")
        return Availability(True)

    def load_factory(self) -> Callable[..., Calculator]:
        if callable(self.factory):
            return self.factory
        return _import_spec(self.factory)

    def effective_dtype(self, dtype: str | None) -> str:
        """The dtype a case runs in: the one asked for, else the entry's default (its first)."""
        return dtype or self.dtypes[0]

    def create(self, *, device: str = "cpu", dtype: str | None = None, system: System | None = None) -> Calculator:
        """Build the calculator, passing only the keyword arguments its factory accepts."""
        factory = self.load_factory()
        dtype = self.effective_dtype(dtype)
        if dtype not in self.dtypes:
            raise Unsupported(f"{self.name} runs in {', '.join(self.dtypes)}, not {dtype}")
        offered: dict[str, Any] = {"device": device, "dtype": dtype, "system": system}
        try:
            params = inspect.signature(factory).parameters
        except (TypeError, ValueError):
            params = {}
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            kwargs = offered
        else:
            kwargs = {k: v for k, v in offered.items() if k in params}
        if "device" not in kwargs and device != "cpu":
            raise Unsupported(f"{self.name}'s factory takes no device argument, so it runs on the CPU only")
        if "dtype" not in kwargs and dtype != self.dtypes[0]:
            raise Unsupported(f"{self.name}'s factory takes no dtype argument, so it runs in {self.dtypes[0]} only")
        try:
            calc = factory(**kwargs)
        except SystemExit as exc:  # a plug-in must not end mdperf (and with it the measurement) silently
            raise RuntimeError(f"{self.name}'s factory called sys.exit({exc.code!r})") from None
        if not isinstance(calc, Calculator):
            raise TypeError(f"{self.name}: factory returned {type(calc).__name__}, not an ASE Calculator")
        return calc


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


_TORCH = dict(requires=("torch", "vesin"), devices=("cpu", "cuda"), dtypes=("float64", "float32"))

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


def _import_spec(spec: str) -> Callable[..., Calculator]:
    if not _SPEC.match(spec):
        raise UserError(f"malformed calculator spec {spec!r}; expected package.module:function")
    module_name, func_name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or any error the package raises while importing
        raise FactoryError(f"cannot import {module_name!r} for calculator spec {spec!r}: "
                           f"{type(exc).__name__}: {exc}") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise FactoryError(f"{module_name!r} has no callable {func_name!r} (calculator spec {spec!r})")
    return func


def supports(factory: Callable[..., Calculator]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(devices, dtypes) a plug-in factory can be asked for: without a ``device`` argument it runs on the CPU
    only, without a ``dtype`` argument in float64 only."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    anything = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    devices = ("cpu", "cuda") if anything or "device" in params else ("cpu",)
    dtypes = ("float64", "float32") if anything or "dtype" in params else ("float64",)
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


def create(name: str, *, device: str = "cpu", dtype: str | None = None, system: System | None = None) -> Calculator:
    return resolve(name).create(device=device, dtype=dtype, system=system)
