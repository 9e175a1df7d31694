"""One feed's page: its spec, status and conditions, figures, charts, newest results,
events and workers; and deleting it. The list of feeds is ``panels.feeds_panel``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

from sapwood.schemas import Object
from sapwood.schemas.feeds import FeedFigures
from sapwood.server.controller.plan.units import is_canary
from sapwood.server.dashboard import data
from sapwood.server.dashboard.charts import split_charts
from sapwood.server.dashboard.panels import flow_charts, results_table
from sapwood.server.dashboard.web import PageDep, PageRoute, checked_form, render
from sapwood.server.dashboard.workloads import spec_rows, status_note, status_table
from sapwood.server.services import events, feed_results, objects

router = APIRouter(route_class=PageRoute, include_in_schema=False)
RESULTS_SHOWN = 20
EVENTS_SHOWN = 50
CHART_POINTS = 200
FEED_SPEC_KEYS = (
    "model",
    "schema",
    "labelColumn",
    "batch",
    "workers",
    "results",
    "ingest",
    "priority",
    "resources",
)


def feed_link(obj: Object) -> str:
    """The dashboard page of a feed."""
    return f"/ui/feeds/{obj.metadata.team}/{obj.metadata.name}"


def schema_text(schema: Any) -> str:
    """``antinex-v1``, or the column count and the first names of a custom schema."""
    if not isinstance(schema, list):
        return str(schema)
    names = [str(c.get("name")) for c in schema if isinstance(c, dict)]
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return f"{len(names)} columns: {shown}"


def figure_rows(f: FeedFigures) -> list[tuple[str, str]]:
    """The feed's figures as (what, value) over the figures' window."""
    window = f"{f.window_s / 60:g} min"

    def num(value: float | None, unit: str = "") -> str:
        return "-" if value is None else f"{value:.3g}{unit}"

    rows = [
        ("Records ingested (all time)", str(f.records)),
        ("Records scored (all time)", str(f.scored)),
        ("Backlog", str(f.backlog)),
        (f"Ingest rate (last {window})", num(f.ingest_rate, "/s")),
        (f"Scoring rate (last {window})", num(f.scoring_rate, "/s")),
        ("Latency p50", num(f.latency_p50_s, " s")),
        ("Latency p99", num(f.latency_p99_s, " s")),
        ("Flagged share", num(f.flagged_share)),
    ]
    quality = (("Accuracy", f.accuracy), ("Precision", f.precision), ("Recall", f.recall))
    return rows + [(k, num(v)) for k, v in quality if v is not None]


def conditions_of(status: dict[str, Any]) -> list[dict[str, Any]]:
    """``status.conditions`` when it is a list of mappings; else none."""
    found = status.get("conditions")
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


@router.get("/ui/feeds/{team}/{name}")
async def feed_page(page: PageDep, team: str, name: str) -> HTMLResponse:
    obj = await objects.get_object(page.session, page.caller, "Feed", name, team=team)
    now = page.state.clock.now()
    figures = await feed_results.feed_figures(page.session, page.caller, name, team=team, now=now)
    flow = await feed_results.feed_series(page.session, page.caller, name, team=team, now=now)
    newest = await feed_results.newest_results(
        page.session, page.caller, name, team=team, limit=RESULTS_SHOWN
    )
    found = await events.list_events(
        page.session, page.caller, team=team, uid=obj.metadata.uid, limit=EVENTS_SHOWN
    )
    series = await data.workload_series(page, obj, limit=100_000, max_points=CHART_POINTS)
    training, utilisation = split_charts(series)
    rows = spec_rows(obj.spec, FEED_SPEC_KEYS)
    rows = [(k, schema_text(obj.spec.get("schema")) if k == "schema" else v) for k, v in rows]
    replicas = obj.status.get("replicas")
    title = f"{team}/{name}"
    return render(
        page.request,
        "feed.html",
        page=page,
        section="feeds",
        obj=obj,
        base=feed_link(obj),
        status_note=status_note(obj.status),
        spec_rows=rows,
        status_rows=status_table(obj.status, ("replicas", "phase", "conditions")),
        conditions=conditions_of(obj.status),
        figures=figure_rows(figures),
        flows=flow_charts(title, flow),
        charts=training + utilisation,
        results=results_table(f"{title}: newest {RESULTS_SHOWN} results", newest)
        if newest
        else None,
        events=found.items,
        replicas=replicas if isinstance(replicas, list) else [],
        replicas_caption="Workers",
        is_canary=is_canary,
    )


@router.post("/ui/feeds/{team}/{name}/delete")
async def delete_feed(page: PageDep, team: str, name: str) -> RedirectResponse:
    """As the API's DELETE /feeds/{name}: the feed's page while it terminates, else the
    list of feeds."""
    await checked_form(page)
    now = page.state.clock.now()
    done = await objects.delete_object(page.session, page.caller, "Feed", name, team=team, now=now)
    page.state.wake("Feed")
    return RedirectResponse("/ui/feeds" if done.finished else feed_link(done.object), 303)
