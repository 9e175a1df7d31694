"""Records in, validated Arrow tables out: pure, vectorised, all-or-nothing.

Every body format (JSON rows, CSV, Arrow IPC, Parquet) becomes a ``pyarrow.Table``; then
``conform`` checks it against the feed's columns and returns the table in schema order and
types. Errors name the column and the first bad row (0-based, header not counted). Nothing
loops over records in Python except to build an error message. NaN and infinities (JSON's
``NaN``/``Infinity``, CSV's ``nan``/``inf``, Arrow and Parquet floats) are refused unless
the column sets ``allowNonFinite``: one NaN would otherwise score as a class and break
every reader of the results.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sapwood.specs.feeds import Column

ARROW_TYPES: dict[str, pa.DataType] = {
    "float64": pa.float64(),
    "float32": pa.float32(),
    "int64": pa.int64(),
    "int32": pa.int32(),
    "bool": pa.bool_(),
    "string": pa.string(),
}
# pyarrow's default CSV null spellings less its NaN ones ("nan", "NaN", "-nan", "1.#QNAN",
# ...): a "nan" read as empty would silently take the column's default, so it is read as
# NaN and refused (or kept, where the column allows non-finite values) like any other.
CSV_NULLS = ["", "#N/A", "#N/A N/A", "#NA", "N/A", "NA", "NULL", "n/a", "null"]


class RecordsError(ValueError):
    """Records that do not fit the schema: ``column`` and ``row`` say where, when known."""

    def __init__(self, message: str, *, column: str | None = None, row: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.row = row

    @property
    def path(self) -> str:
        where = f"rows[{self.row}]" if self.row is not None else "rows"
        return f"{where}.{self.column}" if self.column else where


@dataclass(frozen=True)
class JsonRows:
    rows: list[Any]
    batch_id: str | None


def parse_json(body: bytes) -> JsonRows:
    """``{"rows": [...], "batchId": "..."}`` or a bare list of row objects."""
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise RecordsError(f"the body is not valid JSON: {exc}") from None
    batch_id = None
    if isinstance(document, dict):
        unknown = sorted(set(document) - {"rows", "batchId"})
        if unknown:
            raise RecordsError(f"unknown field {unknown[0]!r}: expected 'rows' and 'batchId'")
        batch_id = document.get("batchId")
        if batch_id is not None and not isinstance(batch_id, str):
            raise RecordsError("batchId must be a string")
        document = document.get("rows")
    if not isinstance(document, list):
        raise RecordsError('expected a list of rows, or {"rows": [...]}')
    return JsonRows(document, batch_id)


def rows_table(rows: Sequence[Any], columns: Sequence[Column]) -> pa.Table:
    """A table from row objects; each value is checked when the table is conformed."""
    known = {c.name for c in columns}
    seen: dict[str, None] = {}
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RecordsError(f"row {index} is a {type(row).__name__}, not an object", row=index)
        for key in row:
            if key not in known:
                raise RecordsError(
                    f"row {index} has unknown column {key!r}", column=str(key), row=index
                )
            seen.setdefault(key)
    arrays = {}
    for name in seen:
        values = [row.get(name) for row in rows]
        arrays[name] = _python_array(values, name)
    return pa.table(arrays) if arrays else pa.table({}).slice(0, 0)


def _python_array(values: list[Any], name: str) -> pa.Array:
    # Keep the values' own types; a column mixing numbers and text becomes text, and the
    # cast in conform() names the first row that does not convert.
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else _text(v) for v in values], type=pa.string())


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def read_csv(body: bytes, columns: Sequence[Column]) -> pa.Table:
    """CSV with a header row; the fast path reads each known column in its own type."""
    types = {c.name: ARROW_TYPES[c.dtype] for c in columns}
    parse = pacsv.ParseOptions(newlines_in_values=False)
    try:
        return pacsv.read_csv(
            io.BytesIO(body),
            parse_options=parse,
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                null_values=CSV_NULLS,
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid:
        pass
    # Some value did not convert: read everything as text so conform() can say which.
    try:
        header = pacsv.read_csv(
            io.BytesIO(body),
            parse_options=parse,
            read_options=pacsv.ReadOptions(block_size=1 << 16),
        ).column_names
    except pa.ArrowInvalid as exc:
        raise RecordsError(f"the body is not valid CSV: {_arrow_message(exc)}") from None
    as_text = {name: pa.string() for name in header}
    try:
        return pacsv.read_csv(
            io.BytesIO(body),
            parse_options=parse,
            convert_options=pacsv.ConvertOptions(
                column_types=as_text, null_values=CSV_NULLS, strings_can_be_null=True
            ),
        )
    except pa.ArrowInvalid as exc:  # pragma: no cover - text columns always convert
        raise RecordsError(f"the body is not valid CSV: {_arrow_message(exc)}") from None


def read_arrow(body: bytes) -> pa.Table:
    try:
        return pa.ipc.open_stream(pa.py_buffer(body)).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise RecordsError(f"the body is not an Arrow IPC stream: {_arrow_message(exc)}") from None


def read_parquet(body: bytes) -> pa.Table:
    try:
        return pq.read_table(pa.BufferReader(body))
    except (pa.ArrowInvalid, OSError) as exc:
        raise RecordsError(f"the body is not a Parquet file: {_arrow_message(exc)}") from None


def _arrow_message(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def conform(table: pa.Table, columns: Sequence[Column]) -> pa.Table:
    """``table`` in the schema's column order and types, defaults filled; RecordsError
    naming the column (and the first bad row) otherwise. Extra columns are refused."""
    known = {c.name for c in columns}
    names = table.column_names  # a new list on every access: read it once
    for name in names:
        if name not in known:
            raise RecordsError(f"unknown column {name!r}: not in the feed's schema", column=name)
    present = set(names)
    if len(present) != len(names):
        repeated = next(n for n in names if names.count(n) > 1)
        raise RecordsError(f"column {repeated!r} appears twice", column=repeated)
    rows = table.num_rows
    out: list[pa.Array | pa.ChunkedArray] = []
    for column in columns:
        target = ARROW_TYPES[column.dtype]
        if column.name not in present:
            if column.default is not None:
                out.append(_filled(column, target, rows))
            elif column.nullable:
                out.append(pa.nulls(rows, type=target))
            else:
                raise RecordsError(
                    f"missing column {column.name!r} (it has no default)", column=column.name
                )
            continue
        given = table.column(column.name)
        values = _cast(given, target, column.name)
        if not column.allow_non_finite:
            refuse_non_finite(given, values, column.name)
        if values.null_count:
            if column.default is not None:
                values = pc.fill_null(values, pa.scalar(_default(column), type=target))
            elif not column.nullable:
                first = pc.index(pc.is_null(values), True).as_py()
                raise RecordsError(
                    f"row {first}: column {column.name!r} is empty and has no default",
                    column=column.name,
                    row=first,
                )
        out.append(values)
    return pa.table(out, names=[c.name for c in columns])


def _default(column: Column) -> Any:
    value = column.default
    if column.dtype in ("int64", "int32") and isinstance(value, float):
        return int(value)
    if column.dtype == "string":
        return str(value)
    return value


def _filled(column: Column, target: pa.DataType, rows: int) -> pa.Array:
    return pc.fill_null(pa.nulls(rows, type=target), pa.scalar(_default(column), type=target))


def _cast(values: pa.ChunkedArray, target: pa.DataType, name: str) -> pa.ChunkedArray:
    if values.type == target:
        return values
    if pa.types.is_null(values.type):
        return pa.chunked_array([pa.nulls(len(values), type=target)])
    source = values
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        source = pc.utf8_trim_whitespace(values)
        # Empty text is an absent value (a CSV ",,"), as in AntiNex's captures.
        source = pc.if_else(pc.equal(source, ""), pa.scalar(None, type=source.type), source)
    try:
        return pc.cast(source, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    row = _first_failure(source, target)
    value = source[row].as_py() if row is not None else None
    want = "a number" if target != pa.string() else "text"
    if pa.types.is_integer(target):
        want = "an integer"
    elif pa.types.is_boolean(target):
        want = "true or false"
    where = f"row {row}: " if row is not None else ""
    raise RecordsError(
        f"{where}column {name!r} must be {want} ({target}), got {value!r}", column=name, row=row
    )


def refuse_non_finite(given: pa.ChunkedArray, values: pa.ChunkedArray, name: str) -> None:
    """RecordsError naming the first row whose value is NaN or infinite, as sent
    (``given``, when it holds floats) or as cast (``values``: a text "inf", or a float64
    beyond float32's range); nulls are not the question here."""
    for array in (given,) if values is given else (given, values):
        if not pa.types.is_floating(array.type):
            continue
        bad = pc.invert(pc.fill_null(pc.is_finite(array), True))
        if not pc.any(bad).as_py():
            continue
        row = pc.index(bad, True).as_py()
        sent = given[row].as_py()
        why = "" if array is given else f" (it becomes {values[row].as_py()} as {values.type})"
        raise RecordsError(
            f"row {row}: column {name!r} must be a finite number, got {sent!r}{why}; "
            "NaN and infinities are refused unless the column sets allowNonFinite: true",
            column=name,
            row=row,
        )


def _first_failure(values: pa.ChunkedArray, target: pa.DataType) -> int | None:
    """The index of the first value that does not cast: a bisection of vectorised casts."""
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    low, high = 0, len(array)
    if _casts(array, target):
        return None
    while high - low > 1:
        middle = (low + high) // 2
        if _casts(array.slice(low, middle - low), target):
            low = middle
        else:
            high = middle
    return low


def _casts(array: pa.Array, target: pa.DataType) -> bool:
    try:
        pc.cast(array, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return False
    return True
