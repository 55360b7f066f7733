"""The timed loop's recorder: each step's wall time (synchronised with the device on CUDA), the host RSS and GPU
memory sampled as it runs, and the energy at its interval, where a blow-up is caught."""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
from ase import units

from . import memory


class BlowUp(RuntimeError):
    def __init__(self, step: int, kind: str, message: str) -> None:
        super().__init__(f"blow-up at step {step}: {message}")
        self.step, self.kind, self.message = step, kind, message


def _sync(gpu: bool) -> None:
    if gpu:
        import torch

        torch.cuda.synchronize()


class StepRecorder:
    """The ASE observer of the timed window: a clock read per step, a NaN check, and every ``energy_interval``
    steps one energy sample with the blow-up checks.  Kept this small so that timing does not slow the run."""

    def __init__(self, structure, calc, steps: int, *, energy_interval: int, nve: bool, blowup_ev_per_atom: float,
                 temperature_limit_k: float, progress: Callable[[int, int], None] | None = None,
                 synchronize: Callable[[], None] | None = None,
                 gpu_allocated_mib: Callable[[], float] | None = None) -> None:
        self.structure, self.calc, self.steps = structure, calc, steps
        self.gpu_allocated_mib = gpu_allocated_mib  # on CUDA: sampled with the RSS (no device synchronisation)
        self.gpu: list[float] = []
        self.energy_interval, self.nve = energy_interval, nve
        self.blowup_ev_per_atom, self.temperature_limit_k = blowup_ev_per_atom, temperature_limit_k
        self.progress, self.synchronize = progress, synchronize
        self.n_atoms = len(structure)
        self.stamps = np.full(steps + 1, np.nan)
        n_energy = steps // energy_interval + 1
        self.e_steps = np.zeros(n_energy, dtype=int)
        self.e_total = np.full(n_energy, np.nan)
        self.rss_every = max(1, steps // 20)
        self.rss: list[float] = []
        self.progress_every = max(1, steps // 200)
        self.k = 0
        self._reference: tuple[float, float] | None = None

    def sample(self, k: int) -> None:
        epot = float(self.calc.results["energy"]) / self.n_atoms
        ekin = self.structure.get_kinetic_energy() / self.n_atoms
        idx = k // self.energy_interval
        self.e_steps[idx], self.e_total[idx] = k, epot + ekin
        if self._reference is None:
            self._reference = (epot + ekin, epot)
        # Total energy is conserved only under NVE; elsewhere a jump of the potential energy is the sign.
        jump = abs(epot + ekin - self._reference[0]) if self.nve else abs(epot - self._reference[1])
        if jump > self.blowup_ev_per_atom:
            raise BlowUp(k, "energy-jump", f"energy moved {jump:.3g} eV/atom (limit {self.blowup_ev_per_atom})")
        temperature = 2 * ekin / (3 * units.kB)
        if temperature > self.temperature_limit_k:
            raise BlowUp(k, "temperature", f"temperature {temperature:.0f} K (limit {self.temperature_limit_k:.0f} K)")

    def start(self) -> None:
        """Stamp step 0 (ASE calls observers before the first step only when no step has run yet)."""
        self.stamps[0] = time.perf_counter()
        self.sample(0)
        self.rss.append(memory.host_rss_mib())
        if self.gpu_allocated_mib is not None:
            self.gpu.append(self.gpu_allocated_mib())

    def __call__(self) -> None:
        if self.synchronize is not None:
            self.synchronize()
        stamp = time.perf_counter()
        self.k = k = self.k + 1
        self.stamps[k] = stamp
        energy = self.calc.results.get("energy")
        if energy is None or energy != energy or energy in (math.inf, -math.inf):
            raise BlowUp(k, "nan", f"energy is {energy}")
        if k % self.energy_interval == 0:
            self.sample(k)
        if k % self.rss_every == 0:
            self.rss.append(memory.host_rss_mib())
            if self.gpu_allocated_mib is not None:
                self.gpu.append(self.gpu_allocated_mib())
        if self.progress is not None and k % self.progress_every == 0:
            self.progress(k, self.steps)
