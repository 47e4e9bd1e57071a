"""``runyard secret ...``: create, list, show, update and delete secrets.

Values are shown only with ``get --show-values``. ``--value KEY`` without ``=VALUE`` asks for the value
with a hidden prompt, and ``--from-file`` reads a JSON object (``-`` for stdin), so values need not
appear on the command line or in the shell history. Errors name keys, never values.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from runyard.cli.output import OutputFormat, OutputOption, console, dump, friendly_errors, print_json, print_table, when

app = typer.Typer(no_args_is_help=True)

ValueOption = typer.Option(
    [], "--value", "-v", help="KEY=VALUE, or KEY alone to type the value at a hidden prompt; repeatable."
)
FromFileOption = typer.Option(
    None, "--from-file", "-f", help="A JSON object of key -> value strings ('-' reads stdin).", dir_okay=False
)


def read_values(pairs: list[str], from_file: Path | None) -> dict[str, str]:
    """Values from ``--from-file`` first, then ``--value`` options (prompting for bare keys)."""
    from runyard.exceptions import InvalidInput

    values: dict[str, str] = {}
    if from_file is not None:
        values.update(_from_file(from_file))
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not key:
            raise InvalidInput("--value needs a key before '='.", hint="e.g. --value password (asks for it).")
        if not sep:
            value = typer.prompt(f"Value of {key}", hide_input=True, confirmation_prompt=False)
        values[key] = value
    return values


def _from_file(path: Path) -> dict[str, str]:
    from runyard.exceptions import InvalidInput

    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path} ({exc.strerror}).", hint="Check the path.") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise InvalidInput(f"{path} is not JSON.", hint='Write an object such as {"user": "...", '
                           '"password": "..."}.') from None  # no excerpt: the text may be the secret
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise InvalidInput(f"{path} must hold a JSON object whose values are strings.",
                           hint='e.g. {"user": "alice", "port": "5432"} (numbers in quotes).')
    return {str(k): v for k, v in data.items()}


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Secret name, unique in the workspace."),
    value: list[str] = ValueOption,
    from_file: Path | None = FromFileOption,
    description: str | None = typer.Option(None, "--description", "-d"),
) -> None:
    """Create a secret, e.g. `runyard secret create warehouse -v user=etl -v password`."""
    with friendly_errors():
        from runyard import Client
        from runyard.exceptions import InvalidInput

        values = read_values(value, from_file)
        if not values:
            raise InvalidInput("A secret needs at least one value.",
                               hint="Add --value KEY=VALUE, --value KEY (asks for it) or --from-file FILE.")
        secret = Client().create_secret(name, values, description=description)
        console.print(f"Created secret [bold]{secret.name}[/bold] with keys {', '.join(secret.keys)}.")


@app.command("list")
def list_secrets(
    name_contains: str | None = typer.Option(None, "--name-contains"), output: OutputFormat = OutputOption
) -> None:
    """List secrets (names, keys, descriptions; never values)."""
    with friendly_errors():
        from runyard import Client

        secrets = Client().list_secrets(name_contains=name_contains)
        if output == OutputFormat.json:
            print_json([dump(s) for s in secrets])
            return
        print_table("Secrets", ["Name", "Keys", "Description", "Store", "Updated"],
                    [(s.name, ", ".join(s.keys), s.description or "", s.store, when(s.updated)) for s in secrets],
                    empty="No secrets yet: create one with `runyard secret create NAME --value KEY=VALUE`.")


@app.command("get")
def get(
    name: str = typer.Argument(...),
    show_values: bool = typer.Option(False, "--show-values", help="Print the values too (the read is audited)."),
    output: OutputFormat = OutputOption,
) -> None:
    """Show a secret; its values only with --show-values."""
    with friendly_errors():
        from runyard import Client

        client = Client()
        secret = client.get_secret(name) if show_values else client.get_secret_metadata(name)
        if output == OutputFormat.json:
            print_json(dump(secret))
            return
        console.print(f"[bold]Secret {secret.name}[/bold] ({secret.id})")
        if secret.description:
            console.print(secret.description)
        console.print(f"store {secret.store}, created {when(secret.created)} by {secret.created_by or '?'}, "
                      f"updated {when(secret.updated)}")
        values: dict[str, str] = getattr(secret, "values", {})
        print_table("Values", ["Key", "Value"],
                    [(k, values[k] if show_values else "***") for k in secret.keys])


@app.command("update")
def update(
    name: str = typer.Argument(...),
    value: list[str] = ValueOption,
    from_file: Path | None = FromFileOption,
    remove_key: list[str] = typer.Option([], "--remove-key", "-r", help="A key to remove; repeatable."),
    description: str | None = typer.Option(None, "--description", "-d", help="New description ('' clears it)."),
) -> None:
    """Add or replace keys, remove keys, or change the description."""
    with friendly_errors():
        from runyard import Client
        from runyard.exceptions import InvalidInput

        values = read_values(value, from_file)
        if not values and not remove_key and description is None:
            raise InvalidInput("Nothing to change.", hint="Give --value, --from-file, --remove-key or --description.")
        secret = Client().update_secret(name, values, remove_keys=remove_key, description=description)
        console.print(f"Updated secret [bold]{secret.name}[/bold]; keys: {', '.join(secret.keys)}.")


@app.command("delete")
def delete(name: str = typer.Argument(...), yes: bool = typer.Option(False, "--yes", "-y")) -> None:
    """Delete a secret and its values."""
    with friendly_errors():
        from runyard import Client

        if not yes:
            typer.confirm(f"Delete secret {name}?", abort=True)
        Client().delete_secret(name)
        console.print(f"Deleted secret {name}.")


@app.command("generate-key")
def generate_key() -> None:
    """Print a new random key for RUNYARD_SECRETS_KEY (the key that encrypts secret values at rest)."""
    from runyard.secrets.crypto import generate_key as new_key

    sys.stdout.write(new_key() + "\n")


@app.command("rotate-key")
def rotate_key() -> None:
    """Re-encrypt every secret with the first key of RUNYARD_SECRETS_KEY.

    Run where the workspace database is (the embedded workspace, or on the server with
    RUNYARD_DATABASE_URL), after setting RUNYARD_SECRETS_KEY=NEW,OLD; afterwards OLD can be dropped.
    """
    with friendly_errors():
        from runyard.client.config import ClientConfig
        from runyard.exceptions import InvalidInput
        from runyard.settings import get_settings
        from runyard.workspace.db.engine import get_database
        from runyard.workspace.services.secrets import rotate_secrets_key

        settings = get_settings()
        if settings.url or ClientConfig.load().url:
            raise InvalidInput("Keys are rotated where the workspace database is, not through a server.",
                               hint="Run this on the server with RUNYARD_DATABASE_URL and RUNYARD_SECRETS_KEY set.")
        with get_database(settings.workspace_database_url).session(write=True) as session:
            count = rotate_secrets_key(session)
        console.print(f"Re-encrypted {count} secret{'s' if count != 1 else ''} with the current key.")
