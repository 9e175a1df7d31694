"""The SDK's plumbing: one httpx client, the token, the team, and errors as exceptions."""

from __future__ import annotations

import builtins
import os
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
import httpx
from pydantic import BaseModel, TypeAdapter

from sapwood.client.config import resolve_config
from sapwood.client.errors import ConnectionFailedError, SapwoodError, error_from
from sapwood.schemas import SlackStatus, WhoAmI
from sapwood.schemas.limits import ServerLimits
from sapwood.specs.objects import kind_of, plural_of

API = "/api/v1"
M = TypeVar("M", bound=BaseModel)


class ClientBase:
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

    async def whoami(self) -> WhoAmI:
        return await self._call("GET", "/whoami", WhoAmI)

    async def slack_status(self) -> SlackStatus:
        """The Slack app's status on the server that answers (admins only)."""
        return await self._call("GET", "/slack", SlackStatus)

    async def limits(self) -> ServerLimits:
        """The server's size limits (the largest request body it accepts)."""
        return await self._call("GET", "/limits", ServerLimits)

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

    async def _team_path(self, team: str | None, rest: str) -> str:
        """``/teams/{team}/rest``; with no team named, the caller's only team."""
        chosen = team or self.team
        if not chosen:
            memberships = (await self.whoami()).teams
            if len(memberships) != 1:
                raise SapwoodError("say which team (--team)", status=0, code="invalid")
            chosen = memberships[0].team
        return f"/teams/{chosen}/{rest}"


async def _file_chunks(path: Path, chunk_bytes: int = 1024 * 1024) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as f:
        while chunk := await f.read(chunk_bytes):
            yield chunk


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}
