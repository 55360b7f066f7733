"""The verdicts of ``mdperf confirm`` as a person or a program reads them: a table, Markdown or JSON, and a line
for each verdict that is not a plain yes or no (an inconclusive case kept to watch, a run-wide change decided)."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..history import params_text
from ..regressions.model import RUN_WIDE

HEAD = ("commit", "base", "benchmark", "parameters", "verdict", "ratio", "95% interval", "p", "rounds")


def rows(found: list[dict]) -> list[tuple[str, ...]]:
    return [(v["commit"][:8], v["base"][:8], v["benchmark"], params_text(v["params"]), v["verdict"],
             f"×{v['ratio']:.3f}", f"[{v['ci'][0]:.3f}, {v['ci'][1]:.3f}]", f"{v['p_value']:.3g}", str(v["rounds"]))
            for v in found]


def to_json(machine: str, found: list[dict], profiles: list[dict] | None = None) -> str:
    return json.dumps({"machine": machine, "verdicts": found, "profiles": profiles or []}, indent=1)


def markdown(found: list[dict]) -> str:
    return "\n".join(["| " + " | ".join(HEAD) + " |\n|" + " --- |" * len(HEAD),
                      "\n".join("| " + " | ".join(r) + " |" for r in rows(found))])


def table(found: list[dict], machine: str, rounds: int, max_rounds: int, console: Console) -> None:
    t = Table(title=f"mdperf confirm on {machine}: {rounds}-{max_rounds} interleaved measurements each side")
    for col in HEAD:
        t.add_column(col, overflow="fold")
    for r in rows(found):
        t.add_row(*(escape(x) for x in r))
    console.print(t)


def notes(found: list[dict], console: Console) -> None:
    """Said out loud: an undecided flag is kept, never silenced; a run-wide change names whose it is."""
    for v in found:
        if v["verdict"] == "inconclusive":
            console.print(f"{v['commit'][:8]} {escape(v['benchmark'])}: "
                          f"{escape(v.get('note') or 'inconclusive: its cases could not decide; kept to watch')}",
                          highlight=False, soft_wrap=True)
        elif v.get("reversed"):
            console.print(f"{v['commit'][:8]} {escape(v['benchmark'])}: measured the other way than the history "
                          f"read it: a {v['kind']} (x{v['ratio']:.3f}), not the "
                          f"{'improvement' if v['kind'] == 'regression' else 'regression'} flagged",
                          highlight=False, soft_wrap=True)
        elif v["benchmark"] == RUN_WIDE:
            console.print(f"{v['commit'][:8]}: the run-wide change is the {v['decided']}'s "
                          f"(from {len(v['from'])} representative case(s))", highlight=False, soft_wrap=True)


def show(found: list[dict], machine: str, rounds: int, max_rounds: int, fmt: str, console: Console) -> None:
    """The verdicts in ``fmt`` (json and markdown on stdout, as programs read them)."""
    if fmt == "json":
        print(to_json(machine, found))
        return
    if fmt == "markdown":
        print(markdown(found))
    else:
        table(found, machine, rounds, max_rounds, console)
    notes(found, console)


def confirmed_regressions(found: list[dict]) -> list[dict]:
    return [v for v in found if v["verdict"] == "confirmed" and v.get("kind") == "regression"]


def regressions_confirmed(found: list[dict]) -> bool:
    return bool(confirmed_regressions(found))
