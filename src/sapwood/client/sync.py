"""The blocking SDK: a thin facade that runs AsyncClient on a private event loop thread.

Works from plain scripts and from inside a running loop (notebooks) alike, since the
async client lives on its own thread.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal

from sapwood.client.aio import AsyncClient
from sapwood.schemas import (
    ApplyResult,
    Channel,
    DeleteResponse,
    Delivery,
    Event,
    Membership,
    MetricPoint,
    MetricSeries,
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
    WhoAmI,
)
from sapwood.schemas.feeds import (
    AckResponse,
    FeedFigures,
    FeedResultPage,
    IngestResponse,
    LeasedBatch,
)
from sapwood.schemas.limits import ServerLimits
from sapwood.schemas.models import Model, ModelSummary, ModelVersion, PushedModel

P = ParamSpec("P")
T = TypeVar("T")


class Client:
    """Same verbs and arguments as :class:`AsyncClient`, blocking. Close it, or use ``with``."""

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        team: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._portal_cm = start_blocking_portal()
        self._portal: BlockingPortal = self._portal_cm.__enter__()
        self.aio = AsyncClient(
            url, token=token, team=team, timeout_s=timeout_s, transport=transport
        )
        self.url = self.aio.url

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Idempotent."""
        if self._portal_cm is None:
            return
        self._portal.call(self.aio.aclose)
        self._portal_cm.__exit__(None, None, None)
        self._portal_cm = None  # type: ignore[assignment]

    def _run(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        async def call() -> T:
            return await fn(*args, **kwargs)

        return self._portal.call(call)

    def apply(
        self, objects: Iterable[Mapping[str, Any]], *, dry_run: bool = False
    ) -> builtins.list[ApplyResult]:
        return self._run(self.aio.apply, builtins.list(objects), dry_run=dry_run)

    def get(self, kind: str, name: str, *, team: str | None = None) -> Object:
        return self._run(self.aio.get, kind, name, team=team)

    def list_page(
        self,
        kind: str,
        *,
        team: str | None = None,
        selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
    ) -> ObjectPage:
        return self._run(
            self.aio.list_page, kind, team=team, selector=selector, limit=limit, continue_=continue_
        )

    def list(
        self,
        kind: str,
        *,
        team: str | None = None,
        selector: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[Object]:
        return self._run(self.aio.list, kind, team=team, selector=selector, limit=limit)

    def delete(self, kind: str, name: str, *, team: str | None = None) -> DeleteResponse:
        return self._run(self.aio.delete, kind, name, team=team)

    def pause(self, kind: str, name: str, *, team: str | None = None) -> Object:
        return self._run(self.aio.pause, kind, name, team=team)

    def resume(self, kind: str, name: str, *, team: str | None = None) -> Object:
        return self._run(self.aio.resume, kind, name, team=team)

    def rerun(self, name: str, *, team: str | None = None) -> Object:
        return self._run(self.aio.rerun, name, team=team)

    def events(
        self,
        kind: str | None = None,
        name: str | None = None,
        *,
        team: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[Event]:
        return self._run(self.aio.events, kind, name, team=team, limit=limit)

    def logs(
        self,
        kind: str,
        name: str,
        *,
        team: str | None = None,
        replica: int = 0,
        follow: bool = False,
        previous: bool = False,
    ) -> Iterator[bytes]:
        chunks = self.aio.logs(
            kind, name, team=team, replica=replica, follow=follow, previous=previous
        )
        try:
            while True:
                try:
                    yield self._portal.call(chunks.__anext__)
                except StopAsyncIteration:
                    return
        finally:
            self._portal.call(chunks.aclose)

    def queue(self, *, team: str | None = None) -> builtins.list[QueueEntry]:
        return self._run(self.aio.queue, team=team)

    def list_quotas(self) -> builtins.list[Quota]:
        return self._run(self.aio.list_quotas)

    def set_quota(
        self,
        team: str,
        *,
        guaranteed: Mapping[str, Any] | None = None,
        max: Mapping[str, Any] | None = None,
        weight: float = 1.0,
    ) -> Quota:
        return self._run(self.aio.set_quota, team, guaranteed=guaranteed, max=max, weight=weight)

    def delete_quota(self, team: str) -> None:
        self._run(self.aio.delete_quota, team)

    def whoami(self) -> WhoAmI:
        return self._run(self.aio.whoami)

    def limits(self) -> ServerLimits:
        return self._run(self.aio.limits)

    def list_teams(self) -> builtins.list[Team]:
        return self._run(self.aio.list_teams)

    def create_team(self, name: str) -> Team:
        return self._run(self.aio.create_team, name)

    def delete_team(self, name: str) -> None:
        self._run(self.aio.delete_team, name)

    def list_users(self) -> builtins.list[User]:
        return self._run(self.aio.list_users)

    def create_user(
        self, name: str, *, admin: bool = False, teams: Mapping[str, Role | str] | None = None
    ) -> User:
        return self._run(self.aio.create_user, name, admin=admin, teams=teams)

    def delete_user(self, name: str) -> None:
        self._run(self.aio.delete_user, name)

    def set_membership(self, user: str, team: str, role: Role | str) -> Membership:
        return self._run(self.aio.set_membership, user, team, role)

    def remove_membership(self, user: str, team: str) -> None:
        self._run(self.aio.remove_membership, user, team)

    def create_token(
        self,
        *,
        user: str | None = None,
        description: str = "",
        expires_in: timedelta | None = None,
    ) -> TokenCreated:
        return self._run(
            self.aio.create_token, user=user, description=description, expires_in=expires_in
        )

    def list_tokens(self, *, user: str | None = None) -> builtins.list[Token]:
        return self._run(self.aio.list_tokens, user=user)

    def revoke_token(self, token_id: str) -> None:
        self._run(self.aio.revoke_token, token_id)

    def write_metrics(
        self,
        kind: str,
        name: str,
        points: Iterable[MetricPoint | Mapping[str, Any]],
        *,
        team: str | None = None,
    ) -> int:
        return self._run(self.aio.write_metrics, kind, name, builtins.list(points), team=team)

    def list_metrics(
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
        return self._run(
            self.aio.list_metrics,
            kind,
            name,
            team=team,
            metric=metric,
            since=since,
            limit=limit,
            points=points,
        )

    # notifications

    def list_channels(self, *, team: str | None = None) -> builtins.list[Channel]:
        return self._run(self.aio.list_channels, team=team)

    def set_channel(
        self,
        name: str,
        *,
        type: str,
        url: str,
        secret: str | None = None,
        team: str | None = None,
    ) -> Channel:
        return self._run(self.aio.set_channel, name, type=type, url=url, secret=secret, team=team)

    def delete_channel(self, name: str, *, team: str | None = None) -> None:
        self._run(self.aio.delete_channel, name, team=team)

    def test_channel(self, name: str, *, team: str | None = None) -> Delivery:
        return self._run(self.aio.test_channel, name, team=team)

    def list_rules(self, *, team: str | None = None) -> builtins.list[Rule]:
        return self._run(self.aio.list_rules, team=team)

    def set_rule(
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
        return self._run(
            self.aio.set_rule,
            name,
            channel=channel,
            events=list(events),
            selector=selector,
            threshold=threshold,
            duration=duration,
            team=team,
        )

    def delete_rule(self, name: str, *, team: str | None = None) -> None:
        self._run(self.aio.delete_rule, name, team=team)

    def list_deliveries(
        self, *, team: str | None = None, limit: int | None = None
    ) -> builtins.list[Delivery]:
        return self._run(self.aio.list_deliveries, team=team, limit=limit)

    # model registry

    def push_model(
        self,
        model: str | os.PathLike[str] | bytes,
        *,
        name: str,
        alias: str | None = None,
        metrics: Mapping[str, float] | None = None,
        framework: str | None = None,
        source: str | None = None,
        team: str | None = None,
    ) -> PushedModel:
        return self._run(
            self.aio.push_model,
            model,
            name=name,
            alias=alias,
            metrics=metrics,
            framework=framework,
            source=source,
            team=team,
        )

    def list_models(self, *, team: str | None = None) -> builtins.list[ModelSummary]:
        return self._run(self.aio.list_models, team=team)

    def get_model(self, name: str, *, team: str | None = None) -> Model:
        return self._run(self.aio.get_model, name, team=team)

    def resolve_model(self, ref: str, *, team: str | None = None) -> ModelVersion:
        return self._run(self.aio.resolve_model, ref, team=team)

    def download_model(
        self, ref: str, dest: str | os.PathLike[str], *, team: str | None = None
    ) -> ModelVersion:
        return self._run(self.aio.download_model, ref, dest, team=team)

    def set_alias(
        self, name: str, alias: str, version: int, *, team: str | None = None
    ) -> ModelVersion:
        return self._run(self.aio.set_alias, name, alias, version, team=team)

    def delete_alias(self, name: str, alias: str, *, team: str | None = None) -> None:
        self._run(self.aio.delete_alias, name, alias, team=team)

    def delete_model_version(self, name: str, version: int, *, team: str | None = None) -> None:
        self._run(self.aio.delete_model_version, name, version, team=team)

    # feeds

    def push_records(
        self,
        feed: str,
        body: bytes | builtins.list[dict[str, Any]],
        *,
        content_type: str = "application/json",
        batch_id: str | None = None,
        fill_missing: bool = False,
        team: str | None = None,
    ) -> IngestResponse:
        return self._run(
            self.aio.push_records,
            feed,
            body,
            content_type=content_type,
            batch_id=batch_id,
            fill_missing=fill_missing,
            team=team,
        )

    def lease_batch(
        self, feed: str, *, consumer: str = "worker", wait_s: float = 0.0, team: str | None = None
    ) -> LeasedBatch | None:
        return self._run(self.aio.lease_batch, feed, consumer=consumer, wait_s=wait_s, team=team)

    def ack_batch(
        self,
        feed: str,
        lease_id: str,
        results: bytes,
        *,
        model_version: str,
        team: str | None = None,
    ) -> AckResponse:
        return self._run(
            self.aio.ack_batch, feed, lease_id, results, model_version=model_version, team=team
        )

    def feed_results(
        self,
        feed: str,
        *,
        team: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        prediction: int | None = None,
        from_sequence: int | None = None,
        to_sequence: int | None = None,
        limit: int | None = None,
        continue_: str | None = None,
    ) -> FeedResultPage:
        return self._run(
            self.aio.feed_results,
            feed,
            team=team,
            since=since,
            until=until,
            prediction=prediction,
            from_sequence=from_sequence,
            to_sequence=to_sequence,
            limit=limit,
            continue_=continue_,
        )

    def export_feed_results(
        self,
        feed: str,
        *,
        format: str = "csv",
        team: str | None = None,
        prediction: int | None = None,
    ) -> bytes:
        return self._run(
            self.aio.export_feed_results, feed, format=format, team=team, prediction=prediction
        )

    def feed_figures(self, feed: str, *, team: str | None = None) -> FeedFigures:
        return self._run(self.aio.feed_figures, feed, team=team)
