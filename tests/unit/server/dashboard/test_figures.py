"""Charts, bars and the session's CSRF token: the pure parts of the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sapwood.schemas import MetricSeries, SeriesPoint
from sapwood.server.dashboard.charts import (
    HEIGHT,
    PAD,
    WIDTH,
    chart,
    fmt_value,
    line_chart,
    split_charts,
)
from sapwood.server.dashboard.session import csrf_matches, csrf_token, safe_next
from sapwood.server.services.overview import (
    Holding,
    allocated_of,
    amount_text,
    team_groups,
    total_bars,
    used_of,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _series(name: str, values: list[float]) -> MetricSeries:
    points = [SeriesPoint(step=i, time=T0, value=v, min=v, max=v) for i, v in enumerate(values)]
    return MetricSeries(name=name, count=len(points), points=points)


def test_a_chart_spans_the_box_from_first_to_last_step() -> None:
    drawn = chart(_series("loss", [1.0, 0.5, 0.25]))
    assert drawn is not None
    coords = [tuple(map(float, p.split(","))) for p in drawn.points.split()]
    assert coords[0] == (PAD, PAD)  # the highest value at the top left
    assert coords[-1] == (WIDTH - PAD, HEIGHT - PAD)
    assert (drawn.first, drawn.last, drawn.latest) == ("0", "2", 0.25)


def test_a_single_point_is_a_flat_line_and_no_points_no_chart() -> None:
    drawn = chart(_series("acc", [0.9]))
    assert drawn is not None
    assert len(drawn.points.split()) == 2
    assert chart(_series("empty", [])) is None


def test_utilisation_series_are_charted_apart() -> None:
    training, utilisation = split_charts(
        [_series("loss", [1.0]), _series("sapwood.cpu_percent", [50.0])]
    )
    assert [c.name for c in training] == ["loss"]
    assert [c.name for c in utilisation] == ["sapwood.cpu_percent"]


def test_chart_values_read_in_their_series_unit() -> None:
    assert fmt_value("sapwood.memory_bytes", 1786000) == "1.7 MiB"
    assert fmt_value("sapwood.cpu_percent", 37.5) == "37.5%"
    assert fmt_value("loss", 0.123456) == "0.1235"


def test_amounts_read_as_people_write_them() -> None:
    assert amount_text("cpu", 250) == "0.25 cores"
    assert amount_text("cpu", 1000) == "1 core"
    assert amount_text("memory", 24683656 * 1024) == "23.5 GiB"
    assert amount_text("memory", 128 * 1024**2) == "128 MiB"
    assert amount_text("gpu", 2) == "2 GPU"
    assert amount_text("cpu", None) == "unknown"


def test_allocation_comes_from_the_status_and_usage_from_the_newest_samples() -> None:
    allocated = allocated_of({"allocated": {"cpu": "500m", "memory": "1Gi", "gpu": 0}})
    assert allocated == {"cpu": 500, "memory": 1024**3, "gpu": 0}
    assert allocated_of({}) == {"cpu": 0, "memory": 0, "gpu": 0}
    used = used_of({"sapwood.cpu_percent": 50.0}, allocated)
    assert used == {"cpu": 500.0, "memory": None, "gpu": 0.0}
    assert used_of({}, {"gpu": 1})["gpu"] is None


def test_usage_sums_what_was_measured_and_says_it_is_partial() -> None:
    known = Holding("a", {"cpu": 1000}, {"cpu": 250.0, "memory": 10.0, "gpu": 0.0})
    silent = Holding("a", {"cpu": 1000}, {"cpu": None, "memory": None, "gpu": 0.0})
    [cpu, memory, gpu] = total_bars({"cpu": 4000, "memory": 100, "gpu": 0}, [known, silent])
    assert (cpu.allocated, cpu.used, cpu.percent(cpu.allocated)) == (2000, 250.0, 50.0)
    assert cpu.used_text() == "0.25 cores (partial: 1 of 2 measured)"
    assert memory.used_text() == "10 B (partial: 1 of 2 measured)"
    assert (gpu.used, gpu.used_text()) == (0.0, "0 GPU")


def test_usage_is_unknown_only_when_nothing_was_measured() -> None:
    silent = Holding("a", {"cpu": 1000}, {"cpu": None, "memory": None, "gpu": 0.0})
    [cpu, _, _] = total_bars({"cpu": 4000}, [silent])
    assert (cpu.used, cpu.used_text()) == (None, "unknown")
    [idle, _, _] = total_bars({"cpu": 4000}, [])
    assert idle.used_text() == "0 cores"


def test_teams_are_scaled_by_their_quota_or_else_the_cluster() -> None:
    holdings = [Holding("a", {"cpu": 1000}, {"cpu": None})]
    groups = team_groups(["a", "b"], holdings, {"a": {"cpu": 2000}}, None)
    assert [(g.name, g.note) for g in groups] == [
        ("a", "scale: guaranteed quota"),
        ("b", "scale unknown: no quota and no controller"),
    ]
    assert groups[0].bars[0].percent(groups[0].bars[0].allocated) == 50.0


def test_the_csrf_token_belongs_to_one_session() -> None:
    token = csrf_token("swt_a.secret")
    assert csrf_matches("swt_a.secret", token)
    assert not csrf_matches("swt_b.secret", token)
    assert not csrf_matches("swt_a.secret", None)


def test_after_sign_in_only_local_paths_are_followed() -> None:
    assert safe_next("/ui/queue?team=a") == "/ui/queue?team=a"
    for outside in ("https://evil.example/", "//evil.example", "/\\evil", "", None):
        assert safe_next(outside) == "/"


def test_a_line_chart_shares_one_scale_from_zero_and_lists_active_minutes() -> None:
    starts = [T0 + timedelta(minutes=i) for i in range(3)]
    drawn = line_chart(
        "ids throughput",
        "Records per minute",
        starts,
        [("Ingested", "ingested", [4, 0, 2]), ("Scored", "scored", [0, 0, 0])],
        totals=True,
    )
    ingested = [tuple(map(float, p.split(","))) for p in drawn.lines[0].points.split()]
    scored = [tuple(map(float, p.split(","))) for p in drawn.lines[1].points.split()]
    assert drawn.high == 4
    assert [x for x, _ in ingested] == [PAD, WIDTH / 2, WIDTH - PAD]
    assert [y for _, y in ingested] == [PAD, HEIGHT - PAD, HEIGHT / 2]
    assert {y for _, y in scored} == {HEIGHT - PAD}  # all zero: along the bottom
    assert drawn.rows == [("00:00", [4, 0]), ("00:02", [2, 0])]
    assert "Ingested: total 6, peak 4, latest 2" in drawn.description
