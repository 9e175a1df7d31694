"""Training metrics on the wire: points a workload writes, series a reader gets back."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import Field, field_validator

from sapwood.schemas.base import MAX_BIGINT, WireModel

MAX_METRIC_NAME = 100
MAX_POINTS_PER_REQUEST = 1000
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/-]*")


def metric_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a metric, or None when it can."""
    if not name:
        return "a metric name cannot be empty"
    if len(name) > MAX_METRIC_NAME:
        return f"a metric name has at most {MAX_METRIC_NAME} characters, got {len(name)}"
    if not _NAME.fullmatch(name):
        return (
            f"{name!r} is not a metric name: start with a letter or _, "
            "then letters, digits and _ . : / - (like train/loss)"
        )
    return None


class MetricPoint(WireModel):
    """One value of one metric: ``loss`` 0.31 at step 1200. ``time`` defaults to arrival."""

    name: str = Field(strict=True)
    value: float = Field(strict=True, allow_inf_nan=False)
    step: int | None = Field(default=None, strict=True, ge=0, le=MAX_BIGINT)
    time: datetime | None = None

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        problem = metric_name_problem(name)
        if problem is not None:
            raise ValueError(problem)
        return name


class MetricsWritten(WireModel):
    written: int


class SeriesPoint(WireModel):
    """A stored point, or the mean of a bucket of ``count`` points with their extremes."""

    step: int | None
    time: datetime
    value: float
    min: float
    max: float
    count: int = 1


class MetricSeries(WireModel):
    """One metric of one object, in step (else time) order, at most the points asked for."""

    name: str
    count: int = Field(description="stored points read, before downsampling")
    points: list[SeriesPoint]
