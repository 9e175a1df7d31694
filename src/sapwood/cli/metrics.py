"""`sapwood metrics`: an object's training metrics, summed up, or one metric's series."""

from __future__ import annotations

from collections.abc import Sequence

import typer

from sapwood.cli.output import format_table, print_err, print_out
from sapwood.cli.session import TEAM_OPTION, connect
from sapwood.schemas import MetricSeries
from sapwood.specs.objects import kind_of

# Three points are enough for a summary: the first, the last, and one bucket between
# whose min and max span the rest.
SUMMARY_POINTS = 3


def metrics(
    kind: str = typer.Argument(..., help="workspace/ws, job or service/svc"),
    name: str = typer.Argument(..., help="the object's name"),
    metric: str | None = typer.Option(
        None, "--name", "-m", help="show this metric's points (step, value)"
    ),
    points: int = typer.Option(
        500, "--points", min=SUMMARY_POINTS, help="with --name: at most this many (averaged)"
    ),
    team: str | None = TEAM_OPTION,
) -> None:
    """Show the metrics an object logged: last value, min, max; or one metric's series."""
    canonical = kind_of(kind)
    with connect(team=team) as client:
        if metric is None:
            found = client.list_metrics(canonical, name, points=SUMMARY_POINTS)
        else:
            found = client.list_metrics(canonical, name, metric=metric, points=points)
    if not found:
        what = f"metric {metric!r}" if metric else "metrics"
        print_err(f"No {what} logged by {canonical.lower()}/{name}.")
    elif metric is None:
        print_out(summary_table(found))
    else:
        print_out(series_table(found[0]))


def summary_table(series: Sequence[MetricSeries]) -> str:
    rows = []
    for s in sorted(series, key=lambda s: s.name):
        last = s.points[-1]
        rows.append(
            (
                s.name,
                _step(last.step),
                format_value(last.value),
                format_value(min(p.min for p in s.points)),
                format_value(max(p.max for p in s.points)),
                str(s.count),
            )
        )
    return format_table(("NAME", "LAST STEP", "LAST VALUE", "MIN", "MAX", "POINTS"), rows)


def series_table(series: MetricSeries) -> str:
    """Step and value per line; a line that averages several points says how many."""
    averaged = any(p.count > 1 for p in series.points)
    headers = ("STEP", "VALUE", *(("AVERAGED",) if averaged else ()))
    rows = [
        (_step(p.step), format_value(p.value), *((str(p.count),) if averaged else ()))
        for p in series.points
    ]
    return format_table(headers, rows)


def format_value(value: float) -> str:
    return f"{value:.6g}"


def _step(step: int | None) -> str:
    return "-" if step is None else str(step)
