"""Arrow IPC on the wire and in the store: the feed's record and result batches.

Apart from ``sapwood.schemas.feeds`` so that the SDK's other users never load pyarrow.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.ipc as ipc

RESULT_SCHEMA = pa.schema(
    [
        ("prediction", pa.int64()),
        ("score", pa.float64()),
        ("probabilities", pa.list_(pa.float32())),
    ]
)
"""What a worker sends back per record, in the batch's order; ``probabilities`` may be
null (a model with one output)."""


def to_ipc(table: pa.Table, *, compress: bool = False, codec: str = "zstd") -> bytes:
    """An Arrow IPC stream of ``table``; with ``compress``, its buffers compressed with
    ``codec``: zstd (smallest, for the wire) or lz4 (about twice as fast both ways, for
    blobs the server writes and reads on every batch). Readers need not know which."""
    sink = pa.BufferOutputStream()
    # One thread: a batch is small and the server's cores are busy with other requests.
    options = ipc.IpcWriteOptions(compression=codec if compress else None, use_threads=False)
    with ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


_READ = ipc.IpcReadOptions(use_threads=False)


def from_ipc(data: bytes) -> pa.Table:
    """The table in an Arrow IPC stream; pyarrow.ArrowInvalid when it is not one."""
    return ipc.open_stream(pa.py_buffer(data), options=_READ).read_all()


def ipc_column(data: bytes, name: str) -> pa.ChunkedArray:
    """One column of an Arrow IPC stream, decoding (and decompressing) only its buffers;
    KeyError when the stream has no such column."""
    buffer = pa.py_buffer(data)
    index = ipc.open_stream(buffer).schema.get_field_index(name)
    if index < 0:
        raise KeyError(name)
    options = ipc.IpcReadOptions(use_threads=False, included_fields=[index])
    return ipc.open_stream(buffer, options=options).read_all().column(0)
