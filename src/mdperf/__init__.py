"""mdperf: continuous performance tracking for molecular-dynamics calculators."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["measure", "Metric", "MeasureResult", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy so that `import mdperf.systems` (and `mdperf list`) does not pay for importing torch.
    if name == "measure":
        from .measurement import measure

        return measure
    if name in ("Metric", "MeasureResult"):
        from . import result

        return getattr(result, name)
    raise AttributeError(name)
