"""``runyard pipeline ...``: list pipelines."""

from __future__ import annotations

import typer

from runyard.cli.output import OutputFormat, OutputOption, dump, friendly_errors, print_json, print_table, when

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_pipelines(
    name: str | None = typer.Option(None, "--name", help="Only names containing this."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=500),
    output: OutputFormat = OutputOption,
) -> None:
    """List pipelines that have run in this workspace."""
    with friendly_errors():
        from runyard import Client

        page = Client().list_pipelines(name_contains=name, limit=limit)
        if output == OutputFormat.json:
            print_json({"items": [dump(p) for p in page], "next_cursor": page.next_cursor})
            return
        print_table("Pipelines", ["ID", "Name", "Created"], [(p.id, p.name, when(p.created)) for p in page],
                    empty="No pipelines yet.")
