"""Stacks and components. A stack maps each component type to one component.

Stacks and components belong to a project (names are unique per project); each project gets its own
``default`` stack the first time it is read.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from runyard.exceptions import Conflict, InvalidInput, NotFound
from runyard.schemas.base import DEFAULT_PROJECT
from runyard.schemas.stacks import (
    ComponentCreate,
    ComponentRead,
    ComponentUpdate,
    FlavorRead,
    StackCreate,
    StackRead,
    StackUpdate,
)
from runyard.workspace.db.models import ComponentRow, StackComponentRow, StackRow
from runyard.workspace.services.visibility import Visible, components_of

DEFAULT_STACK = "default"
REQUIRED_TYPES = ("orchestrator", "artifact_store")


def create_component(
    session: Session, *, component: ComponentCreate, project: str = DEFAULT_PROJECT
) -> ComponentRead:
    if session.scalar(
        select(ComponentRow.id).where(
            ComponentRow.project == project, ComponentRow.type == component.type, ComponentRow.name == component.name
        )
    ):
        raise Conflict(
            f"A {component.type} named {component.name!r} exists already.",
            hint="Pick another name, or update it with `runyard stack component update`.",
        )
    row = ComponentRow(
        project=project, name=component.name, type=component.type, flavor=component.flavor, config=component.config
    )
    session.add(row)
    session.flush()
    return ComponentRead.model_validate(row)


def component_row(session: Session, *, type: str, name_or_id: str, project: str) -> ComponentRow:
    row: ComponentRow | None = None
    try:
        row = session.get(ComponentRow, uuid.UUID(name_or_id))
    except ValueError:
        row = session.scalar(
            select(ComponentRow).where(
                ComponentRow.project == project, ComponentRow.type == type, ComponentRow.name == name_or_id
            )
        )
    if row is None or row.project != project:
        raise NotFound(f"No {type} named {name_or_id!r}.", hint="List components with `runyard stack component list`.")
    return row


def get_component(session: Session, *, type: str, name_or_id: str, project: str = DEFAULT_PROJECT) -> ComponentRead:
    return ComponentRead.model_validate(component_row(session, type=type, name_or_id=name_or_id, project=project))


def update_component(
    session: Session, *, type: str, name_or_id: str, update: ComponentUpdate, project: str = DEFAULT_PROJECT
) -> ComponentRead:
    row = component_row(session, type=type, name_or_id=name_or_id, project=project)
    row.config = update.config
    session.flush()
    return ComponentRead.model_validate(row)


def list_components(
    session: Session, *, type: str | None = None, project: str = DEFAULT_PROJECT, visible: Visible | None = None
) -> list[ComponentRead]:
    stmt = select(ComponentRow).where(ComponentRow.project == project).order_by(ComponentRow.type, ComponentRow.name)
    if visible is not None:
        stmt = stmt.where(ComponentRow.id.in_(components_of(visible)))
    if type:
        stmt = stmt.where(ComponentRow.type == type)
    return [ComponentRead.model_validate(r) for r in session.scalars(stmt)]


def delete_component(session: Session, *, type: str, name_or_id: str, project: str = DEFAULT_PROJECT) -> None:
    row = component_row(session, type=type, name_or_id=name_or_id, project=project)
    used = session.scalar(select(StackComponentRow.stack_id).where(StackComponentRow.component_id == row.id))
    if used is not None:
        raise Conflict(
            f"The {type} {row.name!r} is part of a stack.", hint="Remove it from every stack before deleting it."
        )
    session.delete(row)


def create_stack(session: Session, *, stack: StackCreate, project: str = DEFAULT_PROJECT) -> StackRead:
    if session.scalar(select(StackRow.id).where(StackRow.project == project, StackRow.name == stack.name)):
        raise Conflict(f"A stack named {stack.name!r} exists already.", hint="Pick another name.")
    row = StackRow(project=project, name=stack.name)
    row.members = _members(session, stack.name, stack.components, project)
    session.add(row)
    session.flush()
    return to_read(row)


def update_stack(
    session: Session, *, name_or_id: str, update: StackUpdate, project: str = DEFAULT_PROJECT
) -> StackRead:
    row = stack_row(session, name_or_id, project)
    merged = {m.type: str(m.component_id) for m in row.members}
    merged.update(update.components)
    row.members.clear()
    session.flush()
    row.members.extend(_members(session, row.name, merged, project))
    session.flush()
    return to_read(row)


def _members(
    session: Session, stack_name: str, components: dict[str, str], project: str
) -> list[StackComponentRow]:
    missing = [t for t in REQUIRED_TYPES if t not in components]
    if missing:
        raise InvalidInput(
            f"Stack {stack_name!r} has no {' and no '.join(missing)}.",
            hint="Every stack needs an orchestrator and an artifact store, e.g. `-o default -a default`.",
        )
    return [
        StackComponentRow(type=t, component_id=component_row(session, type=t, name_or_id=n, project=project).id)
        for t, n in components.items()
    ]


def stack_row(session: Session, name_or_id: str, project: str) -> StackRow:
    row: StackRow | None = None
    try:
        row = session.get(StackRow, uuid.UUID(name_or_id))
    except ValueError:
        row = session.scalar(select(StackRow).where(StackRow.project == project, StackRow.name == name_or_id))
    if row is None or row.project != project:
        raise NotFound(f"No stack named {name_or_id!r}.", hint="List stacks with `runyard stack list`.")
    return row


def get_stack(session: Session, *, name_or_id: str, project: str = DEFAULT_PROJECT) -> StackRead:
    if name_or_id == DEFAULT_STACK:
        return ensure_default_stack(session, project)
    return to_read(stack_row(session, name_or_id, project))


def list_stacks(session: Session, *, project: str = DEFAULT_PROJECT, visible: Visible | None = None) -> list[StackRead]:
    if visible is not None:  # a caller who sees only shared stacks does not create the default one
        stmt = select(StackRow).where(StackRow.project == project, StackRow.id.in_(visible.stacks))
        return [to_read(r) for r in session.scalars(stmt.order_by(StackRow.name))]
    ensure_default_stack(session, project)
    stmt = select(StackRow).where(StackRow.project == project).order_by(StackRow.name)
    return [to_read(r) for r in session.scalars(stmt)]


def delete_stack(session: Session, *, name_or_id: str, project: str = DEFAULT_PROJECT) -> None:
    row = stack_row(session, name_or_id, project)
    if row.name == DEFAULT_STACK:
        raise InvalidInput("The default stack cannot be deleted.", hint="Register another stack instead.")
    session.delete(row)


def ensure_default_stack(session: Session, project: str = DEFAULT_PROJECT) -> StackRead:
    """The default stack (local orchestrator + local artifact store): the default project's exists from the
    start, another project's from its first read."""
    by_name = select(StackRow).where(StackRow.project == project, StackRow.name == DEFAULT_STACK)
    row = session.scalar(by_name)
    if row is not None:
        return to_read(row)
    try:
        with session.begin_nested():
            members = []
            for type_ in REQUIRED_TYPES:
                comp = session.scalar(
                    select(ComponentRow).where(
                        ComponentRow.project == project, ComponentRow.type == type_, ComponentRow.name == DEFAULT_STACK
                    )
                )
                if comp is None:
                    comp = ComponentRow(project=project, name=DEFAULT_STACK, type=type_, flavor="local", config={})
                    session.add(comp)
                    session.flush()
                members.append(StackComponentRow(type=type_, component_id=comp.id))
            row = StackRow(project=project, name=DEFAULT_STACK)
            row.members = members
            session.add(row)
    except IntegrityError:
        row = session.scalars(by_name).one()
    return to_read(row)


def to_read(row: StackRow) -> StackRead:
    return StackRead(
        id=row.id,
        created=row.created,
        name=row.name,
        components={m.type: ComponentRead.model_validate(m.component) for m in row.members},
    )


def list_flavors(session: Session, *, type: str | None = None) -> list[FlavorRead]:
    """Flavors installed where the workspace runs (built-ins and plugins); ``session`` is unused."""
    from runyard.stack.flavors import GROUPS, available

    types = [type] if type else sorted(GROUPS)
    return [
        FlavorRead(type=t, name=name, target=target)
        for t in types
        if t in GROUPS
        for name, target in sorted(available(t).items())
    ]
