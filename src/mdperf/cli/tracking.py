"""The commands that keep a repository's history: init, track, results, publish, site-assets, preview."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn

from ..errors import UserError
from ..formats import shorten
from . import output
from .output import EXIT_FAILED, EXIT_OK
from .parser import parse_calc_options


def tracked(args: argparse.Namespace, machine_name: bool = True):
    """The preamble of every command on a tracked repository: (the repository, its asv set-up, the machine's
    name — checked, as every command names it: mdperf.machine.name_for)."""
    from .. import asvconf, git, machine

    repo = git.find_repo(args.repo)
    setup = asvconf.load(repo, args.config)
    name = machine.name_for(getattr(args, "machine", None), setup.torch_requirement) if machine_name else ""
    return repo, setup, name


def cmd_init(args: argparse.Namespace, console: Console) -> int:
    from .. import git
    from ..suite.init import init

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
    assert cfg is not None  # init always returns the suite it wrote or kept
    console.print(f"suite: {escape(', '.join(cfg.label(c) for c in cfg.calculators))} on {cfg.system}, atoms "
                  f"{', '.join(map(str, cfg.atoms))}, {', '.join(cfg.devices)}, {cfg.steps} steps; profiles "
                  f"{', '.join(cfg.profiles)}", highlight=False, soft_wrap=True)
    if result.dependencies_from:
        deps = ", ".join(result.dependencies) or "none"
        console.print(f"dependencies, from {escape(result.dependencies_from)}: {escape(deps)} (installed once per "
                      "benchmark environment: asv.conf.json matrix.req)", highlight=False, soft_wrap=True)
    notes = list(result.notes)
    if not args.no_probe and cfg.calculators:
        from ..suite import probe

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


def cmd_track(args: argparse.Namespace, console: Console) -> int:
    from ..progress import Heartbeat, reason_lines
    from ..progress import seconds_text as _fmt_s
    from ..track import TrackError, track

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

    def live_line(text: str) -> None:
        if state.get("task") is not None:
            progress.update(state["task"], description=escape(shorten(text, max(60, console.width - 30))))

    heartbeat = Heartbeat(progress.console if console.is_terminal else console, live=console.is_terminal,
                          update=live_line)

    def on_commit_done(i: int, outcome, subject: str) -> None:
        progress.update(state["task"], completed=i + 1)
        head, more = reason_lines(outcome.reason)
        mark = ("[green]ok[/]" if outcome.status == "ok" else
                f"[yellow]partial[/]: {escape(head)}" if outcome.status == "partial" else f"[red]failed[/]: {escape(head)}")
        progress.console.print(f"{outcome.commit[:10]} {escape(shorten(subject, 50))}: {mark} "
                               f"({_fmt_s(outcome.wall_s)}, overhead {_fmt_s(outcome.overhead_s)})", soft_wrap=True)
        for line in more:
            progress.console.print(f"    {escape(line)}", highlight=False, soft_wrap=True)

    try:
        summary = track(args.repo, args.range, last=args.last, profile=args.profile, machine_name=args.machine,
                        config=args.config, retry_failed=args.retry_failed, case_timeout_s=args.case_timeout,
                        on_phase=heartbeat.phase,
                        on_start=on_start, on_commit_start=on_commit_start,
                        on_commit_done=on_commit_done,
                        on_warning=lambda text: progress.console.print(f"[yellow]warning[/]: {escape(text)}",
                                                                       highlight=False, soft_wrap=True))
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
            output.offline_note(console, summary.offline_note)
        if summary.publish_error:
            console.print(f"[red]{escape(summary.publish_error)}[/]")
    elif summary.publish_error:
        console.print(f"[red]site not published[/]: {escape(summary.publish_error)}")
    else:
        console.print("no results yet, so no site")
    return EXIT_FAILED if summary.failed or summary.partial or summary.publish_error else EXIT_OK


def cmd_results(args: argparse.Namespace, console: Console) -> int:
    from .. import results_branch
    from ..regressions import record

    repo, setup, name = tracked(args)
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


def cmd_publish(args: argparse.Namespace, console: Console) -> int:
    from ..publish import publish

    _, setup, _ = tracked(args, machine_name=False)
    assets = Path(args.assets) if args.assets else None
    if assets is not None and not assets.is_dir():
        raise UserError(f"--assets {assets}: no such folder")
    site, error, offline_note = publish(setup, assets=assets)
    if site is None:
        raise UserError(error)
    console.print(f"site: {site}", highlight=False, soft_wrap=True)
    if offline_note:
        output.offline_note(console, offline_note)
    if error:
        console.print(f"[red]{escape(error)}[/]")
        return EXIT_FAILED
    return EXIT_OK


def cmd_site_assets(args: argparse.Namespace, console: Console) -> int:
    from .. import offline

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

    _, setup, _ = tracked(args, machine_name=False)
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


