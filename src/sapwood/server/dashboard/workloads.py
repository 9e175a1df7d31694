"""Workload pages: the filtered list, one workload's page, its live logs, pause and resume."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse

from sapwood.schemas import Event, Object, Phase, Reason
from sapwood.schemas.status import TERMINAL_PHASES
from sapwood.server.controller.plan.units import is_canary
from sapwood.server.dashboard import data
from sapwood.server.dashboard.charts import split_charts
from sapwood.server.dashboard.web import HEADERS, Page, PageDep, PageRoute, checked_form, render
from sapwood.server.routes.streams import HeldStream
from sapwood.server.services import events, logs, objects, teams
from sapwood.server.services import pause as pausing
from sapwood.server.services.errors import InvalidError, NotFoundError
from sapwood.specs.objects import PLURALS
from sapwood.specs.paths import workspace_path

router = APIRouter(route_class=PageRoute, include_in_schema=False)
WORKLOAD_KINDS = ("Workspace", "Job", "Service")
PHASES = tuple(p for p in Phase if p is not Phase.UNKNOWN)  # the list's phase filter
CHART_POINTS = 200
EVENTS_SHOWN = 50


def _kind(plural: str) -> str:
    kind = PLURALS.get(plural)
    if kind not in WORKLOAD_KINDS:
        raise NotFoundError(
            f"no such workload kind {plural!r}: expected jobs, services or workspaces"
        )
    return kind


def link(obj: Object) -> str:
    """The dashboard page of an object."""
    return f"/ui/workloads/{obj.kind.lower()}s/{obj.metadata.team}/{obj.metadata.name}"


@router.get("/ui/workloads")
async def list_workloads(
    page: PageDep,
    kind: str = "",
    team: str = "",
    phase: str = "",
    selector: str = "",
) -> HTMLResponse:
    kinds = [kind] if kind in WORKLOAD_KINDS else list(WORKLOAD_KINDS)
    rows: list[Object] = []
    truncated = False
    selector_error = ""
    try:
        for k in kinds:
            items, cut = await data.list_all(
                page, k, team=team or None, selector=selector.strip() or None
            )
            rows.extend(items)
            truncated = truncated or cut
    except InvalidError as exc:
        selector_error, rows = exc.message, []
    if phase:
        rows = [r for r in rows if r.phase == phase]
    rows.sort(key=lambda r: r.metadata.created_at, reverse=True)
    visible = [t.name for t in await teams.list_teams(page.session, page.caller)]
    return render(
        page.request,
        "workloads.html",
        page=page,
        section="workloads",
        rows=rows,
        link=link,
        truncated=truncated,
        filters={"kind": kind, "team": team, "phase": phase, "selector": selector},
        kinds=WORKLOAD_KINDS,
        teams=visible,
        phases=PHASES,
        selector_error=selector_error,
        status_code=422 if selector_error else 200,
    )


async def _series_context(page: Page, obj: Object) -> dict[str, Any]:
    series = await data.workload_series(page, obj, limit=100_000, max_points=CHART_POINTS)
    training, utilisation = split_charts(series)
    return {"training": training, "utilisation": utilisation}


@router.get("/ui/workloads/{plural}/{team}/{name}")
async def workload(page: PageDep, plural: str, team: str, name: str) -> HTMLResponse:
    kind = _kind(plural)
    obj = await objects.get_object(page.session, page.caller, kind, name, team=team)
    found: list[Event] = (
        await events.list_events(
            page.session,
            page.caller,
            team=team,
            uid=obj.metadata.uid,
            limit=EVENTS_SHOWN,
        )
    ).items
    replicas = obj.status.get("replicas")
    return render(
        page.request,
        "workload.html",
        page=page,
        section="workloads",
        obj=obj,
        plural=plural,
        base=link(obj),
        events=found,
        replicas=replicas if isinstance(replicas, list) else [],
        spec_rows=spec_rows(obj.spec),
        status_rows=status_table(obj.status),
        terminal=obj.phase in TERMINAL_PHASES,
        status_note=status_note(obj.status),
        pausable=kind in pausing.PAUSABLE and obj.metadata.deletion_timestamp is None,
        paused=is_paused(obj),
        is_canary=is_canary,
        logs_available=page.state.reads is not None,
        open_url=_open_url(page, obj),
        **await _series_context(page, obj),
    )


def _open_url(page: Page, obj: Object) -> str | None:
    """Where a member opens a workspace: the gateway's /w/TEAM/NAME/ on the host the
    browser reached the dashboard at (the session cookie signs it in there too)."""
    if obj.kind != "Workspace" or not page.state.settings.gateway.enabled:
        return None
    host = page.request.url.hostname or "127.0.0.1"
    port = page.state.settings.gateway.port
    return f"{page.request.url.scheme}://{host}:{port}" + workspace_path(
        obj.metadata.team, obj.metadata.name
    )


@router.get("/ui/workloads/{plural}/{team}/{name}/charts")
async def charts(page: PageDep, plural: str, team: str, name: str) -> HTMLResponse:
    """The chart section alone, for the page's script to swap in while the workload runs."""
    obj = await objects.get_object(page.session, page.caller, _kind(plural), name, team=team)
    return render(page.request, "charts.html", page=page, **await _series_context(page, obj))


@router.get("/ui/workloads/{plural}/{team}/{name}/status")
async def status(page: PageDep, plural: str, team: str, name: str) -> JSONResponse:
    obj = await objects.get_object(page.session, page.caller, _kind(plural), name, team=team)
    body = {
        "phase": obj.phase or Phase.UNKNOWN,
        "note": status_note(obj.status),
        "terminal": obj.phase in TERMINAL_PHASES,
    }
    return JSONResponse(body, headers=HEADERS)


@router.get("/ui/workloads/{plural}/{team}/{name}/logs")
async def object_logs(
    page: PageDep, plural: str, team: str, name: str, replica: int = 0
) -> StreamingResponse:
    """One replica's output as plain text: followed while the workload may still write,
    and then counted against the token's cap on open streams."""
    kind = _kind(plural)
    obj = await objects.get_object(page.session, page.caller, kind, name, team=team)
    follow = obj.phase not in TERMINAL_PHASES
    chunks = await logs.open_logs(
        page.session,
        page.caller,
        page.state.reads,
        kind,
        name,
        team=team,
        replica=replica,
        follow=follow,
        previous=False,
    )
    # The page's session would otherwise stay open, holding a pooled connection, for as
    # long as the stream runs; nothing below reads the store.
    await page.session.close()
    headers = {**HEADERS, "X-Accel-Buffering": "no"}
    media_type = "text/plain; charset=utf-8"
    if not follow:
        return StreamingResponse(chunks, media_type=media_type, headers=headers)
    slot = page.state.streams.acquire(page.caller.token_id)
    return HeldStream(chunks, slot=slot, media_type=media_type, headers=headers)


@router.post("/ui/workloads/{plural}/{team}/{name}/pause")
async def pause(page: PageDep, plural: str, team: str, name: str) -> RedirectResponse:
    return await _set_paused(page, plural, team, name, paused=True)


@router.post("/ui/workloads/{plural}/{team}/{name}/resume")
async def resume(page: PageDep, plural: str, team: str, name: str) -> RedirectResponse:
    return await _set_paused(page, plural, team, name, paused=False)


async def _set_paused(
    page: Page, plural: str, team: str, name: str, *, paused: bool
) -> RedirectResponse:
    """Pauses or resumes through the pause service, as the API's pause and resume do."""
    await checked_form(page)
    kind = _kind(plural)
    change = pausing.pause_object if paused else pausing.resume_object
    obj = await change(page.session, page.caller, kind, name, team=team, now=page.state.clock.now())
    return RedirectResponse(link(obj), status_code=303)


def is_paused(obj: Object) -> bool:
    """Paused by its owner (``spec.paused``) or by the controller for idleness: either way
    the page offers Resume, which the pause service takes for both."""
    return obj.spec.get("paused") is True or obj.status.get("reason") == Reason.IDLE_PAUSED


@router.post("/ui/workloads/{plural}/{team}/{name}/delete")
async def delete(page: PageDep, plural: str, team: str, name: str) -> RedirectResponse:
    """As the API's DELETE: the workload's page while it terminates, else the list."""
    await checked_form(page)
    kind = _kind(plural)
    now = page.state.clock.now()
    done = await objects.delete_object(page.session, page.caller, kind, name, team=team, now=now)
    return RedirectResponse("/ui/workloads" if done.finished else link(done.object), 303)


def status_note(status: dict[str, Any]) -> str:
    """The message, else the reason, unless it only repeats the phase."""
    note = str(status.get("message") or status.get("reason") or "")
    return "" if note == status.get("phase") else note


def as_text(value: Any) -> str:
    """A spec or status value as one line: lists space-separated, mappings as ``k v``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        # Zero amounts (gpu 0) say nothing; a false switch (fillMissing false) does.
        shown = {k: v for k, v in value.items() if v is not None and (v is False or v != 0)}
        return ", ".join(f"{k} {as_text(v)}" for k, v in shown.items())
    return str(value)


SPEC_KEYS = ("command", "tool", "image", "replicas", "priority", "paused", "resources")


def spec_rows(spec: dict[str, Any], keys: tuple[str, ...] = SPEC_KEYS) -> list[tuple[str, str]]:
    """The spec's fields a reader looks for first (``keys``, in order), as text."""
    return [(k, as_text(spec[k])) for k in keys if k in spec and spec[k] not in (None, [], {})]


def status_table(
    status: dict[str, Any], skip: tuple[str, ...] = ("replicas", "phase")
) -> list[tuple[str, str]]:
    """Every status field but ``skip`` that holds something, as text."""
    return [
        (key, as_text(value))
        for key, value in status.items()
        if key not in skip and value not in (None, "", [], {})
    ]
