"""Per-feed figures from recent batches: rates, backlog, latency, flagged share, accuracy.

Pure: the service loads the rows, this computes. Latencies are per batch (every record of a
batch is ingested and scored together) and weighted by the batch's record count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from sapwood.schemas.feeds import FeedFigures


@dataclass(frozen=True)
class ScoredBatch:
    count: int
    ingested_at: datetime
    scored_at: datetime
    flagged: int
    labelled: int
    true_pos: int
    false_pos: int
    true_neg: int
    false_neg: int


def weighted_percentile(samples: Sequence[tuple[float, int]], q: float) -> float | None:
    """The smallest value with at least ``q`` (0..1) of the total weight at or below it."""
    total = sum(w for _, w in samples if w > 0)
    if total == 0:
        return None
    need = q * total
    seen = 0
    for value, weight in sorted(samples):
        seen += weight
        if seen >= need:
            return value
    return max(v for v, _ in samples)  # pragma: no cover - the loop always returns


def _ratio(top: int, bottom: int) -> float | None:
    return top / bottom if bottom else None


def figures(
    *,
    ingested: int,
    scored: Sequence[ScoredBatch],
    backlog: int,
    window_s: float,
    total_records: int,
    total_scored: int,
) -> FeedFigures:
    """Figures over the last ``window_s`` seconds: ``ingested`` records arrived and the
    ``scored`` batches were scored in it; ``backlog`` records wait."""
    scored_records = sum(b.count for b in scored)
    latencies = [((b.scored_at - b.ingested_at).total_seconds(), b.count) for b in scored]
    tp = sum(b.true_pos for b in scored)
    fp = sum(b.false_pos for b in scored)
    tn = sum(b.true_neg for b in scored)
    fn = sum(b.false_neg for b in scored)
    labelled = sum(b.labelled for b in scored)
    return FeedFigures(
        records=total_records,
        scored=total_scored,
        backlog=backlog,
        ingest_rate=ingested / window_s,
        scoring_rate=scored_records / window_s,
        latency_p50_s=weighted_percentile(latencies, 0.5),
        latency_p99_s=weighted_percentile(latencies, 0.99),
        flagged_share=_ratio(sum(b.flagged for b in scored), scored_records),
        accuracy=_ratio(tp + tn, labelled),
        precision=_ratio(tp, tp + fp),
        recall=_ratio(tp, tp + fn),
        window_s=window_s,
    )


_GAUGES = (
    ("records", "sapwood_feed_records", "Records ingested and kept"),
    ("backlog", "sapwood_feed_backlog_records", "Records waiting to be scored"),
    ("ingest_rate", "sapwood_feed_ingest_rate", "Records ingested per second, last 5 minutes"),
    ("scoring_rate", "sapwood_feed_scoring_rate", "Records scored per second, last 5 minutes"),
    ("latency_p50_s", "sapwood_feed_latency_p50_seconds", "Ingest to result, median"),
    ("latency_p99_s", "sapwood_feed_latency_p99_seconds", "Ingest to result, 99th percentile"),
    ("flagged_share", "sapwood_feed_flagged_ratio", "Share of scored records flagged"),
    ("accuracy", "sapwood_feed_accuracy", "Rolling accuracy on labelled records"),
    ("precision", "sapwood_feed_precision", "Rolling precision on labelled records"),
    ("recall", "sapwood_feed_recall", "Rolling recall on labelled records"),
)


def metric_families(by_feed: Mapping[tuple[str, str], FeedFigures]) -> list[Metric]:
    """Prometheus gauges per (team, feed); a figure without data is left out."""
    out: list[Metric] = []
    for field, metric, help_text in _GAUGES:
        family = GaugeMetricFamily(metric, help_text, labels=["team", "name"])
        for (team, name), values in sorted(by_feed.items()):
            value = getattr(values, field)
            if value is not None:
                family.add_metric([team, name], float(value))
        out.append(family)
    scored = CounterMetricFamily(
        "sapwood_feed_scored_records", "Records scored", labels=["team", "name"]
    )
    for (team, name), values in sorted(by_feed.items()):
        scored.add_metric([team, name], values.scored)
    out.append(scored)
    return out
