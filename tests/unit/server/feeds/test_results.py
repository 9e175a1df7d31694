"""A worker's answers to stored results: a record without a finite score is unavailable
(no prediction, no score), never the class a NaN would be taken for."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sapwood.server.ingest.records import RecordsError
from sapwood.server.ingest.results import check_answers, finite_only, result_table, tally

NAN, INF = float("nan"), float("inf")


def _answers(prediction: list[int | None], score: list[float | None]) -> pa.Table:
    return pa.table(
        {
            "prediction": pa.array(prediction, pa.int64()),
            "score": pa.array(score, pa.float64()),
            "probabilities": pa.array(
                [None if s is None else [1 - s, s] for s in score], pa.list_(pa.float32())
            ),
        }
    )


def test_a_nan_or_infinite_score_leaves_no_prediction() -> None:
    answers = check_answers(_answers([1, 0, 0, None], [0.9, NAN, -INF, None]), 4)
    labels = pa.chunked_array([pa.array([1.0, 0.0, NAN, 1.0])])
    stored = result_table(answers, first_seq=10, labels=labels)
    assert stored.column("prediction").to_pylist() == [1, None, None, None]
    assert stored.column("score").to_pylist() == [pytest.approx(0.9), None, None, None]
    assert stored.column("probabilities").to_pylist()[1:] == [None, None, None]
    assert stored.column("label").to_pylist() == [1.0, 0.0, None, 1.0]


def test_unscored_records_are_neither_flagged_nor_labelled() -> None:
    answers = check_answers(_answers([1, 0, 0], [0.9, NAN, 0.1]), 3)
    labels = pa.chunked_array([pa.array([1.0, 0.0, 0.0])])
    counts = tally(result_table(answers, first_seq=1, labels=labels))
    assert (counts.flagged, counts.labelled) == (1, 2)
    assert (counts.true_pos, counts.true_neg, counts.false_neg) == (1, 1, 0)


def test_a_non_finite_probability_alone_becomes_null() -> None:
    table = pa.table(
        {
            "score": [0.5, 0.5],
            "probabilities": pa.array([[0.5, NAN], [0.5, 0.5]], pa.list_(pa.float32())),
        }
    )
    # several chunks, one of them a slice (its offsets do not start at 0)
    cleaned = finite_only(pa.concat_tables([table.slice(1, 1), table, table.slice(0, 1)]))
    assert cleaned.column("probabilities").to_pylist() == [
        [0.5, 0.5],
        [0.5, None],
        [0.5, 0.5],
        [0.5, None],
    ]


def test_a_null_prediction_must_not_come_with_a_finite_score() -> None:
    with pytest.raises(RecordsError, match=r"row 1: prediction is empty but its score is 0\.4"):
        check_answers(_answers([1, None], [0.9, 0.4]), 2)
