"""The dashboard's pages: sign-in, overview, queue, workloads, deploy, models and feeds.

Every page but the sign-in form authenticates the session cookie with the API's own
``authenticate`` and reads through the services, as the API routes do.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from sapwood.schemas import ApplyResponse
from sapwood.server.dashboard import data, panels, reruns, slack_link, workloads
from sapwood.server.dashboard import feeds as feed_pages
from sapwood.server.dashboard.editor import LineError, check, place
from sapwood.server.dashboard.session import COOKIE, SESSION_TTL, cookie_flags, safe_next
from sapwood.server.dashboard.web import (
    HERE,
    PageDep,
    PageRoute,
    checked_form,
    read_form,
    render,
    require_same_origin,
    status_of,
)
from sapwood.server.routes.deps import app_state
from sapwood.server.services import dashboard_sessions, objects, quotas
from sapwood.server.services.errors import InvalidError, NotFoundError, ServiceError
from sapwood.server.services.tokens import authenticate
from sapwood.server.state import AppState

router = APIRouter(route_class=PageRoute, include_in_schema=False)
router.include_router(workloads.router)
router.include_router(reruns.router)
router.include_router(feed_pages.router)
router.include_router(slack_link.router)
STATIC = {
    "style.css": "text/css",
    "editor.js": "text/javascript",
    "workload.js": "text/javascript",
}
EXAMPLE = """\
apiVersion: sapwood/v1
kind: Job
metadata:
  name: hello
spec:
  command: ["python", "-c", "print('hello from sapwood')"]
  resources:
    cpu: 500m
    memory: 256Mi
"""


@router.get("/ui/static/{name}")
async def static(name: str) -> FileResponse:
    media = STATIC.get(name)
    if media is None:
        raise NotFoundError(f"no static file {name!r}")
    return FileResponse(
        HERE / "static" / name, media_type=media, headers={"Cache-Control": "no-cache"}
    )


@router.get("/ui/login")
async def login_form(request: Request, next: str = "/", expired: bool = False) -> HTMLResponse:
    message = "Your session ended: sign in again." if expired else ""
    return render(request, "login.html", next=safe_next(next), message=message)


@router.post("/ui/login")
async def login(request: Request, state: Annotated[AppState, Depends(app_state)]) -> Response:
    require_same_origin(request)
    form = await read_form(request)
    token = form.get("token", "").strip()
    target = safe_next(form.get("next"))
    now = state.clock.now()
    async with state.sessions() as session:
        try:
            caller = await authenticate(session, f"Bearer {token}" if token else None, now=now)
        except ServiceError as exc:
            # The message says why (unknown, expired, revoked); the token is never echoed.
            return render(request, "login.html", status_code=401, next=target, message=exc.message)
        # The cookie gets a token of this session's own, which sign-out revokes.
        cookie = await dashboard_sessions.start_session(
            session, caller.token_id, now=now, ttl=SESSION_TTL
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, cookie, **cookie_flags(secure=request.url.scheme == "https"))  # type: ignore[arg-type]
    return response


@router.post("/ui/logout")
async def logout(page: PageDep) -> Response:
    """Revokes the session's token on the server, then clears the cookie."""
    await checked_form(page)
    now = page.state.clock.now()
    await dashboard_sessions.end_session(page.session, page.caller.token_id, now=now)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/")
async def overview(page: PageDep) -> HTMLResponse:
    view = await data.load_overview(page)
    return render(page.request, "overview.html", page=page, section="overview", view=view)


@router.get("/ui/queue")
async def queue(page: PageDep, team: str | None = None) -> HTMLResponse:
    entries = await quotas.list_queue(page.session, page.caller, team=team or None)
    return render(page.request, "queue.html", page=page, section="queue", entries=entries)


@router.get("/ui/deploy")
async def deploy_form(page: PageDep) -> HTMLResponse:
    return _deploy(page, EXAMPLE)


@router.post("/ui/deploy")
async def deploy(page: PageDep) -> HTMLResponse:
    form = await checked_form(page)
    text = form.get("text", "").replace("\r\n", "\n")
    dry_run = form.get("action") != "apply"
    checked = await asyncio.to_thread(check, text)  # a large text must not stall the loop
    if checked.errors:
        return _deploy(page, text, errors=checked.errors, status_code=422)
    try:
        response = await objects.apply_objects(
            page.session,
            page.caller,
            checked.documents,
            dry_run=dry_run,
            now=page.state.clock.now(),
            priorities=page.state.settings.scheduling.priorities,
            local_workdirs=page.state.local_workdirs,
        )
    except InvalidError as exc:
        errors = place(text, [(d.path, d.message) for d in exc.details])
        return _deploy(
            page, text, errors=errors or [LineError(0, "", exc.message)], status_code=422
        )
    except ServiceError as exc:
        message = exc.message + (f" ({exc.hint})" if exc.hint else "")
        errors = [LineError(0, "", message)]
        return _deploy(page, text, errors=errors, status_code=status_of(exc))
    return _deploy(page, text, result=response)


def _deploy(
    page: PageDep,
    text: str,
    *,
    errors: list[LineError] | None = None,
    result: ApplyResponse | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    errors = errors or []
    lines = text.split("\n")
    by_line: dict[int, list[LineError]] = {}
    for e in errors:
        by_line.setdefault(e.line, []).append(e)
    context: dict[str, Any] = {
        "text": text,
        "line_count": max(len(lines), 1),
        "errors": sorted(errors, key=lambda e: e.line),
        "by_line": by_line,
        "result": result,
    }
    return render(
        page.request,
        "deploy.html",
        page=page,
        section="deploy",
        status_code=status_code,
        **context,
    )


@router.get("/ui/models")
async def models(page: PageDep) -> HTMLResponse:
    panel = await panels.models_panel(page)
    return render(page.request, "panel.html", page=page, section="models", panel=panel)


@router.get("/ui/feeds")
async def feeds(page: PageDep) -> HTMLResponse:
    panel = await panels.feeds_panel(page)
    return render(page.request, "panel.html", page=page, section="feeds", panel=panel)
