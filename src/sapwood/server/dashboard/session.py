"""The dashboard's sign-in cookie and the CSRF token derived from it: pure functions.

The cookie holds a session token made at sign-in (services/dashboard_sessions.py: a token
of its own, revoked at sign-out; HttpOnly, so page scripts never see it). The CSRF token is
an HMAC of that cookie: a form must carry it, and another site can neither read the cookie
nor compute the HMAC, so it cannot forge a form post.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from urllib.parse import urlsplit

COOKIE = "sapwood_session"
CSRF_FIELD = "csrf"
_CSRF_PURPOSE = b"sapwood-dashboard-csrf-v1"
# A session ends after this, or when the token it was signed in with expires, if sooner.
SESSION_TTL = timedelta(hours=12)


def csrf_token(session_token: str) -> str:
    """The CSRF token for one session; stable for the session's lifetime."""
    return hmac.new(session_token.encode(), _CSRF_PURPOSE, hashlib.sha256).hexdigest()


def csrf_matches(session_token: str, sent: str | None) -> bool:
    """Whether a form's CSRF token belongs to this session (constant-time compare)."""
    if not sent:
        return False
    return hmac.compare_digest(csrf_token(session_token), sent)


def cookie_flags(*, secure: bool) -> dict[str, object]:
    """Keyword arguments for Response.set_cookie: HttpOnly, SameSite=Strict, path /."""
    return {"httponly": True, "samesite": "strict", "secure": secure, "path": "/"}


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a local path only, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def origin_refusal(origin: str | None, host: str) -> str | None:
    """Why a form posted with this ``Origin`` header is refused; None when it may go on.

    No Origin at all (an older browser, a script) goes on: the CSRF token and the SameSite
    cookie still guard it. ``null`` is refused: browsers send it from sandboxed frames,
    ``data:`` and ``file:`` pages and after cross-site redirects, and it hides which site
    posted the form.
    """
    if not origin:
        return None
    if origin.strip().lower() == "null":
        return "this form was posted from a page with no origin (Origin: null)"
    if urlsplit(origin).netloc != host:
        return "this form was posted from another site"
    return None
