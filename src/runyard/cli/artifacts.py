"""``runyard artifact ...``: list artifacts, show a version with its lineage."""

from __future__ import annotations

import typer
from rich.markup import escape

from runyard.cli.output import (
    OutputFormat,
    OutputOption,
    console,
    dump,
    friendly_errors,
    print_json,
    print_table,
    when,
)

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_artifacts(
    name: str | None = typer.Option(None, "--name", help="List the versions of this artifact instead."),
    run: str | None = typer.Option(None, "--run", help="Only versions produced by this run id."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=500),
    output: OutputFormat = OutputOption,
) -> None:
    """List artifact versions, newest first."""
    with friendly_errors():
        from runyard import Client

        page = Client().list_artifact_versions(name=name, run_id=run, limit=limit)
        if output == OutputFormat.json:
            print_json({"items": [v.to_dict() for v in page], "next_cursor": page.next_cursor})
            return
        rows = [(v.id, v.name, v.version, v.data_type.rsplit(".", 1)[-1], _size(v.size), v.content_hash[:12],
                 when(v.created)) for v in page]
        print_table("Artifact versions", ["ID", "Name", "Version", "Type", "Size", "Hash", "Created"], rows,
                    empty="No artifacts yet.")


@app.command("show")
def show(
    name_or_id: str = typer.Argument(..., help="Artifact name (newest version) or version id."),
    version: int | None = typer.Option(None, "--version", "-v", help="A given version number."),
    output: OutputFormat = OutputOption,
) -> None:
    """An artifact version: where it is stored, its metadata, who produced and consumed it."""
    with friendly_errors():
        from runyard import Client

        client = Client()
        av = client.get_artifact_version(name_or_id, version)
        lineage = av.lineage()
        if output == OutputFormat.json:
            print_json({**av.to_dict(), "lineage": dump(lineage)})
            return
        console.print(f"[bold]{escape(av.name)}[/bold] version {av.version}  ({escape(av.data_type)})")
        console.print(f"id {av.id}\nuri {escape(av.uri)}\nsha256 {av.content_hash}\nsize {_size(av.size)}  "
                      f"materializer {av.materializer}  created {when(av.created)}",
                      soft_wrap=True)  # ids and paths are copied: the terminal wraps them, Rich must not break them
        if av.metadata:
            print_table("Metadata", ["Key", "Value"], [(k, _short(v)) for k, v in av.metadata.items()])
        if lineage.producer:
            p = lineage.producer
            console.print(f"produced by step [cyan]{escape(p.invocation_id)}[/cyan] (output {escape(p.name)}) "
                          f"of run {p.run_id}", soft_wrap=True)
        for c in lineage.consumers:
            console.print(f"consumed by step [cyan]{escape(c.invocation_id)}[/cyan] (input {escape(c.name)}) "
                          f"of run {c.run_id}", soft_wrap=True)


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) < 80 else text[:77] + "..."
