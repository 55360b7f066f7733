"""mdperf's asv benchmarks: thin shells over mdperf (``mdperf.measurement``), never a second measurement.

The measured repository's ``benchmarks/md.py`` (written by ``mdperf init``) imports these classes; the cases
come from ``[tool.mdperf.suite]`` of its pyproject.toml (:mod:`mdperf.suite.config`; the file named by
``MDPERF_PYPROJECT``, else the current directory's), the profile from ``MDPERF_PROFILE`` (``mdperf track
--profile`` sets it).  Parameter names are the same in every profile, so series line up.

* ``Step.time_md_step`` — asv times one MD step (with device synchronisation on CUDA).
* ``Step.peakmem_md_run`` — asv's peak RSS of a process that runs the case.
* ``Latency``, ``Memory``, ``GpuMemory``, ``Energy``, ``Reference`` — ``track_`` values from ONE mdperf
  measurement per case per commit, each case in its own process, shared through the module-level
  ``setup_cache`` (asv runs it once for all of them).  ``Reference`` is the speed-up against the configured
  reference calculator (the teacher), measured at the same size and device; ``Accuracy`` the energy and force
  errors against it on fixed seeded frames.

A case that cannot run here (no CUDA, an optional calculator's package missing, mdperf at this commit too old)
raises NotImplementedError in ``setup``, which asv shows as n/a (skipped).  A dependency of mdperf, or a
calculator's package, that fails to import is a broken environment: every case fails, with the reason.
"""

import os
import sys

from mdperf.suite.config import CASE_TIMEOUT_ENV, PROFILE_ENV, PROGRESS_ENV, PYPROJECT_ENV, load

__all__ = ["Energy", "GpuMemory", "Guard", "Latency", "Memory", "Reference", "Step", "SUITE_VERSION",
           "SERIES_VERSION"]

# asv's version of every benchmark below (it keys each series by it). Without it asv hashes the source, and any edit
# of this module would cut every adopter's series. Bump only when a metric's meaning changes (docs/guides/tracking.md).
# 2: cases run with a declared CPU thread count (1 unless the profile sets threads), no longer torch's default.
SUITE_VERSION = "mdperf-suite-2"

_PYPROJECT = os.environ.get(PYPROJECT_ENV) or os.path.join(os.getcwd(), "pyproject.toml")
CONFIG = load(_PYPROJECT, os.environ.get(PROFILE_ENV) or None)
try:  # the benchmark folder's modules (a factory written for mdperf) importable here and in every child
    from mdperf.calculators import add_search_path
    from mdperf.suite.config import SUITE_DIR_ENV, suite_dir

    SUITE_DIR = os.environ.get(SUITE_DIR_ENV) or str(suite_dir(_PYPROJECT))
    add_search_path(SUITE_DIR)
    LABELS = CONFIG.by_label()
except ImportError:  # an mdperf older than factories beside the suite
    LABELS = {}
PROFILE = CONFIG.case_profile() if LABELS else {
    "calculator": list(CONFIG.calculators), "atoms": list(CONFIG.atoms), "device": list(CONFIG.devices),
    "system": CONFIG.system, "steps": CONFIG.steps, "warmup": CONFIG.warmup, "protocol": CONFIG.protocol,
    "dtype": CONFIG.dtype, "reference": CONFIG.reference}
THREADS = PROFILE.get("threads", 1)
# What asv keys each series by: the suite's version and the thread count, so that a profile measured with another
# count starts series of its own instead of continuing these (docs/guides/tracking.md).
SERIES_VERSION = f"{SUITE_VERSION}+threads{THREADS}"
PARAMS = [PROFILE["calculator"], PROFILE["atoms"], PROFILE["device"]]
PARAM_NAMES = ["calculator", "atoms", "device"]


def _named(label):
    """A parameter value (the calculator's label) to its calculator and options."""
    return LABELS.get(label, (label, {}))


def _skip_reason_too_big(calculator, atoms, device):
    # The slow CPU references (EMT: ~0.3 s per step at 2,000 Cu atoms here) only at small sizes: at large ones
    # they would take the whole time budget and say nothing new.
    return CONFIG.skip_reason(_named(calculator)[0], atoms, device)


def _older_mdperf(exc):
    """True when an ImportError means mdperf itself lacks the API (a commit older than the suite: n/a).

    Otherwise a dependency failed to import: the environment is broken, and every case must fail rather than
    show as n/a, or a night with a missing package reads as a quiet night (seen on an offline GPU runner).
    """
    name = exc.name or ""
    return name == "mdperf" or name.startswith("mdperf.")


def _api_missing(exc, what):
    if _older_mdperf(exc):
        return NotImplementedError(f"mdperf at this commit {what}: {exc}")
    return RuntimeError(f"the benchmark environment is broken: {type(exc).__name__}: {exc}")


def _case(calculator, atoms, device):
    try:
        from mdperf.measurement import describe_case
    except ImportError as exc:
        raise _api_missing(exc, "has no describe_case") from exc
    reason = _skip_reason_too_big(calculator, atoms, device)
    if reason:
        raise NotImplementedError(reason)
    from mdperf.errors import FactoryError, UserError

    name, options = _named(calculator)
    extra = {"calc_options": options} if options else {}
    import inspect

    if "threads" in inspect.signature(describe_case).parameters:  # an mdperf older than thread counts: variables only
        extra["threads"] = THREADS
    try:
        return describe_case(name, PROFILE["system"], atoms, PROFILE["steps"], device=device,
                             warmup=PROFILE["warmup"], protocol=PROFILE["protocol"], dtype=PROFILE["dtype"], **extra)
    except FactoryError as exc:  # the calculator's package does not import here: every case fails, with why
        raise RuntimeError(_factory_failure(exc)) from exc
    except UserError as exc:  # e.g. CUDA asked for on a machine without it
        raise NotImplementedError(str(exc)) from exc


def _factory_failure(exc):
    """Why a calculator's factory cannot be imported: absent at this commit, or a broken environment."""
    if getattr(exc, "spec_absent", False):
        return f"this commit has no {exc.module}{':' + exc.absent if exc.absent else ''}: {exc}"
    missing = getattr(exc, "missing", "")
    if missing:
        return (f"the benchmark environment is broken: it lacks {missing.split('.')[0]} ({exc}); add "
                f'"{missing.split(".")[0]}": "" to matrix.req in asv.conf.json (mdperf init --force reads your '
                "package's dependencies)")
    return f"the benchmark environment is broken: {exc}"


CASE_TIMEOUT_S = float(os.environ.get(CASE_TIMEOUT_ENV) or 1800)  # within asv's hour for setup_cache


def _measure_in_child(args):
    from mdperf.benchenv import ChildFailed, measure_in_child

    try:
        return measure_in_child(sys.executable, args, timeout_s=CASE_TIMEOUT_S)
    except ChildFailed as exc:
        if exc.returncode is None:  # a hanging calculator: this case's error, the others still run
            return {"status": "error", "reason": f"the case did not finish within {CASE_TIMEOUT_S:g} s "
                                                 f"(track --case-timeout); stopped"}
        return {"status": "error", "reason": f"measurement process exited with code {exc.returncode}: {exc.last}"}


def _progress(**event):
    """One JSON line of progress (a case began, was measured again, ended), where track asked for it."""
    import json
    import time

    path = os.environ.get(PROGRESS_ENV)
    if not path:
        return
    try:
        with open(path, "a") as f:
            f.write(json.dumps({"t": time.time(), **event}) + "\n")
    except OSError:  # progress is for the person watching: never a reason for a case to fail
        pass


def child_args(calculator, atoms, device, steps=None, warmup=None):
    """The measuring child's case for a parameter value (mdperf confirm measures with the same)."""
    from mdperf.suite.config import case_args

    return case_args(PROFILE, calculator, atoms, device, steps, warmup)


def measure_case(calculator, atoms, device, steps=None, warmup=None, retry_noisy=True):
    """One mdperf measurement in its own process, with the noisy-machine guard around it.

    Process-wide state would otherwise leak from one case into the next: the GPU allocator's cache and
    library workspaces (counted in the next case's allocated, reserved and NVML figures), the CUDA context and
    lazy initialisation (in the first case's cold start only).  A later case's figures would then move when an
    earlier case changes, and be flagged as its regression.  A case that crashes its process (a segfault, the
    OOM killer) becomes an error result instead of ending the others.  A case the guard finds noisy
    (mdperf.guard) is measured once more; the second result is kept, marked if it is noisy too.
    """
    args = child_args(calculator, atoms, device, steps, warmup)
    try:
        from mdperf import guard
    except ImportError:  # an mdperf older than the guard: measured without it
        return _measure_in_child(args)
    import time

    before, machine = guard.calibrate(), guard.facts()
    cpu0, wall0 = guard.children_cpu_s(), time.perf_counter()
    result = _measure_in_child(args)
    case_share = (guard.children_cpu_s() - cpu0) / max(time.perf_counter() - wall0, 1e-9)
    single = device == "cpu" and args.get("threads", 1) == 1  # a share of one core means something only there
    verdict = guard.judge(before, guard.calibrate(), case_share=case_share if single else None) | machine
    if verdict["noisy"] and retry_noisy and result.get("status") == "ok":
        _progress(event="again", why=verdict["why"])
        again = measure_case(calculator, atoms, device, steps, warmup, retry_noisy=False)
        again["guard"]["retried"] = True
        again["guard"]["first"] = verdict
        return again
    result["guard"] = verdict | {"retried": False}
    if result.get("status") == "ok":
        result["metrics"].update(guard.metrics(verdict))
    return result


def measure_all(*_):
    """One mdperf measurement per case of the profile, each in its own process: the only place the suite
    measures.

    Module level and shared by every track_ class, so asv runs it once per commit (its cache key is this
    function's module and line); asv calls it as a method, hence the ignored arguments.
    """
    try:
        from mdperf import measure  # noqa: F401  (the children need it; an mdperf without it is n/a, not failed)
    except ImportError as exc:
        return {"error": str(_api_missing(exc, "cannot be measured")), "broken": not _older_mdperf(exc)}
    results = {}
    reference = PROFILE.get("reference")
    calculators = list(PARAMS[0]) + ([reference] if reference and reference not in PARAMS[0] else [])
    cases = [(c, a, d) for c in calculators for a in PARAMS[1] for d in PARAMS[2]
             if not _skip_reason_too_big(c, a, d)]
    for k, (calculator, atoms, device) in enumerate(cases):
        key = f"{calculator}|{atoms}|{device}"
        if device == "cuda":
            from mdperf.calculators import cuda_available

            if not cuda_available():
                results[key] = {"status": "skipped", "reason": "needs CUDA, which is not available"}
                continue
        _progress(event="case", k=k + 1, n=len(cases), case=f"{calculator} at {atoms} atoms on {device}")
        results[key] = measure_case(calculator, atoms, device)
        _progress(event="done", k=k + 1, n=len(cases), status=results[key].get("status"))
    if reference:
        for calculator, atoms, device in cases:
            key = f"{calculator}|{atoms}|{device}"
            if calculator != reference and results.get(key, {}).get("status") == "ok":
                _accuracy(results[key], key, calculator, reference, atoms, device)
    return results


def _accuracy(result, key, calculator, reference, atoms, device):
    """The case's energy and force errors against the reference on fixed seeded frames (mdperf.agreement), in a
    fresh process of their own, into the case's metrics; why not, under ``accuracy_error``.  The force pairs
    are kept for the site's parity figure where track names the file."""
    try:
        from mdperf.agreement import METRICS
        from mdperf.benchenv import AGREEMENT_CHILD, ChildFailed, measure_in_child
    except ImportError as exc:  # an mdperf older than accuracy tracking: n/a
        result["accuracy_error"] = f"skipped: {_api_missing(exc, 'has no accuracy tracking')}"
        return
    args = child_args(calculator, atoms, device)
    ref = child_args(reference, atoms, device)
    args.update(reference=ref["calculator"], reference_options=ref.get("calc_options") or {})
    try:
        got = measure_in_child(sys.executable, args, timeout_s=CASE_TIMEOUT_S, child=AGREEMENT_CHILD)
    except ChildFailed as exc:
        result["accuracy_error"] = (f"the accuracy process exited with code {exc.returncode}: {exc.last}"
                                    if exc.returncode is not None else "the accuracy process did not finish: stopped")
        return
    import math

    bad = [m for m in METRICS if not isinstance(got.get(m), (int, float)) or not math.isfinite(got[m])]
    if bad:  # a NaN energy or force is the calculator's error, never a silently missing number
        result["accuracy_error"] = f"not finite on the accuracy frames: {', '.join(bad)}"
        return
    result["metrics"].update({m: got[m] for m in METRICS})
    if got.get("parity"):
        _keep_parity(key, reference, got["parity"])


PARITY_KEEP = 20  # lines (commit and case) kept in the parity file: the site draws the newest commit's


def _keep_parity(key, reference, parity):
    import json
    import time

    from mdperf.suite.config import PARITY_ENV

    path, commit = os.environ.get(PARITY_ENV), os.environ.get("ASV_COMMIT")
    if not path or not commit:
        return
    try:
        from mdperf.result import atomic_write_text

        lines = open(path).read().splitlines() if os.path.exists(path) else []
        line = json.dumps({**parity, "commit": commit, "case": key, "reference_calculator": reference, "at": time.time()})
        kept = [x for x in lines if not (f'"commit": "{commit}"' in x and f'"case": {json.dumps(key)}' in x)]
        atomic_write_text(path, "\n".join([*kept[-(PARITY_KEEP - 1):], line]) + "\n")
    except OSError:  # a figure's data: never a reason for a case to fail
        pass


measure_all.timeout = 3600  # type: ignore[attr-defined]


class _Tracked:
    """Base of the track_ classes: look the case up in the shared measurement, skip what did not run."""

    params = PARAMS
    param_names = PARAM_NAMES
    version = SERIES_VERSION
    setup_cache = measure_all
    metrics: tuple[str, ...] = ()

    def setup(self, cache, calculator, atoms, device):
        if "error" in cache:
            raise (RuntimeError if cache.get("broken") else NotImplementedError)(cache["error"])
        key = f"{calculator}|{atoms}|{device}"
        reason = _skip_reason_too_big(calculator, atoms, device)
        if reason:
            raise NotImplementedError(reason)
        result = cache[key]
        if result["status"] == "skipped":
            raise NotImplementedError(result["reason"])
        if result["status"] == "error":
            raise RuntimeError(f"{key}: {result['reason']}")
        missing = [m for m in self.metrics if result["metrics"].get(m) is None]
        if missing:  # every metric of the class that is absent, by its own name (asv cannot say which is set up)
            reasons = {m: result["metric_reasons"].get(m, "not measured") for m in missing}
            raise NotImplementedError("; ".join(f"{', '.join(k for k in reasons if reasons[k] == why)}: {why}"
                                                for why in dict.fromkeys(reasons.values())))
        self.values = result["metrics"]


def _track(metric, unit, doc):
    def track(self, cache, calculator, atoms, device):
        value = self.values.get(metric)
        return float("nan") if value is None else value  # a figure this machine does not give: n/a

    track.unit = unit
    track.metric = metric  # what mdperf confirm re-measures for a flag of this benchmark
    track.__doc__ = doc
    return track


class Latency(_Tracked):
    metrics = ("latency_median_ms", "latency_p95_ms", "latency_p99_ms", "steps_per_s", "cold_start_ms")
    track_latency_p50_ms = _track("latency_median_ms", "ms", "Median MD step latency")
    track_latency_p95_ms = _track("latency_p95_ms", "ms", "P95 MD step latency")
    track_latency_p99_ms = _track("latency_p99_ms", "ms", "P99 MD step latency")
    track_steps_per_s = _track("steps_per_s", "steps/s", "MD steps per second (higher is better)")
    track_cold_start_ms = _track("cold_start_ms", "ms", "Model load and first evaluation")


class Guard(_Tracked):
    """The noisy-machine guard around each case (mdperf.guard): records, not performance.  The regression report
    leaves out the points of a case marked noisy and never flags these series themselves."""

    metrics = ("guard_noisy",)
    track_noisy = _track("guard_noisy", "unit", "1 when the machine was not quiet during the case")
    track_calibration_drift_pct = _track("guard_calibration_drift_pct", "%",
                                         "How much the calibration loop moved between before and after the case")
    track_cpu_share_pct = _track("guard_cpu_share_pct", "%", "The calibration loop's share of a core")
    track_load_avg_1m = _track("load_avg_1m", "unit", "Load average over the minute before the case")
    track_cpu_mhz = _track("cpu_mhz", "MHz", "CPU clock before the case")
    track_gpu_sm_clock_mhz = _track("gpu_sm_clock_mhz", "MHz", "GPU SM clock before the case")
    track_gpu_temp_c = _track("gpu_temp_c", "C", "GPU temperature before the case")


class Memory(_Tracked):
    metrics = ("host_rss_growth_mib",)
    track_host_rss_growth_mib = _track("host_rss_growth_mib", "MiB", "Host RSS growth over the timed steps")


class GpuMemory(_Tracked):
    metrics = ("gpu_peak_allocated_mib", "gpu_peak_reserved_mib", "gpu_nvml_used_mib", "gpu_memory_growth_mib")
    track_gpu_peak_allocated_mib = _track("gpu_peak_allocated_mib", "MiB", "torch peak allocated")
    track_gpu_peak_reserved_mib = _track("gpu_peak_reserved_mib", "MiB", "torch peak reserved")
    track_gpu_nvml_used_mib = _track("gpu_nvml_used_mib", "MiB", "NVML device memory above the baseline")
    track_gpu_memory_growth_mib = _track("gpu_memory_growth_mib", "MiB", "GPU memory growth over the timed steps")


class Energy(_Tracked):
    metrics = ("drift_mev_per_atom_ps", "energy_max_dev_mev_per_atom")
    track_drift_mev_per_atom_ps = _track("drift_mev_per_atom_ps", "meV/atom/ps", "NVE energy drift")
    track_energy_max_dev_mev_per_atom = _track("energy_max_dev_mev_per_atom", "meV/atom",
                                               "NVE max |E(t) - E(0)| per atom")


class Accuracy(_Tracked):
    """Energy and force errors of each calculator against the configured reference (the teacher) on the case's
    fixed seeded frames (mdperf.agreement): lower is better, judged and alerted like speed."""

    metrics = ("energy_mae_mev_per_atom", "force_mae_mev_per_a", "force_max_mev_per_a")

    def setup(self, cache, calculator, atoms, device):
        reference = PROFILE.get("reference")
        if not reference:
            raise NotImplementedError("no reference calculator configured ([tool.mdperf.suite] reference)")
        if calculator == reference:
            raise NotImplementedError(f"{calculator} is the reference")
        result = cache.get(f"{calculator}|{atoms}|{device}") if "error" not in cache else None
        why = (result or {}).get("accuracy_error")
        if why:
            raise (NotImplementedError(why[len("skipped: "):]) if why.startswith("skipped: ") else RuntimeError(why))
        super().setup(cache, calculator, atoms, device)

    track_energy_mae_mev_per_atom = _track("energy_mae_mev_per_atom", "meV/atom",
                                           "Energy error per atom against the reference (mean absolute)")
    track_force_mae_mev_per_a = _track("force_mae_mev_per_a", "meV/A",
                                       "Force error against the reference (mean absolute, per component)")
    track_force_max_mev_per_a = _track("force_max_mev_per_a", "meV/A", "Largest force component error against the "
                                                                      "reference")


class Step:
    """asv's own timer on one MD step of the same case, and asv's peak memory of a process that runs it."""

    params = PARAMS
    param_names = PARAM_NAMES
    version = SERIES_VERSION
    # A few samples of a step that takes milliseconds to a second are enough next to the 1000-step track.
    repeat = (1, 5, 10.0)
    number = 1
    warmup_time = 0.0
    timeout = 600

    def setup(self, calculator, atoms, device):
        try:
            from mdperf.errors import Unsupported
            from mdperf.measurement import prepare
        except ImportError as exc:  # an mdperf older than the suite: n/a, not a failure
            raise _api_missing(exc, "lacks the step API") from exc

        case = _case(calculator, atoms, device)
        try:
            self.prepared = prepare(case)
        except Unsupported as exc:
            raise NotImplementedError(str(exc)) from exc
        self.prepared.step(3)  # warm-up

    def time_md_step(self, calculator, atoms, device):
        self.prepared.step(1)

    def peakmem_md_run(self, calculator, atoms, device):
        self.prepared.step(10)


class Reference(_Tracked):
    """The speed-up of each calculator against the configured reference (the teacher) at the same case."""

    metrics = ("latency_median_ms",)

    def setup(self, cache, calculator, atoms, device):
        super().setup(cache, calculator, atoms, device)
        reference = PROFILE.get("reference")
        if not reference:
            raise NotImplementedError("no reference calculator configured ([tool.mdperf.suite] reference)")
        ref = cache.get(f"{reference}|{atoms}|{device}")
        if ref is None or ref["status"] != "ok" or not ref["metrics"].get("latency_median_ms"):
            why = ref["reason"] if ref else _skip_reason_too_big(reference, atoms, device) or "not measured"
            raise NotImplementedError(f"reference {reference} at this case: {why}")
        self.reference_ms = ref["metrics"]["latency_median_ms"]

    def track_speedup_vs_reference(self, cache, calculator, atoms, device):
        return self.reference_ms / self.values["latency_median_ms"]

    track_speedup_vs_reference.unit = "x"  # type: ignore[attr-defined]


# Accuracy only where a reference is configured: a suite without one keeps its benchmark count, so a commit whose
# every case errors still reads as failed, not as partial beside three n/a accuracy benchmarks.
if PROFILE.get("reference"):
    __all__.append("Accuracy")
