"""Calculators that misbehave on purpose, loaded by spec (``calcs_for_tests:NAME``)."""

import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.lj import LennardJones


class _Broken(Calculator):
    implemented_properties = ["energy", "forces"]

    def __init__(self, mode: str, after: int = 0):
        super().__init__()
        self.mode, self.after, self.calls = mode, after, 0
        self.inner = LennardJones(epsilon=0.0104, sigma=3.405, rc=8.5)

    def calculate(self, atoms=None, properties=None, system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.calls += 1
        self.inner.calculate(self.atoms, ["energy", "forces"], system_changes)
        self.results = {"energy": self.inner.results["energy"], "forces": self.inner.results["forces"].copy()}
        if self.calls > self.after:
            if self.mode == "raise":
                raise RuntimeError("model exploded on purpose")
            if self.mode == "nan":
                self.results["energy"] = float("nan")
                self.results["forces"][:] = np.nan
            if self.mode == "wrong-sign":
                self.results["forces"] = -self.results["forces"]
            if self.mode == "hang":
                import time

                time.sleep(3600)
            if self.mode == "sleep":
                import time

                time.sleep(0.02)
            if self.mode == "exit":
                import sys

                sys.exit(0)


def sleeps_20ms():
    """A calculator whose every force call takes at least 20 ms: a step the timer cannot miss."""
    return _Broken("sleep")


def raising():
    return _Broken("raise", after=5)


def nan_after_10():
    return _Broken("nan", after=10)


def wrong_sign():
    return _Broken("wrong-sign")


def cpu_lj():
    """A user calculator with no device or dtype argument."""
    return LennardJones(epsilon=0.0104, sigma=3.405, rc=8.5)


def not_a_calculator():
    return object()


_HELD = []


def memory_hog():
    """LennardJones that first takes 1 GiB of host memory and keeps it for the life of the process."""
    block = np.ones(2**27)  # 2**27 float64 = 1 GiB, written so that it is resident
    _HELD.append(block)
    return cpu_lj()


def crash_process():
    """Ends its whole process at creation, as a segfault or the OOM killer would; in the process named by
    MDPERF_TEST_NO_CRASH_PID (the test runner itself) it raises instead, so a test fails rather than dies."""
    import os

    if os.environ.get("MDPERF_TEST_NO_CRASH_PID") == str(os.getpid()):
        raise RuntimeError("would have ended the test runner's own process")
    os._exit(3)


def hang_after_5():
    """Hangs in the timed steps (a deadlock in a model's kernel)."""
    return _Broken("hang", after=5)


def exit_in_calculate():
    """Calls sys.exit(0) from calculate(): the run must not read as a success."""
    return _Broken("exit", after=5)


def chatty():
    """Prints while it loads and at every step, as research code does."""
    import os

    print("loading my model ...", flush=True)
    os.write(1, b"a C library says hello\n")
    return cpu_lj()


def slow_load():
    """A model that takes a minute to load (weights from a slow disk). With MDPERF_TEST_LOADING set, it first
    writes that file, so a test knows the load has begun."""
    import os
    import time

    if os.environ.get("MDPERF_TEST_LOADING"):
        open(os.environ["MDPERF_TEST_LOADING"], "w").close()
    time.sleep(60)
    return cpu_lj()


def nan_always():
    """NaN energy and forces from the first call: its accuracy cannot be a number."""
    return _Broken("nan")
