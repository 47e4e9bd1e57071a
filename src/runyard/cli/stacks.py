"""``runyard stack ...``: stacks and their components."""

from __future__ import annotations

import json

import typer

from runyard.cli.output import OutputFormat, OutputOption, console, dump, friendly_errors, print_json, print_table

app = typer.Typer(no_args_is_help=True)
component_app = typer.Typer(no_args_is_help=True)
app.add_typer(component_app, name="component", help="Register and list stack components.")


@app.command("list")
def list_stacks(output: OutputFormat = OutputOption) -> None:
    """List stacks; the active one is marked with *."""
    with friendly_errors():
        from runyard import Client
        from runyard.client.config import ClientConfig

        stacks = Client().list_stacks()
        active = ClientConfig.load().active_stack
        if output == OutputFormat.json:
            print_json([{**dump(s), "active": s.name == active} for s in stacks])
            return
        rows = [("*" if s.name == active else "", s.name,
                 ", ".join(f"{t}: {c.name} ({c.flavor})" for t, c in s.components.items())) for s in stacks]
        print_table("Stacks", ["", "Name", "Components"], rows)


@app.command("describe")
def describe(
    name: str | None = typer.Argument(None, help="Stack name (default: the active stack)."),
    output: OutputFormat = OutputOption,
) -> None:
    """Show a stack's components and their configuration."""
    with friendly_errors():
        from runyard import Client
        from runyard.client.config import ClientConfig

        stack = Client().get_stack(name or ClientConfig.load().active_stack)
        if output == OutputFormat.json:
            print_json(dump(stack))
            return
        console.print(f"[bold]Stack {stack.name}[/bold] ({stack.id})")
        print_table("Components", ["Type", "Name", "Flavor", "Config"],
                    [(t, c.name, c.flavor, json.dumps(c.config)) for t, c in stack.components.items()])


@app.command("register")
def register(
    name: str = typer.Argument(..., help="New stack name."),
    orchestrator: str = typer.Option("default", "--orchestrator", "-o", help="Orchestrator component name."),
    artifact_store: str = typer.Option("default", "--artifact-store", "-a", help="Artifact store component name."),
    set_active: bool = typer.Option(False, "--set", help="Make it the active stack."),
) -> None:
    """Register a stack from existing components (see `runyard stack component register`)."""
    with friendly_errors():
        from runyard import Client

        client = Client()
        stack = client.register_stack(name, {"orchestrator": orchestrator, "artifact_store": artifact_store})
        console.print(f"Registered stack [bold]{stack.name}[/bold].")
        if set_active:
            client.activate_stack(stack.name)
            console.print(f"Active stack: {stack.name}")


@app.command("set")
def set_active(name: str = typer.Argument(..., help="Stack to make active for this client.")) -> None:
    """Make a stack the active one: pipelines run on it from now on."""
    with friendly_errors():
        from runyard import Client

        stack = Client().activate_stack(name)
        console.print(f"Active stack: [bold]{stack.name}[/bold]")


@app.command("delete")
def delete(name: str = typer.Argument(...), yes: bool = typer.Option(False, "--yes", "-y")) -> None:
    """Delete a stack (its components stay)."""
    with friendly_errors():
        from runyard import Client

        if not yes:
            typer.confirm(f"Delete stack {name}?", abort=True)
        Client().api.delete_stack(name)
        console.print(f"Deleted stack {name}.")


@component_app.command("register")
def register_component(
    type: str = typer.Argument(..., help="orchestrator or artifact_store."),
    name: str = typer.Argument(..., help="Component name."),
    flavor: str = typer.Option(..., "--flavor", "-f", help="e.g. local, local_parallel."),
    config: list[str] = typer.Option([], "--config", "-c", help="KEY=VALUE (JSON values allowed), repeatable."),
) -> None:
    """Register a component.

    e.g. `runyard stack component register orchestrator par -f local_parallel -c max_workers=4`.
    """
    with friendly_errors():
        from runyard import Client
        from runyard.stack.flavors import load_flavor

        load_flavor(type, flavor)  # a typo in the flavor fails now, not at the first run
        comp = Client().register_component(type, name, flavor, _parse_config(config))
        console.print(f"Registered {comp.type} [bold]{comp.name}[/bold] ({comp.flavor}).")


@component_app.command("list")
def list_components(
    type: str | None = typer.Option(None, "--type", "-t"), output: OutputFormat = OutputOption
) -> None:
    """List components."""
    with friendly_errors():
        from runyard import Client

        comps = Client().list_components(type)
        if output == OutputFormat.json:
            print_json([dump(c) for c in comps])
            return
        print_table("Components", ["Type", "Name", "Flavor", "Config"],
                    [(c.type, c.name, c.flavor, json.dumps(c.config)) for c in comps])


def _parse_config(pairs: list[str]) -> dict[str, object]:
    from runyard.exceptions import InvalidInput

    out: dict[str, object] = {}
    for pair in pairs:
        if "=" not in pair:
            raise InvalidInput(f"--config {pair!r} is not KEY=VALUE.", hint="e.g. --config max_workers=4")
        key, raw = pair.split("=", 1)
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out
