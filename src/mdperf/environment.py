"""What a measurement ran on: package versions, CPU, GPU, driver, CUDA, and the measured repository's commit."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

from . import git


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_info() -> dict[str, Any]:
    """GPU name, driver and CUDA versions from NVML and torch; empty values with a reason when there is none."""
    info: dict[str, Any] = {"gpu_name": None, "gpu_driver": None, "cuda_version": None, "gpu_reason": ""}
    try:
        import torch

        info["cuda_version"] = torch.version.cuda
        if torch.cuda.is_available():
            info["gpu_name"] = torch.cuda.get_device_name(0)
        else:
            info["gpu_reason"] = "CUDA not available to torch"
    except ImportError:
        info["gpu_reason"] = "torch not installed"
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            info["gpu_driver"] = _str(pynvml.nvmlSystemGetDriverVersion())
            if info["gpu_name"] is None and pynvml.nvmlDeviceGetCount() > 0:
                info["gpu_name"] = _str(pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(0)))
        finally:
            pynvml.nvmlShutdown()
    except Exception as exc:  # no driver, no library: NVML says so with an exception
        info["gpu_reason"] = info["gpu_reason"] or f"NVML unavailable: {type(exc).__name__}"
    return info


def _str(x: Any) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


def git_state(path: str | Path = ".") -> dict[str, Any]:
    """Commit and dirty flag of the git repository containing ``path`` (None outside a repository)."""
    commit, dirty = git.head_state(path)
    return {"git_commit": commit, "git_dirty": dirty}


def collect(repo: str | Path = ".") -> dict[str, Any]:
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
    }
    for dist in ("mdperf", "ase", "torch", "numpy", "vesin", "nvidia-ml-py"):
        env[f"{dist}_version"] = _version(dist)
    # torch's CUDA allocator settings change the reserved and NVML figures many-fold (docs/results/gpu.md).
    env["pytorch_cuda_alloc_conf"] = os.environ.get("PYTORCH_CUDA_ALLOC_CONF", "")
    env.update(gpu_info())
    env.update(git_state(repo))
    return env
