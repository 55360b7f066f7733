"""Host and GPU memory probes: process RSS (psutil), torch's CUDA allocator, and NVML device memory."""

from __future__ import annotations

import resource
import sys
from typing import Any

import psutil

MIB = 1024 * 1024


_PROCESS = psutil.Process()


def host_rss_mib() -> float:
    return _PROCESS.memory_info().rss / MIB


def host_peak_rss_mib() -> float:
    """Peak resident set size of this process's own address space since it started."""
    # Linux: VmHWM, not getrusage's ru_maxrss. The kernel carries ru_maxrss across exec, so a process started
    # from a large parent (asv's runner, a test runner, each case's own process) reports the parent's peak
    # when its own is smaller; VmHWM belongs to the address space that exec creates.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / MIB if sys.platform == "darwin" else peak / 1024


class NvmlProbe:
    """Used memory of one GPU as NVML sees it: every process and context, not just torch's allocator."""

    def __init__(self, index: int = 0) -> None:
        import pynvml

        self._nvml = pynvml
        pynvml.nvmlInit()
        self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)

    def used_mib(self) -> float:
        return self._nvml.nvmlDeviceGetMemoryInfo(self._handle).used / MIB

    def close(self) -> None:
        try:
            self._nvml.nvmlShutdown()
        except Exception:
            pass


def open_nvml(cuda_index: int = 0) -> tuple[NvmlProbe | None, str]:
    """An NVML probe, or None with the reason."""
    try:
        return NvmlProbe(cuda_index), ""
    except Exception as exc:
        return None, f"NVML unavailable: {type(exc).__name__}: {exc}"


def torch_cuda_stats() -> dict[str, Any]:
    import torch

    return {
        "allocated_mib": torch.cuda.memory_allocated() / MIB,
        "peak_allocated_mib": torch.cuda.max_memory_allocated() / MIB,
        "peak_reserved_mib": torch.cuda.max_memory_reserved() / MIB,
    }
