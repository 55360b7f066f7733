"""Figures of measurements, with matplotlib's non-interactive backend (the ``plot`` extra): what people who
benchmark MD calculators look at.

* :func:`case_figure` — one case: latency histogram (median, P95, P99 marked), step latency against step,
  total energy per atom against time with the fitted drift line, host RSS (and GPU memory where sampled)
  against step.
* :func:`overlay_figure` — several cases (``mdperf compare``): their latency histograms on one axis.
* :func:`trend_figure` — one series of the regression report around a change: the commits, the change point and
  the levels before and after (the site's changes page).
* :func:`parity_figure` — a calculator's forces against the reference's on the same frames (``compare
  --agreement --plot``, the site's accuracy section).
* :func:`scaling_figure` — time per step against atom count, log-log, with the fitted slope.

Every function writes PNG and SVG and returns the paths.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .result import MeasureResult

FORMATS = ("png", "svg")


def available() -> bool:
    """Whether figures can be drawn here (matplotlib, the plot extra, is installed)."""
    try:
        _pyplot()
    except Exception:
        return False
    return True


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        from .errors import UserError

        raise UserError("figures need matplotlib: pip install 'mdperf[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out_dir: Path, stem: str, formats: Sequence[str] = FORMATS) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        p = out_dir / f"{stem}.{fmt}"
        fig.savefig(p, dpi=110, bbox_inches="tight")
        p.chmod(0o644)
        paths.append(p)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return paths


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


def case_stem(r: MeasureResult) -> str:
    c = r.case
    return slug(f"{c.get('calculator')}-{c.get('system')}-{c.get('atoms')}-{c.get('device')}")


def _title(r: MeasureResult) -> str:
    c = r.case
    return (f"{c.get('calculator')} on {c.get('system')} ({c.get('atoms')} atoms), {c.get('protocol')}, "
            f"{c.get('device')}/{c.get('dtype')}")


def _marks(ax: Any, r: MeasureResult) -> None:
    for name, style in (("latency_median_ms", "-"), ("latency_p95_ms", "--"), ("latency_p99_ms", ":")):
        v = r.value(name)
        if v is not None:
            ax.axvline(v, color="k", linestyle=style, linewidth=1,
                       label=f"{name.split('_')[1]} {v:.3g} ms")


def _finish(ax: Any, xlabel: str, ylabel: str, title: str, empty: str) -> None:
    """Labels and legend of a panel that has lines; else the panel says what is missing."""
    if ax.lines:
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title, fontsize=10)


def case_figure(r: MeasureResult, out_dir: str | Path) -> list[Path]:
    """The four panels of one case; a panel without samples says so."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    lat = np.asarray(r.samples.get("latency_ms", []), dtype=float)
    ax = axes[0, 0]
    if lat.size:
        ax.hist(lat, bins=min(60, max(10, lat.size // 10)), color="#4c72b0", alpha=0.85)
        _marks(ax, r)
        ax.set_xlabel("step latency (ms)")
        ax.set_ylabel("steps")
        ax.legend(fontsize=8)
    ax.set_title("latency distribution", fontsize=10)
    ax = axes[0, 1]
    if lat.size:
        ax.plot(np.arange(1, lat.size + 1), lat, linewidth=0.6, color="#4c72b0")
        ax.set_xlabel("timed step")
        ax.set_ylabel("latency (ms)")
    ax.set_title("latency against step (stalls, recompiles)", fontsize=10)
    ax = axes[1, 0]
    t = np.asarray(r.samples.get("energy_time_ps", []), dtype=float)
    e = np.asarray(r.samples.get("energy_total_ev_per_atom", []), dtype=float)
    if t.size >= 2 and t.size == e.size:
        e_mev = (e - e[0]) * 1e3
        ax.plot(t, e_mev, ".-", markersize=3, linewidth=0.8, color="#55a868", label="E(t) - E(0)")
        slope, icpt = np.polyfit(t, e_mev, 1)
        drift = r.value("drift_mev_per_atom_ps")
        label = f"drift {drift:.3g} meV/atom/ps" if drift is not None else f"fit {slope:.3g} meV/atom/ps"
        ax.plot(t, icpt + slope * t, "k--", linewidth=1, label=label)
    _finish(ax, "time (ps)", "total energy (meV/atom)", "energy conservation", "no energy samples")
    ax = axes[1, 1]
    steps = int(r.case.get("steps") or 0)
    for key, label, color in (("host_rss_mib", "host RSS", "#c44e52"), ("gpu_allocated_mib", "GPU allocated", "#8172b2")):
        y = np.asarray(r.samples.get(key, []), dtype=float)
        if y.size:
            ax.plot(np.linspace(0, steps, y.size), y, linewidth=1, color=color, label=label)
    _finish(ax, "timed step", "MiB", "memory against step", "no memory samples")
    fig.suptitle(_title(r) + (f" — {r.status}: {r.reason}" if r.status != "ok" else ""), fontsize=11)
    fig.tight_layout()
    return _save(fig, Path(out_dir), case_stem(r))


def overlay_figure(results: Sequence[MeasureResult], out_dir: str | Path, stem: str = "compare-latency",
                   agreement: dict[str, Any] | None = None) -> list[Path]:
    """The cases' latency histograms on one log-scaled axis, each with its median marked; with ``agreement``
    (calculator -> errors against the first), each label says its force error too."""
    agreement = agreement or {}
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for r in results:
        lat = np.asarray(r.samples.get("latency_ms", []), dtype=float)
        lat = lat[lat > 0]
        if not lat.size:
            continue
        bins = np.geomspace(lat.min(), lat.max() * 1.0001, 50)
        calc = r.case.get("calculator")
        label = f"{calc} (median {np.median(lat):.3g} ms"
        a = agreement.get(str(calc))
        if isinstance(a, dict):
            label += f", force MAE {a['force_mae_mev_per_a']:.3g} meV/Å vs {results[0].case.get('calculator')}"
        line = ax.hist(lat, bins=bins, histtype="step", linewidth=1.5, label=label + ")")[2][0]
        ax.axvline(float(np.median(lat)), color=line.get_edgecolor(), linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("step latency (ms)")
    ax.set_ylabel("steps")
    if results:
        c = results[0].case
        ax.set_title(f"{c.get('system')}, {c.get('atoms')} atoms, {c.get('device')}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, Path(out_dir), stem)


def trend_figure(values: Sequence[float], change_at: int, before: float, after: float, out_dir: str | Path,
                 stem: str, unit: str = "", title: str = "", formats: Sequence[str] = FORMATS, start: int = 0,
                 end: int | None = None, noisy: Sequence[bool] | None = None) -> list[Path]:
    """A small picture of one series around a flagged change: points, the change point, both levels (the old
    one from ``start``, the new one to ``end``: the neighbouring changes).  ``noisy``: per point, measured on a
    busy machine (the guard's mark), drawn as hollow orange rings."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 1.9))
    x = np.arange(len(values)) - change_at
    ax.plot(x, values, ".-", color="#4c72b0", markersize=4, linewidth=0.8)
    if noisy is not None and any(noisy):
        mask = np.asarray(noisy, dtype=bool)[: len(values)]
        ax.plot(x[: mask.size][mask], np.asarray(values, dtype=float)[: mask.size][mask], "o", markersize=6,
                markerfacecolor="none", markeredgecolor="#dd8452", label="busy machine")
        ax.legend(fontsize=6, loc="best")
    ax.axvline(-0.5, color="#c44e52", linewidth=1.2)
    end = len(values) if end is None else end
    ax.hlines(before, x[min(start, len(x) - 1)], -0.5, colors="k", linestyles="--", linewidth=1)
    ax.hlines(after, -0.5, x[max(0, min(end, len(x)) - 1)], colors="k", linestyles="--", linewidth=1)
    ax.set_xlabel("commits from the change", fontsize=7)
    ax.set_ylabel(unit, fontsize=7)
    ax.tick_params(labelsize=6)
    if title:
        ax.set_title(title, fontsize=7)
    fig.tight_layout()
    return _save(fig, Path(out_dir), stem, formats)


def parity_figure(reference: Sequence[float], predicted: Sequence[float], out_dir: str | Path, stem: str,
                  title: str = "", unit: str = "eV/Å", formats: Sequence[str] = FORMATS) -> list[Path]:
    """Predicted against reference force components on the same frames, with the diagonal and the MAE and max
    error in meV/Å: a student that drifted from its teacher shows as a band off the line."""
    plt = _pyplot()
    ref, pred = np.asarray(reference, dtype=float), np.asarray(predicted, dtype=float)
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    ax.plot(ref, pred, ".", markersize=2, alpha=0.5, color="#4c72b0")
    if ref.size:
        lim = [float(min(ref.min(), pred.min())), float(max(ref.max(), pred.max()))]
        ax.plot(lim, lim, "-", color="#c44e52", linewidth=0.8)
        err = np.abs(pred - ref) * 1e3
        ax.text(0.03, 0.97, f"MAE {err.mean():.3g} meV/Å\nmax {err.max():.3g} meV/Å\n{ref.size} components",
                transform=ax.transAxes, va="top", fontsize=7)
    ax.set_xlabel(f"reference force ({unit})", fontsize=8)
    ax.set_ylabel(f"predicted force ({unit})", fontsize=8)
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return _save(fig, Path(out_dir), stem, formats)


def scaling_figure(rows: Sequence[dict[str, Any]], out_dir: str | Path, stem: str = "scaling") -> list[Path]:
    """Time per step against atoms, log-log: a line per calculator and device with its fitted slope; error bars
    from the per-step spread (interquartile range)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("latency_median_ms"):
            groups.setdefault((row["calculator"], row["device"], row.get("threads") or 0), []).append(row)
    for (calc, device, threads), pts in sorted(groups.items()):
        pts = sorted(pts, key=lambda r: r["atoms"])
        n = np.array([p["atoms"] for p in pts], dtype=float)
        y = np.array([p["latency_median_ms"] for p in pts], dtype=float)
        lo = y - np.array([p["latency_q25_ms"] for p in pts], dtype=float)
        hi = np.array([p["latency_q75_ms"] for p in pts], dtype=float) - y
        slope = fit_slope(n, y)
        label = f"{calc} ({device}{f', {threads} thr' if threads else ''})" + (f", slope {slope:.2f}" if slope is not None else "")
        ax.errorbar(n, y, yerr=[np.maximum(lo, 0), np.maximum(hi, 0)], marker="o", capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("atoms")
    ax.set_ylabel("time per MD step (ms, median)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return _save(fig, Path(out_dir), stem)


def fit_slope(atoms: np.ndarray, ms: np.ndarray) -> float | None:
    """The exponent of time ~ atoms^k, least squares on log-log; None with fewer than two sizes."""
    ok = (atoms > 0) & (ms > 0)
    if ok.sum() < 2:
        return None
    return float(np.polyfit(np.log(atoms[ok]), np.log(ms[ok]), 1)[0])
