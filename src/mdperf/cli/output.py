"""What the command line writes: its consoles (never cut at 80 columns off a terminal), its exit codes, its
output files (checked before any work, written atomically), and the lines every command says the same way."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from ..errors import UserError

# docs/reference/exit-codes.md
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_NEW_REGRESSION = 1
EXIT_BLIND = 4  # regressions: most of a machine's newest run could not be judged (never read as quiet)
EXIT_INTERRUPTED = 130


def console(stderr: bool = False) -> Console:
    """Rich's console; off a terminal (CI logs, pipes) never cut at 80 columns."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    columns = os.environ.get("COLUMNS", "0")
    return Console(stderr=stderr, width=max(int(columns) if columns.isdigit() else 0, 400))


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


def check_output_dir(path: str, what: str) -> None:
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UserError(f"{what} {path}: exists and is not a folder")
    parent = p if p.exists() else p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{what} {path}: not writable")


def write_json(path: str, payload: str) -> None:
    """``-``: stdout; else written atomically.  A failure (disk full) is one line and exit 2 — after the
    results have been printed."""
    from ..result import atomic_write_text

    if path == "-":
        sys.stdout.write(payload + "\n")
        sys.stdout.flush()
        return
    try:
        atomic_write_text(path, payload)
    except OSError as exc:
        raise UserError(f"could not write {path}: {exc.strerror or exc}") from None


def warn_if_busy(out: Console, label: str, latency_ms: list[float]) -> bool:
    """Said out loud: step times whose tail or spread say the machine was busy are no quiet run's figures."""
    from ..guard import busy_signs

    why = busy_signs(latency_ms)
    if why:
        out.print(f"[bold yellow]warning[/]: {escape(label)}: the machine looked busy ({escape(why)}); these "
                  "figures are not comparable with a quiet run's: measure again with the machine idle",
                  highlight=False, soft_wrap=True)
    return bool(why)


def offline_note(out: Console, note: str) -> None:
    """What the offline step did, indented under the site's path; its failure in bold red, never a quiet line."""
    from ..offline import NOT_OFFLINE

    if note.startswith(NOT_OFFLINE):
        out.print(f"[bold red]{escape(note)}[/]", highlight=False, soft_wrap=True)
    else:
        out.print(f"  {escape(note)}", highlight=False, soft_wrap=True)


def figures(results: list, folder: str, out: Console, agreement: dict | None = None,
            parity: dict | None = None) -> None:
    """Each result's figures (and, for several, their overlay; with ``parity``, each calculator's forces against
    the first's) into ``folder``; a line per file."""
    from .. import figures as figs

    paths = []
    for r in results:
        paths += figs.case_figure(r, folder)
    if len(results) > 1:
        paths += figs.overlay_figure(results, folder, agreement=agreement)
    reference = str(results[0].case.get("calculator")) if results else ""
    for name, pairs in (parity or {}).items():
        paths += figs.parity_figure(pairs["reference"], pairs["predicted"], folder, f"parity-{figs.slug(name)}",
                                    title=f"{name} against {reference}")
    for p in paths:
        out.print(f"figure: {p}", highlight=False, soft_wrap=True)
