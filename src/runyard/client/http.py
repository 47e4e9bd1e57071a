"""The HTTP transport: each :class:`Operation` becomes one request to a Workspace Server.

Nothing here is specific to an operation: path parameters are filled by name, the ``op.body`` argument
is the JSON body, the ``op.query`` argument (a filter model) and any other argument become query
parameters, and the response is parsed with ``TypeAdapter(op.response)``, or, for a records client (a
pipeline run, see :class:`~runyard.client.workspace_api.WorkspaceAPI`), straight into records: a runner
on a remote worker then never imports pydantic. Adding an operation to ``operations.py`` (and its route)
is all it takes.

Errors come back as the same exception classes the service layer raises (the body's ``error`` is the
exception's ``code``), so user code catches ``NotFound`` whether it runs embedded or against a server.
Connection errors and 5xx answers are retried with exponential backoff: every write is idempotent
(client-chosen ids), so retrying a POST whose answer was lost cannot create a duplicate.

httpx is imported lazily: ``import runyard`` must stay light.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from runyard import __version__
from runyard import exceptions as ex
from runyard.client.operations import Operation
from runyard.client.transport import Transport
from runyard.schemas.constants import SCHEMA_VERSION

if TYPE_CHECKING:
    import httpx
    from pydantic import TypeAdapter

    from runyard.client.credentials import BearerSource

SCHEMA_HEADER = "X-Runyard-Schema-Version"
#: Names the project of a request (the server's ``workspace.api.deps.PROJECT_HEADER``).
PROJECT_HEADER = "X-Runyard-Project"
API_PREFIX = "/api/v1"
_PATH_PARAM = re.compile(r"{(\w+)}")
_RETRY_STATUSES = frozenset({500, 502, 503, 504})
#: Status -> exception when a body carries no code we know (an older client, a proxy's error page).
_BY_STATUS: dict[int, type[ex.RunyardError]] = {
    401: ex.Unauthenticated, 403: ex.PermissionDenied, 404: ex.NotFound, 409: ex.Conflict,
    413: ex.InvalidInput, 422: ex.InvalidInput, 426: ex.VersionMismatch,
    502: ex.ServerUnavailable, 503: ex.ServerUnavailable, 504: ex.ServerUnavailable,
}


class HTTPTransport(Transport):
    """Talks to a Workspace Server at ``url`` (e.g. ``http://127.0.0.1:8080``).

    ``client`` injects a ready ``httpx.Client`` (tests pass FastAPI's ``TestClient``); ``backoff`` is the
    first retry delay in seconds, doubled on each retry up to ``max_backoff``.
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        timeout: float = 30,
        retries: int = 5,
        *,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
        client: httpx.Client | None = None,
        bearer: BearerSource | None = None,
    ) -> None:
        self.url = normalize_url(url)
        self.location = self.url
        self.api_key = api_key  # an API key, or any access token: sent as the bearer credential
        self.bearer = bearer  # a `runyard login` session: short tokens, renewed at the control plane
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._client = client
        self._owns_client = client is None
        self._lock = threading.Lock()
        self._adapters: dict[str, TypeAdapter[Any]] = {}

    # Transport -----------------------------------------------------------------------------------
    def invoke(self, op: Operation, **kwargs: Any) -> Any:
        response = self._request(op, kwargs)
        if response is None:
            return None
        adapter = self._adapters.get(op.id)
        if adapter is None:
            from pydantic import TypeAdapter

            adapter = self._adapters[op.id] = TypeAdapter(op.response)
        return adapter.validate_json(response.content)

    def invoke_records(self, op: Operation, **kwargs: Any) -> Any:
        """Records go out as their JSON and answers come back as records, without pydantic: the server
        validates every request anyway, as the local service does."""
        response = self._request(op, kwargs)
        if response is None:
            return None
        from runyard.client.records import decode

        assert op.response_spec is not None
        return decode(op.response_spec, json.loads(response.content))

    def prepare_records(self) -> None:
        from runyard.client import records  # noqa: F401 - what forked workers decode answers with

    def _request(self, op: Operation, kwargs: dict[str, Any]) -> httpx.Response | None:
        """Sends ``op``; ``None`` when there is no answer body to read."""
        if getattr(op, "stream", False):
            raise ex.InvalidInput(f"{op.id} is an event stream for browsers and curl.",
                                  hint="Poll the range operation instead.")
        project = kwargs.pop("project", None)
        path, params, body = _request_parts(op, kwargs)
        response = self._send(op.method, API_PREFIX + path, params=params, body=body, idempotent_delete=(
            op.method == "DELETE"), project=project)
        if response is None or op.response_spec is None or response.status_code == 204:
            return None
        return response

    def with_token(self, token: str) -> HTTPTransport:
        """The same server and settings, sending ``token`` (e.g. a run's workload token) on every request."""
        return HTTPTransport(self.url, token, self.timeout, self.retries, backoff=self.backoff,
                             max_backoff=self.max_backoff)

    def for_new_process(self) -> Transport:
        # a forked worker must not share the parent's sockets
        return HTTPTransport(self.url, self.api_key, self.timeout, self.retries, backoff=self.backoff,
                             max_backoff=self.max_backoff, bearer=self.bearer.copy() if self.bearer else None)

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._owns_client:
                self._client.close()
                self._client = None

    def health(self) -> dict[str, Any]:
        """The server's ``/health`` answer (version, schema version, database), without retries.

        Raises :class:`ServerUnavailable` if nothing answers or the database is down, and
        :class:`VersionMismatch` if the server speaks another schema version.
        """
        import httpx

        try:
            response = self._http().get("/health", headers=self._headers())
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or "schema_version" not in data:
            raise ex.ServerUnavailable(f"{self.url} answered, but not like a Runyard Workspace Server "
                                       f"(HTTP {response.status_code}).", hint="Check the URL.")
        _check_version(response, self.url)
        if response.status_code != 200:
            raise ex.ServerUnavailable(f"The Workspace Server at {self.url} answers, but its database is "
                                       "unavailable.", hint="Check the server's database and its log.")
        return data

    # internals -----------------------------------------------------------------------------------
    def _http(self) -> httpx.Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import httpx

                    self._client = httpx.Client(base_url=self.url, timeout=self.timeout,
                                                headers={"User-Agent": f"runyard/{__version__}"})
        return self._client

    def _headers(self, project: str | None = None) -> dict[str, str]:
        headers = {SCHEMA_HEADER: str(SCHEMA_VERSION)}
        if project is not None:
            headers[PROJECT_HEADER] = project
        token = self.bearer.token() if self.bearer is not None and not self.api_key else self.api_key
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _send(self, method: str, path: str, *, params: dict[str, Any], body: bytes | None,
              idempotent_delete: bool = False, project: str | None = None) -> httpx.Response | None:
        import httpx

        headers = self._headers(project)
        if body is not None:
            headers["Content-Type"] = "application/json"
        client = self._http()
        renewed = False
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = client.request(method, path, params=params, content=body, headers=headers)
            except httpx.TransportError as exc:
                if last:
                    raise self._unreachable(exc) from None
                self._sleep(attempt)
                continue
            if response.status_code in _RETRY_STATUSES and not last and not _permanent(response):
                self._sleep(attempt)
                continue
            if response.status_code == 404 and idempotent_delete and attempt > 0:
                return None  # an earlier attempt deleted it; only its answer was lost
            _check_version(response, self.url)
            if response.status_code == 401 and self.bearer is not None and not renewed and self.bearer.invalidate():
                renewed = True  # the access token expired or was rotated: renew it once and resend
                headers.update(self._headers(project))
                response = client.request(method, path, params=params, content=body, headers=headers)
            if response.status_code >= 400:
                raise _error_from(response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _sleep(self, attempt: int) -> None:
        delay = min(self.max_backoff, self.backoff * 2**attempt)
        time.sleep(delay * random.uniform(0.5, 1.0))  # jitter: many runners must not retry in lockstep

    def _unreachable(self, exc: Exception) -> ex.ServerUnavailable:
        return ex.ServerUnavailable(
            f"Cannot reach the Workspace Server at {self.url} ({type(exc).__name__}: {exc}).",
            hint="Start it with `runyard up`, or point elsewhere with `runyard login URL` / RUNYARD_URL "
            "(`runyard logout` returns to the embedded workspace).",
        )


def normalize_url(url: str) -> str:
    """``http://host:8080/``, ``http://host:8080/api/v1`` -> ``http://host:8080``."""
    url = url.strip().rstrip("/")
    if url.endswith(API_PREFIX):
        url = url[: -len(API_PREFIX)]
    if not re.match(r"^https?://", url):
        raise ex.InvalidInput(f"{url!r} is not an http(s) URL.", hint="Use e.g. http://127.0.0.1:8080.")
    return url


def _request_parts(op: Operation, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any], bytes | None]:
    """Splits an operation's arguments into URL path, query parameters and JSON body."""
    args = dict(kwargs)
    try:
        path = _PATH_PARAM.sub(lambda m: quote(str(args.pop(m.group(1))), safe=""), op.path)
    except KeyError as exc:
        raise TypeError(f"{op.id} needs the argument {exc.args[0]!r}") from None
    body: bytes | None = None
    if op.body is not None:
        value = args.pop(op.body)
        dump_json = getattr(value, "model_dump_json", None)  # a pydantic model writes its own JSON
        body = dump_json().encode() if dump_json is not None else json.dumps(_json_of(value)).encode()
    params: dict[str, Any] = {}
    if op.query is not None:
        query = args.pop(op.query, None)
        if query is not None:
            params.update((k, v) for k, v in _json_of(query).items() if v is not None)
    for name, value in args.items():
        if value is not None:
            params[name] = value if isinstance(value, str | int | float | bool) else str(value)
    return path, params, body


def _json_of(value: Any) -> Any:
    """A pydantic model, a record (:mod:`runyard.client.records`) or plain JSON, as JSON-able values."""
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    to_json = getattr(value, "to_json", None)
    return to_json() if to_json is not None else value


def _check_version(response: httpx.Response, url: str) -> None:
    theirs = response.headers.get(SCHEMA_HEADER)
    if theirs is None:
        if response.status_code < 400:
            raise ex.ServerUnavailable(f"{url} answered without a {SCHEMA_HEADER} header: it does not look "
                                       "like a Runyard Workspace Server.", hint="Check the URL.")
        return  # e.g. a proxy's error page; the status says enough
    if theirs != str(SCHEMA_VERSION):
        server = response.headers.get("X-Runyard-Version", "unknown")
        raise ex.VersionMismatch(
            f"The Workspace Server at {url} speaks schema version {theirs} (runyard {server}); this client "
            f"speaks {SCHEMA_VERSION} (runyard {__version__}).",
            hint=f"Install the runyard version the server runs: pip install 'runyard=={server}'."
            if server != "unknown" else "Install the runyard version the server runs.",
        )


def _permanent(response: httpx.Response) -> bool:
    """A 5xx naming a domain error marked ``permanent`` (a server misconfiguration): retrying cannot help."""
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        return False
    cls = ex.error_class(str(code))
    return bool(cls is not None and getattr(cls, "permanent", False))


def _error_from(response: httpx.Response) -> ex.RunyardError:
    """The exception the server-side code raised, rebuilt from the error body."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        data = {}
    code = str(data.get("error", ""))
    message = str(data.get("message") or f"The Workspace Server answered HTTP {response.status_code}.")
    hint = data.get("hint")
    cls = ex.error_class(code) or _BY_STATUS.get(response.status_code, ex.RunyardError)
    if response.status_code >= 500 and cls is ex.RunyardError:
        message = f"The Workspace Server failed: {message}"
    return cls(message, hint=hint if isinstance(hint, str) else None)
