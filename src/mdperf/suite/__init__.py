"""mdperf's asv benchmark suite: its cases from configuration (:mod:`.config`); the benchmark classes
(:mod:`.benchmarks`) are imported by the measured repository's thin ``benchmarks/md.py``, not from here."""

from .config import DEFAULT_PROFILE, PROFILE_ENV, PYPROJECT_ENV, SuiteConfig, from_table, load, read_table

__all__ = ["DEFAULT_PROFILE", "PROFILE_ENV", "PYPROJECT_ENV", "SuiteConfig", "from_table", "load", "read_table"]
