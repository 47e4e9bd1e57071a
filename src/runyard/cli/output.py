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
    if not rows:
        console.print(f"[dim]{empty}[/dim]")
        return
    table = Table(title=title, title_justify="left", header_style="bold")
    for c in columns:
        # ids are copied into the next command: never fold them; other columns fold to fit
        short = c in _NO_WRAP
        table.add_column(c, overflow="fold", no_wrap=short, min_width=36 if c == "ID" else None)
    for r in rows:  # plain values are shown verbatim (user text may hold "[...]"); Text cells keep their style
        table.add_row(*[v if isinstance(v, Text) else escape("" if v is None else str(v)) for v in r])
    console.print(table)


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
