"""Records against a schema: types, defaults, nulls, unknown columns, and the first bad row."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sapwood.server.ingest.records import RecordsError, conform, parse_json, read_csv, rows_table
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


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("table", "column", "row"),
    [
        (pa.table({"x": [1.0, 2.0, NAN]}), "x", 2),
        (pa.table({"x": [INF, 1.0]}), "x", 0),
        (pa.table({"x": [1.0, -INF]}), "x", 1),
        (pa.table({"x": ["1", "Infinity"]}), "x", 1),  # text casts to infinity
        (pa.table({"x": [1.0], "label": [NAN]}), "label", 0),  # not "nan" text
    ],
)
def test_nan_and_infinities_are_refused_naming_row_and_column(
    table: pa.Table, column: str, row: int
) -> None:
    with pytest.raises(RecordsError) as caught:
        conform(table, COLUMNS)
    assert caught.value.path == f"rows[{row}].{column}"
    assert f"row {row}: column {column!r}" in caught.value.message


def test_a_float32_column_refuses_what_would_overflow_to_infinity() -> None:
    columns = (Column(name="f", dtype="float32"),)
    with pytest.raises(RecordsError, match=r"row 1: column 'f' .* 1e\+300 \(it becomes inf"):
        conform(pa.table({"f": [1.0, 1e300]}), columns)


def test_csv_nan_is_read_as_nan_not_as_an_empty_value_that_takes_the_default() -> None:
    columns = (Column(name="x", default=-1.0),)
    for spelling in ("nan", "NaN", "-nan", "inf", "-Infinity"):
        with pytest.raises(RecordsError) as caught:
            conform(read_csv(f"x\n1\n{spelling}\n".encode(), columns), columns)
        assert caught.value.path == "rows[1].x"
    # the other null spellings still mean "empty"
    assert conform(read_csv(b"x\n1\n\nNA\n", columns), columns).column("x").to_pylist() == [
        1.0,
        -1.0,
    ]


def test_a_column_may_opt_in_to_non_finite_values() -> None:
    columns = (Column(name="x", allow_non_finite=True), Column(name="y", dtype="float32"))
    table = pa.table({"x": [NAN, INF, -INF], "y": [1.0, 2.0, 3.0]})
    out = conform(table, columns).column("x").to_pylist()
    assert out[0] != out[0]  # NaN
    assert out[1:] == [INF, -INF]
    csv_out = conform(read_csv(b"x,y\nnan,1\n", columns), columns).column("x").to_pylist()
    assert csv_out[0] != csv_out[0]
    with pytest.raises(RecordsError, match="column 'y'"):
        conform(pa.table({"x": [NAN], "y": [NAN]}), columns)


def test_the_opt_in_is_for_float_columns_and_guards_a_non_finite_default() -> None:
    with pytest.raises(ValueError, match="allowNonFinite needs a float64 or float32 column"):
        Column(name="n", dtype="int64", allow_non_finite=True)
    with pytest.raises(ValueError, match="default nan is not finite"):
        Column(name="x", default=NAN)
    assert Column(name="x", default=NAN, allow_non_finite=True).allow_non_finite
