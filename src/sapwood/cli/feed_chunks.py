"""How `sapwood feed push` cuts a file into request bodies the server accepts.

Each chunk holds at most ``max_records`` records and at most ``max_bytes`` bytes (the
server's body limit), so no file fails for its size. The cut depends only on the file and
those two numbers: the same push against the same server makes the same chunks, and so
the same batch ids. :func:`plan_chunks` is the pure decision; the rest reads files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sapwood.schemas.feeds import ARROW_STREAM, CSV, JSON_LINES

# numpy and pyarrow load only when a file is cut: every `sapwood` command imports this.
if TYPE_CHECKING:
    import numpy.typing as npt
    import pyarrow as pa

# Used when the server does not say its limit (an older server): under its 8 MiB default.
FALLBACK_MAX_REQUEST_BYTES = 4 * 1024 * 1024


class RecordTooLargeError(ValueError):
    """One record alone is larger than a request may be: no cut can send it."""

    def __init__(self, index: int, size: int, max_bytes: int, *, overhead_bytes: int = 0) -> None:
        extra = (
            f" (with the {overhead_bytes:,}-byte header every request repeats)"
            if overhead_bytes
            else ""
        )
        super().__init__(
            f"record {index} of the file is {size:,} bytes{extra}, more than the "
            f"{max_bytes:,} bytes a request may hold; raise the server's "
            "SAPWOOD_MAX_BODY_BYTES (and pass --max-request-bytes)"
        )
        self.index = index
        self.size = size


@dataclass(frozen=True)
class Chunk:
    """Records ``first_row`` .. ``first_row + rows - 1`` of the file (0-based), as a body."""

    first_row: int
    rows: int
    body: bytes
    content_type: str


@dataclass(frozen=True)
class FileChunks:
    """The file's records as chunks, with how many records there are in all."""

    records: int
    chunks: Iterator[Chunk]


def plan_chunks(
    ends: npt.ArrayLike,
    start: int,
    *,
    overhead_bytes: int,
    max_records: int,
    max_bytes: int,
) -> list[tuple[int, int]]:
    """Cuts records, in order, into runs as long as the limits allow.

    Record ``i`` spans the bytes from the end of record ``i - 1`` (``start`` for the first)
    to ``ends[i]``. Each run holds at most ``max_records`` records whose bytes, plus
    ``overhead_bytes`` sent with every run (a CSV header), come to at most ``max_bytes``.
    Returns ``(first record, record count)`` per run, covering every record once. Raises
    RecordTooLargeError when one record alone does not fit.
    """
    import numpy as np

    offsets = np.asarray(ends, dtype=np.int64)
    budget = max_bytes - overhead_bytes
    runs: list[tuple[int, int]] = []
    index, begin = 0, start
    while index < len(offsets):
        fitting = int(np.searchsorted(offsets, begin + budget, side="right")) - index
        count = min(fitting, max_records)
        if count <= 0:
            size = int(offsets[index]) - begin
            raise RecordTooLargeError(index, size, max_bytes, overhead_bytes=overhead_bytes)
        runs.append((index, count))
        index += count
        begin = int(offsets[index - 1])
    return runs


def file_chunks(path: Path, fmt: str, *, max_records: int, max_bytes: int) -> FileChunks:
    """The file (``csv``, ``jsonl`` or ``parquet``) as chunks within both limits."""
    if fmt == "csv":
        return csv_chunks(path, max_records=max_records, max_bytes=max_bytes)
    if fmt == "jsonl":
        return jsonl_chunks(path, max_records=max_records, max_bytes=max_bytes)
    return parquet_chunks(path, max_records=max_records, max_bytes=max_bytes)


def csv_chunks(path: Path, *, max_records: int, max_bytes: int) -> FileChunks:
    """The CSV as it is, cut at line ends, each chunk with the header (values must not
    span lines); the server parses each in one typed pass."""
    import numpy as np

    data = path.read_bytes()
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A) + 1
    if not len(ends):
        return FileChunks(0, iter(()))
    header_end = int(ends[0])
    lines = ends[1:]
    if len(data) > header_end and data[-1] != 0x0A:
        lines = np.append(lines, len(data))  # a last record without a newline
    runs = plan_chunks(
        lines, header_end, overhead_bytes=header_end, max_records=max_records, max_bytes=max_bytes
    )

    def chunks() -> Iterator[Chunk]:
        header = data[:header_end]
        for first, count in runs:
            begin = header_end if first == 0 else int(lines[first - 1])
            yield Chunk(first, count, header + data[begin : int(lines[first + count - 1])], CSV)

    return FileChunks(len(lines), chunks())


def jsonl_chunks(path: Path, *, max_records: int, max_bytes: int) -> FileChunks:
    """One JSON object a line; blank lines are skipped and do not count as records."""
    import numpy as np

    data = path.read_bytes()
    lines = [line.rstrip(b"\r") for line in data.split(b"\n") if line.strip()]
    # Each record costs its bytes and the newline joining it to the next.
    ends = np.cumsum(np.fromiter((len(line) + 1 for line in lines), np.int64, len(lines)))
    runs = plan_chunks(ends, 0, overhead_bytes=0, max_records=max_records, max_bytes=max_bytes)

    def chunks() -> Iterator[Chunk]:
        for first, count in runs:
            yield Chunk(first, count, b"\n".join(lines[first : first + count]), JSON_LINES)

    return FileChunks(len(lines), chunks())


def parquet_chunks(path: Path, *, max_records: int, max_bytes: int) -> FileChunks:
    """Row groups read ``max_records`` at a time, sent as compressed Arrow IPC; a batch
    whose encoding is over ``max_bytes`` is halved until each part fits."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sapwood.schemas.arrow import to_ipc

    source = pq.ParquetFile(path)

    def encode(table: pa.Table) -> bytes:
        return to_ipc(table, compress=True)

    def chunks() -> Iterator[Chunk]:
        first = 0
        for batch in source.iter_batches(batch_size=max_records):
            table = pa.Table.from_batches([batch])
            for offset, rows, body in fit_table(table, encode, max_bytes, first_row=first):
                yield Chunk(first + offset, rows, body, ARROW_STREAM)
            first += table.num_rows

    return FileChunks(source.metadata.num_rows, chunks())


def fit_table(
    table: pa.Table, encode: Callable[[pa.Table], bytes], max_bytes: int, *, first_row: int = 0
) -> Iterator[tuple[int, int, bytes]]:
    """``(offset in table, rows, body)`` parts of ``table`` in order, each body at most
    ``max_bytes``: the whole table when it fits, else its halves, recursively.
    RecordTooLargeError names the row (``first_row`` + offset) that alone is over."""
    body = encode(table)
    if len(body) <= max_bytes:
        yield 0, table.num_rows, body
        return
    if table.num_rows <= 1:
        raise RecordTooLargeError(first_row, len(body), max_bytes)
    half = table.num_rows // 2
    yield from fit_table(table.slice(0, half), encode, max_bytes, first_row=first_row)
    rest = fit_table(table.slice(half), encode, max_bytes, first_row=first_row + half)
    for offset, rows, part in rest:
        yield half + offset, rows, part
