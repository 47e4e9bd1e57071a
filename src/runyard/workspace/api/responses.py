"""Responses of routes that write their JSON themselves (``services/step_json.py``), not through FastAPI."""

from __future__ import annotations

from starlette.responses import Response


class JSONBytes(Response):
    """JSON the route has already written: sent as is (FastAPI would otherwise validate and re-encode a
    model); the route still declares its ``response_model`` so ``/openapi.json`` names the schema."""

    media_type = "application/json"
