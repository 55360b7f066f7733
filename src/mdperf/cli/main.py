"""``mdperf``'s entry point: parse, hand the arguments to one command, turn what ends it into an exit code
(docs/reference/exit-codes.md).  The commands live in :mod:`.measuring`, :mod:`.tracking` and :mod:`.judging`;
each calls one pipeline below the command line and prints its report."""

from __future__ import annotations

import os
import signal
import sys
from typing import Sequence

from ..errors import UserError
from . import judging, measuring, output, tracking
from .output import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK
from .parser import build_parser

COMMANDS = {
    "list": measuring.cmd_list, "run": measuring.cmd_run, "compare": measuring.cmd_compare,
    "plot": measuring.cmd_plot, "scale": measuring.cmd_scale, "validate": measuring.cmd_validate,
    "init": tracking.cmd_init, "track": tracking.cmd_track, "results": tracking.cmd_results,
    "publish": tracking.cmd_publish, "site-assets": tracking.cmd_site_assets, "preview": tracking.cmd_preview,
    "regressions": judging.cmd_regressions, "confirm": judging.cmd_confirm, "profile": judging.cmd_profile, "bisect": judging.cmd_bisect,
}


def _stop_on_signal(signum: int, frame: object) -> None:
    # SIGTERM and SIGHUP end mdperf as Ctrl-C does: through the finally blocks that stop asv's process group and
    # the measurement children, instead of leaving them running.
    raise SystemExit(128 + signum)


def _use_suite_dir(where: str) -> None:
    """In a tracked repository, the benchmark folder's modules (a factory written for mdperf) resolve in every
    command, as they do inside asv's processes."""
    from .. import calculators, git
    from ..suite.config import suite_dir

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
    out = output.console()
    err = output.console(stderr=True)
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, _stop_on_signal)
    try:
        args = build_parser().parse_args(argv)
        _use_suite_dir(getattr(args, "repo", None) or ".")
        return COMMANDS[args.command](args, out)
    except UserError as exc:
        err.print(f"mdperf: error: {exc}", highlight=False, markup=False, soft_wrap=True)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        err.print("mdperf: interrupted", markup=False)
        return EXIT_INTERRUPTED
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
