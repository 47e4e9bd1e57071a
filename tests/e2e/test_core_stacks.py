"""Stacks through the Client: the default stack, registering components and stacks, runs recording them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest

from runyard import Client, pipeline, step
from runyard.exceptions import Conflict, InvalidInput, NotFound


@step
def values(n: int = 3) -> Annotated[list[int], "stack_values"]:
    return list(range(n))


@pipeline
def on_stack(n: int = 3) -> None:
    values(n=n)


def test_default_stack_exists_from_the_start(database_url: str) -> None:
    client = Client()
    stacks = client.list_stacks()
    assert [s.name for s in stacks] == ["default"]
    default = stacks[0]
    assert {t: c.flavor for t, c in default.components.items()} == {"orchestrator": "local",
                                                                    "artifact_store": "local"}
    assert client.active_stack.id == default.id
    run = on_stack()
    assert run.stack_id == default.id


def test_register_component_and_stack_and_run_on_it(database_url: str, runyard_home: Path) -> None:
    client = Client()
    comp = client.register_component("artifact_store", "elsewhere", "local", {"path": str(runyard_home / "alt")})
    assert comp.config == {"path": str(runyard_home / "alt")}
    stack = client.register_stack("alt", {"orchestrator": "default", "artifact_store": "elsewhere"})
    assert stack.components["artifact_store"].id == comp.id
    assert stack.components["orchestrator"].name == "default"
    assert {c.name for c in client.list_components("artifact_store")} == {"default", "elsewhere"}
    assert client.get_stack("alt").id == stack.id
    assert client.get_stack(str(stack.id)).name == "alt"

    assert client.activate_stack("alt").name == "alt"
    assert client.active_stack.name == "alt"
    run = on_stack()
    assert run.stack_id == stack.id
    av = run.steps["values"].outputs["stack_values"]
    assert Path(av.uri).resolve().is_relative_to((runyard_home / "alt").resolve())
    assert av.artifact_store_id == comp.id
    assert av.load() == [0, 1, 2]
    assert Client().get_run(run.id).stack_id == stack.id

    # with_options(stack=...) picks a stack for one run without changing the active one
    other = on_stack.with_options(stack="default", enable_cache=False)()
    assert other.stack_id == client.get_stack("default").id
    assert client.active_stack.name == "alt"
    assert not Path(other.steps["values"].outputs["stack_values"].uri).resolve().is_relative_to(
        (runyard_home / "alt").resolve()
    )


def test_stack_mistakes_are_refused(database_url: str) -> None:
    client = Client()
    with pytest.raises(NotFound, match="No stack named 'ghost'"):
        client.activate_stack("ghost")
    with pytest.raises(InvalidInput, match="has no artifact_store"):
        client.register_stack("half", {"orchestrator": "default"})
    with pytest.raises(NotFound, match="No orchestrator named 'ghost'"):
        client.register_stack("bad", {"orchestrator": "ghost", "artifact_store": "default"})
    client.register_stack("twice", {"orchestrator": "default", "artifact_store": "default"})
    with pytest.raises(Conflict, match="exists already"):
        client.register_stack("twice", {"orchestrator": "default", "artifact_store": "default"})
    with pytest.raises(NotFound, match="No stack named 'ghost'"):
        on_stack.with_options(stack="ghost")()
    assert [s.name for s in client.list_stacks()] == ["default", "twice"]
