"""The ``mdperf`` command line: list, run, compare, plot, scale, init, track, regressions, publish, preview.

Exit codes (docs/reference/exit-codes.md): 0 done; 1 a measurement failed or was skipped, (track) some commits
failed to build or benchmark, (regressions) a new confirmed regression; 2 bad input or could not run at all (one
line on stderr, no traceback); 3 an internal error of mdperf's; 4 (regressions) most of a machine's newest run
could not be judged.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from .errors import UserError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
PROGRESS_AFTER_S = 2.0  # a bar only for runs longer than this

# The metrics `mdperf run` prints, in order.
SHOWN = [
    "latency_mean_ms", "latency_median_ms", "latency_p90_ms", "latency_p95_ms", "latency_p99_ms",
    "latency_max_ms", "latency_std_ms", "steps_per_s", "us_per_atom_step", "ns_per_day", "cold_start_ms",
    "host_peak_rss_mib", "host_rss_growth_mib", "gpu_peak_allocated_mib", "gpu_peak_reserved_mib",
    "gpu_nvml_used_mib", "gpu_memory_growth_mib", "drift_mev_per_atom_ps", "energy_std_mev_per_atom",
    "energy_max_dev_mev_per_atom",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints the usage too)
        raise UserError(message)


def _case_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--system", default="ar", help="benchmark system (see `mdperf list`); default ar")
    p.add_argument("--atoms", type=int, default=256, help="requested atom count; the nearest supercell is built")
    p.add_argument("--steps", type=int, default=1000, help="timed MD steps (default 1000)")
    p.add_argument("--warmup", type=int, default=20, help="untimed warm-up steps (default 20)")
    p.add_argument("--protocol", default="nve", help="nve | nvt | npt (default nve)")
    p.add_argument("--device", default="cpu", help="cpu | cuda (default cpu)")
    p.add_argument("--dtype", default=None, help="float32 | float64 (default: the calculator's own)")
    p.add_argument("--timestep-fs", type=float, default=None, help="time step in fs (default: the system's)")
    p.add_argument("--temperature-k", type=float, default=None, help="initial / bath temperature in K")
    p.add_argument("--seed", type=_seed, default=0, help="the initial velocities' random seed (0 to 2**32-1)")
    p.add_argument("--json", metavar="FILE", help="write the full result (samples included) as JSON; - for stdout")
    p.add_argument("--plot", metavar="DIR", default=None, help="draw the figures (PNG and SVG) into DIR")
    _case_timeout_arg(p)
    _calc_option_arg(p)


def _case_timeout_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--case-timeout", type=_positive_s, default=None, metavar="S",
                   help="stop a case still running after S seconds; it is an error (default 3600)")


def _positive_s(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text}")
    return value


def _seed(text: str) -> int:
    """numpy takes seeds in [0, 2**32): a bad one is bad input before anything is measured."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be in 0..{2**32 - 1}, got {value}")
    return value


def _calc_option_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--calc-option", action="append", default=[], metavar="[CALC.]KEY=VALUE",
                   help="a keyword for the calculator's factory or class (repeatable; VALUE a TOML/JSON literal, "
                        "else a string); with several calculators prefix the one it is for: mycalc:Calc.cutoff=5.0")


def parse_calc_options(pairs: Sequence[str], calcs: Sequence[str]) -> dict[str, dict[str, object]]:
    """``--calc-option`` values, per calculator; UserError for a malformed one."""
    import re

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    out: dict[str, dict[str, object]] = {}
    for pair in pairs:
        left, eq, raw = pair.partition("=")
        if not eq or not left:
            raise UserError(f"--calc-option {pair!r}: expected [CALC.]KEY=VALUE")
        calc, _, key = left.rpartition(".")
        if not calc:
            if len(calcs) != 1:
                raise UserError(f"--calc-option {pair!r}: with several calculators say which one it is for: "
                                f"--calc-option CALC.{left}=VALUE (CALC one of {', '.join(calcs)})")
            calc = calcs[0]
        elif calc not in calcs:
            raise UserError(f"--calc-option {pair!r}: {calc!r} is not one of the calculators ({', '.join(calcs)})")
        if not re.fullmatch(r"[A-Za-z_]\w*", key):
            raise UserError(f"--calc-option {pair!r}: {key!r} is not a keyword name")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except (tomllib.TOMLDecodeError, ValueError):
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw  # a bare word: a string (a model path, a device name)
        out.setdefault(calc, {})[key] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mdperf", description="Performance tracking for molecular-dynamics calculators.")
    parser.add_argument("--version", action="version", version=f"mdperf {__import__('mdperf').__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="calculators and systems, with availability")
    run = sub.add_parser("run", help="measure one calculator on one case")
    run.add_argument("--calc", required=True, help="registry name, entry point or package.module:function")
    _case_args(run)
    cmp_ = sub.add_parser("compare", help="the same case for several calculators, relative to the first")
    cmp_.add_argument("calcs", nargs="+", metavar="CALC")
    cmp_.add_argument("--agreement", action="store_true",
                      help="also the energy and force errors of each calculator against the first, on the same frames")
    cmp_.add_argument("--reference", default=None,
                      help="measured first, the others' speed-up against it (default: [tool.mdperf.suite] reference)")
    _case_args(cmp_)
    plo = sub.add_parser("plot", help="figures of measurements: latency, energy, memory (PNG and SVG)")
    plo.add_argument("results", nargs="+", metavar="RESULT.json", help="files written by run/compare --json")
    plo.add_argument("--out", default="mdperf-figures", help="folder for the figures (default mdperf-figures)")
    sca = sub.add_parser("scale", help="time per step against atom count, log-log, with the fitted slope")
    sca.add_argument("--calc", nargs="+", required=True, metavar="CALC")
    sca.add_argument("--system", default="ar")
    sca.add_argument("--atoms", type=int, nargs="+", required=True)
    sca.add_argument("--steps", type=int, default=200)
    sca.add_argument("--warmup", type=int, default=10)
    sca.add_argument("--device", default="cpu")
    sca.add_argument("--out", default="mdperf-scaling", help="folder for the figure, table and JSON")
    _case_timeout_arg(sca)
    _calc_option_arg(sca)
    ini = sub.add_parser("init", help="make a repository trackable: asv.conf.json, benchmarks/md.py, [tool.mdperf.suite]")
    ini.add_argument("--repo", default=".", help="the repository (default: the current one)")
    ini.add_argument("--calc", nargs="+", default=None, metavar="CALC",
                     help="calculator(s) to track: registry name, entry point or package.module:function")
    ini.add_argument("--system", default=None, help="system (default: ar)")
    ini.add_argument("--atoms", type=int, nargs="+", default=None, help="atom counts (default: 108)")
    ini.add_argument("--devices", nargs="+", default=None, help="cpu and/or cuda (default: cpu)")
    ini.add_argument("--steps", type=int, default=None, help="timed MD steps per case (default: 300)")
    ini.add_argument("--warmup", type=int, default=None, help="warm-up steps (default: 20)")
    ini.add_argument("--reference", default=None, help="a reference calculator (the teacher): speed-ups against it")
    _calc_option_arg(ini)
    ini.add_argument("--force", action="store_true", help="overwrite existing files and [tool.mdperf.suite]")
    ini.add_argument("--wrap", action="store_true",
                     help="write benchmarks/mdperf_factory.py, a factory beside the suite that calls the one --calc "
                          "class (yours to edit: the same for every commit of the history)")
    ini.add_argument("--no-probe", action="store_true",
                     help="do not time one step of each case to estimate the time per commit")
    ini.add_argument("--mdperf-requirement", default=None, metavar="REQ",
                     help="how the workflows install mdperf (default: mdperf==<this version>; e.g. a git URL)")
    trk = sub.add_parser("track", help="run the asv suite over commits and publish the site")
    trk.add_argument("range", nargs="?", default=None,
                     help="A..B, a branch or a commit (default: the current branch's commits after the newest one "
                          "measured on this machine; on a machine with no results, the last few)")
    trk.add_argument("--last", type=int, default=None, help="the last N commits of the current branch")
    trk.add_argument("--retry-failed", action="store_true",
                     help="measure again the commits recorded as failed (in the range, else all of the branch's)")
    trk.add_argument("--profile", default=None,
                     help="a profile of [tool.mdperf.suite] (default: [tool.mdperf.track] profile, else default)")
    trk.add_argument("--machine", default=None, help="asv machine name (default: host and GPU identity)")
    trk.add_argument("--repo", default=".", help="the repository to track (default: the current one)")
    trk.add_argument("--config", default=None, help="asv config (default: REPO/asv.conf.json)")
    trk.add_argument("--case-timeout", type=_positive_s, default=None, metavar="S",
                     help="stop a case's measuring process after S seconds; it is the case's error (default 1800)")
    reg = sub.add_parser("regressions", help="commit-by-commit regressions and improvements from asv results")
    reg.add_argument("--results", default=None, help="asv results folder (default: the repository's, from asv.conf.json)")
    reg.add_argument("--repo", default=None, help="the measured git repository, for commit order (default: the current one, if any)")
    reg.add_argument("--since", default=None, help="only regressions at commits after this one are new")
    reg.add_argument("--format", default="table", help="table | markdown | json")
    reg.add_argument("--config", default=None, help="regression settings (TOML); default: the repository's pyproject")
    reg.add_argument("--site-url", default="", help="prefix for graph links in Markdown (e.g. the published site's URL)")
    reg.add_argument("--record", default=None,
                     help="file of regressions already alerted: each is new once (default, in a tracked repository: "
                          "<results>/../mdperf/reported-regressions.json)")
    reg.add_argument("--no-record", action="store_true", help="neither read nor write the record")
    reg.add_argument("--issues", default=None, metavar="DIR",
                     help="write the texts of the issues to open (one per commit with new confirmed regressions) "
                          "and of the comments on fixed ones into DIR (docs/ci.md)")
    con = sub.add_parser("confirm", help="re-measure flagged changes against their base, interleaved, and decide")
    con.add_argument("commits", nargs="*", help="the flagged commits to re-measure (or --new)")
    con.add_argument("--new", action="store_true", help="every new regression: confirmed, or suspected and newest")
    con.add_argument("--machine", default=None, help="whose flags (default: this machine, as mdperf track names it)")
    con.add_argument("--rounds", type=int, default=None, help="measurements of each side, interleaved (>= 4; default 8)")
    con.add_argument("--max-rounds", type=int, default=None,
                     help="an inconclusive case is measured further, up to this many a side (default 24)")
    con.add_argument("--profile", default=None, help="the profile the results were measured with (its steps)")
    con.add_argument("--max-cases", type=int, default=None,
                     help="re-measure at most this many cases, the report's flags first (default with --new: 4)")
    con.add_argument("--format", default="table", help="table | markdown | json")
    con.add_argument("--repo", default=".")
    con.add_argument("--config", default=None)
    bis = sub.add_parser("bisect", help="name the commit of a change flagged on a range of unmeasured commits")
    bis.add_argument("range", nargs="?", default=None, help="A..B: the ranges within it (default: every range "
                                                            "flagged on this machine)")
    bis.add_argument("--machine", default=None, help="whose flags, and the machine measured (default: this one)")
    bis.add_argument("--profile", default=None, help="the profile to measure with (default: as mdperf track)")
    bis.add_argument("--repo", default=".")
    bis.add_argument("--config", default=None)
    res = sub.add_parser("results", help="keep the results on a git branch: pull before a run, push after")
    res.add_argument("action", choices=["pull", "push", "export", "merge"],
                     help="pull: branch -> local results; push: local results -> branch; export DIR: this machine's "
                          "results into DIR (an artifact); merge DIR...: exported results into the local results")
    res.add_argument("dirs", nargs="*", help="export: the folder to write; merge: the exported folders")
    res.add_argument("--repo", default=".")
    res.add_argument("--config", default=None)
    res.add_argument("--remote", default="origin")
    res.add_argument("--branch", default="mdperf-results")
    res.add_argument("--machine", default=None, help="this runner's machine name (default: as mdperf track names it)")
    res.add_argument("--all", action="store_true", help="push: every machine folder of the local results")
    res.add_argument("--no-fetch", action="store_true",
                     help="pull: read refs/remotes/REMOTE/BRANCH as a checkout with fetch-depth: 0 left it (no "
                          "credentials needed)")
    pub = sub.add_parser("publish", help="publish the asv site from the results")
    pub.add_argument("--repo", default=".")
    pub.add_argument("--config", default=None)
    pub.add_argument("--assets", default=None,
                     help="the site's libraries, as `mdperf site-assets` installed them (default: $MDPERF_SITE_ASSETS "
                          "or ~/.cache/mdperf/site-assets)")
    assets = sub.add_parser("site-assets", help="install the site's libraries with npm, once, so that published "
                                                "sites need no network")
    assets.add_argument("--dest", default=None, help="default: $MDPERF_SITE_ASSETS or ~/.cache/mdperf/site-assets")
    prev = sub.add_parser("preview", help="serve the published site on localhost")
    prev.add_argument("--repo", default=".")
    prev.add_argument("--config", default=None)
    prev.add_argument("--port", type=int, default=8080)
    return parser


def _progress_callback(console: Console, label: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A callback that shows a bar once a run has lasted PROGRESS_AFTER_S, and a function to close it."""
    start = time.monotonic()
    state: dict = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            if time.monotonic() - start < PROGRESS_AFTER_S or done >= total:
                return
            bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
                           TimeRemainingColumn(), console=console, transient=True)
            bar.start()
            state["bar"], state["task"] = bar, bar.add_task(label, total=total)
        state["bar"].update(state["task"], completed=done)

    def close() -> None:
        if "bar" in state:
            state["bar"].stop()

    return update, close


def _measure(args: argparse.Namespace, calc: str, console: Console):
    """One case in a process of its own (mdperf.isolate): a plug-in that exits or hangs is the case's error, and
    one process's peak RSS or GPU cache never counts in another's figures."""
    from .isolate import measure_isolated
    from .measurement import describe_case

    case = describe_case(calc, args.system, args.atoms, args.steps, protocol=args.protocol, device=args.device,
                         dtype=args.dtype, warmup=args.warmup, timestep_fs=args.timestep_fs,
                         temperature_k=args.temperature_k, seed=args.seed,
                         calc_options=getattr(args, "options", {}).get(calc))
    update, close = _progress_callback(console, f"{case.label} on {args.system}")
    try:
        return measure_isolated(case, progress=update, timeout_s=_timeout(args))
    finally:
        close()


def _timeout(args: argparse.Namespace) -> float:
    from .isolate import CASE_TIMEOUT_S

    return args.case_timeout if getattr(args, "case_timeout", None) is not None else CASE_TIMEOUT_S


def _warn_if_busy(console: Console, label: str, latency_ms: list[float]) -> bool:
    """Said out loud: step times whose tail or spread say the machine was busy are no quiet run's figures."""
    from .guard import busy_signs

    why = busy_signs(latency_ms)
    if why:
        console.print(f"[bold yellow]warning[/]: {escape(label)}: the machine looked busy ({escape(why)}); these "
                      "figures are not comparable with a quiet run's: measure again with the machine idle",
                      highlight=False, soft_wrap=True)
    return bool(why)


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0 or 0.01 <= abs(value) < 1e5:
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    return f"{value:.3g}"


def cmd_list(console: Console) -> int:
    from . import calculators, systems

    cuda = calculators.cuda_available()
    table = Table(title="Calculators")
    for col in ("name", "cpu", "cuda", "dtypes", "description"):
        table.add_column(col)
    entries: dict[str, object] = dict(calculators.all_entries())
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
            a = entry.availability(device)
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
    if not cuda:
        console.print("CUDA: not available on this machine")
    return EXIT_OK


def _configured_calculators() -> list[str]:
    """The calculators of the current repository's [tool.mdperf.suite], every profile's; none outside one."""
    from . import git
    from .suite import config as suite_config

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


def check_output_path(path: str | None, what: str = "--json") -> None:
    """Before any work: an output path must be ``-`` (stdout) or a regular file that can be created or replaced
    in a writable folder (never a directory or a device node)."""
    if path is None or path == "-":
        return
    p = Path(path)
    if p.exists() and not p.is_file():
        raise UserError(f"{what} {path}: not a regular file (a directory or a device); give a file path or - for stdout")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"{what} {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UserError(f"{what} {path}: not writable")
    import tempfile

    try:  # what the atomic write will do at the end (access() says yes to root even on /proc)
        fd, probe = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".probe", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(f"{what} {path}: not writable ({exc.strerror or exc})") from None


def _write_json(path: str, payload: str) -> None:
    """``-``: stdout; else written atomically.  A failure (disk full) is one line and exit 2 — after the
    results have been printed."""
    from .result import atomic_write_text

    if path == "-":
        sys.stdout.write(payload + "\n")
        sys.stdout.flush()
        return
    try:
        atomic_write_text(path, payload)
    except OSError as exc:
        raise UserError(f"could not write {path}: {exc.strerror or exc}") from None


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    check_output_path(args.json)
    if args.plot:
        check_output_dir(args.plot, "--plot")
    if args.json == "-":
        console = _console(stderr=True)  # stdout carries the JSON alone
    args.options = parse_calc_options(args.calc_option, [args.calc])
    result = _measure(args, args.calc, console)
    c = result.case
    from .measurement import calculator_label

    console.print(
        f"[bold]{escape(calculator_label(c['calculator'], c.get('calc_options')))}[/] on {c['system']} ({c['atoms']} atoms), {c['protocol']}, {c['device']}/{c['dtype']}, "
        f"{c['steps']} timed steps of {c['timestep_fs']:g} fs after {c['warmup']} warm-up"
    )
    table = Table()
    for col, justify in (("metric", "left"), ("value", "right"), ("unit", "left"), ("status", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for name in SHOWN:
        m = result.metrics[name]
        status = "ok" if m.status == "ok" else f"{m.status}: {m.reason}"
        table.add_row(name, _fmt(m.value), m.unit, escape(status))
    console.print(table)
    _warn_if_busy(console, calculator_label(c["calculator"], c.get("calc_options")), result.samples.get("latency_ms", []))
    if args.plot:
        _plot([result], args.plot, console)
    if args.json:
        _write_json(args.json, result.to_json(indent=1))
    if result.status != "ok":
        console.print(f"[red]{result.status}[/]: {escape(result.reason)}")
        return EXIT_FAILED
    return EXIT_OK


def _plot(results: list, out: str, console: Console, agreement: dict | None = None) -> None:
    from . import figures

    paths = []
    for r in results:
        paths += figures.case_figure(r, out)
    if len(results) > 1:
        paths += figures.overlay_figure(results, out, agreement=agreement)
    for p in paths:
        console.print(f"figure: {p}", highlight=False, soft_wrap=True)


def check_output_dir(path: str, what: str) -> None:
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UserError(f"{what} {path}: exists and is not a folder")
    parent = p if p.exists() else p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{what} {path}: not writable")


def cmd_plot(args: argparse.Namespace, console: Console) -> int:
    from .result import MeasureResult

    check_output_dir(args.out, "--out")
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
    _plot(results, args.out, console)
    return EXIT_OK


def cmd_scale(args: argparse.Namespace, console: Console) -> int:
    import numpy as np

    from . import calculators, figures
    from .isolate import measure_isolated
    from .measurement import describe_case

    check_output_dir(args.out, "--out")
    options = parse_calc_options(args.calc_option, args.calc)
    for name in args.calc:
        calculators.resolve(name)
    cases = [describe_case(c, args.system, n, args.steps, device=args.device, warmup=args.warmup,
                           calc_options=options.get(c))
             for c in args.calc for n in sorted(set(args.atoms))]  # bad input fails before any measurement
    rows = []
    for case in cases:
        console.print(f"measuring {case.label} at {case.atoms} atoms on {case.device}", highlight=False, markup=False)
        r = measure_isolated(case, timeout_s=_timeout(args))
        _warn_if_busy(console, f"{case.label} at {case.atoms} atoms", r.samples.get("latency_ms", []))
        lat = np.asarray(r.samples.get("latency_ms", []), dtype=float)
        rows.append({"calculator": case.label, "device": case.device, "atoms": case.atoms, "status": r.status,
                     "reason": r.reason, "latency_median_ms": r.value("latency_median_ms"),
                     "latency_q25_ms": float(np.percentile(lat, 25)) if lat.size else None,
                     "latency_q75_ms": float(np.percentile(lat, 75)) if lat.size else None,
                     "us_per_atom_step": r.value("us_per_atom_step")})
    table = Table(title=f"{args.system}, {args.device}, {args.steps} steps: time per step against atoms")
    for col in ("calculator", "atoms", "median ms", "IQR ms", "µs/atom/step", "status"):
        table.add_column(col, justify="left" if col in ("calculator", "status") else "right")
    for row in rows:
        iqr = (f"{row['latency_q25_ms']:.3g}-{row['latency_q75_ms']:.3g}" if row["latency_q25_ms"] is not None
               else "—")
        table.add_row(row["calculator"], str(row["atoms"]), _fmt(row["latency_median_ms"]), iqr,
                      _fmt(row["us_per_atom_step"]), escape(row["status"] + (f": {row['reason']}" if row["reason"] else "")))
    console.print(table)
    slopes = {}
    from .measurement import calculator_label

    for calc in [calculator_label(c, options.get(c)) for c in args.calc]:
        pts = [r for r in rows if r["calculator"] == calc and r["latency_median_ms"]]
        slope = figures.fit_slope(np.array([p["atoms"] for p in pts], float),
                                  np.array([p["latency_median_ms"] for p in pts], float))
        slopes[calc] = slope
        console.print(f"{calc}: time ~ atoms^{slope:.2f}" if slope is not None else f"{calc}: too few sizes to fit",
                      highlight=False)
    out = Path(args.out)
    paths = figures.scaling_figure(rows, out)
    _write_json(str(out / "scaling.json"), json.dumps({"system": args.system, "device": args.device,
                                                        "steps": args.steps, "slopes": slopes, "rows": rows}, indent=1))
    for p in [*paths, out / "scaling.json"]:
        console.print(f"wrote {p}", highlight=False, soft_wrap=True)
    return EXIT_OK if all(r["status"] == "ok" for r in rows) else EXIT_FAILED


def cmd_confirm(args: argparse.Namespace, console: Console) -> int:
    from . import asvconf, confirm, git, machine
    from .regressions import analyse_results, config, record
    from .regressions.model import RUN_WIDE
    from .suite import config as suite_config

    if args.format not in ("table", "markdown", "json"):
        raise UserError(f"unknown format {args.format!r}; valid: table, markdown, json")
    if not args.commits and not args.new:
        raise UserError("give the flagged commits to re-measure, or --new")
    from . import confirm as confirm_defaults
    from .confirm import ROUNDS

    args.rounds = ROUNDS if args.rounds is None else args.rounds
    if args.rounds < 4:
        raise UserError(f"--rounds must be >= 4 (a rank test cannot decide on fewer), got {args.rounds}")
    if args.max_cases is not None and args.max_cases < 1:
        raise UserError(f"--max-cases must be >= 1, got {args.max_cases}")
    args.max_rounds = max(confirm_defaults.MAX_ROUNDS, args.rounds) if args.max_rounds is None else args.max_rounds
    if args.max_rounds < args.rounds:
        raise UserError(f"--max-rounds must be >= --rounds ({args.rounds}), got {args.max_rounds}")
    repo = git.find_repo(args.repo)
    setup = asvconf.load(repo, args.config)
    name = machine.name_for(args.machine, setup.torch_requirement)
    profile_name = args.profile or setup.default_profile
    suite_config.load(repo / "pyproject.toml", profile_name)  # the profile exists
    os.environ[suite_config.PROFILE_ENV] = profile_name
    os.environ[suite_config.PYPROJECT_ENV] = str(repo / "pyproject.toml")
    from . import history
    from .suite import benchmarks as suite

    commits = [git.resolve(repo, c) for c in args.commits] if args.commits else None
    if commits and None in commits:
        raise UserError(f"unknown commit {args.commits[commits.index(None)]!r} in {repo}")
    cfg = config.load(None, repo)
    rep = analyse_results(setup.results_dir, repo, cfg, record=setup.state_dir / record.FILE_NAME,
                          update_record=False)
    flags = list(rep.flags)
    hist = history.read(setup.results_dir, repo, cfg.higher_is_better, cfg.run_gap_h)
    if args.new:  # the newest commits that look worse: re-measured the night they land
        flags += confirm.newest_suspicions(hist, name)
    if commits:  # the step time at each commit against its parent's, where the report has no flag of its own
        flags += confirm.at_commits(hist, name, commits)
    max_cases = args.max_cases if args.max_cases is not None else (confirm.MAX_CASES if args.new else None)
    chosen, skipped = confirm.targets(flags, repo, name, commits, args.new, max_cases)
    err = _console(stderr=True)
    for why in skipped:
        err.print(f"not re-measured: {escape(why)}", soft_wrap=True)
    if not chosen:
        console.print(f"nothing to confirm on machine {name}", highlight=False)
        return EXIT_OK
    from .progress import minutes as _minutes

    guess = confirm.estimate_s(chosen, hist, dict(suite.PROFILE), args.rounds, args.max_rounds)
    cases = f"{len(chosen)} case(s), {args.rounds} rounds a side (up to {args.max_rounds} where undecided)"
    err.print(f"confirm: {cases}: " + (f"about {_minutes(guess[0])}, at most {_minutes(guess[1])}" if guess else
                                      "no step time measured here to estimate from")
              + "; shorter: --max-cases 1, --rounds 4, --max-rounds " + str(args.rounds)
              + ", or a profile of fewer steps (--profile)", highlight=False, soft_wrap=True)
    live = sys.stderr.isatty()
    found = confirm.confirm(setup, chosen, dict(suite.PROFILE), args.rounds,
                            on_progress=lambda text: err.print(f"confirm: {text}", highlight=False,
                                                               soft_wrap=True) if not live else None,
                            max_rounds=args.max_rounds)
    if args.format == "json":
        print(json.dumps({"machine": name, "verdicts": found}, indent=1))
    else:
        rows = [(v["commit"][:8], v["base"][:8], v["benchmark"],
                 ", ".join(f"{k}={x.strip(chr(39))}" for k, x in v["params"].items()), v["verdict"],
                 f"×{v['ratio']:.3f}", f"[{v['ci'][0]:.3f}, {v['ci'][1]:.3f}]", f"{v['p_value']:.3g}",
                 str(v["rounds"]))
                for v in found]
        head = ("commit", "base", "benchmark", "parameters", "verdict", "ratio", "95% interval", "p", "rounds")
        if args.format == "markdown":
            print("| " + " | ".join(head) + " |\n|" + " --- |" * len(head))
            print("\n".join("| " + " | ".join(r) + " |" for r in rows))
        else:
            t = Table(title=f"mdperf confirm on {name}: {args.rounds}-{args.max_rounds} interleaved measurements "
                            "each side")
            for col in head:
                t.add_column(col, overflow="fold")
            for r in rows:
                t.add_row(*(escape(x) for x in r))
            console.print(t)
        for v in found:  # said out loud: an undecided flag is kept, never silenced
            if v["verdict"] == "inconclusive":
                console.print(f"{v['commit'][:8]} {escape(v['benchmark'])}: "
                              f"{escape(v.get('note') or 'inconclusive: its cases could not decide; kept to watch')}",
                              highlight=False, soft_wrap=True)
            elif v["benchmark"] == RUN_WIDE:
                console.print(f"{v['commit'][:8]}: the run-wide change is the {v['decided']}'s "
                              f"(from {len(v['from'])} representative case(s))", highlight=False, soft_wrap=True)
    up = [v for v in found if v["verdict"] == "confirmed" and v["kind"] == "regression"]
    return EXIT_NEW_REGRESSION if up else EXIT_OK


def cmd_bisect(args: argparse.Namespace, console: Console) -> int:
    from . import asvconf, bisect, git, machine
    from .regressions import analyse_results, config, record
    from .track import TrackError, publish, track

    repo = git.find_repo(args.repo)
    setup = asvconf.load(repo, args.config)
    name = machine.name_for(args.machine, setup.torch_requirement)
    if args.range and ".." not in args.range:
        raise UserError(f"a range is A..B, got {args.range!r}")
    rep = analyse_results(setup.results_dir, repo, config.load(None, repo),
                          record=setup.state_dir / record.FILE_NAME, update_record=False)
    todo = bisect.ranges(rep.flags, name, repo, args.range)
    if not todo:
        console.print(f"no change flagged on a range of unmeasured commits on machine {name}", highlight=False)
        return EXIT_OK

    def measure(commit: str) -> bool:
        try:
            s = track(repo, commit, profile=args.profile, machine_name=name, config=args.config, publish_site=False)
        except TrackError as exc:
            raise UserError(str(exc)) from None
        return all(o.status == "ok" for o in s.measured)

    for b in todo:
        f = b.flag
        console.print(f"{f.range_start[:8]}..{f.commit[:8]}: {len(b.candidates)} commits, {f.benchmark} "
                      f"{f.change_pct:+.1f}%", highlight=False, soft_wrap=True)
        bisect.run(b, setup.results_dir, measure,
                   on_progress=lambda text: console.print(f"  {text}", highlight=False, soft_wrap=True))
        where = (f"named: {b.named[:10]} {git.subject(repo, b.named)}" if b.named else
                 f"narrowed to {b.candidates[b.lo + 1][:8]}..{b.candidates[b.hi][:8]} (commits between failed)")
        console.print(f"  {where}; {len(b.measured)} measurement(s)"
                      + (f", {len(b.failed)} commit(s) did not build or run" if b.failed else ""),
                      highlight=False, soft_wrap=True)
    site, error, _ = publish(setup)
    if site is None or error:
        console.print(f"[red]site not published[/]: {escape(error)}")
    return EXIT_OK if all(b.named for b in todo) else EXIT_FAILED


def cmd_results(args: argparse.Namespace, console: Console) -> int:
    from . import asvconf, git, machine, results_branch
    from .regressions import record

    repo = git.find_repo(args.repo)
    setup = asvconf.load(repo, args.config)
    name = machine.name_for(args.machine, setup.torch_requirement)
    record_path = setup.state_dir / record.FILE_NAME
    wants_dirs = {"export": (1, 1), "merge": (1, None)}.get(args.action, (0, 0))
    if not wants_dirs[0] <= len(args.dirs) <= (wants_dirs[1] if wants_dirs[1] is not None else len(args.dirs)):
        raise UserError({"export": "export takes one folder to write", "merge": "merge takes the exported folders",
                         }.get(args.action, f"{args.action} takes no folder"))
    if args.all and args.action != "push":
        raise UserError("--all is for push")
    if args.no_fetch and args.action != "pull":
        raise UserError("--no-fetch is for pull")
    if args.action == "pull":
        s = results_branch.pull(repo, setup.results_dir, args.remote, args.branch, name, record_path,
                                fetch=not args.no_fetch)
        if s.empty:
            console.print(f"{args.branch} on {args.remote} holds no results yet", highlight=False)
        else:
            console.print(f"pulled {args.branch}: {len(s.added)} file(s) added, {len(s.replaced)} replaced, "
                          f"{len(s.kept)} of machine {name} kept as they are here"
                          + (f"; {s.record_entries} reported regression(s) added to the record"
                             if s.record_entries else ""), highlight=False)
        for why in s.skipped:
            console.print(f"[yellow]skipped[/] {escape(why)}", highlight=False, soft_wrap=True)
        return EXIT_OK
    if args.action == "export":
        dest = Path(args.dirs[0])
        if dest.exists() and not dest.is_dir():
            raise UserError(f"{dest} is not a folder")
        files = results_branch.export(setup.results_dir, name, dest)
        console.print(f"exported machine {name}'s results to {dest} ({len(files)} files)", highlight=False,
                      soft_wrap=True)
        return EXIT_OK
    if args.action == "merge":
        names = results_branch.merge(setup.results_dir, [Path(d) for d in args.dirs])
        console.print(f"merged the results of {', '.join(names)} into {setup.results_dir}", highlight=False,
                      soft_wrap=True)
        return EXIT_OK
    machines = results_branch.machines_in(setup.results_dir) if args.all else [name]
    commit = results_branch.push(repo, setup.results_dir, machines, args.remote, args.branch, record=record_path)
    console.print(f"pushed the results of {', '.join(machines)} to {args.branch} on {args.remote} ({commit[:10]})",
                  highlight=False)
    return EXIT_OK


def cmd_init(args: argparse.Namespace, console: Console) -> int:
    from . import git
    from .suite.init import init

    repo = git.find_repo(args.repo)
    options = parse_calc_options(args.calc_option, [*(args.calc or []), *([args.reference] if args.reference else [])])
    result = init(repo, calculators=args.calc, system=args.system, atoms=args.atoms, devices=args.devices,
                  steps=args.steps, warmup=args.warmup, reference=args.reference, force=args.force,
                  mdperf_requirement=args.mdperf_requirement, options=options or None, wrap=args.wrap)
    for p in result.written:
        console.print(f"wrote {p.relative_to(repo)}", highlight=False, soft_wrap=True)
    for k in result.kept:
        console.print(f"kept {escape(k)} (unchanged)", highlight=False, soft_wrap=True)
    cfg = result.config
    console.print(f"suite: {escape(', '.join(cfg.label(c) for c in cfg.calculators))} on {cfg.system}, atoms "
                  f"{', '.join(map(str, cfg.atoms))}, {', '.join(cfg.devices)}, {cfg.steps} steps; profiles "
                  f"{', '.join(cfg.profiles)}", highlight=False, soft_wrap=True)
    if result.dependencies_from:
        deps = ", ".join(result.dependencies) or "none"
        console.print(f"dependencies, from {escape(result.dependencies_from)}: {escape(deps)} (installed once per "
                      "benchmark environment: asv.conf.json matrix.req)", highlight=False, soft_wrap=True)
    notes = list(result.notes)
    if not args.no_probe and cfg.calculators:
        from .suite import probe

        console.print("timing one step of each case to estimate the time per commit ...", highlight=False)
        for est in probe.in_child(repo, repo / "pyproject.toml", cfg.profile):
            if "error" in est:
                notes.append(f"could not time {est['case']} here ({est['error']}); the benchmark environment will "
                             "measure it")
            elif est["s_per_commit"] > probe.SLOW_CASE_S:
                notes.append(f"{est['case']}: about {est['s_per_commit']:.0f} s per commit on this machine (one step "
                             f"{est['step_s'] * 1e3:.0f} ms, start {est['cold_s']:.1f} s); fewer --steps or smaller "
                             "--atoms make it shorter")
            else:
                console.print(f"  {escape(est['case'])}: about {est['s_per_commit']:.0f} s per commit",
                              highlight=False, soft_wrap=True)
    for note in notes:
        console.print(f"[bold yellow]note[/]: {escape(note)}", highlight=False, soft_wrap=True)
    if result.git_add:
        console.print(f"next: commit these files: {result.git_add} && git commit -m \"Track performance with "
                      "mdperf\"", highlight=False, soft_wrap=True, markup=False)
    console.print("then measure the last commits: mdperf track --last 3", highlight=False, soft_wrap=True)
    return EXIT_OK


def cmd_compare(args: argparse.Namespace, console: Console) -> int:
    from . import calculators

    reference = args.reference
    if reference is None:
        from .suite import config as suite_config

        try:
            reference = suite_config.read_table(Path.cwd() / "pyproject.toml").get("reference")
        except UserError:
            reference = None
    if reference:
        args.calcs = [reference] + [c for c in args.calcs if c != reference]
    check_output_path(args.json)
    if args.plot:
        check_output_dir(args.plot, "--plot")
    if args.json == "-":
        console = _console(stderr=True)  # stdout carries the JSON alone
    args.options = parse_calc_options(args.calc_option, args.calcs)
    for name in args.calcs:  # bad names are bad input: fail before measuring anything
        calculators.resolve(name)
    # Each calculator in its own process: one process's peak RSS only grows, and an earlier calculator's GPU
    # cache and warm CUDA context would count in a later one's figures (mdperf.isolate).
    results = [_measure(args, name, console) for name in args.calcs]
    base = results[0]
    table = Table(title=f"{args.system}, {results[0].case['atoms']} atoms, {args.protocol}, {args.device}, "
                        f"{args.steps} steps (speed-up and memory relative to {args.calcs[0]})")
    for col in ("calculator", "status", "mean ms", "p99 ms", "steps/s", "speed-up", "peak RSS MiB", "RSS ×",
                "GPU peak MiB", "GPU ×", "drift meV/atom/ps"):
        table.add_column(col, justify="left" if col in ("calculator", "status") else "right")

    def ratio(a: float | None, b: float | None) -> str:
        return f"{a / b:.2f}×" if a is not None and b not in (None, 0) else "—"

    from .measurement import calculator_label

    agree: dict[str, dict[str, float] | str] = {}
    if args.agreement:
        from .agreement import agreement

        for name in args.calcs[1:]:
            try:
                agree[name] = agreement(args.calcs[0], name, args.system, args.atoms, device=args.device,
                                        dtype=args.dtype, seed=args.seed)
            except Exception as exc:  # one calculator that cannot be evaluated is its row's note, not the end
                agree[name] = f"{type(exc).__name__}: {exc}"
        for col in ("E MAE meV/atom", "F MAE meV/Å", "F max meV/Å"):
            table.add_column(col, justify="right")

    def agreement_cells(name: str) -> list[str]:
        if not args.agreement:
            return []
        a = agree.get(name)
        if a is None:
            return ["reference", "", ""]
        if isinstance(a, str):
            return [escape(a), "", ""]
        return [_fmt(a["energy_mae_mev_per_atom"]), _fmt(a["force_mae_mev_per_a"]), _fmt(a["force_max_mev_per_a"])]

    for r in results:
        status = r.status if r.status == "ok" else f"{r.status}: {r.reason}"
        table.add_row(
            escape(calculator_label(r.case["calculator"], r.case.get("calc_options"))), escape(status), _fmt(r.value("latency_mean_ms")), _fmt(r.value("latency_p99_ms")),
            _fmt(r.value("steps_per_s")), ratio(base.value("latency_mean_ms"), r.value("latency_mean_ms")),
            _fmt(r.value("host_peak_rss_mib")), ratio(r.value("host_peak_rss_mib"), base.value("host_peak_rss_mib")),
            _fmt(r.value("gpu_peak_allocated_mib")),
            ratio(r.value("gpu_peak_allocated_mib"), base.value("gpu_peak_allocated_mib")),
            _fmt(r.value("drift_mev_per_atom_ps")), *agreement_cells(r.case["calculator"]),
        )
    console.print(table)
    for r in results:
        _warn_if_busy(console, calculator_label(r.case["calculator"], r.case.get("calc_options")),
                      r.samples.get("latency_ms", []))
    if args.plot:
        _plot(results, args.plot, console, agree)
    if args.json:
        rows = [r.to_dict() for r in results]
        for row in rows:
            if args.agreement and row["case"]["calculator"] in agree:
                row["agreement_with_" + args.calcs[0]] = agree[row["case"]["calculator"]]
        _write_json(args.json, json.dumps(rows, indent=1))
    return EXIT_OK if all(r.status == "ok" for r in results) else EXIT_FAILED


class _Heartbeat:
    """What `mdperf track` is doing, while it does it: on a terminal a live line (updated every second), in a CI
    log a plain line when a phase starts, when the case being measured changes or is measured again, and then at
    most every HEARTBEAT_S, with the elapsed time, the case (mdperf.progress) or the last line of the phase's log,
    and the time left."""

    def __init__(self, console: Console, live: bool, update: Callable[[str], object]) -> None:
        import threading

        self.console, self.live, self.update = console, live, update
        self.text, self.log, self.detail, self.since, self.printed = "", None, None, 0.0, 0.0
        self.said = ""
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def phase(self, text: str, log: Path | None, detail: Callable[[], tuple[str, str]] | None = None) -> None:
        with self.lock:
            self.text, self.log, self.detail, self.since, self.said = text, log, detail, time.monotonic(), ""
        if text and not self.live:
            self.console.print(f"{text} ...", highlight=False, markup=False, soft_wrap=True)
            self.printed = time.monotonic()

    def _last_log_line(self) -> str:
        if self.log is None:
            return ""
        try:
            with open(self.log, "rb") as fh:
                fh.seek(max(0, fh.seek(0, 2) - 4096))
                lines = [ln.strip() for ln in fh.read().decode(errors="replace").splitlines() if ln.strip()]
            return _shorten(lines[-1], 160) if lines else ""
        except OSError:
            return ""

    def _line(self) -> tuple[str, str]:
        """(the line, what it says that a log reader has not been told yet)."""
        elapsed = time.monotonic() - self.since
        what, left = self.detail() if self.detail is not None else ("", "")
        parts = [self.text, f"{int(elapsed // 60)} min {int(elapsed % 60):02d} s", what or self._last_log_line(), left]
        return " — ".join(p for p in parts if p), what

    def _run(self) -> None:
        while not self.stopped.wait(1.0):
            with self.lock:
                if not self.text:
                    continue
                try:
                    line, what = self._line()
                except Exception:  # the live line is for the person watching: never a reason for track to fail
                    continue
                news = bool(what) and what != self.said
                if news:
                    self.said = what
            if self.live:
                self.update(line)
            elif news or time.monotonic() - self.printed >= HEARTBEAT_S:
                self.console.print(line, highlight=False, markup=False, soft_wrap=True)
                self.printed = time.monotonic()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)


def _reason_lines(reason: str, most: int = 200) -> tuple[str, list[str]]:
    """A commit's reason as a log reads it: what happened on the commit's line, then each error and the log's path
    on lines of their own (never one 600-character line)."""
    head, sep, log = reason.rpartition("; log: ")
    if not sep:
        head, log = reason, ""
    head, sep, errors = head.partition("): ")
    head += ")" if sep else ""
    more = [_shorten(e.strip(), most) for e in errors.split(" | ") if e.strip()]
    return _shorten(head, most), more + ([f"log: {log}"] if log else [])


def _shorten(text: str, most: int) -> str:
    """At most ``most`` characters, cut at a character (never inside one) with an ellipsis."""
    return text if len(text) <= most else text[: most - 1] + "…"


HEARTBEAT_S = float(os.environ.get("MDPERF_HEARTBEAT_S", "30"))


def cmd_track(args: argparse.Namespace, console: Console) -> int:
    from .track import TrackError, _fmt_s, track

    state: dict = {}
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} commits"),
                        console=console, transient=True)

    def on_start(n: int, skipped: int) -> None:
        console.print(f"{n} commit(s) to measure, {skipped} already measured")
        if n:
            progress.start()
            state["task"] = progress.add_task("measuring", total=n)

    def on_commit_start(i: int, commit: str, subject: str) -> None:
        progress.update(state["task"], description=f"{commit[:10]} {escape(subject[:40])}")

    heartbeat = _Heartbeat(progress.console if console.is_terminal else console, live=console.is_terminal,
                           update=lambda text: state.get("task") is not None and progress.update(
                               state["task"], description=escape(_shorten(text, max(60, console.width - 30)))))

    def on_commit_done(i: int, outcome, subject: str) -> None:
        progress.update(state["task"], completed=i + 1)
        head, more = _reason_lines(outcome.reason)
        mark = ("[green]ok[/]" if outcome.status == "ok" else
                f"[yellow]partial[/]: {escape(head)}" if outcome.status == "partial" else f"[red]failed[/]: {escape(head)}")
        progress.console.print(f"{outcome.commit[:10]} {escape(_shorten(subject, 50))}: {mark} "
                               f"({_fmt_s(outcome.wall_s)}, overhead {_fmt_s(outcome.overhead_s)})", soft_wrap=True)
        for line in more:
            progress.console.print(f"    {escape(line)}", highlight=False, soft_wrap=True)

    if args.case_timeout is not None:  # read by the suite inside asv's processes
        os.environ["MDPERF_CASE_TIMEOUT_S"] = repr(args.case_timeout)
    try:
        summary = track(args.repo, args.range, last=args.last, profile=args.profile, machine_name=args.machine,
                        config=args.config, retry_failed=args.retry_failed, on_phase=heartbeat.phase,
                        on_start=on_start, on_commit_start=on_commit_start,
                        on_commit_done=on_commit_done)
    except TrackError as exc:
        raise UserError(str(exc)) from None
    finally:
        heartbeat.stop()
        progress.stop()
    ok = len(summary.measured) - len(summary.failed) - len(summary.partial)
    console.print(f"machine {summary.machine}: {ok} measured, "
                  + (f"{len(summary.partial)} partial, " if summary.partial else "")
                  + f"{len(summary.failed)} failed, "
                  f"{summary.skipped} skipped (already measured)"
                  + (f"; environment set-up {_fmt_s(summary.setup_s)}" if summary.measured else ""))
    if summary.busy:  # said out loud: these points are weaker evidence, and the report says what it left out
        console.print(f"[bold red]{escape(summary.busy)}[/]: the report judges them as weaker evidence; measure "
                      "again on a quiet machine (docs/guides/regressions.md)", soft_wrap=True)
    if summary.site:
        console.print(f"site: {summary.site}", highlight=False, soft_wrap=True)
        if summary.offline_note:
            _offline_note(console, summary.offline_note)
        if summary.publish_error:
            console.print(f"[red]{escape(summary.publish_error)}[/]")
    elif summary.publish_error:
        console.print(f"[red]site not published[/]: {escape(summary.publish_error)}")
    else:
        console.print("no results yet, so no site")
    return EXIT_FAILED if summary.failed or summary.partial or summary.publish_error else EXIT_OK


EXIT_NEW_REGRESSION = 1
EXIT_BLIND = 4  # regressions: most of a machine's newest run could not be judged (never read as quiet)


def cmd_regressions(args: argparse.Namespace, console: Console) -> int:
    from . import asvconf, git
    from .regressions import analyse_results, config, report
    from .regressions.record import FILE_NAME as RECORD_FILE

    if args.format not in ("table", "markdown", "json"):
        raise UserError(f"unknown format {args.format!r}; valid: table, markdown, json")
    repo = None
    try:
        repo = git.find_repo(args.repo or ".")
    except UserError:
        if args.repo:
            raise
    results, record = args.results, args.record
    if results is None:
        if repo is None:
            raise UserError("no --results given and not inside a git repository with an asv.conf.json")
        setup = asvconf.load(repo)
        results = setup.results_dir
        record = record or setup.state_dir / RECORD_FILE
    if args.issues:
        check_output_dir(args.issues, "--issues")
    rep = analyse_results(results, repo, config.load(args.config, repo), since=args.since,
                          record=None if args.no_record else record)
    if args.issues:
        from .regressions import issues
        from .regressions.record import Record

        rec = Record.load(record) if record and not args.no_record and args.since is None else None
        issues.write(Path(args.issues), rep, rec, args.site_url)
    if args.format == "json":
        print(report.to_json(rep))
    elif args.format == "markdown":
        print(report.markdown(rep, args.site_url))
    else:
        report.table(rep, console)
    if rep.new_confirmed_regressions:
        return EXIT_NEW_REGRESSION
    return EXIT_BLIND if rep.blind else EXIT_OK


def _offline_note(console: Console, note: str) -> None:
    """What the offline step did, indented under the site's path; its failure in bold red, never a quiet line."""
    from .offline import NOT_OFFLINE

    if note.startswith(NOT_OFFLINE):
        console.print(f"[bold red]{escape(note)}[/]", highlight=False, soft_wrap=True)
    else:
        console.print(f"  {escape(note)}", highlight=False, soft_wrap=True)


def cmd_publish(args: argparse.Namespace, console: Console) -> int:
    from . import asvconf, git
    from .track import publish

    setup = asvconf.load(git.find_repo(args.repo), args.config)
    assets = Path(args.assets) if args.assets else None
    if assets is not None and not assets.is_dir():
        raise UserError(f"--assets {assets}: no such folder")
    site, error, offline_note = publish(setup, assets=assets)
    if site is None:
        raise UserError(error)
    console.print(f"site: {site}", highlight=False, soft_wrap=True)
    if offline_note:
        _offline_note(console, offline_note)
    if error:
        console.print(f"[red]{escape(error)}[/]")
        return EXIT_FAILED
    return EXIT_OK


def cmd_site_assets(args: argparse.Namespace, console: Console) -> int:
    from . import offline

    if args.dest and Path(args.dest).exists() and not Path(args.dest).is_dir():
        raise UserError(f"--dest {args.dest}: not a folder")
    modules = offline.install(Path(args.dest) if args.dest else None)
    console.print(f"site libraries installed: {modules}", highlight=False, soft_wrap=True)
    if args.dest:
        console.print(f"publish with --assets {args.dest} or {offline.ENV_VAR}={args.dest}", highlight=False,
                      soft_wrap=True)
    return EXIT_OK


def cmd_preview(args: argparse.Namespace, console: Console) -> int:
    import functools
    import http.server

    from . import asvconf, git

    setup = asvconf.load(git.find_repo(args.repo), args.config)
    if not (setup.html_dir / "index.html").exists():
        raise UserError(f"no site at {setup.html_dir}; run `mdperf track` or `mdperf publish` first")
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be 0-65535 (0: any free port), got {args.port}")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(setup.html_dir))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    except OSError as exc:  # the port is taken, or not ours to bind
        raise UserError(f"cannot serve on port {args.port}: {exc.strerror or exc}") from None
    with server:
        console.print(f"serving {setup.html_dir} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)",
                      soft_wrap=True, highlight=False, markup=False)
        sys.stdout.flush()
        server.serve_forever()
    return EXIT_OK


def _console(stderr: bool = False) -> Console:
    """Rich's console; off a terminal (CI logs, pipes) never cut at 80 columns."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    columns = os.environ.get("COLUMNS", "0")
    return Console(stderr=stderr, width=max(int(columns) if columns.isdigit() else 0, 400))


def _stop_on_signal(signum: int, frame: object) -> None:
    # SIGTERM and SIGHUP end mdperf as Ctrl-C does: through the finally blocks that stop asv's process group and
    # the measurement children, instead of leaving them running.
    raise SystemExit(128 + signum)


def _use_suite_dir(where: str) -> None:
    """In a tracked repository, the benchmark folder's modules (a factory written for mdperf) resolve in every
    command, as they do inside asv's processes."""
    from . import calculators, git
    from .suite.config import suite_dir

    try:
        pyproject = git.find_repo(where) / "pyproject.toml"
        if "tool.mdperf.suite" not in pyproject.read_text(errors="replace"):
            return
    except (UserError, OSError):
        return
    folder = suite_dir(pyproject)
    if folder.is_dir():
        calculators.add_search_path(folder)


def main(argv: Sequence[str] | None = None) -> int:
    console = _console()
    err = _console(stderr=True)
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, _stop_on_signal)
    try:
        args = build_parser().parse_args(argv)
        _use_suite_dir(getattr(args, "repo", None) or ".")
        commands = {"list": lambda: cmd_list(console), "run": lambda: cmd_run(args, console),
                    "compare": lambda: cmd_compare(args, console), "track": lambda: cmd_track(args, console),
                    "init": lambda: cmd_init(args, console), "plot": lambda: cmd_plot(args, console),
                    "scale": lambda: cmd_scale(args, console), "results": lambda: cmd_results(args, console),
                    "confirm": lambda: cmd_confirm(args, console), "bisect": lambda: cmd_bisect(args, console),
                    "regressions": lambda: cmd_regressions(args, console),
                    "publish": lambda: cmd_publish(args, console),
                    "site-assets": lambda: cmd_site_assets(args, console), "preview": lambda: cmd_preview(args, console)}
        return commands[args.command]()
    except UserError as exc:
        err.print(f"mdperf: error: {exc}", highlight=False, markup=False, soft_wrap=True)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        err.print("mdperf: interrupted", markup=False)
        return 130
    except BrokenPipeError:  # `mdperf regressions | head`
        return EXIT_OK
    except Exception as exc:  # a bug of mdperf's, never to be read as a result (exit 1 is a regression)
        err.print(f"mdperf: internal error: {type(exc).__name__}: {exc} (please report it; MDPERF_DEBUG=1 shows "
                  "the traceback)", highlight=False, markup=False, soft_wrap=True)
        if os.environ.get("MDPERF_DEBUG"):
            import traceback

            traceback.print_exc()
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
