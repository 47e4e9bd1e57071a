"""``runyard control-plane ...``, ``runyard workspace serve``, ``runyard audit ...``, and ``runyard up``'s
all-in-one mode with authentication.

Deployment modes:

- all-in-one: ``runyard up --admin-email you@example.com`` (prompts for the password; or
  ``RUNYARD_ADMIN_EMAIL`` / ``RUNYARD_ADMIN_PASSWORD``): workspace, dashboard and control plane in one
  process, each with its own database. There is never a default password.
- split: ``runyard control-plane serve`` and, per workspace, ``runyard workspace serve --control-plane URL
  --audience AUD`` (separate processes and databases; the workspace calls the control plane only for
  keys, revocations, API-key exchange and audit forwarding).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import typer

from runyard.cli.output import (
    OutputFormat,
    OutputOption,
    console,
    err_console,
    friendly_errors,
    print_json,
    print_table,
)

control_plane_app = typer.Typer(help="Run and administer the control plane (users, roles, tokens, SSO).",
                                no_args_is_help=True)
workspace_app = typer.Typer(help="Workspaces of an organization (list, create), and serving one (serve).\n\n"
                            "Example: runyard workspace list", no_args_is_help=True)
audit_app = typer.Typer(help="Read the audit log (admins).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(control_plane_app, name="control-plane")
    app.add_typer(workspace_app, name="workspace")
    app.add_typer(audit_app, name="audit")


# --- serving ---------------------------------------------------------------------------------------
def _uvicorn(factory: str, *, host: str, port: int, workers: int = 1, log_level: str = "info") -> None:
    import uvicorn

    # "auto": uvloop and httptools (runyard[server] installs both), else asyncio and h11. Per request they
    # cost less server CPU than the pure-Python pair (benchmarks/README.md, "Session 4").
    options: dict[str, Any] = dict(factory=True, host=host, port=port, workers=workers, log_level=log_level,
                                   proxy_headers=False, server_header=False, loop="auto", http="auto")
    if workers == 1:
        uvicorn.run(factory, **options)
        return
    # What uvicorn.run does for workers > 1, plus TCP_NODELAY: uvicorn binds the shared socket without
    # IPPROTO_TCP, so asyncio never sets TCP_NODELAY on the connections it accepts (uvicorn issue #3149)
    # and Nagle holds every response body until the client's delayed ACK: +40 ms on each request. Accepted
    # sockets inherit the option from the listening one.
    import contextlib
    import socket

    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(factory, **options)
    sock = config.bind_socket()
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(config, sockets=[sock]).run()


def _read_admin_password(email: str) -> str:
    from runyard.settings import get_settings

    configured = get_settings().admin_password
    if configured is not None:
        return configured.get_secret_value()
    if not sys.stdin.isatty():
        err_console.print("[red]Error:[/red] no password for the first admin: set RUNYARD_ADMIN_PASSWORD or run "
                          "interactively.")
        raise typer.Exit(2)
    password = str(typer.prompt(f"Password for {email}", hide_input=True, confirmation_prompt=True))
    return password


def bootstrap(control_plane: Any, admin_email: str | None) -> None:
    """Creates the first admin when asked (validating the password policy); refuses to run without one."""
    from runyard.control_plane.deploy import ensure_admin

    email = admin_email
    if email is None and not control_plane.has_users():
        from runyard.settings import get_settings

        email = get_settings().admin_email
    password = _read_admin_password(email) if email and not _admin_exists(control_plane, email) else None
    if not ensure_admin(control_plane, email=email, password=password):
        err_console.print("[red]Error:[/red] the control plane has no user yet.")
        err_console.print("[yellow]Fix:[/yellow] pass --admin-email you@example.com (you will be asked for a "
                          "password), or set RUNYARD_ADMIN_EMAIL and RUNYARD_ADMIN_PASSWORD.")
        raise typer.Exit(2)


def _admin_exists(control_plane: Any, email: str) -> bool:
    from runyard.control_plane.services import users

    with control_plane.db.session(write=False) as session:
        return users.find_user(session, email=email) is not None


def auth_wanted(admin_email: str | None) -> bool:
    """``runyard up`` protects the workspace when an admin is named, auth is configured, or users exist."""
    from runyard.settings import get_settings

    settings = get_settings()
    if admin_email or settings.admin_email or settings.auth != "none":
        return True
    return Path(settings.control_plane_db_url.removeprefix("sqlite:///")).exists() \
        if settings.control_plane_db_url.startswith("sqlite:///") else False


def serve_all_in_one(*, host: str, port: int, database_url: str | None, workers: int, log_level: str,
                     admin_email: str | None) -> None:
    """``runyard up`` with authentication: control plane + workspace in one process."""
    with friendly_errors():
        from runyard.control_plane.core import ControlPlane
        from runyard.settings import get_settings
        from runyard.workspace.db.engine import get_database

        settings = get_settings()
        url = database_url or settings.workspace_database_url
        os.environ.update(RUNYARD_DATABASE_URL=url, RUNYARD_AUTH="all_in_one")  # read by each worker
        get_settings.cache_clear()
        get_database(url)
        bootstrap(ControlPlane(), admin_email)
        base = f"http://{host}:{port}"
        console.print(f"[green]Runyard[/green] (workspace + control plane) on {base}")
        console.print(f"  Sign in:   runyard login {base}      API: {base}/api/v1   docs: {base}/docs")
        _uvicorn("runyard.workspace.app:create_app", host=host, port=port, workers=workers, log_level=log_level)


@control_plane_app.command("serve", help="Serve the control plane alone (split mode).")
def control_plane_serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8090, "--port", min=1, max=65535),
    database_url: str | None = typer.Option(None, "--database-url", help="Default: control-plane.db in home."),
    admin_email: str | None = typer.Option(None, "--admin-email", help="Create this first admin (asks a password)."),
    log_level: str = typer.Option("info", "--log-level"),
) -> None:
    with friendly_errors():
        from runyard.control_plane.core import ControlPlane
        from runyard.settings import get_settings

        if database_url:
            os.environ["RUNYARD_CONTROL_PLANE_DATABASE_URL"] = database_url
            get_settings.cache_clear()
        bootstrap(ControlPlane(), admin_email)
        console.print(f"[green]Runyard control plane[/green] on http://{host}:{port}  (JWKS: /.well-known/jwks.json)")
        _uvicorn("runyard.control_plane.deploy:create_control_plane_server", host=host, port=port,
                 log_level=log_level)


@control_plane_app.command("register-workspace", help="Register a Workspace Server; prints its audience.")
def register_workspace(
    name: str = typer.Argument(..., help="Workspace name (lowercase, digits, - and _)."),
    url: str = typer.Argument(..., help="Where the Workspace Server answers."),
    org: str = typer.Option("default", "--org"),
    audience: str | None = typer.Option(None, "--audience"),
) -> None:
    with friendly_errors():
        from runyard.control_plane.core import ControlPlane
        from runyard.control_plane.schemas import WorkspaceCreate

        body = WorkspaceCreate(name=name, url=url, audience=audience)
        row = ControlPlane().register_workspace(name=body.name, url=body.url, audience=body.audience, org=org)
        console.print(row.audience)


@control_plane_app.command("rotate-keys", help="Rotate the token-signing key (the old one stays published).")
def rotate_keys() -> None:
    with friendly_errors():
        from runyard.control_plane.core import ControlPlane

        cp = ControlPlane()
        with cp.db.session(write=True) as session:
            kid = cp.keyring.rotate(session)
        console.print(f"New signing key {kid}.")


@workspace_app.command("serve", help="Serve a Workspace Server that requires control-plane tokens.")
def workspace_serve(
    control_plane: str = typer.Option(..., "--control-plane", help="Control plane URL."),
    audience: str = typer.Option(..., "--audience", help="This workspace's audience (from register-workspace)."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8080, "--port", min=1, max=65535),
    database_url: str | None = typer.Option(None, "--database-url"),
    log_level: str = typer.Option("info", "--log-level"),
) -> None:
    with friendly_errors():
        from runyard.settings import get_settings
        from runyard.workspace.db.engine import get_database

        os.environ.update(RUNYARD_AUTH="control_plane", RUNYARD_CONTROL_PLANE_URL=control_plane,
                          RUNYARD_WORKSPACE_AUDIENCE=audience)
        if database_url:
            os.environ["RUNYARD_DATABASE_URL"] = database_url
        get_settings.cache_clear()
        get_database(get_settings().workspace_database_url)
        console.print(f"[green]Runyard Workspace Server[/green] on http://{host}:{port} (tokens from {control_plane})")
        _uvicorn("runyard.control_plane.deploy:create_protected_workspace", host=host, port=port,
                 log_level=log_level)


# --- login -----------------------------------------------------------------------------------------
def sign_in(url: str, *, use_password: bool, email: str | None) -> None:
    """``runyard login URL`` on a protected server: the device flow (default) or a password; the tokens are
    kept in RUNYARD_HOME/credentials.json (mode 0600) and never printed."""
    from runyard.client import credentials
    from runyard.client.login import device_login, discover, password_login

    info = discover(url)
    if info is None:
        return  # this server needs no login
    cp_url, audience = str(info["control_plane_url"]), str(info["audience"])
    if use_password:
        email = email or str(typer.prompt("Email"))
        secret = str(typer.prompt("Password", hide_input=True))
        login = password_login(cp_url, audience, email=email, password=secret)
    else:
        def show(start: dict[str, Any]) -> None:
            console.print(f"Open [bold]{start['verification_uri']}[/bold] and enter the code "
                          f"[bold]{start['user_code']}[/bold]", soft_wrap=True)
            console.print(f"  (or open {start['verification_uri_complete']})", soft_wrap=True)
            console.print("Waiting for approval...")

        login = device_login(cp_url, audience, show=show)
    credentials.save(url, login)
    console.print(f"Signed in (tokens kept in {credentials.path()}, readable only by you).")


def sign_out(url: str) -> None:
    """Ends the login session at the control plane (best effort) and deletes the stored tokens."""
    import httpx

    from runyard.client import credentials

    login = credentials.forget(url)
    if login is None or not login.refresh_token:
        return
    try:
        token, _ = credentials.refresh_access_token(login.control_plane_url, login.refresh_token, None)
        httpx.post(login.control_plane_url.rstrip("/") + "/api/v1/auth/logout", timeout=10,
                   headers={"Authorization": f"Bearer {token}"})
    except Exception:  # already expired or unreachable: the local tokens are gone either way
        return


# --- audit -----------------------------------------------------------------------------------------
def _control_plane_client() -> tuple[str, dict[str, str]]:
    """The control plane URL and an Authorization header: RUNYARD_API_KEY, else the stored login."""
    from runyard.client import credentials
    from runyard.client.config import ClientConfig
    from runyard.exceptions import Unauthenticated
    from runyard.settings import get_settings

    settings = get_settings()
    url = (settings.url or ClientConfig.load().url or "").rstrip("/")
    login = credentials.load(url) if url else None
    cp_url = settings.control_plane_url or (login.control_plane_url if login else None)
    if not cp_url:
        raise Unauthenticated("Not logged in to a control plane.", hint="Run `runyard login URL` first.")
    if settings.api_key:
        return cp_url, {"Authorization": f"Bearer {settings.api_key}"}
    if login is None or not login.refresh_token:
        raise Unauthenticated("Not logged in.", hint="Run `runyard login URL` first.")
    token, _ = credentials.refresh_access_token(login.control_plane_url, login.refresh_token, None, login_hint=url)
    return cp_url, {"Authorization": f"Bearer {token}"}


def _get(path: str, params: dict[str, Any]) -> Any:
    import httpx

    from runyard.client.http import _error_from

    base, headers = _control_plane_client()
    response = httpx.get(base + path, params={k: v for k, v in params.items() if v is not None}, headers=headers,
                         timeout=60)
    if response.status_code >= 400:
        raise _error_from(response)
    return response


@audit_app.command("list", help="Recent audit events, newest first.")
def audit_list(
    org: str = typer.Option("default", "--org"),
    action: str | None = typer.Option(None, "--action", help="Prefix, e.g. login or run."),
    actor: str | None = typer.Option(None, "--actor", help="Email, name or id."),
    outcome: str | None = typer.Option(None, "--outcome", help="success, denied or failure."),
    since: str | None = typer.Option(None, "--since", help="ISO 8601 time."),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    output: OutputFormat = OutputOption,
) -> None:
    with friendly_errors():
        data = _get(f"/api/v1/orgs/{org}/audit", {"action": action, "actor": actor, "outcome": outcome,
                                                   "since": since, "limit": limit}).json()
        if output == OutputFormat.json:
            print_json(data)
            return
        rows = [(e["time"][:19], e["action"], e["outcome"], e.get("actor_name") or e["actor_type"],
                 e.get("target") or "", e.get("ip") or "") for e in data["items"]]
        print_table("Audit log", ["time", "action", "outcome", "actor", "target", "from"], rows,
                    empty="No audit events match.")


@audit_app.command("export", help="Every audit event as JSON lines or CSV.")
def audit_export(
    org: str = typer.Option("default", "--org"),
    fmt: str = typer.Option("jsonl", "--format", help="jsonl or csv."),
    since: str | None = typer.Option(None, "--since"),
    to: Path | None = typer.Option(None, "--to", help="File to write (default: standard output)."),
) -> None:
    with friendly_errors():
        body = _get(f"/api/v1/orgs/{org}/audit/export", {"format": fmt, "since": since}).text
        if to is None:
            sys.stdout.write(body)
        else:
            to.write_text(body)
            console.print(f"Wrote {to}.")
