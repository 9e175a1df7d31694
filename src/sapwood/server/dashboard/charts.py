"""Line charts as inline SVG: the geometry is computed here, the template draws it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sapwood.schemas import MetricSeries

WIDTH = 480
HEIGHT = 160
PAD = 8
UTILISATION_PREFIX = "sapwood."


@dataclass(frozen=True)
class Chart:
    """One series scaled into a WIDTH x HEIGHT box; ``points`` is an SVG polyline list."""

    name: str
    points: str
    count: int
    latest: float
    low: float
    high: float
    x_label: str  # what the x axis counts: steps or time
    first: str
    last: str
    width: int = WIDTH
    height: int = HEIGHT

    def text(self, value: float) -> str:
        return fmt_value(self.name, value)


def fmt_value(name: str, value: float) -> str:
    """A value as its series' unit reads: bytes in binary units, percentages with %."""
    if name.endswith("_bytes"):
        size, unit = abs(value), "B"
        for bigger in ("KiB", "MiB", "GiB", "TiB"):
            if size < 1024:
                break
            size, unit = size / 1024, bigger
        return f"{'-' if value < 0 else ''}{size:.3g} {unit}"
    if name.endswith("_percent"):
        return f"{value:.3g}%"
    return f"{value:.4g}"


def chart(series: MetricSeries) -> Chart | None:
    """The series as a chart, or None when it has no points."""
    points = series.points
    if not points:
        return None
    by_step = all(p.step is not None for p in points)
    xs = [float(p.step) if by_step and p.step is not None else p.time.timestamp() for p in points]
    ys = [p.value for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    span_x = (x1 - x0) or 1.0
    span_y = (y1 - y0) or 1.0
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    coords = []
    for x, y in zip(xs, ys, strict=True):
        px = PAD + (x - x0) / span_x * inner_w if x1 > x0 else WIDTH / 2
        py = PAD + inner_h - (y - y0) / span_y * inner_h if y1 > y0 else HEIGHT / 2
        coords.append(f"{px:.1f},{py:.1f}")
    if len(coords) == 1:  # a single point still shows as a short flat line
        coords = [f"{PAD},{coords[0].split(',')[1]}", f"{WIDTH - PAD},{coords[0].split(',')[1]}"]
    if by_step:
        first, last, label = str(points[0].step), str(points[-1].step), "step"
    else:
        first = f"{points[0].time:%H:%M:%S}"
        last = f"{points[-1].time:%H:%M:%S}"
        label = "time (UTC)"
    return Chart(
        name=series.name,
        points=" ".join(coords),
        count=series.count,
        latest=ys[-1],
        low=y0,
        high=y1,
        x_label=label,
        first=first,
        last=last,
    )


def split_charts(series: Sequence[MetricSeries]) -> tuple[list[Chart], list[Chart]]:
    """(training metrics, utilisation): utilisation series are the ``sapwood.`` ones."""
    training: list[Chart] = []
    utilisation: list[Chart] = []
    for item in series:
        drawn = chart(item)
        if drawn is None:
            continue
        (utilisation if item.name.startswith(UTILISATION_PREFIX) else training).append(drawn)
    return training, utilisation


@dataclass(frozen=True)
class Line:
    """One line of a LineChart: ``style`` names its CSS class (colour and dash)."""

    name: str
    style: str
    points: str
    total: int
    peak: int
    latest: int


@dataclass(frozen=True)
class LineChart:
    """Lines over shared time buckets, scaled from 0 to the highest value of any line."""

    title: str
    description: str
    y_label: str
    high: int
    lines: list[Line]
    totals: bool
    first: str
    last: str
    rows: list[tuple[str, list[int]]]  # (bucket start, a value per line), active buckets
    width: int = WIDTH
    height: int = HEIGHT


def line_chart(
    title: str,
    y_label: str,
    starts: Sequence[datetime],
    lines: Sequence[tuple[str, str, Sequence[int]]],
    *,
    totals: bool,
) -> LineChart:
    """Lines of (name, style, a value per bucket) over the buckets beginning at ``starts``;
    ``totals``: the values add up (counts per bucket), so the text gives their sum."""
    high = max((v for _, _, values in lines for v in values), default=0)
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    step = inner_w / max(len(starts) - 1, 1)
    drawn = []
    for name, style, values in lines:
        coords = " ".join(
            f"{PAD + i * step:.1f},{PAD + inner_h - (v / (high or 1)) * inner_h:.1f}"
            for i, v in enumerate(values)
        )
        drawn.append(
            Line(
                name,
                style,
                coords,
                sum(values),
                max(values, default=0),
                values[-1] if values else 0,
            )
        )
    first = f"{starts[0]:%H:%M}" if starts else "-"
    last = f"{starts[-1]:%H:%M}" if starts else "-"
    rows = [
        (f"{start:%H:%M}", [values[i] for _, _, values in lines])
        for i, start in enumerate(starts)
        if any(values[i] for _, _, values in lines)
    ]
    summary = "; ".join(
        f"{d.name}: {f'total {d.total}, ' if totals else ''}peak {d.peak}, latest {d.latest}"
        for d in drawn
    )
    description = f"{y_label} from {first} to {last} UTC, 0 to {high}. {summary}."
    return LineChart(title, description, y_label, high, drawn, totals, first, last, rows)
