"""``runyard role``, ``runyard grant``, ``runyard service-account`` and ``runyard api-key``: who may do what.

A role is a set of ``resource:action`` permissions; a grant gives a role to a user, a team or a service
account on the organization, one workspace or one project. Nobody can grant more than they hold there.
An API key's secret is printed once, at creation or rotation, and never again.
"""

from __future__ import annotations

from typing import Any

import typer

from runyard.cli.cp_client import OrgOption, org_path, quoted, request
from runyard.cli.output import (
    OutputFormat,
    OutputOption,
    console,
    err_console,
    friendly_errors,
    print_json,
    print_table,
)
from runyard.exceptions import InvalidInput

role_app = typer.Typer(help="Roles: built-in and custom sets of permissions.\n\n"
                       "Example: runyard role create auditor --permission audit:read --permission runs:read",
                       no_args_is_help=True)
grant_app = typer.Typer(help="Grants: a role for a user, team or service account on the organization, a workspace "
                        "or a project.\n\nExample: runyard grant create --role developer --team ds --workspace default",
                        no_args_is_help=True)
sa_app = typer.Typer(help="Service accounts: identities for CI and automation (they hold API keys).\n\n"
                     "Example: runyard service-account create ci --description 'GitHub Actions'", no_args_is_help=True)
key_app = typer.Typer(help="API keys of service accounts, and your personal access tokens.\n\n"
                      "Example: runyard api-key create deploy --service-account ci", no_args_is_help=True)

ROLES_HINT = "`runyard role list` shows the roles."
SA_HINT = "`runyard service-account list` shows the service accounts."


def register(app: typer.Typer) -> None:
    app.add_typer(role_app, name="role")
    app.add_typer(grant_app, name="grant")
    app.add_typer(sa_app, name="service-account")
    app.add_typer(key_app, name="api-key")


# --- roles ----------------------------------------------------------------------------------------
@role_app.command("list", help="Built-in and custom roles with their permissions.\n\nExample: runyard role list")
def role_list(org: str = OrgOption, output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("GET", org_path(org, "/roles"))
        if output == OutputFormat.json:
            print_json(data)
            return
        rows = [(r["name"], "built-in" if r["builtin"] else "custom", ", ".join(r["permissions"])) for r in data]
        print_table("Roles", ["Name", "Type", "Permissions"], rows)


@role_app.command("create", help="Create a custom role (you must hold every permission you put in it).\n\n"
                  "Permissions are resource:action, resource:* or *.\n\n"
                  "Example: runyard role create auditor --permission audit:read --permission runs:read")
def role_create(name: str = typer.Argument(..., help="Lowercase letters, digits, - and _."),
                permission: list[str] = typer.Option(..., "--permission", "-p", help="Repeat for each permission."),
                org: str = OrgOption, output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("POST", org_path(org, "/roles"), json={"name": name, "permissions": permission})
        if output == OutputFormat.json:
            print_json(data)
            return
        console.print(f"Created role [bold]{data['name']}[/bold]: {', '.join(data['permissions'])}", soft_wrap=True)


@role_app.command("delete", help="Delete a custom role (revoke its grants first).\n\n"
                  "Example: runyard role delete auditor --yes")
def role_delete(name: str = typer.Argument(...), org: str = OrgOption,
                yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    with friendly_errors():
        if not yes:
            typer.confirm(f"Delete role {name}?", abort=True)
        request("DELETE", org_path(org, f"/roles/{quoted(name)}"), not_found_hint=ROLES_HINT)
        console.print(f"Deleted role {name}.")


# --- grants ---------------------------------------------------------------------------------------
def _scope_of(grant: dict[str, Any]) -> str:
    return grant["scope_type"] if grant["scope_type"] == "org" else f"{grant['scope_type']} {grant.get('scope')}"


@grant_app.command("list", help="Every grant in the organization.\n\nExample: runyard grant list -o json")
def grant_list(org: str = OrgOption, output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("GET", org_path(org, "/grants"))
        if output == OutputFormat.json:
            print_json(data)
            return
        rows = [(g["id"], g["role"], g["subject_type"], g.get("subject") or g["subject_id"], _scope_of(g))
                for g in data]
        print_table("Grants", ["ID", "Role", "To", "Who", "On"], rows, empty="No grants.")


@grant_app.command("create", help="Give a role to one user, team or service account. Without --workspace the grant "
                   "covers the whole organization; with --project, one project of that workspace.\n\n"
                   "Example: runyard grant create --role developer --user ana@example.com --workspace default")
def grant_create(
    role: str = typer.Option(..., "--role", "-r", help="Role name (`runyard role list`)."),
    user: str | None = typer.Option(None, "--user", help="A member's email."),
    team: str | None = typer.Option(None, "--team", help="A team name."),
    service_account: str | None = typer.Option(None, "--service-account", help="A service account name."),
    workspace: str | None = typer.Option(None, "--workspace", "-w", help="Limit the grant to this workspace."),
    project: str | None = typer.Option(None, "--project", help="Limit it to this project (needs --workspace)."),
    org: str = OrgOption, output: OutputFormat = OutputOption,
) -> None:
    with friendly_errors():
        subjects = [(k, v) for k, v in (("user", user), ("team", team), ("service_account", service_account)) if v]
        if len(subjects) != 1:
            raise InvalidInput("Name exactly one of --user, --team or --service-account.")
        if project and not workspace:
            raise InvalidInput("--project needs --workspace (a project lives in a workspace).")
        scope_type = "project" if project else "workspace" if workspace else "org"
        scope = f"{workspace}/{project}" if project else workspace
        body = {"role": role, "subject_type": subjects[0][0], "subject": subjects[0][1], "scope_type": scope_type,
                "scope": scope}
        data = request("POST", org_path(org, "/grants"), json=body,
                       not_found_hint="Check the role, the subject and the scope (`runyard role list`, "
                       "`runyard user list`, `runyard workspace list`).")
        if output == OutputFormat.json:
            print_json(data)
            return
        console.print(f"Granted {data['role']} to {data['subject_type']} {data.get('subject')} on {_scope_of(data)} "
                      f"(grant {data['id']}).", soft_wrap=True)


@grant_app.command("revoke", help="Take a grant back, by its id.\n\nExample: runyard grant revoke 3f2a...")
def grant_revoke(grant_id: str = typer.Argument(..., help="From `runyard grant list`."), org: str = OrgOption) -> None:
    with friendly_errors():
        request("DELETE", org_path(org, f"/grants/{quoted(grant_id)}"),
                not_found_hint="`runyard grant list` shows the grants and their ids.")
        console.print(f"Revoked grant {grant_id}.")


# --- service accounts -----------------------------------------------------------------------------
@sa_app.command("list", help="Service accounts of the organization.\n\nExample: runyard service-account list")
def sa_list(org: str = OrgOption, output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("GET", org_path(org, "/service-accounts"))
        if output == OutputFormat.json:
            print_json(data)
            return
        print_table("Service accounts", ["Name", "Description", "Created"],
                    [(a["name"], a["description"], a["created"][:19]) for a in data], empty="No service accounts.")


@sa_app.command("create", help="Create a service account; give it a role with `runyard grant create`, then a key "
                "with `runyard api-key create`.\n\nExample: runyard service-account create ci")
def sa_create(name: str = typer.Argument(..., help="Lowercase letters, digits, - and _."),
              description: str = typer.Option("", "--description"), org: str = OrgOption,
              output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("POST", org_path(org, "/service-accounts"), json={"name": name, "description": description})
        if output == OutputFormat.json:
            print_json(data)
            return
        console.print(f"Created service account [bold]{data['name']}[/bold]. Next: runyard grant create --role "
                      f"developer --service-account {data['name']} --workspace default", soft_wrap=True)


@sa_app.command("delete", help="Delete a service account: its keys are revoked at once and its grants removed.\n\n"
                "Example: runyard service-account delete ci --yes")
def sa_delete(name: str = typer.Argument(...), org: str = OrgOption,
              yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    with friendly_errors():
        if not yes:
            typer.confirm(f"Delete service account {name} and revoke its keys?", abort=True)
        request("DELETE", org_path(org, f"/service-accounts/{quoted(name)}"), not_found_hint=SA_HINT)
        console.print(f"Deleted service account {name}; its keys are revoked.")


# --- API keys -------------------------------------------------------------------------------------
def _owner_path(org: str, service_account: str | None, personal: bool) -> str:
    if bool(service_account) == personal:
        raise InvalidInput("Name a --service-account, or pass --personal for your own access tokens.")
    return org_path(org, "/personal-tokens" if personal else f"/service-accounts/{quoted(service_account or '')}"
                    "/api-keys")


def _show_secret(data: dict[str, Any], output: OutputFormat) -> None:
    """The one time the secret is shown: on standard output alone, the warning on standard error."""
    if output == OutputFormat.json:
        print_json(data)
    else:
        err_console.print(f"Key [bold]{data['name']}[/bold] ({data['prefix']}, id {data['id']}); copy it now, it is "
                          "never shown again:", soft_wrap=True)
        print(data["key"])


@key_app.command("create", help="Create an API key for a service account (or a personal access token) and print "
                 "it once.\n\nExample: runyard api-key create deploy --service-account ci --expires-in-days 30")
def key_create(name: str = typer.Argument(..., help="Lowercase letters, digits, - and _."),
               service_account: str | None = typer.Option(None, "--service-account", "-s"),
               personal: bool = typer.Option(False, "--personal", help="A token acting as you."),
               expires_in_days: int = typer.Option(90, "--expires-in-days", min=1, max=3650),
               org: str = OrgOption, output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("POST", _owner_path(org, service_account, personal),
                       json={"name": name, "expires_in_days": expires_in_days}, not_found_hint=SA_HINT)
        _show_secret(data, output)


@key_app.command("list", help="Keys of a service account (or your personal tokens); never their secrets.\n\n"
                 "Example: runyard api-key list --service-account ci")
def key_list(service_account: str | None = typer.Option(None, "--service-account", "-s"),
             personal: bool = typer.Option(False, "--personal", help="Your personal access tokens."),
             org: str = OrgOption, output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("GET", _owner_path(org, service_account, personal), not_found_hint=SA_HINT)
        if output == OutputFormat.json:
            print_json(data)
            return
        rows = [(k["id"], k["name"], k["prefix"], "revoked" if k["revoked_at"] else "live",
                 (k["expires"] or "never")[:19], (k["last_used"] or "-")[:19]) for k in data]
        print_table("API keys", ["ID", "Name", "Prefix", "Status", "Expires", "Last used"], rows, empty="No keys.")


@key_app.command("rotate", help="Replace a key with a new one (printed once); the old one stops after --grace "
                 "seconds.\n\nExample: runyard api-key rotate 3f2a... --grace 3600")
def key_rotate(key_id: str = typer.Argument(..., help="From `runyard api-key list`."),
               grace: int = typer.Option(0, "--grace", min=0, max=7 * 86400, help="Seconds the old key still works."),
               org: str = OrgOption, output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("POST", org_path(org, f"/api-keys/{quoted(key_id)}/rotate"), json={"grace_s": grace},
                       not_found_hint="`runyard api-key list` shows the keys and their ids.")
        _show_secret(data, output)


@key_app.command("revoke", help="Revoke a key at once (workspaces refuse it within a poll interval).\n\n"
                 "Example: runyard api-key revoke 3f2a...")
def key_revoke(key_id: str = typer.Argument(..., help="From `runyard api-key list`."), org: str = OrgOption) -> None:
    with friendly_errors():
        request("DELETE", org_path(org, f"/api-keys/{quoted(key_id)}"),
                not_found_hint="`runyard api-key list` shows the keys and their ids.")
        console.print(f"Revoked key {key_id}.")
