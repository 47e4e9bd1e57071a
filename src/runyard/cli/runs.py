"""``runyard run ...``: list, show, logs, cancel, retry, delete runs."""

from __future__ import annotations

import typer
from rich.markup import escape

from runyard.cli.logs import logs as logs_command
from runyard.cli.output import (
    OutputFormat,
    OutputOption,
    console,
    dump,
    friendly_errors,
    print_json,
    print_table,
    status_cell,
    styled_status,
    when,
)

app = typer.Typer(no_args_is_help=True)
app.command("logs")(logs_command)


@app.command("list")
def list_runs(
    pipeline: str | None = typer.Option(None, "--pipeline", "-p", help="Only runs of this pipeline."),
    status: str | None = typer.Option(None, "--status", "-s", help="completed, failed, running, cancelled..."),
    tag: str | None = typer.Option(None, "--tag", "-t", help="Only runs with this tag."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=500, help="How many runs (newest first)."),
    cursor: str | None = typer.Option(None, "--cursor", help="Next page: the cursor printed under the last page."),
    output: OutputFormat = OutputOption,
) -> None:
    """List runs, newest first."""
    with friendly_errors():
        from runyard import Client

        page = Client().list_runs(pipeline=pipeline, status=status, tag=tag, limit=limit, cursor=cursor)
        if output == OutputFormat.json:
            print_json({"items": [r.to_dict() for r in page], "next_cursor": page.next_cursor})
            return
        rows = [
            (r.id, r.name, r.pipeline_name, status_cell(r.status), when(r.created), _duration(r), ", ".join(r.tags))
            for r in page
        ]
        print_table("Runs", ["ID", "Name", "Pipeline", "Status", "Created", "Duration", "Tags"], rows,
                    empty="No runs yet. Run a pipeline, e.g. `make demo`.")
        if page.next_cursor:
            console.print(f"[dim]More: runyard run list --cursor {page.next_cursor}[/dim]", soft_wrap=True)


@app.command("show")
def show(
    run_id: str = typer.Argument(..., help="Run id (from `runyard run list`)."),
    output: OutputFormat = OutputOption,
) -> None:
    """A run with its steps: status, duration, cache decision, outputs."""
    with friendly_errors():
        from runyard import Client

        run = Client().get_run(run_id)
        steps = run.steps
        if output == OutputFormat.json:
            print_json({**run.to_dict(), "steps": {k: v.to_dict() for k, v in steps.items()}})
            return
        console.print(f"[bold]{escape(run.name)}[/bold]  {styled_status(run.status)}  "
                      f"pipeline [cyan]{escape(run.pipeline_name)}[/cyan]")
        console.print(f"id {run.id}  created {when(run.created)}  duration {_duration(run)}", soft_wrap=True)
        if run.parameters:
            console.print(f"parameters: {escape(str(run.parameters))}")
        if run.error:
            console.print(f"[red]error:[/red] {escape(run.error)}")
        rows = []
        for inv, st in steps.items():
            outs = ", ".join(f"{n}=v{v.version}" for n, v in st.outputs.items())
            dur = f"{st.duration:.2f}s" if st.duration is not None else ""
            rows.append((inv, status_cell(st.status), dur, outs, st.cache_explanation or ""))
        print_table("Steps", ["Step", "Status", "Duration", "Outputs", "Cache"], rows)
        for inv, st in steps.items():
            if st.data.traceback:
                console.print(f"\n[red]Step {escape(inv)} failed:[/red] {escape(st.data.error or '')}")
                console.print(st.data.traceback, markup=False, highlight=False)


@app.command("cancel")
def cancel(run_id: str = typer.Argument(..., help="Run id (from `runyard run list`).")) -> None:
    """Stop a run: steps already running finish, no new step starts, the run ends `cancelled`."""
    with friendly_errors():
        from runyard import Client

        run = Client().cancel_run(run_id)
        if run.status == "cancelled":
            console.print(f"Cancelled run {escape(run.name)}.")
        else:
            console.print(f"Cancelling run {escape(run.name)}: the steps running now finish, then it stops. "
                          f"Follow it with `runyard run show {run.id}`.")


@app.command("retry")
def retry(run_id: str = typer.Argument(..., help="Id of a failed or cancelled run.")) -> None:
    """Run a failed or cancelled run again here, with the same parameters and stack: cached steps are
    reused, so only the failed and never-started steps execute.

    Needs the pipeline's code importable in this environment."""
    with friendly_errors():
        from runyard import Client
        from runyard.execution.retry import retry_run

        client = Client()
        run = retry_run(client.get_run(run_id).id, client.api)
        ran = sum(1 for st in run.steps.values() if st.status not in ("cached", "skipped"))
        console.print(f"Retry run {escape(run.name)} ({run.id}): {styled_status(run.status)}; "
                      f"{ran} step(s) executed, the rest reused from the cache.", soft_wrap=True)
        console.print(run.id, markup=False, highlight=False)
        if run.status != "completed":
            raise typer.Exit(1)


@app.command("delete")
def delete(
    run_id: str = typer.Argument(..., help="Run id."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a run's metadata (artifact files stay in the store; other runs may share them)."""
    with friendly_errors():
        from runyard import Client

        client = Client()
        run = client.get_run(run_id)
        if not yes:
            typer.confirm(f"Delete run {run.name}?", abort=True)
        client.delete_run(run.id)
        console.print(f"Deleted run {escape(run.name)}.")


def _duration(run: object) -> str:
    started = getattr(run, "started", None)
    ended = getattr(run, "ended", None)
    if started and ended:
        return f"{(ended - started).total_seconds():.2f}s"
    return ""


def dump_run(run: object) -> object:
    return dump(run)
