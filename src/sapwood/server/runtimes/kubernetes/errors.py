"""Translation of API server answers into the runtime's two errors, at the seam."""

from __future__ import annotations

import json

from sapwood.server.runtimes.base import (
    RuntimeFailure,
    RuntimePermanentError,
    RuntimeTemporaryError,
)

_TEMPORARY = frozenset({408, 409, 425, 429})
# What refused a 403, by the API server's words (k8s.io/apiserver admission plugins and
# the RBAC authorizer), most specific first.
_FORBIDDEN_CAUSES = (
    ("exceeded quota", "ResourceQuota"),
    ("failed quota", "ResourceQuota"),
    ("violates PodSecurity", "PodSecurity"),
    ("error looking up service account", "ServiceAccount"),
    ("because it is being terminated", "NamespaceTerminating"),
    ("no PriorityClass with name", "PriorityClass"),
    (" cannot ", "RBAC"),
)


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


def forbidden_cause(message: str) -> str:
    """Which part of the cluster refused a 403, from the API server's message:
    "ResourceQuota", "PodSecurity", "ServiceAccount", "NamespaceTerminating",
    "PriorityClass", "RBAC", or "Forbidden" when the words are not known. Pure."""
    lowered = message.lower()
    for words, cause in _FORBIDDEN_CAUSES:
        if words.lower() in lowered:
            return cause
    return "Forbidden"


def translate(error: ApiStatusError, *, action: str) -> RuntimeFailure:
    """409 conflict, 429 throttling, 5xx, 403: retry later. 422 and other 4xx: give up.

    A 403 is a condition of the cluster, not of the request: a full ResourceQuota, a
    namespace's Pod Security level, a missing ServiceAccount, a Terminating namespace or
    a missing RBAC grant all clear when usage drops or an admin acts, with nothing in the
    object to change. So it is temporary, and its message (the server's words, after the
    cause, e.g. "ResourceQuota: ... exceeded quota: ...") reaches the object's status.
    The permanent error's `reason` is the API server's reason ("Invalid").
    """
    text = f"kubernetes refused to {action}: {error.message or error.reason}"
    if error.status == 403:
        cause = forbidden_cause(error.message)
        return RuntimeTemporaryError(f"{cause}: {text}")
    if error.status in _TEMPORARY or error.status >= 500:
        return RuntimeTemporaryError(text)
    return RuntimePermanentError(text, reason=error.reason or f"HTTP{error.status}")


def unreachable(error: Exception, *, action: str) -> RuntimeTemporaryError:
    """A transport failure (connection refused, timeout): the API server may come back."""
    return RuntimeTemporaryError(f"kubernetes API unreachable while trying to {action}: {error}")
