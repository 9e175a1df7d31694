"""Workload tokens as the controller keeps them: derived per object from the server key,
stored (their hashes) when a run begins or a running unit is adopted, forgotten with
the object."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.server.clock import Clock
from sapwood.server.controller import store_io
from sapwood.server.controller.plan.view import ObjectView
from sapwood.server.secrets import WORKLOADS_USER, NewToken, workload_token
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.leases import LeaseFence


class WorkloadTokens:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        server_key: bytes,
        *,
        fence: LeaseFence | None = None,
    ) -> None:
        """Under a `fence` (the leader's term), `ensure` stores nothing once the term has
        ended (LeaseLostError): a deposed leader's round then starts nothing."""
        self._fence = fence
        self._sessions = sessions
        self._clock = clock
        self._key = server_key
        self._derived: dict[str, NewToken] = {}  # by object uid
        self._stored: set[str] = set()  # token ids known stored and enabled

    def of(self, view: ObjectView) -> NewToken:
        token = self._derived.get(view.uid)
        if token is None:
            token = self._derived[view.uid] = workload_token(self._key, view.uid)
        return token

    def stored(self, view: ObjectView) -> bool:
        return self.of(view).id in self._stored

    def forget(self, uid: str) -> None:
        self._derived.pop(uid, None)

    async def ensure(self, views: list[ObjectView], *, run_begins: bool = False) -> None:
        """Stores the views' tokens in one transaction; when a run begins, always (its last
        run's end revoked it), otherwise only those not known stored."""
        wanted = [v for v in views if run_begins or not self.stored(v)]
        if not wanted:
            return
        tokens = [
            store_io.WorkloadToken(
                id=self.of(v).id, secret_hash=self.of(v).secret_hash, scope=store_io.scope_of(v)
            )
            for v in wanted
        ]
        await store_io.ensure_workload_tokens(
            self._sessions, tokens, user=WORKLOADS_USER, now=self._clock.now(), fence=self._fence
        )
        self._stored.update(t.id for t in tokens)
