"""The one exception tree of Runyard.

Every error a user can meet derives from :class:`RunyardError`. Its ``headline`` is the one line the CLI
prints (with the fix named), so no user ever needs to read our traceback. The HTTP layer maps the
domain errors below to status codes in one place (``workspace/api/errors.py``); nothing beneath the route
layer knows about HTTP.
"""

from __future__ import annotations


class RunyardError(Exception):
    """Root of every Runyard error; ``headline`` is what the CLI shows."""

    #: Stable machine-readable code, also used in HTTP error bodies.
    code = "runyard_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.headline)

    @property
    def headline(self) -> str:
        return f"{self.message} {self.hint}".strip() if self.hint else self.message


class NotFound(RunyardError):
    """The entity asked for does not exist (HTTP 404)."""

    code = "not_found"


class Conflict(RunyardError):
    """The write collides with stored state, e.g. a duplicate name (HTTP 409)."""

    code = "conflict"


class InvalidTransition(Conflict):
    """A run or step status change that the state machine forbids (HTTP 409)."""

    code = "invalid_transition"


class PermissionDenied(RunyardError):
    """The caller is known but may not do this (HTTP 403)."""

    code = "permission_denied"


class Unauthenticated(RunyardError):
    """The caller could not be identified (HTTP 401)."""

    code = "unauthenticated"


class InvalidInput(RunyardError):
    """The request or the user's code is malformed (HTTP 422 / a CLI message)."""

    code = "invalid_input"


class PipelineDefinitionError(InvalidInput):
    """A pipeline or step is wired wrongly: the message names the pipeline, step or parameter."""

    code = "pipeline_definition"


class ConfigurationError(InvalidInput):
    """A configuration file or setting is wrong: the message names the key and the fix."""

    code = "configuration"


class ArtifactError(RunyardError):
    """An artifact cannot be saved or loaded (missing file, type mismatch, version mismatch)."""

    code = "artifact_error"
    #: True when trying the step again cannot help (files gone, wrong output type): no retries.
    permanent = False


class StepFailed(RunyardError):
    """A step raised; ``user_traceback`` holds the user's frames only."""

    code = "step_failed"

    def __init__(self, message: str, *, user_traceback: str = "", hint: str | None = None) -> None:
        self.user_traceback = user_traceback
        super().__init__(message, hint=hint)


class ServerUnavailable(RunyardError):
    """The Workspace Server could not be reached after retries."""

    code = "server_unavailable"


class VersionMismatch(RunyardError):
    """Client and server (or database) speak different schema versions."""

    code = "version_mismatch"


class SecretStoreError(RunyardError):
    """A secret store refused or lost a secret's values (HTTP 500: the server's configuration or the store
    is at fault, not the request)."""

    code = "secret_store_error"
    #: The same request fails the same way until someone fixes the store: the HTTP client does not retry.
    permanent = True


class SecretKeyError(SecretStoreError):
    """The key that encrypts secret values is missing or wrong where the workspace runs."""

    code = "secret_key_error"


def error_class(code: str) -> type[RunyardError] | None:
    """The exception class whose ``code`` a remote answer names, so every transport (HTTP, the local
    service) raises the same class the service code raised."""
    found: dict[str, type[RunyardError]] = {}
    pending: list[type[RunyardError]] = [RunyardError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found.get(code)


class RunyardWarning(UserWarning):
    """Base of Runyard's warnings, so a script can filter them as one (``warnings.filterwarnings``)."""


class PickleFallbackWarning(RunyardWarning):
    """An artifact was stored with cloudpickle: it loads only with the same Python and library versions.
    Register a materializer for its type to store it portably, or filter this warning once accepted."""


class ArtifactVersionWarning(RunyardWarning):
    """An artifact was loaded with other library versions than those that saved it."""
