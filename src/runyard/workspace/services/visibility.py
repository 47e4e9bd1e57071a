"""What a caller admitted only by shares may see in one project, as conditions list queries add.

A caller who holds a permission in the project sees every row of it (``visible`` is ``None``); one who
holds it only through shares of single pipelines or stacks sees those and what they are made of: a
pipeline's runs, step runs and the artifact versions its runs wrote; a stack's components. The list
services take ``visible`` and add the matching condition, so a page is filtered in the query (keyset
pagination stays exact) and a shared caller's list is never a project's list with holes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select


@dataclass(frozen=True)
class Visible:
    """Ids of the shared roots (pipelines, stacks) a request may see."""

    pipelines: frozenset[uuid.UUID] = frozenset()
    stacks: frozenset[uuid.UUID] = frozenset()


def artifact_versions_of(visible: Visible) -> Any:
    """``SELECT`` of the ids of the artifact versions written by step runs of the visible pipelines."""
    from runyard.workspace.db.models import StepRunArtifactRow, StepRunRow

    return (select(StepRunArtifactRow.artifact_version_id)
            .join(StepRunRow, StepRunRow.id == StepRunArtifactRow.step_run_id)
            .where(StepRunArtifactRow.kind == "output", StepRunRow.pipeline_id.in_(visible.pipelines)))


def components_of(visible: Visible) -> Any:
    """``SELECT`` of the ids of the components of the visible stacks."""
    from runyard.workspace.db.models import StackComponentRow

    return select(StackComponentRow.component_id).where(StackComponentRow.stack_id.in_(visible.stacks))
