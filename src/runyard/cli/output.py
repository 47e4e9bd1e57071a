"""Shared CLI output: Rich tables for people, ``--output json`` for scripts, one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

console = Console()
err_console = Console(stderr=True)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


OutputOption = typer.Option(OutputFormat.table, "--output", "-o", help="table for people, json for scripts.")


def fold_help(app: typer.Typer) -> None:
    """Joins the hard-wrapped lines of every command's docstring into paragraphs, in ``app`` and below.

    Why: Typer's Rich help keeps a docstring's line breaks, so source wrapped at 120 columns showed as
    ragged lines in an 80-column terminal. Blank lines still separate paragraphs; lines that start a list
    item (``-``, ``*``) or are indented stay on their own."""
    import inspect

    for command in app.registered_commands:
        if command.help is None and command.callback is not None and command.callback.__doc__:
            command.help = _folded(inspect.cleandoc(command.callback.__doc__))
    for group in app.registered_groups:
        if group.help and isinstance(group.help, str):
            group.help = _folded(group.help)
        if group.typer_instance is not None:
            info = group.typer_instance.info
            if isinstance(info.help, str):
                info.help = _folded(info.help)
            fold_help(group.typer_instance)


def _folded(text: str) -> str:
    paragraphs = []
    for paragraph in text.split("\n\n"):
        lines: list[str] = []
        for line in paragraph.split("\n"):
            if lines and not line.startswith((" ", "-", "*")):
                lines[-1] = f"{lines[-1]} {line.strip()}"
            else:
                lines.append(line.rstrip())
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def dump(model: Any) -> Any:
    if hasattr(model, "model_dump"):
        return model.model_dump(mode="json")
    if hasattr(model, "to_dict"):
        return model.to_dict()
    return model


#: Columns that stay on one line: ids are copied into commands, the others are short.
_NO_WRAP = {"ID", "Status", "Created", "Duration", "Version", "Size", "Type", "Hash"}


def print_table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, empty: str = "Nothing yet."
) -> None:
    """A Rich table that fits the terminal: when its one-line columns cannot all fit (an 80-column pipe, a
    narrow window), the least needed columns are left out and a note says which, instead of Rich
    squeezing some columns to nothing."""
    if not rows:
        console.print(f"[dim]{empty}[/dim]")
        return
    cells = [[v if isinstance(v, Text) else escape("" if v is None else str(v)) for v in r] for r in rows]
    shown = _columns_that_fit(list(columns), cells, console.width)
    table = Table(title=title, title_justify="left", header_style="bold")
    for c in shown:
        # ids are copied into the next command: never fold them; other columns fold to fit
        table.add_column(c, overflow="fold", no_wrap=c in _NO_WRAP, min_width=36 if c == "ID" else None)
    keep = [columns.index(c) for c in shown]
    for r in cells:  # plain values are shown verbatim (user text may hold "[...]"); Text cells keep their style
        table.add_row(*[r[i] for i in keep])
    console.print(table)
    if len(shown) < len(columns):
        left_out = ", ".join(c for c in columns if c not in shown)
        console.print(f"[dim]Not shown, for the terminal's width: {left_out}. Widen it, or use --output json.[/dim]")


#: Columns left out first when a table cannot fit, in this order; the others always stay.
_DROP_ORDER = ("Tags", "Duration", "Created", "Updated", "Size", "Hash", "Pipeline", "Type", "Description",
               "URI", "Flavor", "Components", "Version")
#: Narrowest a folding column is allowed to get before columns are left out instead.
_FOLD_MIN = 10


def _columns_that_fit(columns: list[str], cells: list[list[Any]], width: int) -> list[str]:
    least: dict[str, int] = {}  # the narrowest each column can be: whole if it stays on one line
    for i, c in enumerate(columns):
        longest = max([len(c)] + [(Text.from_markup(r[i]) if isinstance(r[i], str) else r[i]).cell_len
                                  for r in cells])
        least[c] = longest if c in _NO_WRAP else min(longest, _FOLD_MIN)

    def needed(shown: list[str]) -> int:
        return 3 * len(shown) + 1 + sum(least[c] for c in shown)  # with borders and padding

    shown = list(columns)
    dropped: list[str] = []
    for candidate in _DROP_ORDER:
        if needed(shown) <= width:
            break
        if candidate in shown:
            shown.remove(candidate)
            dropped.append(candidate)
    for candidate in reversed(dropped):  # a wide column may have been what did not fit: take back the others
        trial = [c for c in columns if c in shown or c == candidate]
        if needed(trial) <= width:
            shown = trial
    return shown


STATUS_STYLE = {
    "completed": "green", "cached": "cyan", "running": "yellow", "failed": "red", "skipped": "dim",
    "cancelled": "magenta", "initializing": "yellow", "queued": "blue", "cancelling": "magenta",
    "pending": "dim", "retrying": "yellow",
}


def styled_status(status: str) -> str:
    return f"[{STATUS_STYLE.get(str(status), 'white')}]{status}[/]"


def status_cell(status: str) -> Text:
    """A coloured status for a table cell."""
    return Text(str(status), style=STATUS_STYLE.get(str(status), "white"))


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Runyard errors become one red line naming the fix, exit code 1; never our traceback."""
    from runyard.exceptions import RunyardError

    try:
        yield
    except RunyardError as exc:
        # soft_wrap: one line however narrow the terminal; escape: names like "[x]" are not markup
        err_console.print(f"[red]Error:[/red] {escape(exc.message)}", soft_wrap=True)
        if exc.hint:
            err_console.print(f"[yellow]Fix:[/yellow] {escape(exc.hint)}", soft_wrap=True)
        raise typer.Exit(1) from None
    except ValueError as exc:  # pydantic validation of CLI input
        err_console.print(f"[red]Error:[/red] {escape(_validation_text(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None


def _validation_text(exc: ValueError) -> str:
    errors: Callable[[], list[dict[str, Any]]] | None = getattr(exc, "errors", None)
    if errors is None:
        return str(exc)
    parts = []
    for e in errors():
        loc = ".".join(str(p) for p in e.get("loc", ()))
        parts.append(f"{loc}: {e.get('msg')}" if loc else str(e.get("msg")))
    return "; ".join(parts)


def short_id(value: Any) -> str:
    return str(value)[:8]


def when(dt: Any) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S") if dt else ""
