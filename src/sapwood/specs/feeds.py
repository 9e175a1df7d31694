"""The Feed kind: records in a schema, scored by a registry model, results kept a while."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, model_validator

from sapwood.specs import antinex
from sapwood.specs.base import Duration, SpecModel, capped
from sapwood.specs.serving import MODEL_REF
from sapwood.specs.workloads import WorkloadSpec

Dtype = Literal["float64", "float32", "int64", "int32", "bool", "string"]
NUMERIC: frozenset[str] = frozenset({"float64", "float32", "int64", "int32", "bool"})
FLOATS: frozenset[str] = frozenset({"float64", "float32"})
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,127}")  # fullmatch: no trailing newline
MAX_COLUMNS = 10_000


class Column(SpecModel):
    """One field of a record. An absent column or a null value takes ``default`` when
    given; otherwise it is refused, unless ``nullable``. NaN and infinities are refused
    unless ``allowNonFinite`` (float columns only)."""

    name: str = Field(description="letters, digits, '_', '.', '-'")
    dtype: Dtype = "float64"
    default: float | int | str | bool | None = None
    nullable: bool = False
    allow_non_finite: bool = Field(
        default=False, description="accept NaN, Infinity and -Infinity (float columns only)"
    )

    @model_validator(mode="after")
    def _valid_name(self) -> Column:
        if not _COLUMN.fullmatch(self.name):
            raise ValueError(
                f"column name {self.name!r} is invalid: up to 128 letters, digits, '_', '.' "
                "or '-', starting with a letter or '_'"
            )
        if self.allow_non_finite and self.dtype not in FLOATS:
            raise ValueError(
                f"column {self.name!r}: allowNonFinite needs a float64 or float32 column, "
                f"not {self.dtype}"
            )
        if (
            isinstance(self.default, float)
            and not math.isfinite(self.default)
            and not self.allow_non_finite
        ):
            raise ValueError(
                f"column {self.name!r}: default {self.default} is not finite; "
                "set allowNonFinite: true to allow it"
            )
        return self


def antinex_v1() -> tuple[Column, ...]:
    """The AntiNex-v1 columns: 67 float64 features (absent: -1), then the two labels."""
    features = tuple(
        Column(name=n, dtype="float64", default=antinex.ABSENT) for n in antinex.FEATURES
    )
    return (
        *features,
        Column(name=antinex.LABEL_VALUE, dtype="float64", nullable=True),
        Column(name=antinex.LABEL_NAME, dtype="string", nullable=True),
    )


NAMED_SCHEMAS = {antinex.SCHEMA_NAME: antinex_v1}


class FeedBatch(SpecModel):
    """How records are grouped for scoring."""

    max_records: int = Field(default=10_000, ge=1, le=1_000_000)
    max_wait: Duration = Field(
        default=timedelta(seconds=1), description="how long a worker waits for a batch"
    )


class FeedWorkers(SpecModel):
    """Workers follow the backlog: ceil(backlog / targetBacklogPerWorker) in min..max."""

    min: int = Field(default=1, ge=0, le=1024)
    max: int = Field(default=1, ge=0, le=1024)
    target_backlog_per_worker: int = Field(default=50_000, ge=1, le=1_000_000_000)

    @model_validator(mode="after")
    def _ordered(self) -> FeedWorkers:
        if self.min > self.max:
            raise ValueError(f"workers.min ({self.min}) must not exceed workers.max ({self.max})")
        return self


class FeedIngest(SpecModel):
    """How posted records are taken in."""

    fill_missing: bool = Field(
        default=False,
        description="fill feature columns a post lacks with the schema's default (or null) "
        "instead of refusing the post",
    )


class FeedResults(SpecModel):
    retention: Duration = Field(default=timedelta(days=7), description="how long results stay")


class FeedSpec(WorkloadSpec):
    """Records validated against ``schema``, scored by ``model`` (NAME@ALIAS or NAME@VERSION).

    Its workers run Sapwood's feed worker, so a feed takes no ``command``.
    """

    columns: Annotated[
        Literal["antinex-v1"] | list[Column], capped(MAX_COLUMNS, "schema columns")
    ] = Field(alias="schema", description="'antinex-v1' or a list of {name, dtype}")
    model: str = Field(pattern=MODEL_REF, description="registry model as NAME@ALIAS")
    batch: FeedBatch = Field(default_factory=FeedBatch)
    workers: FeedWorkers = Field(default_factory=FeedWorkers)
    results: FeedResults = Field(default_factory=FeedResults)
    ingest: FeedIngest = Field(default_factory=FeedIngest)
    label_column: str | None = Field(
        default=None, description="a column holding the true label (1 = positive)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> FeedSpec:
        if self.command is not None:
            raise ValueError("a feed's workers run Sapwood's feed worker: drop 'command'")
        if isinstance(self.columns, list):
            if not self.columns:
                raise ValueError("schema needs at least one column")
            counts = Counter(c.name for c in self.columns)
            repeated = sorted(n for n, count in counts.items() if count > 1)
            if repeated:
                shown = ", ".join(repeated[:10])
                more = f" and {len(repeated) - 10} more" if len(repeated) > 10 else ""
                raise ValueError(f"schema column names must be unique; repeated: {shown}{more}")
        by_name = {c.name: c for c in self.schema_columns()}
        if self.label_column is not None:
            column = by_name.get(self.label_column)
            if column is None:
                raise ValueError(f"labelColumn {self.label_column!r} is not a schema column")
            if column.dtype not in NUMERIC:
                raise ValueError(f"labelColumn {self.label_column!r} must be numeric")
        return self

    def schema_columns(self) -> tuple[Column, ...]:
        """The columns, with a named schema expanded."""
        if isinstance(self.columns, str):
            return NAMED_SCHEMAS[self.columns]()
        return tuple(self.columns)

    def feature_columns(self) -> tuple[str, ...]:
        """What the model reads when it names no features: numeric columns but the label
        (and, for antinex-v1, its two label columns)."""
        skip = {self.label_column, antinex.LABEL_VALUE, antinex.LABEL_NAME}
        if isinstance(self.columns, list):
            skip = {self.label_column}
        return tuple(
            c.name for c in self.schema_columns() if c.dtype in NUMERIC and c.name not in skip
        )
