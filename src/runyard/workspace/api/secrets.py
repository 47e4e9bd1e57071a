"""``/secrets``: metadata needs ``secrets:read``; values have their own route, permission and audit entry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from runyard.schemas.secrets import SecretCreate, SecretRead, SecretUpdate, SecretValuesRead
from runyard.workspace.api.deps import Authorize, Principal, ReadSession, WriteSession
from runyard.workspace.api.errors import ERROR_RESPONSES
from runyard.workspace.services import secrets as service

router = APIRouter(tags=["secrets"], responses=ERROR_RESPONSES)

CanRead = Annotated[Principal, Depends(Authorize("secrets:read", workspace_wide=True))]
CanReadValues = Annotated[Principal, Depends(Authorize("secrets:read_secret_values", workspace_wide=True))]
CanWrite = Annotated[Principal, Depends(Authorize("secrets:write", workspace_wide=True))]
NameOrId = Annotated[str, Path(min_length=1, max_length=200)]


@router.post("/secrets", operation_id="secrets-create", status_code=201)
def create_secret(principal: CanWrite, session: WriteSession, secret: SecretCreate) -> SecretRead:
    return service.create_secret(session, secret=secret, created_by=principal.name)


@router.get("/secrets", operation_id="secrets-list")
def list_secrets(
    principal: CanRead,
    session: ReadSession,
    name_contains: Annotated[str | None, Query(max_length=200)] = None,
) -> list[SecretRead]:
    return service.list_secrets(session, name_contains=name_contains)


@router.get("/secrets/{name_or_id}", operation_id="secrets-get")
def get_secret(principal: CanRead, session: ReadSession, name_or_id: NameOrId) -> SecretRead:
    return service.get_secret(session, name_or_id=name_or_id)


@router.get("/secrets/{name_or_id}/values", operation_id="secrets-get_values")
def get_secret_values(principal: CanReadValues, session: ReadSession, name_or_id: NameOrId) -> SecretValuesRead:
    return service.get_secret_values(session, name_or_id=name_or_id)


@router.patch("/secrets/{name_or_id}", operation_id="secrets-update")
def update_secret(principal: CanWrite, session: WriteSession, name_or_id: NameOrId, update: SecretUpdate) -> SecretRead:
    return service.update_secret(session, name_or_id=name_or_id, update=update)


@router.delete("/secrets/{name_or_id}", operation_id="secrets-delete", status_code=204)
def delete_secret(principal: CanWrite, session: WriteSession, name_or_id: NameOrId) -> None:
    service.delete_secret(session, name_or_id=name_or_id)
