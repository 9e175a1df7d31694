"""Per-feed figures from scored batches: weighted latency percentiles, shares, accuracy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sapwood.server.ingest.figures import ScoredBatch, figures, weighted_percentile

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _batch(count: int, latency_s: float, **counts: int) -> ScoredBatch:
    base = dict.fromkeys(
        ("flagged", "labelled", "true_pos", "false_pos", "true_neg", "false_neg"), 0
    )
    return ScoredBatch(count, T0, T0 + timedelta(seconds=latency_s), **{**base, **counts})


def test_weighted_percentile() -> None:
    assert weighted_percentile([], 0.5) is None
    assert weighted_percentile([(1.0, 1), (5.0, 99)], 0.5) == 5.0
    assert weighted_percentile([(1.0, 99), (5.0, 1)], 0.5) == 1.0
    assert weighted_percentile([(1.0, 98), (5.0, 2)], 0.99) == 5.0


def test_figures_over_a_window() -> None:
    scored = [
        _batch(90, 0.1, flagged=9, labelled=90, true_pos=8, false_pos=1, true_neg=80, false_neg=1),
        _batch(10, 2.0, flagged=10),
    ]
    got = figures(
        ingested=150, scored=scored, backlog=50, window_s=300, total_records=150, total_scored=100
    )
    assert got.ingest_rate == pytest.approx(0.5)
    assert got.scoring_rate == pytest.approx(100 / 300)
    assert got.latency_p50_s == pytest.approx(0.1)
    assert got.latency_p99_s == pytest.approx(2.0)
    assert got.flagged_share == pytest.approx(19 / 100)
    assert got.accuracy == pytest.approx(88 / 90)
    assert got.precision == pytest.approx(8 / 9)
    assert got.recall == pytest.approx(8 / 9)


def test_no_labels_no_accuracy() -> None:
    got = figures(
        ingested=0, scored=[_batch(5, 1.0)], backlog=0, window_s=60, total_records=5, total_scored=5
    )
    assert got.accuracy is None
    assert got.precision is None
