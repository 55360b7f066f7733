"""Machine identity for asv: GPU model, driver, CUDA and torch go into the machine's name and information, so
results from different GPUs or drivers are separate series and never plotted or compared as one."""

from __future__ import annotations

import os
import platform
import re
from typing import Any

import psutil

from . import environment


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


def identity(torch_requirement: str) -> dict[str, Any]:
    """asv's machine fields plus mdperf's: gpu, gpu_driver, cuda, torch."""
    gpu = environment.gpu_info()
    return {
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "cpu": environment.cpu_model(),
        "num_cpu": str(os.cpu_count()),
        "ram": f"{psutil.virtual_memory().total // 1024**3}GB",
        "gpu": gpu["gpu_name"] or "none",
        "gpu_driver": gpu["gpu_driver"] or "none",
        "cuda": gpu["cuda_version"] or "none",
        "torch": torch_requirement,
    }


def default_name(ident: dict[str, Any]) -> str:
    """``host-cpu`` without a GPU; ``host-<gpu>-drv<driver>-cuda<version>`` with one."""
    host = _slug(platform.node() or "host")
    if ident["gpu"] == "none":
        return f"{host}-cpu"
    return f"{host}-{_slug(ident['gpu'])}-drv{ident['gpu_driver']}-cuda{ident['cuda']}"


_NAME = re.compile(r"[A-Za-z0-9._-]+")


def name_for(given: str | None, torch_requirement: str) -> str:
    """The machine name a command uses: the one given (checked: it names a results folder), else this machine's
    default.  An empty name is bad input, never read as "the default"."""
    name = default_name(identity(torch_requirement)) if given is None else given
    if not _NAME.fullmatch(name) or name in (".", ".."):
        from .errors import UserError

        raise UserError(f"invalid machine name {name!r}: letters, digits, '.', '_' and '-' only")
    return name


def register(name: str, ident: dict[str, Any]) -> None:
    """Write the machine into asv's machine file (~/.asv-machine.json) so `asv run --machine name` uses it."""
    from asv.machine import MachineCollection

    MachineCollection.save(name, {"machine": name, **ident})
