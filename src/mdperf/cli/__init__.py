"""The ``mdperf`` command line: list, run, compare, plot, scale, init, track, results, regressions, confirm,
bisect, publish, site-assets, preview.  It parses, calls one pipeline and prints (pyperf's ``__main__`` / ``_cli``
split): :mod:`.parser` declares the arguments, :mod:`.main` dispatches and turns errors into exit codes,
:mod:`.output` holds the consoles and the lines every command says the same way.

Exit codes (docs/reference/exit-codes.md): 0 done; 1 a measurement failed or was skipped, (track) some commits
failed to build or benchmark, (regressions) a new confirmed regression; 2 bad input or could not run at all (one
line on stderr, no traceback); 3 an internal error of mdperf's; 4 (regressions) most of a machine's newest run
could not be judged.
"""

from .main import main
from .output import (
    EXIT_BAD_INPUT,
    EXIT_BLIND,
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_NEW_REGRESSION,
    EXIT_OK,
    check_output_dir,
    check_output_path,
)
from .parser import build_parser, parse_calc_options

__all__ = ["EXIT_BAD_INPUT", "EXIT_BLIND", "EXIT_FAILED", "EXIT_INTERNAL", "EXIT_NEW_REGRESSION", "EXIT_OK",
           "build_parser", "check_output_dir", "check_output_path", "main", "parse_calc_options"]
