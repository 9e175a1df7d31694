"""What a use case can refuse, independent of HTTP (routes map these to status codes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Detail:
    path: str
    message: str


class ServiceError(Exception):
    code = "error"

    def __init__(
        self, message: str, *, details: list[Detail] | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.hint = hint


class InvalidError(ServiceError):
    code = "invalid"


class UnauthorizedError(ServiceError):
    code = "unauthorized"


class ForbiddenError(ServiceError):
    code = "forbidden"


class NotFoundError(ServiceError):
    code = "not_found"


class ConflictError(ServiceError):
    code = "conflict"


class UnavailableError(ServiceError):
    code = "unavailable"


class TooManyRequestsError(ServiceError):
    """429: the caller holds too much at once; ``retry_after_s`` becomes Retry-After."""

    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after_s: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after_s = retry_after_s
