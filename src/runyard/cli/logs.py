"""``runyard run logs``: print a run's logs, or follow them live until the run ends."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import typer

from runyard.cli.output import OutputFormat, OutputOption, console, friendly_errors, print_json

POLL_S = 0.3
_LEVEL_STYLE = {"ERROR": "red", "CRITICAL": "bold red", "WARNING": "yellow", "DEBUG": "dim"}


def logs(
    run_id: str = typer.Argument(..., help="Run id (from `runyard run list`)."),
    step: str | None = typer.Option(None, "--step", "-s", help="Only this step (its name, e.g. train or train_2)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines until the run ends."),
    since: str | None = typer.Option(None, "--since", help="Only lines from this long ago (30s, 10m, 2h, 1d) or "
                                                        "after an ISO time."),
    level: str | None = typer.Option(None, "--level", "-l", help="Minimum level: DEBUG, INFO, WARNING, ERROR."),
    offset: int = typer.Option(0, "--offset", min=0, help="Start at this line number (with --step)."),
    limit: int = typer.Option(1000, "--limit", "-n", min=1, max=10_000, help="Lines per request."),
    output: OutputFormat = OutputOption,
) -> None:
    """Print what the run's steps printed and logged (stdout, stderr, logging records)."""
    with friendly_errors():
        from runyard import Client
        from runyard.schemas.logs import LogQuery

        client = Client()
        run = client.get_run(run_id)
        since_dt = _parse_since(since)
        level_name = level.upper() if level else None
        offsets: dict[str | None, int] = {}
        done: set[str | None] = set()
        collected: list[dict[str, object]] = []
        while True:
            keys: list[str | None] = [step] if step else [None, *run.refresh().steps.keys()]
            for key in keys:
                if key in done:
                    continue
                start = offsets.get(key, offset if key == step else 0)
                while True:
                    page = client.api.read_logs(
                        run.id, LogQuery(step=key, offset=start, limit=limit, level=level_name, since=since_dt)
                    )
                    for line in page.lines:
                        if output == OutputFormat.json:
                            collected.append({"step": key, **line.model_dump()})
                        else:
                            _print_line(key if not step else None, line.time, line.level, line.stream, line.message)
                    start = page.next_offset
                    if len(page.lines) < limit:
                        break
                offsets[key] = start
                if page.complete:
                    done.add(key)
            if not follow:
                break
            current = run.refresh()
            if current.status.is_finished and all(k in done for k in keys):
                break
            time.sleep(POLL_S)
        if output == OutputFormat.json:
            print_json(collected)


def _print_line(step: str | None, t: float, level: str, stream: str, message: str) -> None:
    stamp = datetime.fromtimestamp(t).strftime("%H:%M:%S.%f")[:-3]
    prefix = f"[cyan]{step}[/cyan] " if step else ("[magenta]run[/magenta] " if step is None else "")
    style = _LEVEL_STYLE.get(level, "")
    console.print(f"[dim]{stamp}[/dim] {prefix}", end="", highlight=False)
    console.print(message, style=style or None, markup=False, highlight=False, soft_wrap=True)


def _parse_since(value: str | None) -> datetime | None:
    if not value:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if value[-1:] in units and value[:-1].isdigit():
        return datetime.now(UTC) - timedelta(seconds=int(value[:-1]) * units[value[-1]])
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        from runyard.exceptions import InvalidInput

        raise InvalidInput(f"--since {value!r} is neither a duration nor a time.",
                           hint="Use 30s, 10m, 2h, 1d or an ISO time like 2026-11-27T12:00:00.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
