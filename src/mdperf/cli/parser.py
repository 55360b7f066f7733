"""The command line's arguments: each shared argument declared once, each command's own beside it, and the
argument types that turn bad input into one line and exit 2 before any work."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Sequence

from ..errors import UserError
from ..formats import FORMATS


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # one line, exit 2 (no usage)
        raise UserError(message)


def positive_s(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text}")
    return value


def seed(text: str) -> int:
    """numpy takes seeds in [0, 2**32): a bad one is bad input before anything is measured."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be in 0..{2**32 - 1}, got {value}")
    return value


def thread_counts(text: str) -> list[int]:
    """``--threads``: one count, or several separated by commas (compare and scale sweep them)."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a thread count or a comma-separated list of them: {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"thread counts must be >= 1, got {text}")
    return list(dict.fromkeys(counts))


def _threads(p: argparse.ArgumentParser, sweep: bool) -> None:
    from ..threads import DEFAULT_THREADS

    p.add_argument("--threads", type=thread_counts, default=[DEFAULT_THREADS], metavar="N[,N...]" if sweep else "N",
                   help=f"CPU threads of the measuring process (torch intra/inter-op, OpenMP, BLAS); default "
                        f"{DEFAULT_THREADS}" + ("; several, comma-separated, are each measured" if sweep else ""))


def output_format(text: str) -> str:
    if text not in FORMATS:
        raise argparse.ArgumentTypeError(f"unknown format {text!r}; valid: {', '.join(FORMATS)}")
    return text


def parse_calc_options(pairs: Sequence[str], calcs: Sequence[str]) -> dict[str, dict[str, object]]:
    """``--calc-option`` values, per calculator; UserError for a malformed one."""
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
        value: object
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except (tomllib.TOMLDecodeError, ValueError):
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw  # a bare word: a string (a model path, a device name)
        out.setdefault(calc, {})[key] = value
    return out


# --- arguments shared by several commands ---------------------------------------------------------------------


def _case_timeout(p: argparse.ArgumentParser, default_s: int = 3600, what: str = "case") -> None:
    p.add_argument("--case-timeout", type=positive_s, default=None, metavar="S",
                   help=f"stop a {what} still running after S seconds; it is an error (default {default_s})")


def _calc_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--calc-option", action="append", default=[], metavar="[CALC.]KEY=VALUE",
                   help="a keyword for the calculator's factory or class (repeatable; VALUE a TOML/JSON literal, "
                        "else a string); with several calculators prefix the one it is for: mycalc:Calc.cutoff=5.0")


def _case(p: argparse.ArgumentParser) -> None:
    p.add_argument("--system", default="ar", help="benchmark system (see `mdperf list`); default ar")
    p.add_argument("--atoms", type=int, default=256, help="requested atom count; the nearest supercell is built")
    p.add_argument("--steps", type=int, default=1000, help="timed MD steps (default 1000)")
    p.add_argument("--warmup", type=int, default=20, help="untimed warm-up steps (default 20)")
    p.add_argument("--protocol", default="nve", help="nve | nvt | npt (default nve)")
    p.add_argument("--device", default="cpu", help="cpu | cuda (default cpu)")
    p.add_argument("--dtype", default=None, help="float32 | float64 (default: the calculator's own)")
    p.add_argument("--timestep-fs", type=float, default=None, help="time step in fs (default: the system's)")
    p.add_argument("--temperature-k", type=float, default=None, help="initial / bath temperature in K")
    p.add_argument("--seed", type=seed, default=0, help="the initial velocities' random seed (0 to 2**32-1)")
    p.add_argument("--json", metavar="FILE", help="write the full result (samples included) as JSON; - for stdout")
    p.add_argument("--plot", metavar="DIR", default=None, help="draw the figures (PNG and SVG) into DIR")
    _case_timeout(p)
    _calc_option(p)


def _sweep_case(p: argparse.ArgumentParser, sweep: bool) -> None:
    _case(p)
    _threads(p, sweep)


def _repo(p: argparse.ArgumentParser, config: bool = True) -> None:
    p.add_argument("--repo", default=".", help="the measured repository (default: the current one)")
    if config:
        p.add_argument("--config", default=None, help="asv config (default: REPO/asv.conf.json)")


def _machine(p: argparse.ArgumentParser, what: str = "the machine") -> None:
    p.add_argument("--machine", default=None, help=f"{what} (default: this machine, as mdperf track names it)")


def _format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", type=output_format, default="table", help=" | ".join(FORMATS))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mdperf", description="Performance tracking for molecular-dynamics calculators.")
    parser.add_argument("--version", action="version", version=f"mdperf {__import__('mdperf').__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("list", help="calculators and systems, with availability")
    p.add_argument("--cuda", action="store_true",
                   help="ask torch itself whether CUDA works and name the GPUs (imports torch: seconds)")
    run = sub.add_parser("run", help="measure one calculator on one case")
    run.add_argument("--calc", required=True, help="registry name, entry point or package.module:function")
    _sweep_case(run, sweep=False)
    cmp_ = sub.add_parser("compare", help="the same case for several calculators, relative to the first")
    cmp_.add_argument("calcs", nargs="+", metavar="CALC")
    cmp_.add_argument("--agreement", action="store_true",
                      help="also the energy and force errors of each calculator against the first, on the same frames")
    cmp_.add_argument("--reference", default=None,
                      help="measured first, the others' speed-up against it (default: [tool.mdperf.suite] reference)")
    _sweep_case(cmp_, sweep=True)
    val = sub.add_parser("validate", help="check a calculator against the calculator contract, a line per check")
    val.add_argument("calc", metavar="CALC", help="registry name, entry point or package.module:function (or :Class)")
    val.add_argument("--system", default="ar", help="benchmark system (see `mdperf list`); default ar")
    val.add_argument("--atoms", type=int, default=32, help="requested atom count (default 32: it is evaluated "
                                                          "many times)")
    val.add_argument("--device", default="cpu", help="cpu | cuda (default cpu)")
    val.add_argument("--dtype", default=None, help="float32 | float64 (default: the calculator's own)")
    _calc_option(val)
    _format(val)
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
    _threads(sca, sweep=True)
    sca.add_argument("--out", default="mdperf-scaling", help="folder for the figure, table and JSON")
    _case_timeout(sca)
    _calc_option(sca)
    ini = sub.add_parser("init", help="make a repository trackable: asv.conf.json, benchmarks/md.py, [tool.mdperf.suite]")
    _repo(ini, config=False)
    ini.add_argument("--calc", nargs="+", default=None, metavar="CALC",
                     help="calculator(s) to track: registry name, entry point or package.module:function")
    ini.add_argument("--system", default=None, help="system (default: ar)")
    ini.add_argument("--atoms", type=int, nargs="+", default=None, help="atom counts (default: 108)")
    ini.add_argument("--devices", nargs="+", default=None, help="cpu and/or cuda (default: cpu)")
    ini.add_argument("--steps", type=int, default=None, help="timed MD steps per case (default: 300)")
    ini.add_argument("--warmup", type=int, default=None, help="warm-up steps (default: 20)")
    ini.add_argument("--reference", default=None, help="a reference calculator (the teacher): speed-ups against it")
    _calc_option(ini)
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
    _repo(trk)
    _case_timeout(trk, 1800, "case's measuring process")
    reg = sub.add_parser("regressions", help="commit-by-commit regressions and improvements from asv results")
    reg.add_argument("--results", default=None, help="asv results folder (default: the repository's, from asv.conf.json)")
    reg.add_argument("--repo", default=None, help="the measured git repository, for commit order (default: the current one, if any)")
    reg.add_argument("--since", default=None, help="only regressions at commits after this one are new")
    _format(reg)
    reg.add_argument("--settings", default=None, metavar="TOML",
                     help="regression settings (TOML); default: the repository's pyproject")
    reg.add_argument("--config", default=None, dest="config_deprecated", help=argparse.SUPPRESS)  # --settings' old name
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
    _machine(con, "whose flags")
    con.add_argument("--rounds", type=int, default=None, help="measurements of each side, interleaved (>= 4; default 8)")
    con.add_argument("--max-rounds", type=int, default=None,
                     help="an inconclusive case is measured further, up to this many a side (default 24)")
    con.add_argument("--profile", default=None, help="the profile the results were measured with (its steps)")
    con.add_argument("--max-cases", type=int, default=None,
                     help="re-measure at most this many cases, the report's flags first (default with --new: 4)")
    con.add_argument("--no-profile", action="store_true",
                     help="do not profile each confirmed regression afterwards (mdperf profile; default: profiled)")
    _format(con)
    _repo(con)
    pro = sub.add_parser("profile", help="why a commit got slower: one case profiled at its base and at the commit, "
                                         "in turns, and the functions whose time grew most")
    pro.add_argument("commit", help="the commit to profile")
    pro.add_argument("--base", default=None, help="the commit to profile it against (default: its parent)")
    pro.add_argument("--case", default=None, help="CALCULATOR:ATOMS[:DEVICE] of the suite (default: its first "
                                                  "calculator at its largest size, on its first device)")
    pro.add_argument("--rounds", type=int, default=None, help="profiled runs of each side, in turns (>= 3; default 5)")
    pro.add_argument("--profile", default=None, help="the suite profile whose case settings to use (default: as "
                                                     "mdperf track)")
    _machine(pro, "whose results the profile is kept with")
    _format(pro)
    _repo(pro)
    bis = sub.add_parser("bisect", help="name the commit of a change flagged on a range of unmeasured commits")
    bis.add_argument("range", nargs="?", default=None, help="A..B: the flagged ranges within it; with none, "
                    "its ends are re-measured against each other and, if they differ, the commit is searched for "
                    "(default: every range flagged on this machine)")
    _machine(bis, "whose flags, and the machine measured")
    bis.add_argument("--profile", default=None, help="the profile to measure with (default: as mdperf track)")
    _repo(bis)
    res = sub.add_parser("results", help="keep the results on a git branch: pull before a run, push after")
    res.add_argument("action", choices=["pull", "push", "export", "merge"],
                     help="pull: branch -> local results; push: local results -> branch; export DIR: this machine's "
                          "results into DIR (an artifact); merge DIR...: exported results into the local results")
    res.add_argument("dirs", nargs="*", help="export: the folder to write; merge: the exported folders")
    _repo(res)
    res.add_argument("--remote", default="origin")
    res.add_argument("--branch", default="mdperf-results")
    _machine(res, "this runner's machine name")
    res.add_argument("--all", action="store_true", help="push: every machine folder of the local results")
    res.add_argument("--no-fetch", action="store_true",
                     help="pull: read refs/remotes/REMOTE/BRANCH as a checkout with fetch-depth: 0 left it (no "
                          "credentials needed)")
    pub = sub.add_parser("publish", help="publish the asv site from the results")
    _repo(pub)
    pub.add_argument("--assets", default=None,
                     help="the site's libraries, as `mdperf site-assets` installed them (default: $MDPERF_SITE_ASSETS "
                          "or ~/.cache/mdperf/site-assets)")
    assets = sub.add_parser("site-assets", help="install the site's libraries with npm, once, so that published "
                                                "sites need no network")
    assets.add_argument("--dest", default=None, help="default: $MDPERF_SITE_ASSETS or ~/.cache/mdperf/site-assets")
    prev = sub.add_parser("preview", help="serve the published site on localhost")
    _repo(prev)
    prev.add_argument("--port", type=int, default=8080)
    return parser
