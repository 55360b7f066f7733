import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
# Helper calculators (tests/calcs_for_tests.py) are importable as `calcs_for_tests:...` specs, in-process and in
# the CLI subprocesses.
sys.path.insert(0, str(TESTS))
# The evaluation lab (benchmarks/eval: synthetic histories, scoring, asv result folders) is not installed.
sys.path.insert(0, str(TESTS.parent))
os.environ["PYTHONPATH"] = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)


def _cuda_reason() -> str:
    try:
        import torch
    except ImportError:
        return "torch not installed"
    return "" if torch.cuda.is_available() else "CUDA not available on this machine"


CUDA_REASON = _cuda_reason()
needs_cuda = pytest.mark.skipif(bool(CUDA_REASON), reason=CUDA_REASON or "CUDA present")



@pytest.fixture
def results(tmp_path):
    from histories import lat_series, make_repo
    from histories import write_asv_results as write_results

    repo, commits = make_repo(tmp_path, 40)
    measured = [c for i, c in enumerate(commits) if i not in (24, 25)]  # two commits never measured
    v = lat_series(40, step_at=26)
    ok = lat_series(40, seed=9)
    values = [[float(v[i]), float(ok[i])] for i in range(40) if i not in (24, 25)]
    rdir = tmp_path / "results"
    write_results(rdir, "runner-a", measured, {
        "md.Latency.track_latency_p50_ms": dict(params=[["'torch-lj'", "'emt'"]], param_names=["calculator"],
                                                unit="ms", values=values),
        "md.Latency.track_steps_per_s": dict(params=[], param_names=[], unit="steps/s",
                                             values=[1000 / float(v[i]) for i in range(40) if i not in (24, 25)]),
    })
    return repo, commits, rdir
