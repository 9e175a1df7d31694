"""Who is calling: bearer tokens checked against the store, cached for a few seconds.

The check is the API's own (auth/tokens.py ``check_token``), without the API's writes:
the gateway only reads the store. A revoked token keeps working for at most ``ttl_s``.

While the store is unreachable, a token that passed its last check keeps passing (until
it expires, and for at most ``max_stale_s`` after that check), so an outage of the store
does not take the services down with it; a token the gateway has not seen pass is never
admitted then. Revocation takes effect at the first check once the store is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from sapwood.server.auth.callers import Caller, can_read
from sapwood.server.auth.tokens import Refused, check_token
from sapwood.server.gateway.messages import HttpError
from sapwood.server.store.engine import session_factory
from sapwood.server.store.outage import STORE_DOWN_ERRORS

Outcome = Caller | str
"""The caller, or why the token was refused (the message of a 401)."""

Verdict = tuple[Outcome, datetime | None]
"""An outcome and, for a caller, when its token expires (None: never)."""

STORE_UNREACHABLE: tuple[type[Exception], ...] = (*STORE_DOWN_ERRORS, OSError)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Passed:
    """A token's last successful check: when (monotonic seconds), who, until when."""

    checked_at: float
    caller: Caller
    expires_at: datetime | None


def stale_caller(
    passed: Passed | None, *, monotonic: float, now: datetime, max_stale_s: float
) -> Caller | None:
    """The caller to admit on the strength of an earlier check while the store cannot be
    asked, or None: never for a token that did not pass, has expired, or was last checked
    more than ``max_stale_s`` ago."""
    if passed is None or monotonic - passed.checked_at > max_stale_s:
        return None
    if passed.expires_at is not None and passed.expires_at <= now:
        return None
    return passed.caller


class TokenAuth:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        now: Callable[[], datetime],
        monotonic: Callable[[], float],
        ttl_s: float = 5.0,
        max_stale_s: float = 600.0,
        max_entries: int = 10_000,
    ) -> None:
        self._sessions = session_factory(engine)
        self._now = now
        self._monotonic = monotonic
        self.ttl_s = ttl_s
        self.max_stale_s = max_stale_s
        self._max_entries = max_entries
        self._cache: dict[bytes, tuple[float, Outcome]] = {}
        self._passed: dict[bytes, Passed] = {}
        self._pending: dict[bytes, asyncio.Future[Verdict]] = {}

    async def check(self, header: bytes | None) -> Outcome:
        """The caller behind an ``Authorization`` header value, or the reason it is refused.

        Raises the store's error when the store is unreachable and the token has no recent
        successful check to fall back on (the gateway answers 503).
        """
        if not header:
            return "missing bearer token: send Authorization: Bearer sw_…"
        cached = self._cache.get(header)
        if cached is not None and cached[0] > self._monotonic():
            return cached[1]
        try:
            outcome, expires_at = await self._shared_lookup(header)
        except STORE_UNREACHABLE:
            caller = stale_caller(
                self._passed.get(header),
                monotonic=self._monotonic(),
                now=self._now(),
                max_stale_s=self.max_stale_s,
            )
            if caller is None:
                raise
            # Served from the last check; the store is asked again after ttl_s.
            self._remember(header, caller)
            return caller
        if isinstance(outcome, Caller):
            if len(self._passed) >= self._max_entries:
                self._passed.clear()
            self._passed[header] = Passed(self._monotonic(), outcome, expires_at)
        else:
            self._passed.pop(header, None)  # revoked, expired, unknown: no fallback
        self._remember(header, outcome)
        return outcome

    def _remember(self, header: bytes, outcome: Outcome) -> None:
        if len(self._cache) >= self._max_entries:
            self._cache.clear()
        self._cache[header] = (self._monotonic() + self.ttl_s, outcome)

    async def _shared_lookup(self, header: bytes) -> Verdict:
        """One store lookup per header at a time; concurrent checks share its verdict."""
        pending = self._pending.get(header)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        self._pending[header] = future
        try:
            verdict = await self._lookup(header)
            future.set_result(verdict)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so no "never retrieved" warning
            raise
        finally:
            del self._pending[header]
        return verdict

    async def _lookup(self, header: bytes) -> Verdict:
        async with self._sessions() as session:
            check = await check_token(session, header.decode("latin-1"), now=self._now())
        if isinstance(check, Refused):
            if check.reason == "malformed bearer token":
                return f"{check.reason}: send Authorization: Bearer sw_…", None
            return check.reason, None
        return check.caller, check.expires_at


async def authorise(
    auth: TokenAuth,
    authorization: bytes | None,
    *,
    team: str,
    not_found: Callable[[], HttpError],
) -> Caller:
    """The caller behind ``authorization`` when it may read ``team``; else an HttpError:
    503 with Retry-After while the store cannot check the token, 401 with
    WWW-Authenticate when the token is refused, ``not_found()`` for a caller outside the
    team (who must not learn what the team runs)."""
    try:
        outcome = await auth.check(authorization)
    except Exception as exc:  # the store is down: say so, rather than a bare 500
        log.warning("cannot check a token: %s", exc)
        raise HttpError(
            503,
            "unavailable",
            "cannot check the token now: the store is unreachable",
            headers=[(b"retry-after", b"5")],
        ) from None
    if isinstance(outcome, str):
        raise HttpError(401, "unauthorized", outcome, headers=[(b"www-authenticate", b"Bearer")])
    if not can_read(outcome, team):
        raise not_found()
    return outcome
