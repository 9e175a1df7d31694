"""The async SDK: every verb of the REST API, typed with the wire types of sapwood.schemas."""

from __future__ import annotations

import builtins
import hashlib
import json
import os
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
import httpx
from pydantic import BaseModel, TypeAdapter
from pydantic_core import to_jsonable_python

from sapwood.client.config import resolve_config
from sapwood.client.errors import ConnectionFailedError, SapwoodError, error_from
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
    WhoAmI,
)
from sapwood.schemas.feeds import (
    ARROW_STREAM,
    ATTEMPT_HEADER,
    FEATURES_HEADER,
    FIRST_SEQUENCE_HEADER,
    IDEMPOTENCY_HEADER,
    LEASE_HEADER,
    MODEL_HEADER,
    MODEL_VERSION_HEADER,
    AckResponse,
    FeedFigures,
    FeedResultPage,
    IngestResponse,
    LeasedBatch,
)
from sapwood.schemas.models import Model, ModelSummary, ModelVersion, PushedModel, split_model_ref
from sapwood.specs.objects import kind_of, plural_of
from sapwood.specs.quantity import format_duration

API = "/api/v1"
M = TypeVar("M", bound=BaseModel)


class AsyncClient:
    """Talks to one Sapwood server with one token.

    Without arguments it reads ``SAPWOOD_URL``/``SAPWOOD_TOKEN`` or the config file that
    ``sapwood server`` and ``sapwood login`` write. ``transport`` lets tests pass an
    ``httpx.ASGITransport`` over ``create_app()``.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        team: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        config = resolve_config(os.environ, url=url, token=token, team=team)
        self.url = config.url
        self.team = config.team
        headers = {"User-Agent": "sapwood-sdk"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        self._http = httpx.AsyncClient(
            base_url=config.url, headers=headers, timeout=timeout_s, transport=transport
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

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

    async def whoami(self) -> WhoAmI:
        return await self._call("GET", "/whoami", WhoAmI)

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

    # plumbing

    def _with_team(self, doc: dict[str, Any]) -> dict[str, Any]:
        meta = doc.get("metadata")
        if self.team and isinstance(meta, dict) and not meta.get("team"):
            doc = {**doc, "metadata": {**meta, "team": self.team}}
        return doc

    def _team(self, team: str | None) -> dict[str, Any]:
        chosen = team or self.team
        return {"team": chosen} if chosen else {}

    def _path(self, kind: str, name: str | None = None) -> str:
        base = "/" + plural_of(kind_of(kind))
        return f"{base}/{name}" if name is not None else base

    async def _call(self, method: str, path: str, model: type[M], **kwargs: Any) -> M:
        response = await self._send(method, path, **kwargs)
        return model.model_validate(response.json())

    async def _call_list(
        self, method: str, path: str, model: type[M], **kwargs: Any
    ) -> builtins.list[M]:
        response = await self._send(method, path, **kwargs)
        return TypeAdapter(builtins.list[model]).validate_python(response.json())  # type: ignore[valid-type]

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, API + path, **kwargs)
        except httpx.TransportError as exc:
            raise ConnectionFailedError(
                f"cannot reach the Sapwood server at {self.url}: {exc}",
                hint="start it with `sapwood server`, or point SAPWOOD_URL at it",
            ) from exc
        if response.is_success:
            return response
        raise error_from(response)

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

    async def _team_path(self, team: str | None, rest: str) -> str:
        """``/teams/{team}/rest``; with no team named, the caller's only team."""
        chosen = team or self.team
        if not chosen:
            memberships = (await self.whoami()).teams
            if len(memberships) != 1:
                raise SapwoodError("say which team (--team)", status=0, code="invalid")
            chosen = memberships[0].team
        return f"/teams/{chosen}/{rest}"

    async def list_channels(self, *, team: str | None = None) -> builtins.list[Channel]:
        return await self._call_list("GET", await self._team_path(team, "channels"), Channel)

    async def set_channel(
        self,
        name: str,
        *,
        type: str,
        url: str,
        secret: str | None = None,
        team: str | None = None,
    ) -> Channel:
        """Creates or replaces a channel; ``secret`` (webhook HMAC key) is never read back."""
        body = _clean({"type": type, "url": url, "secret": secret})
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

    # model registry

    async def push_model(
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
        """Uploads an ONNX file (a path, or its bytes) as a new version of ``name``.

        The same bytes pushed again return the existing version (``created`` False); ``alias``
        then moves to it. The server refuses a file ONNX Runtime cannot load (InvalidError).
        """
        params: list[tuple[str, str]] = [
            (k, v)
            for k, v in (("alias", alias), ("framework", framework), ("source", source))
            if v is not None
        ]
        params += [("metric", f"{k}={float(v)!r}") for k, v in (metrics or {}).items()]
        headers = {"Content-Type": "application/octet-stream"}
        content: bytes | AsyncIterator[bytes]
        if isinstance(model, bytes):
            content = model
        else:
            path = Path(model)
            headers["Content-Length"] = str((await anyio.Path(path).stat()).st_size)
            content = _file_chunks(path)
        route = await self._team_path(team, f"models/{name}/versions")
        return await self._call(
            "POST", route, PushedModel, content=content, params=params, headers=headers
        )

    async def list_models(self, *, team: str | None = None) -> builtins.list[ModelSummary]:
        return await self._call_list("GET", await self._team_path(team, "models"), ModelSummary)

    async def get_model(self, name: str, *, team: str | None = None) -> Model:
        """The model with every version (newest first) and its aliases."""
        return await self._call("GET", await self._team_path(team, f"models/{name}"), Model)

    async def resolve_model(self, ref: str, *, team: str | None = None) -> ModelVersion:
        """The version ``NAME@VERSION`` or ``NAME@ALIAS`` names now (bare ``NAME``: latest)."""
        name, at = split_model_ref(ref)
        path = await self._team_path(team, f"models/{name}/versions/{at}")
        return await self._call("GET", path, ModelVersion)

    async def download_model(
        self, ref: str, dest: str | os.PathLike[str], *, team: str | None = None
    ) -> ModelVersion:
        """Writes the version ``ref`` names to ``dest`` (whole, checked against its sha256)."""
        version = await self.resolve_model(ref, team=team)
        path = await self._team_path(
            team, f"models/{version.name}/versions/{version.version}/artifact"
        )
        target = Path(dest)
        partial = target.with_name(f".{target.name}.part")
        digest = hashlib.sha256()
        try:
            async with self._http.stream("GET", API + path) as response:
                if not response.is_success:
                    await response.aread()
                    raise error_from(response)
                async with await anyio.open_file(partial, "wb") as out:
                    async for chunk in response.aiter_bytes():
                        digest.update(chunk)
                        await out.write(chunk)
        except httpx.TransportError as exc:
            await anyio.Path(partial).unlink(missing_ok=True)
            raise ConnectionFailedError(
                f"cannot reach the Sapwood server at {self.url}: {exc}"
            ) from exc
        except BaseException:
            await anyio.Path(partial).unlink(missing_ok=True)
            raise
        if digest.hexdigest() != version.sha256:
            await anyio.Path(partial).unlink(missing_ok=True)
            raise SapwoodError(
                f"the download of {ref} does not match its sha256; try again", status=0
            )
        await anyio.Path(partial).replace(target)
        return version

    async def set_alias(
        self, name: str, alias: str, version: int, *, team: str | None = None
    ) -> ModelVersion:
        """Points ``alias`` at ``version`` of ``name``, creating or moving it."""
        path = await self._team_path(team, f"models/{name}/aliases/{alias}")
        return await self._call("PUT", path, ModelVersion, json={"version": version})

    async def delete_alias(self, name: str, alias: str, *, team: str | None = None) -> None:
        await self._send("DELETE", await self._team_path(team, f"models/{name}/aliases/{alias}"))

    async def delete_model_version(
        self, name: str, version: int, *, team: str | None = None
    ) -> None:
        """Refused (ConflictError) while a Service serves it or an alias names it."""
        path = await self._team_path(team, f"models/{name}/versions/{version}")
        await self._send("DELETE", path)

    # feeds

    async def push_records(
        self,
        feed: str,
        body: bytes | builtins.list[dict[str, Any]],
        *,
        content_type: str = "application/json",
        batch_id: str | None = None,
        team: str | None = None,
    ) -> IngestResponse:
        """Posts records (rows, or bytes in ``content_type``): all are stored or none.
        The same ``batch_id`` again answers as before and stores nothing."""
        headers = {"Content-Type": content_type}
        if batch_id is not None:
            headers[IDEMPOTENCY_HEADER] = batch_id
        data = json.dumps(body).encode() if isinstance(body, builtins.list) else body
        if isinstance(body, builtins.list):
            headers["Content-Type"] = "application/json"
        response = await self._send(
            "POST",
            f"/feeds/{feed}/records",
            content=data,
            headers=headers,
            params=self._team(team),
        )
        return IngestResponse.model_validate(response.json())

    async def lease_batch(
        self,
        feed: str,
        *,
        consumer: str = "worker",
        wait_s: float = 0.0,
        team: str | None = None,
    ) -> LeasedBatch | None:
        """One batch to score, or None when none came within ``wait_s`` seconds."""
        params = self._team(team) | {"consumer": consumer, "wait": wait_s}
        response = await self._send(
            "POST",
            f"/feeds/{feed}/lease",
            params=params,
            timeout=httpx.Timeout(30.0 + wait_s),
        )
        if response.status_code == 204:
            return None
        h = response.headers
        return LeasedBatch(
            lease_id=h[LEASE_HEADER],
            model=h[MODEL_HEADER],
            features=[f for f in h.get(FEATURES_HEADER, "").split(",") if f],
            first_sequence=int(h[FIRST_SEQUENCE_HEADER]),
            attempt=int(h.get(ATTEMPT_HEADER, "1")),
            records=response.content,
        )

    async def ack_batch(
        self,
        feed: str,
        lease_id: str,
        results: bytes,
        *,
        model_version: str,
        team: str | None = None,
    ) -> AckResponse:
        """Stores a leased batch's results (Arrow IPC: prediction, score, probabilities)."""
        response = await self._send(
            "POST",
            f"/feeds/{feed}/ack",
            content=results,
            params=self._team(team) | {"lease": lease_id},
            headers={"Content-Type": ARROW_STREAM, MODEL_VERSION_HEADER: model_version},
        )
        return AckResponse.model_validate(response.json())

    async def feed_results(
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
        """One page of results in sequence order; pass its ``continue_`` for the next."""
        params = self._team(team) | _clean(
            {
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
                "prediction": prediction,
                "fromSequence": from_sequence,
                "toSequence": to_sequence,
                "limit": limit,
                "continue": continue_,
            }
        )
        return await self._call("GET", f"/feeds/{feed}/results", FeedResultPage, params=params)

    async def export_feed_results(
        self,
        feed: str,
        *,
        format: str = "csv",
        team: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        prediction: int | None = None,
    ) -> bytes:
        """Every matching result as a CSV or Parquet file's bytes."""
        params = self._team(team) | _clean(
            {
                "format": format,
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
                "prediction": prediction,
            }
        )
        return (await self._send("GET", f"/feeds/{feed}/results", params=params)).content

    async def feed_figures(self, feed: str, *, team: str | None = None) -> FeedFigures:
        return await self._call(
            "GET", f"/feeds/{feed}/figures", FeedFigures, params=self._team(team)
        )


async def _file_chunks(path: Path, chunk_bytes: int = 1024 * 1024) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as f:
        while chunk := await f.read(chunk_bytes):
            yield chunk


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}
