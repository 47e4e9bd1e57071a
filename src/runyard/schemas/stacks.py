"""Stacks and their components (orchestrator, artifact store, log backend, ...)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runyard.schemas.base import Entity, Schema
from runyard.schemas.pipelines import NAME_PATTERN


class ComponentCreate(Schema):
    name: str = Field(pattern=NAME_PATTERN)
    type: str = Field(pattern=r"^[a-z_]{1,50}$", description="orchestrator, artifact_store, ...")
    flavor: str = Field(pattern=r"^[a-z0-9_]{1,50}$")
    config: dict[str, Any] = Field(default_factory=dict)


class ComponentUpdate(Schema):
    config: dict[str, Any]


class ComponentRead(Entity):
    name: str
    type: str
    flavor: str
    config: dict[str, Any]


class StackCreate(Schema):
    name: str = Field(pattern=NAME_PATTERN)
    components: dict[str, str] = Field(description="component type -> component name")


class StackUpdate(Schema):
    components: dict[str, str]


class StackRead(Entity):
    name: str
    components: dict[str, ComponentRead]


class FlavorRead(BaseModel):
    """An installed implementation of a component type, found through its entry point group."""

    model_config = ConfigDict(defer_build=True)  # built on first use: most processes never use it

    type: str
    name: str
    target: str = Field(description="module:Class that implements it")
