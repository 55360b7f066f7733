"""The profiling child: one case run under a profiler in a fresh process of the benchmark environment's Python,
the commit's package first on the path (:func:`mdperf.benchenv.measure_in_child` with this source).

On the CPU, :mod:`cProfile` (deterministic; C functions called from Python appear as their own entries) gives
each function's self and total time; on CUDA, ``torch.profiler`` gives each operator's self and total device
time.  With a trace file named, a short second run is recorded by ``torch.profiler`` with Python stacks (and
kernels on CUDA) and kept as gzipped Chrome-trace JSON (calls under ``TRACE_MIN_US`` left out), which Perfetto
opens as it is, and chrome://tracing and speedscope once unzipped.

Functions are keyed by their file relative to the path entry that holds it and their name, never by the line:
a commit that edits a file moves its unchanged functions' lines, and base and commit must name them alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import benchenv
from ..errors import UserError

# Kept to the mdperf API every suite-era commit has (``measure``), as the measuring child is.
PROFILE_CHILD = """
import cProfile, inspect, json, os, pstats, sys
from mdperf import measure
a = json.loads(sys.argv[1])
extra = {k: a[k] for k in ("protocol", "dtype", "calc_options") if a.get(k)}
if a.get("threads") and "threads" in inspect.signature(measure).parameters:
    extra["threads"] = a["threads"]
roots = sorted({os.path.abspath(p) for p in sys.path if p and os.path.isdir(p)}, key=len, reverse=True)
def where(filename):
    if filename.startswith("<") or filename == "~":
        return filename
    full = os.path.abspath(filename)
    for root in roots:
        if full.startswith(root + os.sep):
            return os.path.relpath(full, root)
    return os.path.basename(full)
def run(steps, warmup):
    return measure(a["calculator"], a["system"], a["atoms"], steps, device=a["device"], warmup=warmup, **extra)
cuda = a["device"].startswith("cuda")
entries = {}
if cuda:
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        r = run(a["steps"], a["warmup"])
    for e in prof.key_averages():
        self_us = getattr(e, "self_device_time_total", None)
        if self_us is None:
            self_us = getattr(e, "self_cuda_time_total", 0.0)
        total_us = getattr(e, "device_time_total", None)
        if total_us is None:
            total_us = getattr(e, "cuda_time_total", 0.0)
        entries[e.key] = [self_us / 1e6, total_us / 1e6, int(e.count)]
else:
    prof = cProfile.Profile()
    prof.enable()
    r = run(a["steps"], a["warmup"])
    prof.disable()
    for (filename, line, name), (cc, nc, tt, ct, callers) in pstats.Stats(prof).stats.items():
        key = name if filename == "~" else where(filename) + ":" + name
        old = entries.get(key, [0.0, 0.0, 0])
        entries[key] = [old[0] + tt, old[1] + ct, old[2] + nc]
if a.get("trace"):
    from torch.profiler import ProfilerActivity, profile
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=acts, with_stack=True) as traced:
        run(a["trace_steps"], 1)
    raw = a["trace"] + ".raw"
    traced.export_chrome_trace(raw)
    import gzip
    with open(raw) as f:
        data = json.load(f)
    os.unlink(raw)
    events = data.get("traceEvents", [])
    data["traceEvents"] = [e for e in events if not isinstance(e, dict) or e.get("ph") != "X"
                           or float(e.get("dur", 0)) >= a["trace_min_us"]]
    with gzip.open(a["trace"], "wt") as f:
        json.dump(data, f)
out = {"status": r.status, "reason": r.reason, "kind": "operator" if cuda else "function",
       "steps_run": a["steps"] + a["warmup"], "entries": entries,
       "latency_p50_ms": getattr(r.metrics.get("latency_p50_ms"), "value", None)}
with open(sys.argv[2], "w") as f:
    json.dump(out, f)
"""

TRACE_STEPS = 2  # the trace's run: short, so that the file stays small and opens at once
TRACE_MIN_US = 20  # shorter calls are left out of the trace: they are most of its events and none of its time


def profile_once(python: str | Path, site: Path, args: dict[str, Any], trace: Path | None = None) -> dict[str, Any]:
    """One profiled run of the case (:func:`mdperf.suite.config.case_args`) in a fresh process; its entries."""
    args = dict(args, trace=str(trace) if trace else None, trace_steps=TRACE_STEPS, trace_min_us=TRACE_MIN_US)
    try:
        out = benchenv.measure_in_child(python, args, site=site, child=PROFILE_CHILD)
    except benchenv.ChildFailed as exc:
        raise UserError(f"profiling {args['calculator']} at {args['atoms']} atoms failed (exit {exc.returncode}): "
                        f"{exc.last}") from None
    if out["status"] == "error":
        raise UserError(f"profiling {args['calculator']} at {args['atoms']} atoms: the case errored: {out['reason']}")
    return out
