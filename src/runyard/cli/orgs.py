"""``runyard org``, ``runyard workspace list|create`` and ``runyard project``: where things live.

An organization holds workspaces (each a Workspace Server), a workspace holds projects. Every command
talks to the control plane with your login (``runyard login URL``) or ``RUNYARD_API_KEY``.
"""

from __future__ import annotations

import typer

from runyard.cli.cp_client import OrgOption, org_path, quoted, request
from runyard.cli.output import OutputFormat, OutputOption, console, friendly_errors, print_json, print_table

org_app = typer.Typer(help="Organizations: list, create (superusers), show.\n\nExample: runyard org show --org acme",
                      no_args_is_help=True)
project_app = typer.Typer(
    help="Projects of a workspace: list, create, delete; `use` picks the one this client works in.\n\n"
    "Example: runyard project create churn --workspace default && runyard project use churn",
    no_args_is_help=True)

WorkspaceOption = typer.Option("default", "--workspace", "-w", envvar="RUNYARD_WORKSPACE",
                               help="Workspace the project belongs to.")


def register(app: typer.Typer) -> None:
    from runyard.cli.control_plane import workspace_app

    app.add_typer(org_app, name="org")
    app.add_typer(project_app, name="project")
    workspace_app.command("list", help="Workspaces of the organization.\n\nExample: runyard workspace list -o json")(
        workspace_list)
    workspace_app.command("create", help="Register a Workspace Server in the organization; prints its audience."
                          "\n\nExample: runyard workspace create research https://research.example.com")(
        workspace_create)


# --- organizations -----------------------------------------------------------------------------
@org_app.command("list", help="Organizations you belong to.\n\nExample: runyard org list -o json")
def org_list(output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("GET", "/api/v1/orgs")
        if output == OutputFormat.json:
            print_json(data)
            return
        print_table("Organizations", ["Name", "Created"], [(o["name"], o["created"][:19]) for o in data],
                    empty="You belong to no organization yet.")


@org_app.command("create", help="Create an organization (superusers only).\n\nExample: runyard org create acme")
def org_create(name: str = typer.Argument(..., help="Lowercase letters, digits, - and _."),
               output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("POST", "/api/v1/orgs", json={"name": name})
        if output == OutputFormat.json:
            print_json(data)
            return
        console.print(f"Created organization [bold]{data['name']}[/bold].")


@org_app.command("show", help="An organization: its workspaces, counts, and what you may do there.\n\n"
                 "Example: runyard org show --org acme")
def org_show(org: str = OrgOption, output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("GET", org_path(org), not_found_hint="`runyard org list` shows your organizations.")
        if output == OutputFormat.json:
            print_json(data)
            return
        console.print(f"[bold]{data['name']}[/bold]  (created {data['created'][:19]})")
        console.print(f"  workspaces:       {', '.join(data['workspaces']) or '-'}")
        console.print(f"  members:          {data['members']}")
        console.print(f"  teams:            {data['teams']}")
        console.print(f"  service accounts: {data['service_accounts']}")
        console.print(f"  your permissions: {', '.join(data['permissions']) or 'none'}", soft_wrap=True)


# --- workspaces ----------------------------------------------------------------------------------
def workspace_list(org: str = OrgOption, output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("GET", org_path(org, "/workspaces"))
        if output == OutputFormat.json:
            print_json(data)
            return
        print_table("Workspaces", ["Name", "URL", "Audience", "Created"],
                    [(w["name"], w["url"], w["audience"], w["created"][:19]) for w in data], empty="No workspaces.")


def workspace_create(name: str = typer.Argument(..., help="Lowercase letters, digits, - and _."),
                     url: str = typer.Argument(..., help="Where the Workspace Server answers."),
                     audience: str | None = typer.Option(None, "--audience", help="Default: runyard:ORG:NAME."),
                     org: str = OrgOption, output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("POST", org_path(org, "/workspaces"), json={"name": name, "url": url, "audience": audience})
        if output == OutputFormat.json:
            print_json(data)
            return
        console.print(f"Created workspace [bold]{data['name']}[/bold]; its audience: {data['audience']}")
        console.print(f"Serve it with: runyard workspace serve --control-plane URL --audience {data['audience']}",
                      soft_wrap=True)


# --- projects ------------------------------------------------------------------------------------
def _projects(org: str, workspace: str, suffix: str = "") -> str:
    return org_path(org, f"/workspaces/{quoted(workspace)}/projects{suffix}")


@project_app.command("list", help="Projects of a workspace.\n\nExample: runyard project list --workspace default")
def project_list(workspace: str = WorkspaceOption, org: str = OrgOption, output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("GET", _projects(org, workspace), not_found_hint="`runyard workspace list` shows them.")
        if output == OutputFormat.json:
            print_json(data)
            return
        print_table(f"Projects of {workspace}", ["Name", "Created"], [(p["name"], p["created"][:19]) for p in data],
                    empty=f"No projects in {workspace} yet. Create one: runyard project create NAME -w {workspace}")


@project_app.command("create", help="Create a project.\n\nExample: runyard project create churn -w default")
def project_create(name: str = typer.Argument(..., help="Lowercase letters, digits, - and _."),
                   workspace: str = WorkspaceOption, org: str = OrgOption,
                   output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        data = request("POST", _projects(org, workspace), json={"name": name},
                       not_found_hint="`runyard workspace list` shows the workspaces.")
        if output == OutputFormat.json:
            print_json(data)
            return
        console.print(f"Created project [bold]{workspace}/{data['name']}[/bold].")


@project_app.command("delete", help="Delete a project and the grants scoped to it.\n\n"
                     "Example: runyard project delete churn -w default --yes")
def project_delete(name: str = typer.Argument(...), workspace: str = WorkspaceOption, org: str = OrgOption,
                   yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    with friendly_errors():
        if not yes:
            typer.confirm(f"Delete project {workspace}/{name} and every grant on it?", abort=True)
        request("DELETE", _projects(org, workspace, f"/{quoted(name)}"),
                not_found_hint="`runyard project list` shows the projects.")
        console.print(f"Deleted project {workspace}/{name}.")


@project_app.command("use", help="Work in this project from now on (pipelines, runs, artifacts and stacks of this "
                     "client); kept in RUNYARD_HOME/client.json. RUNYARD_PROJECT overrides it.\n\n"
                     "Example: runyard project use churn   (back: runyard project use default)")
def project_use(name: str = typer.Argument(..., help="The project's name, e.g. churn; `default` goes back.")) -> None:
    from runyard.client.config import ClientConfig, checked_project
    from runyard.schemas.base import DEFAULT_PROJECT
    from runyard.settings import get_settings

    with friendly_errors():
        config = ClientConfig.load()
        config.project = None if checked_project(name) == DEFAULT_PROJECT else name
        config.save()
        console.print(f"This client now works in project [bold]{name}[/bold].")
        env = get_settings().project
        if env and env != name:
            console.print(f"[yellow]Note: RUNYARD_PROJECT={env} is set and wins over this choice.[/yellow]")
