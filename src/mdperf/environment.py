"""What a measurement ran on: package versions, CPU, GPU, driver, CUDA, and the measured repository's commit."""

from __future__ import annotations

import hashlib
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


def machine_facts() -> dict[str, str]:
    """What may vary between runs of one named machine and move every benchmark: CPU model and flags, kernel,
    OS image (a GitHub runner's image and version), GPU, driver and clocks.  Only the facts that could be read."""
    facts: dict[str, str] = {"cpu": cpu_model(), "kernel": platform.release()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):  # a digest: the list is long, only its changing matters
                facts["cpu_flags"] = hashlib.sha256(line.split(":", 1)[1].strip().encode()).hexdigest()[:12]
                break
    except OSError:
        pass
    if os.environ.get("ImageOS"):  # set on GitHub-hosted runners
        facts["runner_image"] = f"{os.environ['ImageOS']} {os.environ.get('ImageVersion', '')}".strip()
    else:
        try:
            for line in Path("/etc/os-release").read_text().splitlines():
                if line.startswith("PRETTY_NAME="):
                    facts["os_image"] = line.split("=", 1)[1].strip().strip('"')
        except OSError:
            pass
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            facts["gpu_driver"] = _str(pynvml.nvmlSystemGetDriverVersion())
            if pynvml.nvmlDeviceGetCount() > 0:
                h = pynvml.nvmlDeviceGetHandleByIndex(0)
                facts["gpu"] = _str(pynvml.nvmlDeviceGetName(h))
                for name, getter, clock in (("gpu_max_sm_clock_mhz", pynvml.nvmlDeviceGetMaxClockInfo, "SM"),
                                            ("gpu_app_sm_clock_mhz", pynvml.nvmlDeviceGetApplicationsClock, "SM"),
                                            ("gpu_app_mem_clock_mhz", pynvml.nvmlDeviceGetApplicationsClock, "MEM")):
                    try:
                        facts[name] = str(getter(h, getattr(pynvml, f"NVML_CLOCK_{clock}")))
                    except pynvml.NVMLError:  # not supported on this GPU: left out
                        pass
                try:
                    facts["gpu_power_limit_w"] = str(pynvml.nvmlDeviceGetPowerManagementLimit(h) // 1000)
                except pynvml.NVMLError:
                    pass
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no NVML, no driver: no GPU facts
        pass
    return facts


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
