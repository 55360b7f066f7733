"""asv benchmarks of this repository: mdperf's suite (mdperf.suite.benchmarks), its cases read from
[tool.mdperf.suite] in pyproject.toml.  Written by `mdperf init`; upgrading mdperf upgrades the suite."""

import os

os.environ.setdefault("MDPERF_PYPROJECT", os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                                                       "pyproject.toml"))
from mdperf.suite.benchmarks import *  # noqa: E402,F401,F403
