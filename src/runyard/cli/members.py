"""``runyard user`` and ``runyard team``: who belongs to an organization, and in which teams.

Roles are given with ``runyard grant create``; a team's grants reach each of its members.
"""

from __future__ import annotations

import typer
from rich.markup import escape

from runyard.cli.cp_client import OrgOption, new_password, org_path, quoted, request
from runyard.cli.output import OutputFormat, OutputOption, console, friendly_errors, print_json, print_table

user_app = typer.Typer(help="Members of an organization: list, create, show, disable.\n\n"
                       "Example: runyard user create ana@example.com --name Ana --password", no_args_is_help=True)
team_app = typer.Typer(help="Teams: list, create, delete, add-member, remove-member.\n\n"
                       "Example: runyard team add-member data-science ana@example.com", no_args_is_help=True)

USERS_HINT = "`runyard user list` shows the members."
TEAMS_HINT = "`runyard team list` shows the teams."


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(team_app, name="team")


def _grant_rows(grants: list[dict[str, str]]) -> str:
    return ", ".join(f"{g['role']} on {g['scope_type']} {g.get('scope') or g['scope_id']}" for g in grants) or "-"


# --- users ----------------------------------------------------------------------------------------
@user_app.command("list", help="Members of the organization.\n\nExample: runyard user list -o json")
def user_list(org: str = OrgOption, output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("GET", org_path(org, "/users"))
        if output == OutputFormat.json:
            print_json(data)
            return
        rows = [(u["email"], u["name"], "active" if u["is_active"] else "disabled",
                 "yes" if u["is_superuser"] else "", u["created"][:19]) for u in data]
        print_table("Members", ["Email", "Name", "Status", "Superuser", "Created"], rows, empty="No members.")


@user_app.command("create", help="Add a member: creates the account, or adds an existing one to the organization.\n\n"
                  "Without --password the person signs in with single sign-on. Give them a role next:\n"
                  "runyard grant create --role developer --user EMAIL --scope workspace default\n\n"
                  "Example: runyard user create ana@example.com --name Ana --password")
def user_create(email: str = typer.Argument(..., help="Their email (also their login)."),
                name: str = typer.Option("", "--name", help="Display name (default: the email's local part)."),
                password: bool = typer.Option(False, "--password", help="Set a first password (asked, hidden; "
                                              "or RUNYARD_NEW_USER_PASSWORD)."),
                org: str = OrgOption, output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        body: dict[str, str] = {"email": email, "name": name}
        if password:
            body["password"] = new_password(f"First password for {email}")
        data = request("POST", org_path(org, "/users"), json=body)
        if output == OutputFormat.json:
            print_json(data)
            return
        console.print(f"[bold]{data['email']}[/bold] is a member of {org}. Give them a role: runyard grant create "
                      f"--role viewer --user {data['email']}", soft_wrap=True)


@user_app.command("show", help="A member, their teams and the roles granted to them.\n\n"
                  "Example: runyard user show ana@example.com")
def user_show(email: str = typer.Argument(...), org: str = OrgOption, output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("GET", org_path(org, f"/users/{quoted(email)}"), not_found_hint=USERS_HINT)
        if output == OutputFormat.json:
            print_json(data)
            return
        state = "" if data["is_active"] else " [red]disabled[/red]"
        console.print(f"[bold]{data['email']}[/bold] ({escape(data['name'])}){state}")
        console.print(f"  superuser: {'yes' if data['is_superuser'] else 'no'}")
        console.print(f"  teams:     {', '.join(data['teams']) or '-'}")
        console.print(f"  grants:    {_grant_rows(data['grants'])}", soft_wrap=True)


@user_app.command("disable", help="Disable a member and end their sessions (only removes them from this "
                  "organization if they belong to others).\n\nExample: runyard user disable ana@example.com --yes")
def user_disable(email: str = typer.Argument(...), org: str = OrgOption,
                 yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    with friendly_errors():
        if not yes:
            typer.confirm(f"Disable {email} and end their sessions?", abort=True)
        request("DELETE", org_path(org, f"/users/{quoted(email)}"), not_found_hint=USERS_HINT)
        console.print(f"Disabled {email}; their sessions are ended.")


# --- teams ----------------------------------------------------------------------------------------
@team_app.command("list", help="Teams of the organization.\n\nExample: runyard team list -o json")
def team_list(org: str = OrgOption, output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("GET", org_path(org, "/teams"))
        if output == OutputFormat.json:
            print_json(data)
            return
        print_table("Teams", ["Name", "Created"], [(t["name"], t["created"][:19]) for t in data],
                    empty="No teams yet. Create one: runyard team create NAME")


@team_app.command("show", help="A team's members and grants.\n\nExample: runyard team show data-science")
def team_show(name: str = typer.Argument(...), org: str = OrgOption, output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("GET", org_path(org, f"/teams/{quoted(name)}"), not_found_hint=TEAMS_HINT)
        if output == OutputFormat.json:
            print_json(data)
            return
        console.print(f"[bold]{data['name']}[/bold]")
        console.print(f"  members: {', '.join(data['members']) or '-'}", soft_wrap=True)
        console.print(f"  grants:  {_grant_rows(data['grants'])}", soft_wrap=True)


@team_app.command("create", help="Create a team.\n\nExample: runyard team create data-science")
def team_create(name: str = typer.Argument(..., help="Lowercase letters, digits, - and _."), org: str = OrgOption,
                output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("POST", org_path(org, "/teams"), json={"name": name})
        if output == OutputFormat.json:
            print_json(data)
            return
        console.print(f"Created team [bold]{data['name']}[/bold]. Add people: runyard team add-member "
                      f"{data['name']} EMAIL", soft_wrap=True)


@team_app.command("delete", help="Delete a team; its members lose what its grants gave them.\n\n"
                  "Example: runyard team delete data-science --yes")
def team_delete(name: str = typer.Argument(...), org: str = OrgOption,
                yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    with friendly_errors():
        if not yes:
            typer.confirm(f"Delete team {name} and its grants?", abort=True)
        request("DELETE", org_path(org, f"/teams/{quoted(name)}"), not_found_hint=TEAMS_HINT)
        console.print(f"Deleted team {name}.")


@team_app.command("add-member", help="Add a member of the organization to a team.\n\n"
                  "Example: runyard team add-member data-science ana@example.com")
def team_add_member(team: str = typer.Argument(...), email: str = typer.Argument(...), org: str = OrgOption) -> None:
    with friendly_errors():
        request("POST", org_path(org, f"/teams/{quoted(team)}/members"), json={"email": email},
                not_found_hint=f"{TEAMS_HINT} {USERS_HINT}")
        console.print(f"Added {email} to {team}.")


@team_app.command("remove-member", help="Take someone out of a team.\n\n"
                  "Example: runyard team remove-member data-science ana@example.com")
def team_remove_member(team: str = typer.Argument(...), email: str = typer.Argument(...),
                       org: str = OrgOption) -> None:
    with friendly_errors():
        request("DELETE", org_path(org, f"/teams/{quoted(team)}/members/{quoted(email)}"),
                not_found_hint=f"{TEAMS_HINT} {USERS_HINT}")
        console.print(f"Removed {email} from {team}.")
