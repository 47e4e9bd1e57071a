"""``runyard init`` and ``runyard status``: set up and inspect where the client points."""

from __future__ import annotations

from pathlib import Path

import typer

from runyard.cli.output import console, friendly_errors


def register(app: typer.Typer) -> None:
    app.command(
        "init", help="Create the embedded workspace (SQLite + local artifact store) and the default stack."
    )(init)
    app.command("status", help="Show where the client points and whether that workspace answers.")(status)


def init(
    home: Path | None = typer.Option(
        None, "--home", help="Folder for the workspace (default: RUNYARD_HOME or ~/.runyard)."
    ),
) -> None:
    import os

    if home is not None:
        os.environ["RUNYARD_HOME"] = str(home)
        from runyard.settings import get_settings

        get_settings.cache_clear()
    with friendly_errors():
        from runyard import Client
        from runyard.settings import get_settings

        settings = get_settings()
        stack = Client().get_stack("default")
        console.print(f"[green]Workspace ready[/green] at {settings.home_path}")
        console.print(f"  database:       {settings.workspace_database_url}")
        console.print(f"  artifact store: {settings.artifacts_path}")
        flavors = ", ".join(f"{t}={c.flavor}" for t, c in stack.components.items())
        console.print(f"  active stack:   {stack.name} ({flavors})")
        console.print("Next: write a pipeline with @step/@pipeline and run it with `python your_pipeline.py`.")


def status() -> None:
    with friendly_errors():
        from runyard.client.config import ClientConfig
        from runyard.client.connection import workspace_api

        api = workspace_api()
        console.print(f"Workspace: {api.transport.location}")
        console.print(f"Project: {api.project}")
        console.print(f"Active stack: {ClientConfig.load().active_stack}")
        try:
            api.get_stack("default")
        except Exception as exc:
            console.print(f"[red]Not reachable:[/red] {exc}")
            raise typer.Exit(1) from None
        console.print("[green]Reachable.[/green]")
        from runyard.client.local_service import LocalServiceTransport

        transport = api.transport
        if isinstance(transport, LocalServiceTransport):
            console.print(transport.describe())
        from runyard.client.http import HTTPTransport

        if isinstance(api.transport, HTTPTransport):
            info = api.transport.health()
            console.print(f"Server: runyard {info.get('version')}, schema {info.get('schema_version')}, "
                          f"database {info.get('database')}")
