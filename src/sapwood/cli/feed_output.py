"""How a feed reads in `sapwood describe feed` (its spec's essentials and its figures) and
what `sapwood feed push` says when it is done."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sapwood.schemas.feeds import FeedFigures, IngestResponse

FILLED_SHOWN = 10


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
    if (spec.get("ingest") or {}).get("fillMissing"):
        out.append(("Ingest", "absent feature columns take the schema's values"))
    return out


@dataclass
class PushTally:
    """What the chunks of one push got: stored, already there (replayed), columns filled."""

    stored: int = 0
    replayed: int = 0
    first_sequence: int | None = None
    last_sequence: int = 0
    filled: dict[str, None] = field(default_factory=dict)  # ordered, without repeats

    def add(self, answer: IngestResponse) -> None:
        if answer.replayed:
            self.replayed += answer.accepted
        else:
            self.stored += answer.accepted
        if self.first_sequence is None:
            self.first_sequence = answer.first_sequence
        self.last_sequence = answer.last_sequence
        self.filled.update(dict.fromkeys(answer.filled))

    def lines(self, feed: str, *, elapsed_s: float) -> list[str]:
        """The summary: what was stored (or that nothing was), then what was filled."""
        where = f"sequences {self.first_sequence}..{self.last_sequence}"
        if not self.stored:
            out = [
                f"already pushed: nothing stored (feed/{feed} has these {self.replayed} "
                f"records as {where})"
            ]
        else:
            rate = self.stored / elapsed_s if elapsed_s > 0 else float(self.stored)
            out = [
                f"pushed {self.stored} records to feed/{feed} ({where}) in {elapsed_s:.2f}s, "
                f"{rate:,.0f} records/s"
            ]
            if self.replayed:
                out.append(
                    f"{self.replayed} more records were already pushed: nothing stored for them"
                )
        if self.filled:
            names = list(self.filled)
            shown = ", ".join(names[:FILLED_SHOWN])
            more = f" and {len(names) - FILLED_SHOWN} more" if len(names) > FILLED_SHOWN else ""
            out.append(
                f"filled {len(names)} missing column(s) with the schema's values: {shown}{more}"
            )
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
