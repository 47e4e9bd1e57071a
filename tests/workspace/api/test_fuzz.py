"""Schemathesis fuzzes every operation of the OpenAPI document, in-process, on SQLite, PostgreSQL and MariaDB.

Valid and invalid requests alike must never get a 5xx, and every answer must match the documented
schema (status code, content type, headers, body); invalid requests must be refused. Bounded to a few
examples per operation to stay fast. One default check is left out: "schema-valid data is accepted",
since a request can be well formed and still break a domain rule (an unknown cursor, a stack without an
artifact store, a finished run moved back to running), and those answers are 4xx by design.

The schema is read at import from an app that never opens its database (only its OpenAPI document);
each test then points the requests at a fresh app on the parametrized database.
(``schemathesis.pytest.from_fixture`` would be the natural way, but it breaks on pytest 9.)
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from starlette.types import ASGIApp, Receive, Scope, Send

from runyard.workspace.app import create_app


class _Switch:
    """An ASGI app that forwards to whichever app the current test installed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


_app = create_app("sqlite://")
_switch = _Switch(_app)
# The document is taken from the app object, not fetched through an ASGI client: that client runs the app in
# a helper thread, and CPython 3.11.7 may raise "SystemError: AST constructor recursion depth mismatch" when
# another thread compiles code while collection compiles the next test module (gh-106905, fixed in 3.11.8).
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(_app.openapi())))
schema.app = _switch
schema.location = "/openapi.json"


@pytest.fixture
def fuzzed_app(database_url: str) -> Iterator[None]:
    previous = _switch.app
    _switch.app = create_app(database_url)
    yield
    _switch.app = previous


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_never_fails_and_matches_its_schema(case: Any, fuzzed_app: None) -> None:
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
