"""The one exception hierarchy. The API layer maps each branch to an HTTP status in one place; the command
line maps each to an exit code in one place (`execplanner.cli`), from the `exit_code` each class declares
(the table of codes is in docs/configuration.md)."""

from __future__ import annotations


class ExecPlannerError(Exception):
    """Root of every error execplanner raises on purpose."""

    status = 500
    exit_code = 1

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


class ServiceBusy(ExecPlannerError):
    """More of some bounded work is waiting than the service takes on (e.g. large bodies queued for a parser
    process): 503 with `Retry-After`, so that a flood is refused at once instead of queued without end."""

    status = 503
    retry_after = 2


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
    exit_code = 66  # sysexits EX_NOINPUT


class CloudError(ExecPlannerError):
    """An OpenStack call failed; a session hitting it becomes FAILED with this message."""

    status = 502


class TransientCloudError(CloudError):
    """A cloud call that may well succeed if tried again (5xx, timeout, connection refused): retried with backoff."""


class IllegalTransition(ExecPlannerError):
    """A phase change the state machine does not allow, or no longer allows."""

    status = 409


class KeyReused(InvalidRequest):
    """An Idempotency-Key sent again with another request than the one it first came with."""

    status = 422


class ConfigError(ExecPlannerError):
    """An operator's settings (TOML file, `EXECPLANNER_*` variable, flag) that cannot be read or are invalid."""

    exit_code = 78  # sysexits EX_CONFIG: restarting will not help (systemd: RestartPreventExitStatus=78)


class ListenError(ExecPlannerError):
    """The service cannot listen where it was told to (port in use, address not on this host, no permission)."""

    exit_code = 71  # sysexits EX_OSERR


class ClientError(ExecPlannerError):
    """Raised by the command-line client (`execplanner.client`): the service could not be asked, or said no."""


class ServiceUnreachable(ClientError):
    """No HTTP answer at all: connection refused, name not resolved, TLS failure, timeout."""

    exit_code = 5


class ServiceRefused(ClientError):
    """The service answered with an HTTP error (4xx or 5xx); `status` is its status code."""

    exit_code = 4

    def __init__(self, message: str, *, status: int, details: list[str] | None = None) -> None:
        super().__init__(message, details=details)
        self.status = status


class TokenUnavailable(ClientError):
    """The caller asked for a token (`--oidc-agent`) that could not be had."""

    exit_code = 6


class AnsweredNo(ClientError):
    """The service answered NO, or a watched session ended without running (FAILED, CANCELLED, EXPIRED...)."""

    exit_code = 3
