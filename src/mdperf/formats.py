"""How numbers and text are written for a person, in one place: the figures of a table, a line cut to a width,
the output formats a report offers."""

from __future__ import annotations

FORMATS = ("table", "markdown", "json")  # of `mdperf regressions` and `mdperf confirm`


def number(value: float | None) -> str:
    """A figure in a table: three decimals below 100, one above, exponent notation far from 1; — for none."""
    if value is None:
        return "—"
    if value == 0 or 0.01 <= abs(value) < 1e5:
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    return f"{value:.3g}"


def ratio(a: float | None, b: float | None) -> str:
    """``a / b`` as ``1.23×``; — when either is missing or ``b`` is 0."""
    return f"{a / b:.2f}×" if a is not None and b not in (None, 0) else "—"


def shorten(text: str, most: int) -> str:
    """At most ``most`` characters, cut at a character (never inside one) with an ellipsis."""
    return text if len(text) <= most else text[: most - 1] + "…"
