"""Environment events: a run (one machine, one sitting of asv) that moved many series together, or on which
the machine itself changed (CPU, kernel, runner image, GPU driver or clocks, as mdperf recorded them).

Each machine's runs are read in the order they ran.  For every series measured in a run, its deviation is
the log of its value against its own level (the median of its last ``window`` points, net of the events
before).  A run is an event when enough series were measured, the median deviation is large, most series
moved with it, and the median stands far outside its own standard error; or when the recorded machine facts
changed.  An event undone within ``lasted_max`` runs is one event that lasted that long.  A shift that stayed
with no recorded change of the machine is *undecided* until ``mdperf confirm`` re-measures it (the code's or the
machine's): the history alone cannot tell one commit that slowed everything from a slower machine.

Machines do not slow every benchmark alike, and a machine that flips between a fast and a slow state
has no one level to net out; so the series are judged as measured, and a series' change that coincides with an
event (at its run, or between the series' two measured points around it) is the event's, counted there, unless
the series' own move in that run stands more than ``stand_out`` of the event's spreads from the shared shift.
The method and its evidence: docs/design/events.md.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..history import History


@dataclass(frozen=True)
class EventConfig:
    min_series: int = 10  # series measured in the run, at least
    min_share: float = 0.6  # share of them that moved with the shift, at least
    min_rel: float = 0.02  # the shared shift, at least (relative)
    z: float = 5.0  # the shared shift against its standard error across series, at least
    stand_out: float = 3.0  # a series' own change at an event counts when this many spreads from the shift
    window: int = 5  # a series' level before a run: the median of its last this-many points
    lasted_max: int = 3  # an event undone within this many runs is reported once, with how long it lasted


@dataclass
class Event:
    machine: str
    run: int  # index into History.runs[machine]
    started: str | None  # when the run began (UTC)
    commits: list[str]
    shift_pct: float  # the median series' change in that run
    spread_pct: float  # how far the series scattered around it (robust standard deviation)
    series: int  # series measured in the run
    moved: int  # of which moved with the shift
    lasted: int | None = None  # runs it lasted before the machine came back; None: it stayed
    back_run: int | None = field(default=None, repr=False)  # the run where it came back
    facts: str = ""  # what changed in the machine, as mdperf recorded it ("" when nothing recorded changed)
    absorbed: int = 0  # per-series changes that moved with it (not reported as regressions or improvements)
    env: str = ""  # one asv environment of the machine (rebuilt, a new interpreter); "": the whole machine
    facts_known: bool = False  # mdperf recorded the machine's facts at this run and the one before
    devs: dict[str, float] = field(default_factory=dict, repr=False)  # series key -> its log deviation
    back_devs: dict[str, float] = field(default_factory=dict, repr=False)  # ... in the run it came back
    decided: str = ""  # mdperf confirm's re-measurement of the shift: "code", "machine" or "" (none)
    sigmas: dict[str, float] = field(default_factory=dict, repr=False)  # series key -> its own log noise

    @property
    def log_shift(self) -> float:
        return float(np.log1p(self.shift_pct / 100))

    @property
    def absorbs(self) -> bool:
        """Whether the series' changes in its run are the event's: the machine changed (as recorded), it came
        back within ``lasted_max`` runs (a slow night), or a re-measurement found no change in the code."""
        if self.decided:
            return self.decided == "machine"
        return bool(self.facts) or self.lasted is not None

    @property
    def undecided(self) -> bool:
        """A shift that stayed, with no recorded change of the machine and no re-measurement: the history cannot
        tell the code from the machine (one commit that slows every series of a one-calculator suite looks like
        this), so it is reported, not absorbed.  Where mdperf recorded the machine and it was the same, the
        shift is the code's."""
        return not self.absorbs and not self.decided and not self.facts_known

    @property
    def log_spread(self) -> float:
        return float(np.log1p(self.spread_pct / 100))

    def to_dict(self) -> dict[str, Any]:
        return {"machine": self.machine, "env": self.env or None, "started": self.started, "commits": self.commits,
                "shift_pct": self.shift_pct, "spread_pct": self.spread_pct, "series": self.series,
                "moved": self.moved, "lasted_runs": self.lasted, "machine_changed": self.facts,
                "absorbed_changes": self.absorbed, "absorbs": self.absorbs, "undecided": self.undecided,
                "decided": self.decided or None}


@dataclass
class Environment:
    """The events found, by machine and run."""

    events: list[Event]
    config: EventConfig = field(default_factory=EventConfig)

    def __post_init__(self) -> None:
        self._at: dict[tuple[str, str, int], tuple[Event, dict[str, float]]] = {}
        for e in self.events:
            self._at[(e.machine, e.env, e.run)] = (e, e.devs)
            if e.back_run is not None:
                self._at[(e.machine, e.env, e.back_run)] = (e, e.back_devs)

    def event_at(self, machine: str, env: str, run: int) -> Event | None:
        """The event of the machine, or else of its environment ``env``, whose run (or the run it came back) is
        ``run``."""
        hit = self._at.get((machine, "", run)) or self._at.get((machine, env, run))
        return hit[0] if hit else None

    def stands_out(self, key: str, e: Event, run: int) -> bool:
        """Whether the series moved in the event's run unlike the machine, far from the shared shift.  Not when
        the machine itself changed (code and machine cannot be told apart there) or the series has no
        deviation in that run (too new, or not measured in it)."""
        devs = e.devs if run == e.run else e.back_devs
        if e.facts or key not in devs:
            return False
        shift = e.log_shift if run == e.run else -e.log_shift
        floor = float(np.log1p(self.config.min_rel)) / 2
        # A series noisier than most scatters further from the shared shift by its own noise alone: judged
        # against that (its deviation's spread: its noise, and that of the level of `window` points).
        own = e.sigmas.get(key, 0.0) * float(np.sqrt(1 + 1.5 / self.config.window))
        return abs(devs[key] - shift) > self.config.stand_out * max(e.log_spread, floor, own)


def _median(x: np.ndarray) -> float:
    """np.median of a non-empty 1-D array, without its ~40 µs of overhead (twice per run of every history)."""
    lo, hi = (x.size - 1) // 2, x.size // 2
    p = np.partition(x, (lo, hi))
    return 0.5 * float(p[lo] + p[hi])


def _mad_sigma(x: np.ndarray) -> float:
    return 1.4826 * _median(np.abs(x - _median(x))) if x.size else 0.0


def _row_medians(x: np.ndarray) -> np.ndarray:
    """Each row's median, NaN left out (every row has a value): np.nanmedian's result without its masked-array
    path, which cost ~1 ms a call and, once per run, made the events' reading grow with runs x its overhead."""
    if not x.size:
        return np.empty(0)
    srt = np.sort(x, axis=1)  # NaN last
    k = np.sum(~np.isnan(srt), axis=1)
    rows = np.arange(len(srt))
    return 0.5 * (srt[rows, (k - 1) // 2] + srt[rows, k // 2])


def _facts_change(before: dict[str, str], now: dict[str, str]) -> str:
    changed = [f"{k}: {before[k]} -> {now[k]}" for k in sorted(set(before) & set(now)) if before[k] != now[k]]
    return "; ".join(changed)


def _iso(ms: float | None) -> str | None:
    if ms is None:
        return None
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")


def find(history: History, config: EventConfig | None = None) -> Environment:
    config = config or EventConfig()
    found: list[Event] = []
    for machine in history.runs:
        whole = _machine_events(history, machine, "", config)
        found.extend(whole)
        taken = {e.run for e in whole} | {e.back_run for e in whole}
        for env in sorted({s.env for s in history.series if s.machine == machine}):
            found.extend(e for e in _machine_events(history, machine, env, config) if e.run not in taken)
    return Environment(found, config)


def _machine_events(history: History, machine: str, env: str, config: EventConfig) -> list[Event]:
    """The events of one machine (``env`` ""), or of one of its environments: the same reading, on fewer series."""
    runs = history.runs[machine]
    n_runs = len(runs)
    members = [s for s in history.series if s.machine == machine and env in ("", s.env)]
    # One value per run and series (the mean log of its points there; NaN where it has none), read run by run
    # with every series at once.
    table = np.full((n_runs, len(members)), np.nan)
    for j, s in enumerate(members):
        where = np.asarray(s.runs, dtype=int)
        y = np.log(np.maximum(np.asarray(s.values, dtype=float), 1e-300))
        total = np.bincount(where, weights=y, minlength=n_runs)
        count = np.bincount(where, minlength=n_runs)
        has = count > 0
        table[has, j] = total[has] / count[has]
    # Each series' own noise: the robust spread of its run-to-run differences (a few steps barely move it).
    own = np.zeros(len(members))
    for j in range(len(members)):
        col = table[:, j]
        d = np.diff(col[~np.isnan(col)])
        own[j] = _mad_sigma(d) / np.sqrt(2) if d.size >= 3 else 0.0
    recent = np.full((len(members), config.window), np.nan)  # each series' last points, net of the events before
    seen = np.zeros(len(members), dtype=int)
    shift = 0.0
    events: list[Event] = []
    last_facts: dict[str, str] = {}
    min_log = float(np.log1p(config.min_rel))
    for r in range(n_runs):
        row = table[r]
        present = ~np.isnan(row)
        judged = present & (seen >= 2)
        level = _row_medians(recent[judged])
        d = row[judged] - shift - level
        facts = _facts_change(last_facts, runs[r].facts) if runs[r].facts and not env else ""
        known = bool(runs[r].facts and last_facts)
        if runs[r].facts:
            last_facts = runs[r].facts
        m = _median(d) if d.size else 0.0
        spread = _mad_sigma(d)
        moved = int(np.sum((np.sign(d) == np.sign(m)) & (np.abs(d) >= min_log / 2))) if d.size else 0
        se = 1.2533 * max(spread, 1e-12) / np.sqrt(max(d.size, 1))
        shared = (d.size >= config.min_series and abs(m) >= min_log and moved >= config.min_share * d.size
                  and abs(m) >= config.z * se)
        if shared or facts:
            if shared or d.size >= config.min_series:
                shift += m
            keys = [members[j].key for j in np.flatnonzero(judged)]
            events.append(Event(machine, r, _iso(runs[r].start), list(runs[r].commits), 100 * float(np.expm1(m)),
                                100 * float(np.expm1(spread)), int(d.size), moved, facts=facts, env=env,
                                facts_known=known, devs=dict(zip(keys, map(float, d))),
                                sigmas={members[j].key: float(own[j]) for j in np.flatnonzero(judged)}))
        recent[present, :-1] = recent[present, 1:]
        recent[present, -1] = row[present] - shift
        seen[present] += 1
    return _merge_returns(events, config)


def _merge_returns(events: list[Event], config: EventConfig) -> list[Event]:
    """An event that the machine undid within ``lasted_max`` runs is one event that lasted that long."""
    out: list[Event] = []
    skip: set[int] = set()
    for i, e in enumerate(events):
        if i in skip:
            continue
        for k in range(i + 1, len(events)):
            back = events[k]
            if back.run - e.run > config.lasted_max:
                break
            if not back.facts and not e.facts and abs(e.log_shift + back.log_shift) <= 0.5 * abs(e.log_shift):
                e.lasted, e.back_run, e.back_devs = back.run - e.run, back.run, back.devs
                skip.add(k)
                break
        out.append(e)
    return out
