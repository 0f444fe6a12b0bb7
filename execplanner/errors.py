"""The one exception hierarchy. The API layer maps each branch to an HTTP status in one place."""

from __future__ import annotations


class ExecPlannerError(Exception):
    """Root of every error execplanner raises on purpose."""

    status = 500

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class InvalidRequest(ExecPlannerError):
    """The client sent something we cannot read: 400 unless a subclass says otherwise."""

    status = 400


class UnsupportedMediaType(InvalidRequest):
    status = 415


class NotAcceptable(InvalidRequest):
    status = 406


class BodyTooLarge(InvalidRequest):
    status = 413


class RequestTimeout(InvalidRequest):
    """The request's body did not arrive in time: 408, and the connection is closed."""

    status = 408


class DocumentTooCostly(InvalidRequest):
    """A document over one of the limits on reading it (expanded size, depth, parse time): refused before it costs
    more."""


class NotFound(ExecPlannerError):
    status = 404


class Unauthorized(ExecPlannerError):
    status = 401


class Forbidden(ExecPlannerError):
    status = 403


class InvalidExecutable(InvalidRequest):
    """An executable description that cannot be understood (bad notebook, bad compose file...)."""


class CatalogueError(ExecPlannerError):
    """A catalogue that cannot be built, read or validated."""

    status = 422


class CloudError(ExecPlannerError):
    """An OpenStack call failed; a session hitting it becomes FAILED with this message."""

    status = 502


class TransientCloudError(CloudError):
    """A cloud call that may well succeed if tried again (5xx, timeout, connection refused): retried with backoff."""


class IllegalTransition(ExecPlannerError):
    """A phase change the state machine does not allow, or no longer allows."""

    status = 409
