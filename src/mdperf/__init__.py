"""mdperf: continuous performance tracking for molecular-dynamics calculators."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["Case", "describe_case", "measure", "measure_case", "Metric", "MeasureResult", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy so that `import mdperf.systems` (and `mdperf list`) does not pay for importing torch.
    if name in ("Case", "describe_case", "measure", "measure_case"):
        from . import measurement

        return getattr(measurement, name)
    if name in ("Metric", "MeasureResult"):
        from . import result

        return getattr(result, name)
    raise AttributeError(name)
