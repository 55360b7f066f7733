import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
# Helper calculators (tests/calcs_for_tests.py) are importable as `calcs_for_tests:...` specs, in-process and in
# the CLI subprocesses.
sys.path.insert(0, str(TESTS))
os.environ["PYTHONPATH"] = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)


def _cuda_reason() -> str:
    try:
        import torch
    except ImportError:
        return "torch not installed"
    return "" if torch.cuda.is_available() else "CUDA not available on this machine"


CUDA_REASON = _cuda_reason()
needs_cuda = pytest.mark.skipif(bool(CUDA_REASON), reason=CUDA_REASON or "CUDA present")
