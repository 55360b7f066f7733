"""Regressions and improvements, commit by commit, over asv results.

The pipeline (:mod:`.analysis`), its records (:mod:`.model`), the change-point detector of one series
(:mod:`.detector`), its settings (:mod:`.config`) and the report's formats (:mod:`.report`).
"""

from .analysis import analyse, analyse_results
from .config import RegressionConfig
from .detector import Change, DetectorConfig, detect
from .model import Flag, Report, graph_link

__all__ = ["analyse", "analyse_results", "Change", "DetectorConfig", "detect", "Flag", "graph_link",
           "RegressionConfig", "Report"]
