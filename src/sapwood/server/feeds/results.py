"""Results: from a worker's answers to stored rows, and back out filtered. Pure Arrow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sapwood.server.feeds.records import RecordsError


@dataclass(frozen=True)
class Tally:
    """What one batch's results add to the feed's figures."""

    flagged: int
    labelled: int
    true_pos: int
    false_pos: int
    true_neg: int
    false_neg: int


def check_answers(answers: pa.Table, expected_rows: int) -> pa.Table:
    """A worker's answers as (prediction int64, score float64, probabilities list<float32>)."""
    if answers.num_rows != expected_rows:
        raise RecordsError(f"the batch has {expected_rows} records; got {answers.num_rows} results")
    if "prediction" not in answers.column_names:
        raise RecordsError("results need a 'prediction' column", column="prediction")
    try:
        prediction = pc.cast(answers.column("prediction"), pa.int64())
        if "score" in answers.column_names:
            score = pc.cast(answers.column("score"), pa.float64())
        else:
            score = pc.cast(prediction, pa.float64())
        if "probabilities" in answers.column_names:
            probabilities = pc.cast(answers.column("probabilities"), pa.list_(pa.float32()))
        else:
            probabilities = pa.nulls(expected_rows, type=pa.list_(pa.float32()))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise RecordsError(f"results have the wrong types: {exc}") from None
    if prediction.null_count:
        first = pc.index(pc.is_null(prediction), True).as_py()
        raise RecordsError(f"row {first}: prediction is empty", column="prediction", row=first)
    return pa.table(
        [prediction, score, probabilities], names=["prediction", "score", "probabilities"]
    )


def result_table(answers: pa.Table, *, first_seq: int, labels: pa.ChunkedArray | None) -> pa.Table:
    """The stored form: sequence, prediction, score, probabilities, label."""
    rows = answers.num_rows
    sequence = pa.array(np.arange(first_seq, first_seq + rows, dtype=np.int64))
    label = (
        pc.cast(labels, pa.float64()) if labels is not None else pa.nulls(rows, type=pa.float64())
    )
    return pa.table(
        [
            sequence,
            answers.column("prediction"),
            answers.column("score"),
            answers.column("probabilities"),
            label,
        ],
        names=["sequence", "prediction", "score", "probabilities", "label"],
    )


def tally(results: pa.Table) -> Tally:
    """Flagged rows (prediction not 0) and, where a label is present, the confusion counts
    (a label above 0 is positive: AntiNex marks attacks 1, others 0 or -1)."""
    predicted = pc.not_equal(results.column("prediction"), 0)
    label = results.column("label")
    known = pc.is_valid(label)
    actual = pc.greater(pc.fill_null(label, 0.0), 0.0)

    def count(mask: pa.ChunkedArray | pa.Array) -> int:
        return int(pc.sum(pc.cast(pc.fill_null(mask, False), pa.int64())).as_py() or 0)

    return Tally(
        flagged=count(predicted),
        labelled=count(known),
        true_pos=count(pc.and_(known, pc.and_(predicted, actual))),
        false_pos=count(pc.and_(known, pc.and_(predicted, pc.invert(actual)))),
        true_neg=count(pc.and_(known, pc.and_(pc.invert(predicted), pc.invert(actual)))),
        false_neg=count(pc.and_(known, pc.and_(pc.invert(predicted), actual))),
    )


@dataclass(frozen=True)
class ResultFilter:
    """Which results a query wants; every bound is optional and inclusive but ``until``."""

    since: datetime | None = None
    until: datetime | None = None
    prediction: int | None = None
    from_seq: int | None = None
    to_seq: int | None = None
    after_seq: int = 0


def select_rows(results: pa.Table, where: ResultFilter) -> pa.Table:
    """The rows of one batch's results that pass the sequence and prediction filters (the
    time filters apply to whole batches, which share their timestamps)."""
    sequence = results.column("sequence")
    mask = pc.greater(sequence, where.after_seq)
    if where.from_seq is not None:
        mask = pc.and_(mask, pc.greater_equal(sequence, where.from_seq))
    if where.to_seq is not None:
        mask = pc.and_(mask, pc.less_equal(sequence, where.to_seq))
    if where.prediction is not None:
        mask = pc.and_(mask, pc.equal(results.column("prediction"), where.prediction))
    return results.filter(mask)


def flat_for_csv(table: pa.Table) -> pa.Table:
    """Probabilities as ``probability_0..k`` columns, since CSV has no lists."""
    if "probabilities" not in table.column_names:
        return table
    probabilities = table.column("probabilities")
    index = table.column_names.index("probabilities")
    out = table.remove_column(index)
    lengths = pc.list_value_length(probabilities)
    width = int(pc.max(lengths).as_py() or 0) if table.num_rows else 0
    for k in range(width):
        element = pc.list_element(
            pc.if_else(
                pc.greater(pc.fill_null(lengths, 0), k),
                probabilities,
                pa.scalar(None, probabilities.type),
            ),
            k,
        )
        out = out.add_column(index + k, f"probability_{k}", element)
    return out
