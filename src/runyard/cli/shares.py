"""``runyard share create|list|revoke``: one pipeline or stack for a user or team, not the whole project.

The resource is named as in every other command (its name or id, in the client's current project); the
command looks it up through the workspace with your login, then asks the control plane to share it.
Sharing needs ``<type>:share`` in that project, and a share never carries more than you hold there.
"""

from __future__ import annotations

from typing import Any

import typer

from runyard.cli.cp_client import OrgOption, org_path, quoted, request
from runyard.cli.output import OutputFormat, OutputOption, console, friendly_errors, print_json, print_table
from runyard.exceptions import InvalidInput

app = typer.Typer(help="Share one pipeline (with its runs, step runs and the artifacts they wrote) or one stack "
                  "with a user or team.\n\nExample: runyard share create pipeline training --team ml --role viewer",
                  no_args_is_help=True)

WorkspaceOption = typer.Option("default", "--workspace", "-w", envvar="RUNYARD_WORKSPACE",
                               help="The workspace (as the control plane names it) the resource lives in.")
ProjectOption = typer.Option(None, "--project", help="The resource's project; default: the client's current one.")
_TYPES = {"pipeline": "pipelines", "pipelines": "pipelines", "stack": "stacks", "stacks": "stacks"}
SHARES_HINT = "`runyard share list` shows the shares and their ids."


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="share")


def _resolve(resource_type: str, name_or_id: str, project: str | None) -> tuple[str, str, str]:
    """(id, name, project) of the resource, looked up in the workspace the client points at."""
    from runyard import Client

    client = Client(project=project)
    found = client.get_pipeline(name_or_id) if resource_type == "pipelines" else client.get_stack(name_or_id)
    return str(found.id), found.name, client.project


def _who(share: dict[str, Any]) -> str:
    return f"{share['subject_type']} {share.get('subject') or share['subject_id']}"


def _what(share: dict[str, Any]) -> str:
    return f"{share['resource_type'][:-1]} {share.get('resource_name') or share['resource_id']}"


@app.command("create", help="Share a pipeline or stack with one user or team, as a share role (viewer, developer, "
             "admin) or a list of permissions. Sharing again with another role replaces the share.\n\n"
             "Example: runyard share create stack gpu --user ana@example.com --role developer")
def share_create(
    resource_type: str = typer.Argument(..., metavar="TYPE", help="pipeline or stack."),
    name_or_id: str = typer.Argument(..., help="Its name or id in the project."),
    user: str | None = typer.Option(None, "--user", help="A member's email."),
    team: str | None = typer.Option(None, "--team", help="A team name (every member gets the share)."),
    role: str | None = typer.Option(None, "--role", "-r", help="viewer, developer or admin (of this resource)."),
    permission: list[str] = typer.Option([], "--permission", "-p", help="Instead of --role; repeat for each."),
    workspace: str = WorkspaceOption, project: str | None = ProjectOption, org: str = OrgOption,
    output: OutputFormat = OutputOption,
) -> None:
    with friendly_errors():
        kind = _TYPES.get(resource_type.lower())
        if kind is None:
            raise InvalidInput(f"Cannot share a {resource_type!r}.", hint="Share a `pipeline` or a `stack`.")
        if bool(user) == bool(team):
            raise InvalidInput("Name exactly one of --user or --team.")
        if bool(role) == bool(permission):
            raise InvalidInput("Give either --role (viewer, developer, admin) or --permission, not both.")
        resource_id, name, in_project = _resolve(kind, name_or_id, project)
        body = {"workspace": workspace, "project": in_project, "resource_type": kind, "resource_id": resource_id,
                "resource_name": name, "subject_type": "user" if user else "team", "subject": user or team,
                "role": role, "permissions": permission or None}
        data = request("POST", org_path(org, "/shares"), json=body,
                       not_found_hint="Check the user or team and the workspace (`runyard user list`, "
                       "`runyard team list`, `runyard workspace list`).")
        if output == OutputFormat.json:
            print_json(data)
            return
        console.print(f"Shared {_what(data)} ({data['project']}) with {_who(data)}: {', '.join(data['permissions'])} "
                      f"(share {data['id']}).", soft_wrap=True)


@app.command("list", help="Shares you may manage, and those given to you or your teams.\n\n"
             "Example: runyard share list --project churn -o json")
def share_list(workspace: str | None = typer.Option(None, "--workspace", "-w", help="Only this workspace."),
               project: str | None = typer.Option(None, "--project", help="Only this project (needs --workspace)."),
               org: str = OrgOption, output: OutputFormat = OutputOption) -> None:
    with friendly_errors():
        if project and not workspace:
            raise InvalidInput("--project needs --workspace (a project lives in a workspace).")
        data = request("GET", org_path(org, "/shares"), params={"workspace": workspace, "project": project},
                       not_found_hint="`runyard workspace list` and `runyard project list` show the names.")
        if output == OutputFormat.json:
            print_json(data)
            return
        rows = [(d["id"], _what(d), f"{d['workspace']}/{d['project']}", _who(d), d["role"] or "custom",
                 ", ".join(d["permissions"])) for d in data]
        print_table("Shares", ["ID", "What", "Where", "With", "Role", "Permissions"], rows, empty="No shares.")


@app.command("revoke", help="Take a share back, by its id (workspaces stop honouring it within a revocation "
             "poll).\n\nExample: runyard share revoke 3f2a...")
def share_revoke(share_id: str = typer.Argument(..., help="From `runyard share list`."), org: str = OrgOption) -> None:
    with friendly_errors():
        request("DELETE", org_path(org, f"/shares/{quoted(share_id)}"), not_found_hint=SHARES_HINT)
        console.print(f"Revoked share {share_id}.")
