"""Energy conservation under NVE: drift, spread and worst deviation of the total energy per atom."""

from __future__ import annotations

import numpy as np
from scipy import stats


def energy_drift(times_ps: np.ndarray, total_ev_per_atom: np.ndarray) -> dict[str, float]:
    """``drift_mev_per_atom_ps``: |slope| of a least-squares line through E(t)/N against t;
    ``energy_std_mev_per_atom`` and ``energy_max_dev_mev_per_atom`` (max |E(t) - E(0)| / N)."""
    t = np.asarray(times_ps, dtype=float)
    e_mev = np.asarray(total_ev_per_atom, dtype=float) * 1e3
    if t.size < 3:
        raise ValueError(f"need at least 3 energy samples for a drift fit, got {t.size}")
    fit = stats.linregress(t, e_mev)
    return {
        "drift_mev_per_atom_ps": abs(float(fit.slope)),
        "drift_stderr_mev_per_atom_ps": float(fit.stderr),
        "energy_std_mev_per_atom": float(e_mev.std(ddof=1)),
        "energy_max_dev_mev_per_atom": float(np.max(np.abs(e_mev - e_mev[0]))),
    }
