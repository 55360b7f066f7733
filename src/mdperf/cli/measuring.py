"""The commands that measure here and now: list, run, compare, plot, scale."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import UserError
from ..formats import number
from ..threads import DEFAULT_THREADS
from ..threads import text as threads_text
from . import output
from .output import EXIT_FAILED, EXIT_OK
from .parser import parse_calc_options

# The metrics `mdperf run` prints, in order.
SHOWN = [
    "latency_mean_ms", "latency_median_ms", "latency_p90_ms", "latency_p95_ms", "latency_p99_ms",
    "latency_max_ms", "latency_std_ms", "steps_per_s", "us_per_atom_step", "ns_per_day", "cold_start_ms",
    "host_peak_rss_mib", "host_rss_growth_mib", "gpu_peak_allocated_mib", "gpu_peak_reserved_mib",
    "gpu_nvml_used_mib", "gpu_memory_growth_mib", "drift_mev_per_atom_ps", "energy_std_mev_per_atom",
    "energy_max_dev_mev_per_atom",
]


def _timeout(args: argparse.Namespace) -> float:
    from ..isolate import CASE_TIMEOUT_S

    return args.case_timeout if getattr(args, "case_timeout", None) is not None else CASE_TIMEOUT_S


def _measure(args: argparse.Namespace, calc: str, options: dict, console: Console, threads: int):
    """One case in a process of its own (mdperf.isolate): a plug-in that exits or hangs is the case's error, and
    one process's peak RSS or GPU cache never counts in another's figures."""
    from ..isolate import measure_isolated
    from ..measurement import describe_case
    from ..progress import step_bar

    case = describe_case(calc, args.system, args.atoms, args.steps, protocol=args.protocol, device=args.device,
                         dtype=args.dtype, warmup=args.warmup, timestep_fs=args.timestep_fs,
                         temperature_k=args.temperature_k, seed=args.seed, calc_options=options.get(calc),
                         threads=threads)
    update, close = step_bar(console, f"{case.label} on {args.system}, {threads_text(threads)}")
    try:
        return measure_isolated(case, progress=update, timeout_s=_timeout(args))
    finally:
        close()


def _configured_calculators() -> list[str]:
    """The calculators of the current repository's [tool.mdperf.suite], every profile's; none outside one."""
    from .. import git
    from ..suite import config as suite_config

    try:
        table = suite_config.read_table(git.find_repo(".") / "pyproject.toml")
    except UserError:
        return []
    names = list(table.get("calculators", []) or [])
    for prof in (table.get("profiles") or {}).values():
        names += list(prof.get("calculators", []) or []) if isinstance(prof, dict) else []
    if table.get("reference"):
        names.append(table["reference"])
    return [str(n) for n in dict.fromkeys(names)]


def cmd_list(args: argparse.Namespace, console: Console) -> int:
    from .. import calculators, systems

    # Importing torch takes seconds; without --cuda the CUDA column is read from torch's build record and NVML.
    cuda = (calculators.Availability(True) if calculators.cuda_available()
            else calculators.Availability(False, "needs CUDA, which torch cannot use here")) if args.cuda \
        else calculators.cuda_hint()
    table = Table(title="Calculators")
    for col in ("name", "cpu", "cuda", "dtypes", "description"):
        table.add_column(col)
    entries: dict[str, calculators.CalculatorEntry | None] = dict(calculators.all_entries())
    for spec in _configured_calculators():  # the current repository's suite, plug-ins included
        entries.setdefault(spec, None)
    for name, entry in entries.items():
        try:
            entry = calculators.described(entry if entry is not None else calculators.resolve(name))
        except UserError as exc:  # a plug-in that cannot be imported here
            table.add_row(escape(name), f"[red]{escape(str(exc))}[/]", "", "", "plug-in")
            continue
        cells = []
        for device in ("cpu", "cuda"):
            a = entry.availability(device, cuda=cuda)
            cells.append("[green]available[/]" if a.available else f"[yellow]{escape(a.reason)}[/]")
        table.add_row(escape(name), *cells, ",".join(entry.dtypes), escape(entry.description))
    console.print(table)
    table = Table(title="Systems")
    for col in ("name", "atoms/cell", "min atoms", "T (K)", "dt (fs)", "description"):
        table.add_column(col)
    for s in systems.SYSTEMS.values():
        table.add_row(s.name, str(s.atoms_per_cell), str(s.min_atoms), f"{s.temperature_k:g}", f"{s.timestep_fs:g}",
                      s.description)
    console.print(table)
    if not cuda.available:
        console.print(f"CUDA: not available on this machine ({cuda.reason})")
    elif not args.cuda:
        console.print("CUDA: a GPU and a CUDA build of torch are present (`mdperf list --cuda` asks torch itself)")
    else:
        console.print(f"CUDA: {_cuda_devices()}")
    return EXIT_OK


def _cuda_devices() -> str:
    import torch

    return ", ".join(f"{i}: {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())) + \
        f" (torch {torch.__version__}, CUDA {torch.version.cuda})"


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from ..measurement import calculator_label

    output.check_output_path(args.json)
    if args.plot:
        output.check_output_dir(args.plot, "--plot")
    if args.json == "-":
        console = output.console(stderr=True)  # stdout carries the JSON alone
    if len(args.threads) > 1:
        raise UserError("run measures one thread count; compare or scale sweep several (--threads 1,2,4)")
    result = _measure(args, args.calc, parse_calc_options(args.calc_option, [args.calc]), console, args.threads[0])
    c = result.case
    label = calculator_label(c["calculator"], c.get("calc_options"))
    console.print(
        f"[bold]{escape(label)}[/] on {c['system']} ({c['atoms']} atoms), {c['protocol']}, {c['device']}/{c['dtype']}, "
        f"{c['steps']} timed steps of {c['timestep_fs']:g} fs after {c['warmup']} warm-up, "
        f"{threads_text(c.get('threads', DEFAULT_THREADS))}"
    )
    table = Table()
    for col, justify in (("metric", "left"), ("value", "right"), ("unit", "left"), ("status", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for name in SHOWN:
        m = result.metrics[name]
        status = "ok" if m.status == "ok" else f"{m.status}: {m.reason}"
        table.add_row(name, number(m.value), m.unit, escape(status))
    console.print(table)
    output.warn_if_busy(console, label, result.samples.get("latency_ms", []))
    if args.plot:
        output.figures([result], args.plot, console)
    if args.json:
        output.write_json(args.json, result.to_json(indent=1))
    if result.status != "ok":
        console.print(f"[red]{result.status}[/]: {escape(result.reason)}")
        return EXIT_FAILED
    return EXIT_OK


def cmd_compare(args: argparse.Namespace, console: Console) -> int:
    from .. import calculators
    from .. import compare as comparing
    from ..measurement import calculator_label

    calcs = comparing.ordered(args.calcs, comparing.reference_of(args.reference, Path.cwd()))
    output.check_output_path(args.json)
    if args.plot:
        output.check_output_dir(args.plot, "--plot")
    if args.json == "-":
        console = output.console(stderr=True)  # stdout carries the JSON alone
    options = parse_calc_options(args.calc_option, calcs)
    for name in calcs:  # bad names are bad input: fail before measuring anything
        calculators.resolve(name)
    agreement_case = (dict(system=args.system, atoms=args.atoms, device=args.device, dtype=args.dtype, seed=args.seed)
                      if args.agreement else None)
    c = comparing.compare(calcs, lambda name, threads: _measure(args, name, options, console, threads),
                          agreement_case, args.threads)
    console.print(comparing.table(c, args.system, args.protocol, args.device, args.steps))
    for r in c.results:
        output.warn_if_busy(console, calculator_label(r.case["calculator"], r.case.get("calc_options")),
                            r.samples.get("latency_ms", []))
    if args.plot:
        output.figures(c.results, args.plot, console, c.agreement, c.parity)
    if args.json:
        output.write_json(args.json, comparing.to_json(c))
    return EXIT_OK if all(r.status == "ok" for r in c.results) else EXIT_FAILED


def cmd_plot(args: argparse.Namespace, console: Console) -> int:
    from ..result import MeasureResult

    output.check_output_dir(args.out, "--out")
    results = []
    for f in args.results:
        if Path(f).exists() and not Path(f).is_file():  # a FIFO or a device would block or never end
            raise UserError(f"cannot read {f}: not a regular file")
        try:
            data = json.loads(Path(f).read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read {f}: {exc}") from None
        except RecursionError:
            raise UserError(f"cannot read {f}: nested too deep to be an mdperf result") from None
        items = data if isinstance(data, list) else [data]
        try:
            results += [MeasureResult.from_dict(d) for d in items]
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise UserError(f"{f} is not an mdperf result: {exc}") from None
    output.figures(results, args.out, console)
    return EXIT_OK


def cmd_scale(args: argparse.Namespace, console: Console) -> int:
    from .. import calculators, scale
    from ..isolate import measure_isolated
    from ..measurement import calculator_label, describe_case

    output.check_output_dir(args.out, "--out")
    options = parse_calc_options(args.calc_option, args.calc)
    for name in args.calc:
        calculators.resolve(name)
    cases = [describe_case(c, args.system, n, args.steps, device=args.device, warmup=args.warmup,
                           calc_options=options.get(c), threads=t)
             for c in args.calc for t in args.threads for n in sorted(set(args.atoms))]  # bad input fails before any measurement

    def measure(case):
        console.print(f"measuring {case.label} at {case.atoms} atoms on {case.device}, {threads_text(case.threads)}",
                      highlight=False, markup=False)
        r = measure_isolated(case, timeout_s=_timeout(args))
        output.warn_if_busy(console, f"{case.label} at {case.atoms} atoms", r.samples.get("latency_ms", []))
        return r

    s = scale.scale(cases, [calculator_label(c, options.get(c)) for c in args.calc], measure, args.system,
                    args.device, args.steps)
    console.print(scale.table(s))
    for line in scale.slope_lines(s):
        console.print(line, highlight=False)
    for p in scale.write(s, Path(args.out)):
        console.print(f"wrote {p}", highlight=False, soft_wrap=True)
    return EXIT_OK if s.ok else EXIT_FAILED


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    """Every check of the calculator contract on a small system of the case, a line each with its figure."""
    from .. import calculators, systems
    from ..calculators.interface import validate_calculator
    from ..errors import Unsupported
    from ..suite.validate import other_precision

    options = parse_calc_options(args.calc_option, [args.calc]).get(args.calc, {})
    entry = calculators.resolve(args.calc)
    system = systems.get_system(args.system)
    atoms = systems.build(args.system, args.atoms)
    if options:
        calculators.check_options(args.calc, entry.load_factory(), options)
    try:
        calc = entry.create(device=args.device, dtype=args.dtype, system=system, options=options)
    except Unsupported as exc:
        raise UserError(f"{args.calc} does not run this case: {exc}") from None
    except Exception as exc:  # the user's factory failing is the answer, not mdperf's internal error
        raise UserError(f"{args.calc} could not be built: {type(exc).__name__}: {exc}") from None
    report = validate_calculator(calc, atoms, other_precision=other_precision(entry, args.device, args.dtype, system,
                                                                              options))
    if args.format == "json":
        print(json.dumps({"calculator": args.calc, "system": args.system, "atoms": len(atoms), "device": args.device,
                          "ok": report.ok, "checks": [{"name": c.name, "status": c.status,
                                                       "message": c.skipped or c.message} for c in report.checks]},
                         indent=1))
    else:
        console.print(f"mdperf validate {args.calc} on {args.system} ({len(atoms)} atoms, {args.device}, "
                      f"{entry.effective_dtype(args.dtype)})", highlight=False, soft_wrap=True)
        for c in report.checks:
            mark = {"ok": "[green]ok[/]", "failed": "[red]failed[/]", "skipped": "[yellow]skipped[/]"}[c.status]
            detail = c.skipped or c.message
            console.print(f"  {escape(c.name)}: {mark}" + (f" ({escape(detail)})" if detail else ""),
                          highlight=False, soft_wrap=True)
        counts = {s: sum(c.status == s for c in report.checks) for s in ("ok", "failed", "skipped")}
        console.print(f"{len(report.checks)} checks: {counts['ok']} ok, {counts['failed']} failed, "
                      f"{counts['skipped']} skipped", highlight=False, soft_wrap=True)
    return EXIT_OK if report.ok else EXIT_FAILED
