"""The async SDK: every verb of the REST API, typed with the wire types of sapwood.schemas."""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic_core import to_jsonable_python

from sapwood.client.base import API, _clean
from sapwood.client.errors import ConnectionFailedError, error_from
from sapwood.client.feed_verbs import FeedVerbs
from sapwood.client.registry_verbs import RegistryVerbs
from sapwood.schemas import (
    ApplyResponse,
    ApplyResult,
    Channel,
    DeleteResponse,
    Delivery,
    Event,
    EventPage,
    Membership,
    MetricPoint,
    MetricSeries,
    MetricsWritten,
    Object,
    ObjectPage,
    QueueEntry,
    Quota,
    Role,
    Rule,
    Team,
    Token,
    TokenCreated,
    User,
)
from sapwood.specs.objects import kind_of
from sapwood.specs.quantity import format_duration


class AsyncClient(RegistryVerbs, FeedVerbs):
    """Talks to one Sapwood server with one token.

    Without arguments it reads ``SAPWOOD_URL``/``SAPWOOD_TOKEN`` or the config file that
    ``sapwood server`` and ``sapwood login`` write. ``transport`` lets tests pass an
    ``httpx.ASGITransport`` over ``create_app()``.
    """

    # objects

    async def apply(
        self, objects: Iterable[Mapping[str, Any]], *, dry_run: bool = False
    ) -> builtins.list[ApplyResult]:
        """Creates or updates every object, or none of them (the first invalid one is named)."""
        body = {"objects": [self._with_team(dict(o)) for o in objects], "dryRun": dry_run}
        return (await self._call("POST", "/apply", ApplyResponse, json=body)).results

    async def get(self, kind: str, name: str, *, team: str | None = None) -> Object:
        return await self._call("GET", self._path(kind, name), Object, params=self._team(team))

    async def list_page(
        self,
        kind: str,
        *,
        team: str | None = None,
        selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
    ) -> ObjectPage:
        """One page; pass its ``continue_`` back for the next."""
        params = self._team(team) | _clean(
            {"selector": selector, "limit": limit, "continue": continue_}
        )
        return await self._call("GET", self._path(kind), ObjectPage, params=params)

    async def list(
        self,
        kind: str,
        *,
        team: str | None = None,
        selector: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[Object]:
        """Every matching object, following continue tokens. ``team=None``: all you can see."""
        return [o async for o in self.iter(kind, team=team, selector=selector, page_size=limit)]

    async def iter(
        self,
        kind: str,
        *,
        team: str | None = None,
        selector: str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Object]:
        token: str | None = None
        while True:
            page = await self.list_page(
                kind, team=team, selector=selector, limit=page_size, continue_=token
            )
            for item in page.items:
                yield item
            if not page.continue_:
                return
            token = page.continue_

    async def delete(self, kind: str, name: str, *, team: str | None = None) -> DeleteResponse:
        """Marks the object for deletion; the controller finishes it (``finished`` says)."""
        path = self._path(kind, name)
        return await self._call("DELETE", path, DeleteResponse, params=self._team(team))

    async def pause(self, kind: str, name: str, *, team: str | None = None) -> Object:
        """Pauses a workspace or service: replicas stopped, volumes kept."""
        path = self._path(kind, name) + "/pause"
        return await self._call("POST", path, Object, params=self._team(team))

    async def resume(self, kind: str, name: str, *, team: str | None = None) -> Object:
        """Resumes a paused or idle-paused workspace or service: it queues for admission."""
        path = self._path(kind, name) + "/resume"
        return await self._call("POST", path, Object, params=self._team(team))

    async def extend(self, name: str, *, by: timedelta | str, team: str | None = None) -> Object:
        """Extends a workspace's time to live: its expiry moves to ``max(now, expiry) + by``
        (1m to 30d, a timedelta or text such as "1d"). One paused at expiry may then be
        resumed; ``status.expiresAt`` shows the new expiry."""
        text = format_duration(by) if isinstance(by, timedelta) else by
        path = await self._team_path(team, f"workspaces/{name}/extend")
        return await self._call("POST", path, Object, json={"by": text})

    async def rerun(self, name: str, *, team: str | None = None) -> Object:
        """Runs a finished (Succeeded or Failed) job again with the same spec; ConflictError
        while it still runs. ``status.run`` numbers the run, ``status.history`` the earlier."""
        path = self._path("Job", name) + "/rerun"
        return await self._call("POST", path, Object, params=self._team(team))

    async def events(
        self,
        kind: str | None = None,
        name: str | None = None,
        *,
        team: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[Event]:
        """Events of one object (kind and name), of a kind, or of everything visible."""
        params = self._team(team) | _clean({"limit": limit})
        if name is not None:
            if kind is None:
                raise ValueError("events for a name need its kind")
            path = self._path(kind, name) + "/events"
        else:
            path = "/events"
            if kind is not None:
                params["kind"] = kind_of(kind)
        return (await self._call("GET", path, EventPage, params=params)).items

    async def logs(
        self,
        kind: str,
        name: str,
        *,
        team: str | None = None,
        replica: int = 0,
        follow: bool = False,
        previous: bool = False,
    ) -> AsyncGenerator[bytes, None]:
        """A replica's output in chunks; with ``follow`` it goes on until you stop reading."""
        params = self._team(team) | {
            "replica": replica,
            "follow": str(follow).lower(),
            "previous": str(previous).lower(),
        }
        path = API + self._path(kind, name) + "/logs"
        try:
            async with self._http.stream("GET", path, params=params, timeout=None) as response:
                if not response.is_success:
                    await response.aread()
                    raise error_from(response)
                async for chunk in response.aiter_bytes():
                    yield chunk
        except httpx.TransportError as exc:
            raise ConnectionFailedError(f"lost the log stream from {self.url}: {exc}") from exc

    # scheduling

    async def queue(self, *, team: str | None = None) -> builtins.list[QueueEntry]:
        """Waiting work in the order it will be considered, with why each waits."""
        return await self._call_list("GET", "/queue", QueueEntry, params=_clean({"team": team}))

    async def list_quotas(self) -> builtins.list[Quota]:
        return await self._call_list("GET", "/quotas", Quota)

    async def set_quota(
        self,
        team: str,
        *,
        guaranteed: Mapping[str, Any] | None = None,
        max: Mapping[str, Any] | None = None,
        weight: float = 1.0,
    ) -> Quota:
        """Sets (replaces) a team's quota; amounts as in a spec: {"cpu": 4, "gpu": 2}."""
        body: dict[str, Any] = {
            "guaranteed": dict(guaranteed or {}),
            "max": dict(max) if max else None,
            "weight": weight,
        }
        return await self._call("PUT", f"/quotas/{team}", Quota, json=body)

    async def delete_quota(self, team: str) -> None:
        await self._send("DELETE", f"/quotas/{team}")

    # identity, teams, users, tokens

    async def list_teams(self) -> builtins.list[Team]:
        return await self._call_list("GET", "/teams", Team)

    async def create_team(self, name: str) -> Team:
        return await self._call("POST", "/teams", Team, json={"name": name})

    async def delete_team(self, name: str) -> None:
        await self._send("DELETE", f"/teams/{name}")

    async def list_users(self) -> builtins.list[User]:
        return await self._call_list("GET", "/users", User)

    async def create_user(
        self, name: str, *, admin: bool = False, teams: Mapping[str, Role | str] | None = None
    ) -> User:
        memberships = [{"team": t, "role": str(r)} for t, r in (teams or {}).items()]
        body = {"name": name, "admin": admin, "teams": memberships}
        return await self._call("POST", "/users", User, json=body)

    async def delete_user(self, name: str) -> None:
        await self._send("DELETE", f"/users/{name}")

    async def set_membership(self, user: str, team: str, role: Role | str) -> Membership:
        path = f"/users/{user}/teams/{team}"
        return await self._call("PUT", path, Membership, json={"role": str(role)})

    async def remove_membership(self, user: str, team: str) -> None:
        await self._send("DELETE", f"/users/{user}/teams/{team}")

    async def create_token(
        self,
        *,
        user: str | None = None,
        description: str = "",
        expires_in: timedelta | None = None,
    ) -> TokenCreated:
        """A new token; its secret (``.token``) is returned this once and never again."""
        body: dict[str, Any] = {"user": user, "description": description}
        if expires_in is not None:
            body["expiresIn"] = format_duration(expires_in)
        return await self._call("POST", "/tokens", TokenCreated, json=body)

    async def list_tokens(self, *, user: str | None = None) -> builtins.list[Token]:
        return await self._call_list("GET", "/tokens", Token, params=_clean({"user": user}))

    async def revoke_token(self, token_id: str) -> None:
        await self._send("DELETE", f"/tokens/{token_id}")

    # training metrics

    async def write_metrics(
        self,
        kind: str,
        name: str,
        points: Iterable[MetricPoint | Mapping[str, Any]],
        *,
        team: str | None = None,
    ) -> int:
        """Stores points of an object's metrics, all or none (at most 1000); returns how many.

        Inside a workload, ``sapwood.run.log_metric`` batches points and calls this.
        """
        body = [to_jsonable_python(p, by_alias=True, exclude_none=True) for p in points]
        path = self._path(kind, name) + "/metrics"
        written = await self._call("POST", path, MetricsWritten, json=body, params=self._team(team))
        return written.written

    async def list_metrics(
        self,
        kind: str,
        name: str,
        *,
        team: str | None = None,
        metric: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        points: int | None = None,
    ) -> builtins.list[MetricSeries]:
        """An object's metrics by name, each thinned to at most ``points`` (server: 500)."""
        params = self._team(team) | _clean(
            {
                "name": metric,
                "since": since.isoformat() if since is not None else None,
                "limit": limit,
                "points": points,
            }
        )
        path = self._path(kind, name) + "/metrics"
        return await self._call_list("GET", path, MetricSeries, params=params)

    # notifications

    async def list_channels(self, *, team: str | None = None) -> builtins.list[Channel]:
        return await self._call_list("GET", await self._team_path(team, "channels"), Channel)

    async def set_channel(
        self,
        name: str,
        *,
        type: str,
        url: str | None = None,
        secret: str | None = None,
        slack_channel: str | None = None,
        team: str | None = None,
    ) -> Channel:
        """Creates or replaces a channel; ``secret`` (webhook HMAC key) is never read back.

        ``url`` for webhook and slack channels, ``slack_channel`` (C0123ABCD or #name) for
        slack-app ones; a slack-dm channel takes neither."""
        body = _clean({"type": type, "url": url, "secret": secret, "slackChannel": slack_channel})
        path = await self._team_path(team, f"channels/{name}")
        return await self._call("PUT", path, Channel, json=body)

    async def delete_channel(self, name: str, *, team: str | None = None) -> None:
        await self._send("DELETE", await self._team_path(team, f"channels/{name}"))

    async def test_channel(self, name: str, *, team: str | None = None) -> Delivery:
        path = await self._team_path(team, f"channels/{name}/test")
        return await self._call("POST", path, Delivery)

    async def list_rules(self, *, team: str | None = None) -> builtins.list[Rule]:
        return await self._call_list("GET", await self._team_path(team, "rules"), Rule)

    async def set_rule(
        self,
        name: str,
        *,
        channel: str,
        events: Iterable[str],
        selector: str | None = None,
        team: str | None = None,
        threshold: float | None = None,
        duration: str | None = None,
    ) -> Rule:
        """``threshold`` (percent) and ``duration`` (e.g. "30m") tune ``underutilised``."""
        body = _clean(
            {
                "channel": channel,
                "events": list(events),
                "selector": selector,
                "threshold": threshold,
                "duration": duration,
            }
        )
        path = await self._team_path(team, f"rules/{name}")
        return await self._call("PUT", path, Rule, json=body)

    async def delete_rule(self, name: str, *, team: str | None = None) -> None:
        await self._send("DELETE", await self._team_path(team, f"rules/{name}"))

    async def list_deliveries(
        self, *, team: str | None = None, limit: int | None = None
    ) -> builtins.list[Delivery]:
        """The delivery log, newest attempt first."""
        path = await self._team_path(team, "deliveries")
        return await self._call_list("GET", path, Delivery, params=_clean({"limit": limit}))
