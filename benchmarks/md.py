"""asv benchmarks of this repository: mdperf's suite (mdperf.suite.benchmarks), its cases read from
[tool.mdperf.suite] in pyproject.toml.  Written by `mdperf init`; upgrading mdperf upgrades the suite."""

import os

_HERE = os.path.dirname(os.path.abspath(__file__))
os.environ.setdefault("MDPERF_PYPROJECT", os.path.join(_HERE, os.pardir, "pyproject.toml"))
os.environ.setdefault("MDPERF_SUITE_DIR", _HERE)  # its modules (a factory written for mdperf) import everywhere
from mdperf.suite.benchmarks import *  # noqa: E402,F401,F403
