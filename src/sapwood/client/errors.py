"""Errors the SDK raises: one class per HTTP failure a caller handles differently."""

from __future__ import annotations

import httpx

from sapwood.schemas.errors import ErrorBody, ErrorDetail


class SapwoodError(Exception):
    """Any failed call. ``status`` is the HTTP status, 0 when the server was not reached."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: str = "error",
        details: list[ErrorDetail] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details or []
        self.hint = hint

    def __str__(self) -> str:
        lines = [self.message]
        lines += [f"  {d.path}: {d.message}" if d.path else f"  {d.message}" for d in self.details]
        return "\n".join(lines)


class ConnectionFailedError(SapwoodError):
    """The server could not be reached."""


class InvalidError(SapwoodError):
    """400/413/422: the request was wrong; ``details`` names the fields."""


class UnauthorizedError(SapwoodError):
    """401: no token, or one that is unknown, expired or revoked."""


class ForbiddenError(SapwoodError):
    """403: the token is valid but its role does not allow this."""


class NotFoundError(SapwoodError):
    """404: no such object, or none the caller may see."""


class ConflictError(SapwoodError):
    """409: the object changed since it was read, or already exists."""


_BY_STATUS: dict[int, type[SapwoodError]] = {
    400: InvalidError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    413: InvalidError,
    422: InvalidError,
}


def error_for_status(status: int) -> type[SapwoodError]:
    return _BY_STATUS.get(status, SapwoodError)


def error_from(response: httpx.Response) -> SapwoodError:
    """The error a failed response stands for, with the server's message and details."""
    cls = error_for_status(response.status_code)
    try:
        info = ErrorBody.model_validate(response.json()).error
    except ValueError:
        return cls(
            f"HTTP {response.status_code}: {response.text[:200]}", status=response.status_code
        )
    return cls(
        info.message,
        status=response.status_code,
        code=info.code,
        details=info.details,
        hint=info.hint,
    )
