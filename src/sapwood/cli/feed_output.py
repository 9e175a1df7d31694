"""How a feed reads in `sapwood describe feed`: its spec's essentials and its figures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sapwood.schemas.feeds import FeedFigures


def feed_spec_summary(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    schema = spec.get("schema")
    out = [("Schema", schema if isinstance(schema, str) else f"{len(schema or [])} columns")]
    batch, workers = spec.get("batch") or {}, spec.get("workers") or {}
    if batch:
        out.append(("Batch", f"{batch.get('maxRecords')} records, wait {batch.get('maxWait')}"))
    if workers:
        out.append(
            (
                "Workers",
                f"{workers.get('min')}..{workers.get('max')}, "
                f"{workers.get('targetBacklogPerWorker')} backlog each",
            )
        )
    if spec.get("labelColumn"):
        out.append(("Label Column", str(spec["labelColumn"])))
    return out


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.1f}s"


def feed_lines(f: FeedFigures) -> list[str]:
    """The figures block, last five minutes unless said otherwise."""
    minutes = int(f.window_s // 60)
    rows = [
        ("Records", f"{f.records} ingested, {f.scored} scored, {f.backlog} waiting"),
        ("Ingest Rate", f"{f.ingest_rate:.1f}/s"),
        ("Scoring Rate", f"{f.scoring_rate:.1f}/s"),
        ("Latency", f"p50 {_seconds(f.latency_p50_s)}, p99 {_seconds(f.latency_p99_s)}"),
        ("Flagged", _share(f.flagged_share)),
    ]
    if f.accuracy is not None:
        rows.append(
            (
                "Labelled",
                f"accuracy {_share(f.accuracy)}, precision {_share(f.precision)}, "
                f"recall {_share(f.recall)}",
            )
        )
    return [f"Figures (last {minutes}m):"] + [f"  {k}:".ljust(16) + v for k, v in rows]
