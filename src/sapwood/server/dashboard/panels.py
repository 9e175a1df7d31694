"""The Models and Feeds pages, each built by one function from whatever this build has.

A feature this build lacks gets an honest "not available" panel. Wiring a new service
in means changing only its function below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sapwood.schemas.feeds import FeedResult
from sapwood.schemas.status import Phase
from sapwood.server.dashboard import data
from sapwood.server.dashboard.charts import Chart, LineChart, line_chart, split_charts
from sapwood.server.dashboard.web import Page
from sapwood.server.ingest.series import FeedSeries
from sapwood.server.services import feed_results, metrics, models, teams
from sapwood.specs.objects import KINDS

Cell = tuple[str, str | None]  # text, and a link or None
LATEST_RESULTS = 10


@dataclass(frozen=True)
class Table:
    caption: str
    headers: list[str]
    rows: list[list[Cell]]


@dataclass(frozen=True)
class Panel:
    title: str
    available: bool
    message: str = ""
    tables: list[Table] = field(default_factory=list)
    charts: list[tuple[str, list[Chart]]] = field(default_factory=list)
    flows: list[tuple[str, list[LineChart]]] = field(default_factory=list)


async def models_panel(page: Page) -> Panel:
    """Every model of the caller's teams: its versions (newest first) and its aliases."""
    tables = []
    for team in await teams.list_teams(page.session, page.caller):
        for summary in await models.list_models(page.session, page.caller, team.name):
            model = await models.get_model(page.session, page.caller, team.name, summary.name)
            rows: list[list[Cell]] = [
                [
                    (str(v.version), None),
                    (", ".join(v.aliases) or "-", None),
                    (v.framework or "-", None),
                    (f"{v.size:,} bytes", None),
                    (v.sha256[:12], None),
                    (", ".join(f"{k} {val:.4g}" for k, val in v.metrics.items()) or "-", None),
                    (f"{v.created_at:%Y-%m-%d %H:%M}", None),
                ]
                for v in model.versions
            ]
            aliases = ", ".join(f"{a} → {n}" for a, n in model.aliases.items()) or "none"
            caption = f"{team.name}/{model.name}: {len(rows)} versions; aliases {aliases}"
            headers = ["Version", "Aliases", "Framework", "Size", "SHA-256", "Metrics", "Pushed"]
            tables.append(Table(caption, headers, rows))
    message = "" if tables else "No models yet."
    return Panel("Models", available=True, message=message, tables=tables)


def _num(value: float | None, unit: str = "", *, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}{unit}"


def flow_charts(name: str, series: FeedSeries) -> list[LineChart]:
    """A feed's throughput (ingested and scored per bucket) and backlog charts."""
    minutes = f"{series.bucket.total_seconds() / 60:g}"
    per = "minute" if minutes == "1" else f"{minutes} minutes"
    throughput = line_chart(
        f"{name} throughput",
        f"Records per {per}",
        series.starts,
        [("Ingested", "ingested", series.ingested), ("Scored", "scored", series.scored)],
        totals=True,
    )
    backlog = line_chart(
        f"{name} backlog",
        f"Records waiting at the end of each {per}",
        series.starts,
        [("Backlog", "backlog", series.backlog)],
        totals=False,
    )
    return [throughput, backlog]


def results_table(caption: str, results: list[FeedResult]) -> Table:
    """Results as they were given (newest first), with the time each was scored."""
    rows: list[list[Cell]] = [
        [
            (str(r.sequence), None),
            # None: the model gave no finite score (unavailable, not a class)
            ("-" if r.prediction is None else str(r.prediction), None),
            ("-" if r.score is None else f"{r.score:.4g}", None),
            ("-" if r.label is None else f"{r.label:g}", None),
            (r.model_version, None),
            (f"{r.scored_at:%Y-%m-%d %H:%M:%S}", None),
        ]
        for r in results
    ]
    headers = ["Sequence", "Prediction", "Score", "Label", "Model", "Scored (UTC)"]
    return Table(caption, headers, rows)


def _why(status: dict[str, Any]) -> str:
    """``ModelNotFound: ids@production does not exist in team research: ...``; "-" when
    the status gives no reason."""
    reason, message = status.get("reason"), status.get("message")
    if not reason:
        return "-"
    return f"{reason}: {message}" if message else str(reason)


async def feeds_panel(page: Page) -> Panel:
    """Feeds: throughput, backlog and latency figures, series charts, the latest results."""
    if "Feed" not in KINDS:
        return Panel("Feeds", available=False, message="Feeds are not available in this build.")
    now = page.state.clock.now()
    feeds, truncated = await data.list_all(page, "Feed")
    figures = await feed_results.figures_by_feed(page.session, page.caller, now=now)
    window = int(feed_results.FIGURES_WINDOW.total_seconds() // 60)
    rows: list[list[Cell]] = []
    latest: list[Table] = []
    charts: list[tuple[str, list[Chart]]] = []
    flows: list[tuple[str, list[LineChart]]] = []
    for feed in feeds:
        meta = feed.metadata
        title = f"{meta.team}/{meta.name}"
        flow = await feed_results.feed_series(
            page.session, page.caller, meta.name, team=meta.team, now=now
        )
        flows.append((title, flow_charts(title, flow)))
        f = figures.get((meta.team, meta.name))
        rows.append(
            [
                (meta.name, f"/ui/feeds/{meta.team}/{meta.name}"),
                (meta.team, None),
                (feed.phase or Phase.UNKNOWN, None),
                (_why(feed.status), None),
                (str(f.records) if f else "-", None),
                (str(f.backlog) if f else "-", None),
                (_num(f.ingest_rate if f else None, "/s"), None),
                (_num(f.scoring_rate if f else None, "/s"), None),
                (_num(f.latency_p50_s if f else None, " s"), None),
                (_num(f.latency_p99_s if f else None, " s"), None),
                (_num(f.flagged_share if f else None), None),
            ]
        )
        newest = await feed_results.newest_results(
            page.session, page.caller, meta.name, team=meta.team, limit=LATEST_RESULTS
        )
        if newest:
            latest.append(results_table(f"{meta.team}/{meta.name}: newest results", newest))
        series = await metrics.list_series(
            page.session,
            page.caller,
            "Feed",
            meta.name,
            team=meta.team,
            metric=None,
            since=None,
            limit=100_000,
            max_points=200,
        )
        training, utilisation = split_charts(series)
        if training or utilisation:
            charts.append((f"{meta.team}/{meta.name}", training + utilisation))
    caption = f"Feeds; rates and latencies over the last {window} minutes" + (
        " (the first ones only)" if truncated else ""
    )
    headers = ["Name", "Team", "Phase", "Why", "Records", "Backlog", "Ingest", "Scored"]
    headers += ["Latency p50", "Latency p99", "Flagged share"]
    tables = [Table(caption, headers, rows), *latest] if feeds else []
    message = "" if feeds else "No feeds yet."
    return Panel(
        "Feeds", available=True, message=message, tables=tables, charts=charts, flows=flows
    )
