"""Results: from a worker's answers to stored rows, and back out filtered. Pure Arrow.

A record whose score is missing, NaN or infinite was not scored: its prediction and score
are null ("unavailable"), never the class a threshold or an argmax makes of a NaN, and it
counts as neither flagged nor labelled. ``finite_only`` applies this on the way in and on
the way out, so results stored before it (or by another worker) read the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sapwood.server.ingest.records import RecordsError


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
    """A worker's answers as (prediction int64, score float64, probabilities list<float32>).
    A null prediction says the worker could not score that record; it must not come with a
    finite score."""
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
        scored = pc.fill_null(pc.is_finite(score), False)
        contradicts = pc.and_(pc.is_null(prediction), scored)
        if pc.any(contradicts).as_py():
            first = pc.index(contradicts, True).as_py()
            raise RecordsError(
                f"row {first}: prediction is empty but its score is {score[first].as_py()}",
                column="prediction",
                row=first,
            )
    return pa.table(
        [prediction, score, probabilities], names=["prediction", "score", "probabilities"]
    )


def result_table(answers: pa.Table, *, first_seq: int, labels: pa.ChunkedArray | None) -> pa.Table:
    """The stored form: sequence, prediction, score, probabilities, label; no NaN or
    infinity in any of them (``finite_only``)."""
    rows = answers.num_rows
    sequence = pa.array(np.arange(first_seq, first_seq + rows, dtype=np.int64))
    label = (
        pc.cast(labels, pa.float64()) if labels is not None else pa.nulls(rows, type=pa.float64())
    )
    return finite_only(
        pa.table(
            [
                sequence,
                answers.column("prediction"),
                answers.column("score"),
                answers.column("probabilities"),
                label,
            ],
            names=["sequence", "prediction", "score", "probabilities", "label"],
        )
    )


def finite_only(results: pa.Table) -> pa.Table:
    """``results`` with no NaN or infinity left: a row whose score is not a finite number
    gets a null prediction, score and probabilities (it was not scored); a non-finite
    probability or label alone becomes null. Tables without any are returned as they are."""
    score = results.column("score")
    scored = pc.fill_null(pc.is_finite(score), False)
    out = results
    if not pc.all(scored).as_py():
        for name in ("prediction", "score", "probabilities"):
            if name in out.column_names:
                column = out.column(name)
                kept = pc.if_else(scored, column, pa.scalar(None, column.type))
                out = out.set_column(out.column_names.index(name), name, kept)
    if "label" in out.column_names:
        label = out.column("label")
        if pa.types.is_floating(label.type) and _has_non_finite(label):
            index = out.column_names.index("label")
            out = out.set_column(index, "label", _null_non_finite(label))
    if "probabilities" in out.column_names:
        probabilities = out.column("probabilities")
        if _has_non_finite(pc.list_flatten(probabilities)):
            index = out.column_names.index("probabilities")
            cleaned = pa.chunked_array(
                [_list_null_non_finite(chunk) for chunk in probabilities.chunks],
                type=probabilities.type,
            )
            out = out.set_column(index, "probabilities", cleaned)
    return out


def _has_non_finite(values: pa.Array | pa.ChunkedArray) -> bool:
    return bool(pc.any(pc.invert(pc.fill_null(pc.is_finite(values), True))).as_py())


def _null_non_finite(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    finite = pc.fill_null(pc.is_finite(values), False)
    return pc.if_else(finite, values, pa.scalar(None, values.type))


def _list_null_non_finite(lists: pa.ListArray) -> pa.ListArray:
    # Rebuilt from the flattened values and fresh offsets: a sliced chunk's own offsets
    # cannot be combined with a null mask.
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    values = _null_non_finite(pc.list_flatten(lists))
    mask = lists.is_null() if lists.null_count else None
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=mask)


def tally(results: pa.Table) -> Tally:
    """Flagged rows (prediction not 0) and, where a label is present, the confusion counts
    (a label above 0 is positive: AntiNex marks attacks 1, others 0 or -1). A record
    without a prediction (not scored) is neither flagged nor labelled."""
    prediction = results.column("prediction")
    predicted = pc.not_equal(prediction, 0)
    label = results.column("label")
    known = pc.and_(pc.is_valid(label), pc.is_valid(prediction))
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
