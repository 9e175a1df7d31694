"""Translation of API server answers into the runtime's two errors, at the seam."""

from __future__ import annotations

import json

from sapwood.server.runtimes.base import (
    RuntimeFailure,
    RuntimePermanentError,
    RuntimeTemporaryError,
)

_TEMPORARY = frozenset({408, 409, 425, 429})


class ApiStatusError(Exception):
    """A non-2xx answer from the API server; `message` is the server's own words."""

    def __init__(self, status: int, message: str, *, reason: str = "") -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.message = message
        self.reason = reason

    @classmethod
    def from_body(cls, status: int, body: bytes) -> ApiStatusError:
        """Reads the Status object the API server answers errors with (any text otherwise)."""
        try:
            parsed = json.loads(body)
        except ValueError:
            return cls(status, body.decode(errors="replace").strip() or f"HTTP {status}")
        if isinstance(parsed, dict):
            return cls(status, str(parsed.get("message", "")), reason=str(parsed.get("reason", "")))
        return cls(status, str(parsed))


def translate(error: ApiStatusError, *, action: str) -> RuntimeFailure:
    """409 conflict, 429 throttling, 5xx: retry later. 403, 422 and other 4xx: give up.

    The permanent error's `reason` is the API server's reason ("Forbidden", "Invalid").
    """
    text = f"kubernetes refused to {action}: {error.message or error.reason}"
    if error.status in _TEMPORARY or error.status >= 500:
        return RuntimeTemporaryError(text)
    return RuntimePermanentError(text, reason=error.reason or f"HTTP{error.status}")


def unreachable(error: Exception, *, action: str) -> RuntimeTemporaryError:
    """A transport failure (connection refused, timeout): the API server may come back."""
    return RuntimeTemporaryError(f"kubernetes API unreachable while trying to {action}: {error}")
