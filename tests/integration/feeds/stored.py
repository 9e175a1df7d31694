"""Writing a feed's results straight into the store, as code from before a fix (or
another worker) might have left them: for tests of what readers make of them."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import sqlalchemy
from sqlalchemy.orm import Session

from sapwood.schemas.arrow import to_ipc
from sapwood.server.store.engine import sync_url
from sapwood.server.store.tables import FeedResultRow, ObjectRow

NAN = float("nan")
INF = float("inf")


def raw_results(scores: list[float], *, first_seq: int = 1) -> pa.Table:
    """Results as the old worker sent them: prediction 0 for a NaN score (a threshold or
    an argmax calls NaN class 0), NaN probabilities and a NaN label beside it."""
    rows = len(scores)
    return pa.table(
        {
            "sequence": pa.array(range(first_seq, first_seq + rows), pa.int64()),
            "prediction": pa.array([1 if s == s and s >= 0.5 else 0 for s in scores], pa.int64()),
            "score": pa.array(scores, pa.float64()),
            "probabilities": pa.array([[1.0 - s, s] for s in scores], pa.list_(pa.float32())),
            "label": pa.array([NAN if s != s else 1.0 for s in scores], pa.float64()),
        }
    )


def store_results(database_url: str, feed: str, results: pa.Table) -> None:
    """One FeedResultRow holding ``results`` for the feed named ``feed`` (any team)."""
    engine = sqlalchemy.create_engine(sync_url(database_url))
    now = datetime.now(UTC)
    sequence = results.column("sequence").to_pylist()
    try:
        with Session(engine) as session, session.begin():
            uid = session.scalar(
                sqlalchemy.select(ObjectRow.uid).where(
                    ObjectRow.kind == "Feed", ObjectRow.name == feed
                )
            )
            assert uid is not None, f"no feed named {feed}"
            session.add(
                FeedResultRow(
                    feed_uid=uid,
                    first_seq=sequence[0],
                    last_seq=sequence[-1],
                    count=results.num_rows,
                    model_version="0",
                    ingested_at=now,
                    scored_at=now,
                    flagged=0,
                    labelled=0,
                    true_pos=0,
                    false_pos=0,
                    true_neg=0,
                    false_neg=0,
                    results=to_ipc(results),
                )
            )
    finally:
        engine.dispose()
