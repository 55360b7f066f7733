"""No series can break detection (hypothesis): any finite series of any length, constant, integer-valued,
with zeros, huge ranges, NaN gaps or negative values, returns changes without raising."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdperf.regressions import detect
from mdperf.regressions.detector import DetectorConfig

finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
values = st.one_of(
    st.lists(finite, max_size=80),
    st.lists(st.integers(min_value=0, max_value=10), max_size=80).map(lambda v: [float(x) for x in v]),
    st.lists(st.sampled_from([0.0, 1.0, 2.66, 6.79, 1e-300, 1e300]), max_size=80),
    st.lists(st.one_of(finite, st.just(float("nan"))), max_size=80),
    st.tuples(st.integers(1, 80), finite).map(lambda t: [t[1]] * t[0]),
)


def _check(v):
    changes = detect(v)
    n = len(v)
    for c in changes:
        assert 0 <= c.index < n and np.isfinite(v[c.index])
        assert c.kind in ("regression", "improvement", "transient") and c.state in ("confirmed", "suspected")
        assert np.isfinite(c.z)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_any_series_returns_without_raising(v):
    _check(v)


@settings(max_examples=100, deadline=None)
@given(st.lists(finite, min_size=4, max_size=60), st.booleans())
def test_any_series_either_direction_and_any_setting(v, higher):
    detect(v, higher_is_better=higher, config=DetectorConfig(window=3, local_window=2, scan=2, refine=0))
