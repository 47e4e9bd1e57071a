"""``runyard up``, ``runyard login URL``, ``runyard logout``: run a Workspace Server and point the client at one.

``up`` refuses to listen beyond loopback until authentication exists: anyone who can reach the port
could read and delete every run. ``--i-know-there-is-no-auth`` overrides that for a trusted network.
"""

from __future__ import annotations

import ipaddress
import os

import typer

from runyard.cli.output import console, err_console, friendly_errors

NO_AUTH_FLAG = "--i-know-there-is-no-auth"


def register(app: typer.Typer) -> None:
    app.command("up", help="Serve the workspace over HTTP (API, docs, metrics) with uvicorn.")(up)
    app.command("login", help="Point the client at a Workspace Server (checks it answers first).")(login)
    app.command("logout", help="Forget the server URL and use the embedded workspace again.")(logout)


def up(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback only, see below)."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port to listen on."),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Workspace database, e.g. postgresql+psycopg://user@host/db "
        "(default: RUNYARD_DATABASE_URL or SQLite in RUNYARD_HOME)."),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Server processes."),
    no_auth_ok: bool = typer.Option(
        False, NO_AUTH_FLAG, envvar="RUNYARD_I_KNOW_THERE_IS_NO_AUTH",
        help="Allow a non-loopback --host although the server has no authentication yet."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
    admin_email: str | None = typer.Option(
        None, "--admin-email", help="Serve with authentication (control plane in this process), creating this "
        "first admin (asks for a password, or RUNYARD_ADMIN_PASSWORD)."),
) -> None:
    from runyard.cli.control_plane import _uvicorn, auth_wanted, serve_all_in_one

    if auth_wanted(admin_email):  # every route then needs a token: any --host is fine
        serve_all_in_one(host=host, port=port, database_url=database_url, workers=workers, log_level=log_level,
                         admin_email=admin_email)
        return
    if not is_loopback(host) and not no_auth_ok:
        err_console.print(f"[red]Error:[/red] Refusing to listen on {host}: the Workspace Server has no "
                          "authentication yet, so anyone who can reach it could read and delete every run.")
        err_console.print(f"[yellow]Fix:[/yellow] keep the default --host 127.0.0.1 (use an SSH tunnel to reach "
                          f"it), or pass {NO_AUTH_FLAG} on a network you trust.")
        raise typer.Exit(2)
    with friendly_errors():
        from runyard.settings import get_settings
        from runyard.workspace.db.engine import get_database

        url = database_url or get_settings().workspace_database_url
        # the workers (separate processes) read it from the environment through create_app()
        os.environ["RUNYARD_DATABASE_URL"] = url
        get_settings.cache_clear()
        get_database(url)  # migrates now, once, before any worker starts
        base = f"http://{_netloc(host, port)}"
        for line in (  # soft_wrap: a URL broken over two lines cannot be copied
            f"[green]Runyard Workspace Server[/green] on {base}  (database: {_redact(url)})",
            f"  API:        {base}/api/v1   docs: {base}/docs   metrics: {base}/metrics",
            f"  Dashboard:  {base}/",
            f"  Use it:     runyard login {base}   (or RUNYARD_URL={base})",
        ):
            console.print(line, soft_wrap=True)
        _uvicorn("runyard.workspace.app:create_app", host=host, port=port, workers=workers, log_level=log_level)


def login(
    url: str = typer.Argument(..., help="Server URL, e.g. http://127.0.0.1:8080."),
    password: bool = typer.Option(False, "--password", help="Sign in with email and password instead of a browser."),
    email: str | None = typer.Option(None, "--email", help="Email for --password (asked if missing)."),
) -> None:
    with friendly_errors():
        from runyard.client import connection
        from runyard.client.config import ClientConfig
        from runyard.client.http import HTTPTransport
        from runyard.settings import get_settings

        transport = HTTPTransport(url, timeout=10, retries=0)
        try:
            info = transport.health()
        finally:
            transport.close()
        from runyard.cli.control_plane import sign_in

        sign_in(transport.url, use_password=password, email=email)  # if the server requires a login
        config = ClientConfig.load()
        config.url = transport.url
        config.save()
        connection.reset()
        console.print(f"[green]Logged in[/green] to {transport.url} (runyard {info.get('version')}, "
                      f"schema {info.get('schema_version')}).")
        env_url = get_settings().url
        if env_url and env_url.rstrip("/") != transport.url:
            console.print(f"[yellow]Note:[/yellow] RUNYARD_URL={env_url} is set and takes precedence; unset it.")


def logout() -> None:
    with friendly_errors():
        from runyard.cli.control_plane import sign_out
        from runyard.client import connection
        from runyard.client.config import ClientConfig
        from runyard.settings import get_settings

        config = ClientConfig.load()
        previous = config.url
        if previous:
            sign_out(previous)  # ends the login session and deletes the stored tokens
        config.url = None
        config.save()
        connection.reset()
        settings = get_settings()
        if previous:
            console.print(f"Logged out of {previous}.")
        console.print(f"Using the embedded workspace at {settings.home_path}.")
        if settings.url:
            console.print(f"[yellow]Note:[/yellow] RUNYARD_URL={settings.url} is still set and takes precedence.")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def _redact(url: str) -> str:
    """Hides a password in a database URL before printing it."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]
