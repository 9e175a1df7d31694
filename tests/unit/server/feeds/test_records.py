"""Records against a schema: types, defaults, nulls, unknown columns, and the first bad row."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sapwood.server.feeds.records import RecordsError, conform, parse_json, read_csv, rows_table
from sapwood.specs.feeds import Column, antinex_v1

COLUMNS = (
    Column(name="x", dtype="float64"),
    Column(name="n", dtype="int64", default=-1),
    Column(name="label", dtype="string", nullable=True),
)


def test_conform_orders_casts_and_fills() -> None:
    table = pa.table({"label": ["a", None], "x": [1, 2]})
    out = conform(table, COLUMNS)
    assert out.column_names == ["x", "n", "label"]
    assert out.schema.field("x").type == pa.float64()
    assert out.column("n").to_pylist() == [-1, -1]
    assert out.column("label").to_pylist() == ["a", None]


@pytest.mark.parametrize(
    ("table", "column", "row", "words"),
    [
        (pa.table({"x": ["1", "2", "three"]}), "x", 2, "must be a number"),
        (pa.table({"x": [1.0, 2.0], "n": [1.0, 2.5]}), "n", 1, "must be an integer"),
        (pa.table({"x": [1.0, None, 3.0]}), "x", 1, "is empty and has no default"),
        (pa.table({"x": ["1", " ", "3"]}), "x", 1, "is empty"),
    ],
)
def test_the_first_bad_row_is_named(table: pa.Table, column: str, row: int, words: str) -> None:
    with pytest.raises(RecordsError) as caught:
        conform(table, COLUMNS)
    assert caught.value.column == column
    assert caught.value.row == row
    assert words in caught.value.message
    assert caught.value.path == f"rows[{row}].{column}"


def test_a_bad_row_deep_in_a_big_table_is_found() -> None:
    values = ["1.5"] * 100_000
    values[76_543] = "nope"
    with pytest.raises(RecordsError) as caught:
        conform(pa.table({"x": values}), COLUMNS)
    assert caught.value.row == 76_543


def test_unknown_and_missing_columns() -> None:
    with pytest.raises(RecordsError, match="unknown column 'y'"):
        conform(pa.table({"x": [1.0], "y": [2.0]}), COLUMNS)
    with pytest.raises(RecordsError, match="missing column 'x'"):
        conform(pa.table({"n": [1]}), COLUMNS)


def test_json_rows_keep_their_index_in_errors() -> None:
    parsed = parse_json(b'{"rows": [{"x": 1}, {"x": 2}, {"x": "bad"}], "batchId": "b-1"}')
    assert parsed.batch_id == "b-1"
    with pytest.raises(RecordsError) as caught:
        conform(rows_table(parsed.rows, COLUMNS), COLUMNS)
    assert caught.value.row == 2
    with pytest.raises(RecordsError, match="row 1 is a list"):
        rows_table([{"x": 1}, [1, 2]], COLUMNS)
    with pytest.raises(RecordsError, match="not valid JSON"):
        parse_json(b"{nope")


def test_csv_fast_path_and_slow_path_agree_on_rows() -> None:
    good = read_csv(b"x,n\n1,2\n3,4\n", COLUMNS)
    assert conform(good, COLUMNS).column("x").to_pylist() == [1.0, 3.0]
    bad = read_csv(b"x,n\n1,2\n3,4\n5,x\n", COLUMNS)
    with pytest.raises(RecordsError) as caught:
        conform(bad, COLUMNS)
    assert (caught.value.row, caught.value.column) == (2, "n")


def test_antinex_rows_from_another_capture_fill_absent_fields_with_minus_one() -> None:
    columns = antinex_v1()
    out = conform(pa.table({"idx": [0.0], "tcp_dport": [80.0]}), columns)
    assert out.num_columns == 69
    assert out.column("udp_dport").to_pylist() == [-1.0]
    assert out.column("label_value").to_pylist() == [None]
