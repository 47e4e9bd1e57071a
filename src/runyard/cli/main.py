"""Entry point of the ``runyard`` command. Command groups register here, each from its own module."""

from __future__ import annotations

import typer

from runyard.cli import (
    access,
    artifacts,
    control_plane,
    members,
    orgs,
    pipelines,
    runs,
    secrets,
    server,
    shares,
    stacks,
    workspace,
)
from runyard.cli.output import fold_help

app = typer.Typer(
    name="runyard",
    help="Runyard: run ML pipelines anywhere and find every run, artifact and log again.\n\n"
    "Start with `runyard init`, run a pipeline script with `python my_pipeline.py`, then explore with "
    "`runyard run list`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

workspace.register(app)
server.register(app)
app.add_typer(runs.app, name="run", help="List, inspect and manage pipeline runs.")
app.add_typer(pipelines.app, name="pipeline", help="List pipelines and their runs.")
app.add_typer(artifacts.app, name="artifact", help="List and inspect artifacts, their versions and lineage.")
app.add_typer(stacks.app, name="stack", help="Register, list and activate stacks and their components.")
app.add_typer(secrets.app, name="secret", help="Create, list, show and change secrets (values encrypted at rest).")
control_plane.register(app)
orgs.register(app)
members.register(app)
access.register(app)
shares.register(app)
fold_help(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
