"""How `sapwood feed push` cuts files: every chunk under the byte limit, every record once."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sapwood.cli.feed import request_limit
from sapwood.cli.feed_chunks import (
    FALLBACK_MAX_REQUEST_BYTES,
    RecordTooLargeError,
    file_chunks,
    fit_table,
    plan_chunks,
)
from sapwood.client import NotFoundError
from sapwood.schemas.arrow import from_ipc
from sapwood.schemas.limits import ServerLimits


def test_runs_stop_at_the_byte_limit_and_the_record_limit() -> None:
    # Records of 10 bytes each after a 5-byte start; 30 bytes hold three of them.
    ends = [15, 25, 35, 45, 55, 65, 75]
    assert plan_chunks(ends, 5, overhead_bytes=0, max_records=100, max_bytes=30) == [
        (0, 3),
        (3, 3),
        (6, 1),
    ]
    assert plan_chunks(ends, 5, overhead_bytes=0, max_records=2, max_bytes=1000) == [
        (0, 2),
        (2, 2),
        (4, 2),
        (6, 1),
    ]
    # The header sent with every run takes its share of the budget.
    assert plan_chunks(ends, 5, overhead_bytes=5, max_records=100, max_bytes=30) == [
        (0, 2),
        (2, 2),
        (4, 2),
        (6, 1),
    ]


def test_uneven_records_are_packed_in_order_and_each_appears_once() -> None:
    sizes = [3, 9, 1, 1, 8, 2, 7, 7, 1]
    ends = [sum(sizes[: i + 1]) for i in range(len(sizes))]
    runs = plan_chunks(ends, 0, overhead_bytes=0, max_records=100, max_bytes=10)
    assert [i for first, count in runs for i in range(first, first + count)] == list(
        range(len(sizes))
    )
    for first, count in runs:
        assert sum(sizes[first : first + count]) <= 10


def test_no_records_make_no_runs() -> None:
    assert plan_chunks([], 0, overhead_bytes=10, max_records=5, max_bytes=100) == []


def test_a_record_larger_than_a_request_is_named() -> None:
    with pytest.raises(RecordTooLargeError, match="record 1 of the file is 50 bytes") as caught:
        plan_chunks([10, 60, 70], 0, overhead_bytes=0, max_records=10, max_bytes=40)
    assert "SAPWOOD_MAX_BODY_BYTES" in str(caught.value)


def _csv(path: Path, rows: int, *, trailing_newline: bool = True) -> Path:
    lines = ["id,text"] + [f"{i},{'x' * (i % 37)}" for i in range(rows)]
    path.write_text("\n".join(lines) + ("\n" if trailing_newline else ""))
    return path


@pytest.mark.parametrize("trailing_newline", [True, False])
def test_a_csv_is_cut_under_the_limit_each_chunk_with_the_header(
    tmp_path: Path, trailing_newline: bool
) -> None:
    path = _csv(tmp_path / "rows.csv", 1000, trailing_newline=trailing_newline)
    planned = file_chunks(path, "csv", max_records=50_000, max_bytes=2048)
    chunks = list(planned.chunks)
    assert planned.records == 1000
    assert len(chunks) > 5
    header = b"id,text\n"
    body = b""
    for expected_first, chunk in zip([0] + [None] * len(chunks), chunks, strict=False):
        assert len(chunk.body) <= 2048
        assert chunk.body.startswith(header)
        assert chunk.body.count(b"\n") >= chunk.rows  # header line + records
        if expected_first is not None:
            assert chunk.first_row == expected_first
        body += chunk.body[len(header) :]
    assert header + body == path.read_bytes()
    assert sum(c.rows for c in chunks) == 1000
    assert [c.first_row for c in chunks] == [
        sum(c.rows for c in chunks[:i]) for i in range(len(chunks))
    ]


def test_a_file_under_the_limit_stays_one_chunk(tmp_path: Path) -> None:
    path = _csv(tmp_path / "rows.csv", 20)
    chunks = list(file_chunks(path, "csv", max_records=50_000, max_bytes=1 << 20).chunks)
    assert len(chunks) == 1
    assert chunks[0].body == path.read_bytes()


def test_json_lines_skip_blank_lines_and_keep_under_the_limit(tmp_path: Path) -> None:
    records = [{"id": i, "text": "y" * (i % 50)} for i in range(500)]
    text = "\n\n".join(json.dumps(r) for r in records) + "\n"
    path = tmp_path / "rows.jsonl"
    path.write_text(text)
    planned = file_chunks(path, "jsonl", max_records=50_000, max_bytes=1024)
    chunks = list(planned.chunks)
    assert planned.records == 500
    assert all(len(c.body) <= 1024 for c in chunks)
    got = [json.loads(line) for c in chunks for line in c.body.split(b"\n")]
    assert got == records


def test_parquet_batches_are_halved_until_they_fit(tmp_path: Path) -> None:
    # Random text, so compression cannot shrink it under the limit.
    text = [random.Random(i).randbytes(40).hex() for i in range(2000)]
    table = pa.table({"id": list(range(2000)), "text": text})
    path = tmp_path / "rows.parquet"
    pq.write_table(table, path)
    planned = file_chunks(path, "parquet", max_records=50_000, max_bytes=16 * 1024)
    chunks = list(planned.chunks)
    assert planned.records == 2000
    assert len(chunks) > 1
    assert all(len(c.body) <= 16 * 1024 for c in chunks)
    ids = [i for c in chunks for i in from_ipc(c.body).column("id").to_pylist()]
    assert ids == list(range(2000))
    assert [c.first_row for c in chunks] == [
        sum(c.rows for c in chunks[:i]) for i in range(len(chunks))
    ]


def test_a_row_too_large_alone_is_named_by_its_place_in_the_file() -> None:
    table = pa.table({"text": ["a", "b" * 500, "c"]})

    def encode(t: pa.Table) -> bytes:
        return "".join(t.column("text").to_pylist()).encode()

    with pytest.raises(RecordTooLargeError, match="record 11 of the file"):
        list(fit_table(table, encode, 100, first_row=10))


class _Server:
    def __init__(self, limit: int | None) -> None:
        self.limit = limit

    def limits(self) -> ServerLimits:
        if self.limit is None:
            raise NotFoundError("no such resource 'limits'", status=404)
        return ServerLimits(max_body_bytes=self.limit, max_model_bytes=1 << 30)


def test_the_request_limit_comes_from_the_option_then_the_server_then_a_safe_default() -> None:
    assert request_limit(1 << 16, _Server(8 << 20)) == 1 << 16  # type: ignore[arg-type]
    assert request_limit(None, _Server(32 << 20)) == 32 << 20  # type: ignore[arg-type]
    fallback = request_limit(None, _Server(None))  # type: ignore[arg-type]
    assert fallback == FALLBACK_MAX_REQUEST_BYTES < 8 * 1024 * 1024
