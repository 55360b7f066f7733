"""The commands that judge the history: regressions (the report), confirm (re-measure a flag), profile (why it
got slower), bisect (name the commit inside a flagged range)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from ..errors import UserError
from . import output
from .output import EXIT_BLIND, EXIT_FAILED, EXIT_NEW_REGRESSION, EXIT_OK
from .tracking import tracked


def cmd_regressions(args: argparse.Namespace, console: Console) -> int:
    from .. import asvconf, git
    from ..regressions import analyse_results, config, issues, report
    from ..regressions.record import FILE_NAME as RECORD_FILE

    settings = args.settings
    if args.config_deprecated is not None:
        output.console(stderr=True).print("mdperf: warning: regressions --config is deprecated: it is --settings "
                                          "(the regression settings, TOML)", highlight=False, soft_wrap=True)
        settings = settings or args.config_deprecated
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
        output.check_output_dir(args.issues, "--issues")
    rep = analyse_results(results, repo, config.load(settings, repo), since=args.since,
                          record=None if args.no_record else record)
    if args.issues:  # the record as the report read and updated it: fixes are marked in it, then it is saved
        from ..profiling import load as load_profiles

        issues.write(Path(args.issues), rep, rep.record, args.site_url, load_profiles(Path(results)))
    if args.format == "json":
        print(report.to_json(rep))
    elif args.format == "markdown":
        print(report.markdown(rep, args.site_url))
    else:
        report.table(rep, console)
    if rep.new_confirmed_regressions:
        return EXIT_NEW_REGRESSION
    return EXIT_BLIND if rep.blind else EXIT_OK


def cmd_confirm(args: argparse.Namespace, console: Console) -> int:
    from .. import confirm
    from ..confirm import report
    from ..progress import minutes

    if not args.commits and not args.new:
        raise UserError("give the flagged commits to re-measure, or --new")
    confirm.rounds_of(args.rounds, args.max_rounds, args.max_cases)  # bad input before the history is read
    _, setup, name = tracked(args)
    plan = confirm.plan(setup, name, args.commits, args.new, args.profile, args.rounds, args.max_rounds,
                        args.max_cases)
    err = output.console(stderr=True)
    for why in plan.skipped:
        err.print(f"not re-measured: {escape(why)}", soft_wrap=True)
    if not plan.targets:
        if args.format == "json":  # a program reads JSON whatever was found
            print(report.to_json(name, [], []))
        else:
            console.print(f"nothing to confirm on machine {name}", highlight=False)
        return EXIT_OK
    guess = plan.estimate_s
    cases = f"{len(plan.targets)} case(s), {plan.rounds} rounds a side (up to {plan.max_rounds} where undecided)"
    err.print(f"confirm: {cases}: " + (f"about {minutes(guess[0])}, at most {minutes(guess[1])}" if guess else
                                      "no step time measured here to estimate from")
              + "; shorter: --max-cases 1, --rounds 4, --max-rounds " + str(plan.rounds)
              + ", or a profile of fewer steps (--profile)", highlight=False, soft_wrap=True)
    live = sys.stderr.isatty()
    found = confirm.run(setup, plan, on_progress=lambda text: err.print(f"confirm: {text}", highlight=False,
                                                                        soft_wrap=True) if not live else None)
    if args.format != "json":
        report.show(found, name, plan.rounds, plan.max_rounds, args.format, console)
    profiles = [] if args.no_profile else _profile_confirmed(setup, name, found, plan.profile, err)
    if args.format == "json":
        print(report.to_json(name, found, profiles))
    return EXIT_NEW_REGRESSION if report.regressions_confirmed(found) else EXIT_OK


def _profile_confirmed(setup, machine: str, found: list[dict], profile: dict, err: Console) -> list[dict]:
    """Each confirmed regression's case profiled against its base (why it got slower), within the profile's
    budget each; one that cannot be profiled is said and the others go on."""
    from .. import profiling
    from ..confirm import report

    out: list[dict] = []
    seen: set[tuple] = set()
    for v in report.confirmed_regressions(found):
        if not profiling.is_time(v.get("metric")):  # a memory or energy regression: a time profile cannot say why
            continue
        p = {k: str(x).strip("'\"") for k, x in v.get("params", {}).items()}
        if "calculator" not in p or "atoms" not in p:
            continue
        case = (p["calculator"], int(p["atoms"]), p.get("device", "cpu"))
        if (v["commit"], case) in seen:
            continue
        seen.add((v["commit"], case))
        say = lambda text: err.print(f"profile: {text}", highlight=False, soft_wrap=True)  # noqa: E731
        try:
            rec = profiling.profile_commit(setup, machine, v["commit"], v["base"], case, profile, on_progress=say)
        except UserError as exc:
            say(f"{v['commit'][:8]} not profiled: {exc}")
            continue
        profiling.show(rec, "table", err, top=5)
        out.append(rec)
    return out


def cmd_profile(args: argparse.Namespace, console: Console) -> int:
    from .. import git, profiling
    from ..suite import config as suite_config

    repo, setup, name = tracked(args)
    commit = git.resolve(repo, args.commit)
    if commit is None:
        raise UserError(f"unknown commit {args.commit!r} in {repo}")
    if args.base is not None:
        base = git.resolve(repo, args.base)
        if base is None:
            raise UserError(f"unknown commit {args.base!r} in {repo}")
    else:
        base = git.resolve(repo, f"{commit}^")
        if base is None:
            raise UserError(f"{commit[:8]} has no parent to profile it against: give --base")
    rounds = profiling.ROUNDS if args.rounds is None else args.rounds
    if rounds < profiling.MIN_ROUNDS:
        raise UserError(f"--rounds must be >= {profiling.MIN_ROUNDS} for a spread to be read, got {rounds}")
    profile = suite_config.load(repo / "pyproject.toml", args.profile or setup.default_profile).case_profile()
    case = profiling.parse_case(args.case, profile) if args.case else profiling.default_case(profile)
    err = output.console(stderr=True)
    rec = profiling.profile_commit(setup, name, commit, base, case, profile, rounds,
                                   budget_s=float("inf"),
                                   on_progress=lambda text: err.print(text, highlight=False, soft_wrap=True))
    profiling.show(rec, args.format, console)
    return EXIT_OK


def cmd_bisect(args: argparse.Namespace, console: Console) -> int:
    from .. import bisect

    repo, setup, name = tracked(args)
    if args.range and ".." in args.range:
        bisect.named_range(repo, args.range)  # a bad range is said before anything is read or measured
    todo = bisect.flagged(setup, name, args.range)
    say = lambda text: console.print(f"  {text}", highlight=False, soft_wrap=True)  # noqa: E731
    if not todo and args.range:  # a range a person names: are its ends different? then which commit
        measure = bisect.track_measure(setup, name, args.profile, args.config)
        rc = bisect.check_range(setup, name, args.range, measure, args.profile, on_progress=say)
        console.print(f"{rc.start[:8]}..{rc.end[:8]}: {len(rc.candidates)} commits, no change flagged within; "
                      f"{bisect.range_summary(rc)}", highlight=False, soft_wrap=True)
        if rc.bisection is None:
            return EXIT_OK if rc.outcome == "same" else EXIT_BLIND
        b = bisect.search_range(setup, rc, on_progress=say)
        for step in b.steps:
            say(step)
        console.print(f"  {bisect.summary(b, repo)}", highlight=False, soft_wrap=True)
        if rc.measured_first:  # the ends track measured are results: the site shows them
            _publish(setup, console)
        return EXIT_OK if b.named else EXIT_BLIND if b.undecided else EXIT_FAILED
    if not todo:
        console.print(f"no change flagged on a range of unmeasured commits on machine {name}; name one as A..B to "
                      "re-measure its ends and search it", highlight=False, soft_wrap=True)
        return EXIT_OK
    for b in todo:
        f = b.flag
        console.print(f"{f.range_start[:8] if f.range_start else ''}..{f.commit[:8]}: {len(b.candidates)} commits, "
                      f"{f.benchmark} {f.change_pct:+.1f}%", highlight=False, soft_wrap=True)
        bisect.run(b, bisect.track_classify(setup, name, args.profile, args.config, f), on_progress=say)
        console.print(f"  {bisect.summary(b, repo)}", highlight=False, soft_wrap=True)
    _publish(setup, console)
    return EXIT_OK if all(b.named for b in todo) else EXIT_FAILED


def _publish(setup, console: Console) -> None:
    from ..publish import publish

    site, error, _ = publish(setup)
    if site is None or error:
        console.print(f"[red]site not published[/]: {escape(error)}")
