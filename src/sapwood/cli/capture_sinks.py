"""Where `sapwood capture` puts rows: a feed (pushed in batches) or a CSV file."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import IO, Protocol

from sapwood.client import Client, ConnectionFailedError
from sapwood.feeds.packets import Row
from sapwood.schemas.feeds import ARROW_STREAM
from sapwood.specs.antinex import FEATURES, LABEL_NAME, LABEL_VALUE

_RETRIES = 5


class Sink(Protocol):
    rows: int  # rows taken so far

    def add(self, row: Row) -> None: ...

    def flush(self) -> None: ...


class Pusher:
    """Buffers rows and pushes them in batches with batch ids, retrying a lost connection."""

    def __init__(
        self,
        client: Client,
        feed: str,
        *,
        prefix: str,
        batch: int,
        label: float | None,
        label_name: str | None,
    ) -> None:
        self._client = client
        self._feed = feed
        self._prefix = prefix
        self._batch = batch
        self._label = label
        self._label_name = label_name
        self._rows: list[Row] = []
        self.sent_batches = 0
        self.rows = 0

    def add(self, row: Row) -> None:
        if self._label is not None:
            row[LABEL_VALUE] = self._label
        self._rows.append(row)
        if len(self._rows) >= self._batch:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        from sapwood.schemas.arrow import to_ipc

        if not self._rows:
            return
        table = pa.Table.from_pylist(self._rows)
        if self._label_name is not None:
            table = table.append_column(LABEL_NAME, pa.array([self._label_name] * len(self._rows)))
        batch_id = f"{self._prefix}-{self.sent_batches:06d}"
        body = to_ipc(table, compress=True)
        for attempt in range(_RETRIES):
            try:
                answer = self._client.push_records(
                    self._feed, body, content_type=ARROW_STREAM, batch_id=batch_id
                )
                break
            except ConnectionFailedError:
                if attempt == _RETRIES - 1:
                    raise
                time.sleep(0.5 * 2**attempt)  # the same batch id: a retry never duplicates
        self.rows += answer.accepted
        self.sent_batches += 1
        self._rows = []


class CsvWriter:
    """Rows as AntiNex-v1 CSV (the 67 features, then the labels when given), for training
    (`train.py --nonattack FILE`) or a later `sapwood feed push`."""

    def __init__(self, out: IO[str], *, label: float | None, label_name: str | None) -> None:
        self._out = out
        self._label = label
        self._label_name = label_name
        columns = list(FEATURES)
        if label is not None:
            columns.append(LABEL_VALUE)
        if label_name is not None:
            columns.append(LABEL_NAME)
        self._writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        self._writer.writeheader()
        self.rows = 0

    def add(self, row: Row) -> None:
        record: dict[str, object] = {name: _number(row[name]) for name in FEATURES}
        if self._label is not None:
            record[LABEL_VALUE] = _number(self._label)
        if self._label_name is not None:
            record[LABEL_NAME] = self._label_name
        self._writer.writerow(record)
        self.rows += 1

    def flush(self) -> None:
        self._out.flush()


def _number(value: float) -> int | float:
    """Whole numbers without a trailing .0, as AntiNex's CSVs write them."""
    return int(value) if float(value).is_integer() else value


def open_csv(path: Path) -> IO[str]:
    return path.open("w", newline="")
