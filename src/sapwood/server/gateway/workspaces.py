"""Workspaces through the gateway: ``/w/{team}/{name}/…`` to the workspace's replica.

A workspace is opened by people, in a browser, so the gateway takes a Sapwood token three
ways: an ``Authorization: Bearer`` header, the ``sapwood_token`` cookie, or ``?token=`` on
a first visit (answered with a redirect that drops it from the address and sets the
cookie, for that workspace's path only). Only the team's members and admins (and server admins)
get in: a workspace runs code as its team. Outsiders get 404, as for services.

A JupyterLab workspace serves under its gateway path (its base URL) and wants its own
token: the gateway forwards the whole path and adds that token (derived from the server's
key, as the controller derives it), so a member never needs it. A ``tool: command``
workspace gets the path below the prefix, as a service does. WebSocket upgrades (Jupyter's
kernels and terminals) are tunnelled once the caller is admitted (``open_tunnel``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from sapwood.schemas.status import Phase
from sapwood.server.auth.callers import can_write
from sapwood.server.gateway.auth import TokenAuth, authorise
from sapwood.server.gateway.messages import (
    DROP_REQUEST,
    HttpError,
    Request,
    Response,
    error_response,
    new_request_id,
)
from sapwood.server.gateway.polling import Polled
from sapwood.server.gateway.proxy import relay
from sapwood.server.gateway.upstream import UpstreamError, UpstreamPool, UpstreamTimeoutError
from sapwood.server.secrets import workload_token
from sapwood.server.store.engine import session_factory
from sapwood.server.store.tables import ObjectRow
from sapwood.specs.paths import WORKSPACE_PREFIX, workspace_path

COOKIE = b"sapwood_token"
# The dashboard's session cookie (dashboard/session.py COOKIE): its value is a token too.
DASHBOARD_COOKIE = b"sapwood_session"
OUR_COOKIES = (COOKIE, DASHBOARD_COOKIE)
MAX_BODY_BYTES = 256 * 1024 * 1024  # a notebook or a file uploaded through JupyterLab
# Headers the gateway sets itself, besides the hop-by-hop ones; Host is kept (JupyterLab
# checks a WebSocket's Origin against it).
_DROP = (DROP_REQUEST - {b"host"}) | {b"cookie", b"x-forwarded-proto", b"x-forwarded-prefix"}
_KEEP_FOR_UPGRADE = frozenset({b"connection", b"upgrade"})


@dataclass(frozen=True)
class WorkspaceRoute:
    """Where one workspace is served; ``endpoint`` is None while it is not running."""

    team: str
    name: str
    uid: str
    phase: Phase
    endpoint: str | None  # host:port of its ready replica
    jupyter: bool  # served under its gateway path, with its own token


def split_workspace_path(raw_path: bytes) -> tuple[str, str, bytes] | None:
    """(team, name, rest) from ``/w/{team}/{name}{/rest}``; None for other paths.

    ``rest`` keeps its percent-encoding and always starts with ``/``; it is empty when the
    path stops at the name (no trailing slash), which is answered with a redirect.
    """
    if not raw_path.startswith(WORKSPACE_PREFIX.encode()):
        return None
    parts = raw_path[3:].split(b"/", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return None
    rest = b"/" + parts[2] if len(parts) == 3 else b""
    try:
        return parts[0].decode("ascii"), parts[1].decode("ascii"), rest
    except UnicodeDecodeError:
        return None


def endpoint_of(status: Mapping[str, Any] | None) -> str | None:
    """``host:port`` of a workspace's ready replica, from the URL its status shows."""
    url = (status or {}).get("url")
    if not isinstance(url, str):
        return None
    netloc = urlsplit(url).netloc
    return netloc if ":" in netloc else None


def cookie_token(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The token in the ``sapwood_token`` cookie, else in the dashboard's session cookie
    (a signed-in member opens a workspace from its page; cookies ignore the port), if the
    request carries either."""
    found: dict[bytes, bytes] = {}
    for name, value in headers:
        if name != b"cookie":
            continue
        for pair in value.split(b";"):
            key, _, token = pair.strip().partition(b"=")
            if key in OUR_COOKIES and token:
                found.setdefault(key, token)
    return found.get(COOKIE) or found.get(DASHBOARD_COOKIE)


def without_our_cookie(value: bytes) -> bytes:
    """A Cookie header without Sapwood's cookies: the workspace never sees the caller's
    Sapwood token."""
    kept = [p.strip() for p in value.split(b";") if p.strip().partition(b"=")[0] not in OUR_COOKIES]
    return b"; ".join(p for p in kept if p)


def token_in_query(query: bytes) -> tuple[str | None, bytes]:
    """(the ``token`` parameter when it holds a Sapwood token, the query without it)."""
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    token = next((v for k, v in pairs if k == "token" and v.startswith("sw_")), None)
    if token is None:
        return None, query
    rest = [(k, v) for k, v in pairs if not (k == "token" and v == token)]
    return token, urlencode(rest).encode("latin-1")


class StoreWorkspaces(Polled[dict[tuple[str, str], WorkspaceRoute]]):
    """The workspaces in the store, polled like the services' routes."""

    may_start_empty = True  # the server may still be migrating the store

    def __init__(self, engine: AsyncEngine, *, poll_interval_s: float = 0.5) -> None:
        super().__init__(poll_interval_s, what="workspaces")
        self._sessions = session_factory(engine)
        self.routes: dict[tuple[str, str], WorkspaceRoute] = {}

    def get(self, team: str, name: str) -> WorkspaceRoute | None:
        return self.routes.get((team, name))

    def publish(self, value: dict[tuple[str, str], WorkspaceRoute]) -> None:
        self.routes = value

    async def load(self) -> dict[tuple[str, str], WorkspaceRoute]:
        query = select(
            ObjectRow.uid, ObjectRow.team, ObjectRow.name, ObjectRow.spec, ObjectRow.status
        ).where(ObjectRow.kind == "Workspace", ObjectRow.deletion_timestamp.is_(None))
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return {
            (team, name): WorkspaceRoute(
                team=team,
                name=name,
                uid=uid,
                phase=Phase.of((status or {}).get("phase") or Phase.PENDING),
                endpoint=endpoint_of(status),
                jupyter=(spec or {}).get("tool", "jupyter") == "jupyter",
            )
            for uid, team, name, spec, status in rows
        }


class WorkspaceProxy:
    """Admits members and forwards to a workspace's replica; see the module's docstring."""

    def __init__(
        self,
        routes: StoreWorkspaces,
        *,
        auth: TokenAuth,
        pool: UpstreamPool,
        server_key: bytes,
        timeout_s: float = 300.0,
    ) -> None:
        self.routes = routes
        self.auth = auth
        self.pool = pool
        self.timeout_s = timeout_s
        self._server_key = server_key

    async def handle(self, request: Request) -> Response:
        """The response to a request under ``/w/``; never raises for the client's doing."""
        try:
            return await self._handle(request)
        except HttpError as exc:
            return error_response(exc)

    async def open_tunnel(self, request: Request) -> tuple[str, bytes]:
        """(endpoint, request head) for a WebSocket upgrade from an admitted caller; the
        connection then carries bytes both ways unchanged. HttpError when refused."""
        route, rest = await self._admit(request, upgrade=True)
        assert route.endpoint is not None
        return route.endpoint, self._head(request, route, rest, length=None)

    async def _handle(self, request: Request) -> Response:
        parsed = split_workspace_path(request.path)
        if parsed is None:
            raise HttpError(404, "not_found", "workspaces are under /w/TEAM/WORKSPACE/")
        team, name, rest = parsed
        if not rest:  # /w/team/name: relative links need the trailing slash
            location = workspace_path(team, name).encode()
            query = b"?" + request.query if request.query else b""
            return Response(307, [(b"location", location + query)], bodyless=True)
        token, query = token_in_query(request.query)
        if token is not None:
            return await self._sign_in(request, team, name, token, query)
        route, rest = await self._admit(request, upgrade=False)
        body = await request.body.read(MAX_BODY_BYTES)
        assert route.endpoint is not None
        head = self._head(request, route, rest, length=len(body))
        try:
            response = await self.pool.request(
                route.endpoint,
                head + body,
                head_only=request.method == b"HEAD",
                idempotent=request.method in (b"GET", b"HEAD", b"OPTIONS"),
                timeout_s=self.timeout_s,
            )
        except UpstreamTimeoutError as exc:
            raise HttpError(504, "gateway_timeout", str(exc)) from None
        except UpstreamError as exc:
            raise HttpError(502, "bad_gateway", f"the workspace did not answer: {exc}") from None
        return relay(response, head_only=request.method == b"HEAD", after=lambda: None)

    async def _sign_in(
        self, request: Request, team: str, name: str, token: str, query: bytes
    ) -> Response:
        """A first visit with ``?token=``: checked, then kept in a cookie for this path."""
        await self._caller(b"Bearer " + token.encode(), team, name)
        path = workspace_path(team, name)
        location = request.path + (b"?" + query if query else b"")
        secure = b"; Secure" if request.scheme == b"https" else b""
        cookie = b"%s=%s; Path=%s; HttpOnly; SameSite=Lax%s" % (
            COOKIE,
            token.encode(),
            path.encode(),
            secure,
        )
        headers = [
            (b"location", location),
            (b"set-cookie", cookie),
            (b"cache-control", b"no-store"),
        ]
        return Response(303, headers, bodyless=True)

    async def _admit(self, request: Request, *, upgrade: bool) -> tuple[WorkspaceRoute, bytes]:
        parsed = split_workspace_path(request.path)
        if parsed is None or not parsed[2]:
            raise HttpError(404, "not_found", "workspaces are under /w/TEAM/WORKSPACE/")
        team, name, rest = parsed
        bearer = [v for n, v in request.headers if n == b"authorization"]
        if len(bearer) > 1:
            raise HttpError(401, "unauthorized", "send one Authorization header, not several")
        presented = bearer[0] if bearer else None
        if presented is None and (cookie := cookie_token(request.headers)) is not None:
            presented = b"Bearer " + cookie
        await self._caller(presented, team, name)
        route = self.routes.get(team, name)
        if route is None:
            raise _not_found(team, name)
        if route.endpoint is None:
            raise HttpError(
                503,
                "unavailable",
                f"workspace {team}/{name} is not running (phase {route.phase}); "
                f"`sapwood describe workspace {name}` says why{_resume_hint(route)}",
                headers=[(b"retry-after", b"5")],
            )
        return route, (request.path if route.jupyter else rest)

    async def _caller(self, presented: bytes | None, team: str, name: str) -> None:
        if presented is None:
            path = workspace_path(team, name)
            raise HttpError(
                401,
                "unauthorized",
                f"sign in: open {path}?token=sw_… once (a token of a member of team {team}), "
                "or send Authorization: Bearer sw_…",
                headers=[(b"www-authenticate", b"Bearer")],
            )
        caller = await authorise(
            self.auth, presented, team=team, not_found=lambda: _not_found(team, name)
        )
        if not can_write(caller, team):
            raise HttpError(
                403,
                "forbidden",
                f"opening workspace {team}/{name} needs the member or admin role in team "
                f"{team}: a workspace runs code as its team",
            )

    def _head(
        self, request: Request, route: WorkspaceRoute, path: bytes, *, length: int | None
    ) -> bytes:
        """The request as the replica gets it: the caller's token and cookie taken out, the
        workspace's own token added for JupyterLab."""
        query = request.query
        lines = [request.method, b" ", path, b"?" if query else b"", query, b" HTTP/1.1\r\n"]
        has_id = has_host = False
        for name, value in request.headers:
            if name == b"cookie":
                value = without_our_cookie(value)
                if value:
                    lines.append(b"cookie: %s\r\n" % value)
                continue
            if name in _DROP and not (length is None and name in _KEEP_FOR_UPGRADE):
                continue
            has_id = has_id or name == b"x-request-id"
            has_host = has_host or name == b"host"
            lines.append(b"%s: %s\r\n" % (name, value))
        client = request.client.encode()
        lines.append(b"x-forwarded-for: %s\r\nx-forwarded-proto: %s\r\n" % (client, request.scheme))
        prefix = workspace_path(route.team, route.name).rstrip("/").encode()
        lines.append(b"x-forwarded-prefix: %s\r\n" % prefix)
        if not has_host:
            lines.append(b"host: %s\r\n" % (route.endpoint or "").encode())
        if not has_id:
            lines.append(b"x-request-id: %s\r\n" % new_request_id())
        if route.jupyter:
            token = workload_token(self._server_key, route.uid).token
            lines.append(b"authorization: token %s\r\n" % token.encode())
        if length is not None and (length or request.method not in (b"GET", b"HEAD")):
            lines.append(b"content-length: %d\r\n" % length)
        lines.append(b"\r\n")
        return b"".join(lines)


def _resume_hint(route: WorkspaceRoute) -> str:
    if route.phase is not Phase.PAUSED:
        return ""
    return f", `sapwood resume workspace {route.name}` starts it"


def _not_found(team: str, name: str) -> HttpError:
    return HttpError(404, "not_found", f"workspace {name} not found in team {team}")
