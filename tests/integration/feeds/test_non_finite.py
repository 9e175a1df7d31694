"""NaN and infinities: refused on the way in (unless a column opts in), and never a 500,
a broken export or a class on the way out."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sapwood.client import SapwoodError
from sapwood.schemas.arrow import from_ipc, to_ipc
from sapwood.schemas.feeds import ARROW_STREAM, CSV, JSON_LINES, PARQUET
from sapwood.server.settings import Settings
from sapwood.testing.feeds import antinex_rows, feed, threshold_scores
from tests.integration.feeds.stored import INF, NAN, raw_results, store_results
from tests.support import Api

pytestmark = pytest.mark.anyio

SCHEMA = [
    {"name": "x", "dtype": "float64"},
    {"name": "y", "dtype": "float32", "default": 0},
    {"name": "tag", "dtype": "string", "nullable": True},
]


def _json(rows: list[dict[str, object]]) -> bytes:
    return json.dumps(rows).encode()  # writes NaN, Infinity and -Infinity as they are


def _ndjson(rows: list[dict[str, object]]) -> bytes:
    return b"\n".join(json.dumps(r).encode() for r in rows)


def _csv(rows: list[dict[str, object]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["x", "y"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)  # Python writes nan, inf and -inf
    return out.getvalue().encode()


def _arrow(rows: list[dict[str, object]]) -> bytes:
    return to_ipc(pa.Table.from_pylist(rows))


def _parquet(rows: list[dict[str, object]]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    return sink.getvalue()


BODIES: dict[str, tuple[str, Callable[[list[dict[str, object]]], bytes]]] = {
    "json": ("application/json", _json),
    "json-lines": (JSON_LINES, _ndjson),
    "csv": (CSV, _csv),
    "arrow": (ARROW_STREAM, _arrow),
    "parquet": (PARQUET, _parquet),
}


async def _feed(api: Api, schema: list[dict[str, object]]) -> None:
    await api.admin.apply([feed("f", team="default", schema=schema, model="m@production")])


@pytest.mark.parametrize("body", sorted(BODIES))
@pytest.mark.parametrize(
    ("bad", "column"), [(NAN, "x"), (INF, "x"), (-INF, "y")], ids=["nan", "inf", "-inf"]
)
async def test_a_non_finite_value_is_refused_naming_its_row_and_column(
    api: Api, body: str, bad: float, column: str
) -> None:
    await _feed(api, SCHEMA)
    rows: list[dict[str, object]] = [{"x": float(i), "y": 1.0} for i in range(5)]
    rows[3][column] = bad
    content_type, encode = BODIES[body]
    with pytest.raises(SapwoodError) as caught:
        await api.admin.push_records("f", encode(rows), content_type=content_type)
    error = caught.value
    assert error.status == 422
    assert f"(row 3, column {column})" in error.message
    assert "must be a finite number" in error.message
    assert "allowNonFinite" in error.message
    assert [d.path for d in error.details] == [f"rows[3].{column}"]
    assert (await api.admin.feed_figures("f")).records == 0  # nothing was stored
    ok = await api.admin.push_records("f", [{"x": 1.0}], fill_missing=True)  # y: its default
    assert ok.first_sequence == 1


async def test_text_spellings_of_nan_and_infinity_are_refused_too(api: Api) -> None:
    await _feed(api, SCHEMA)
    for spelling in ("nan", "NaN", "inf", "-Infinity"):
        with pytest.raises(SapwoodError, match=r"\(row 1, column x\).*finite"):
            await api.admin.push_records("f", f"x\n1\n{spelling}\n".encode(), content_type=CSV)
        with pytest.raises(SapwoodError, match=r"\(row 0, column x\).*finite"):
            await api.admin.push_records("f", [{"x": spelling}])
    # a JSON NaN is no text: it is refused in a string column as well
    with pytest.raises(SapwoodError, match=r"\(row 0, column tag\)"):
        await api.admin.push_records("f", _json([{"x": 1.0, "tag": NAN}]))
    # a float64 beyond float32's range would be stored as infinity
    with pytest.raises(SapwoodError, match=r"\(row 0, column y\).*1e\+300"):
        await api.admin.push_records("f", [{"x": 1.0, "y": 1e300}])
    assert (await api.admin.feed_figures("f")).records == 0


@pytest.mark.parametrize("body", sorted(BODIES))
async def test_a_column_that_opts_in_keeps_nan_and_infinities(api: Api, body: str) -> None:
    schema = [{"name": "x", "dtype": "float64", "allowNonFinite": True}, *SCHEMA[1:]]
    await _feed(api, schema)
    rows: list[dict[str, object]] = [{"x": v, "y": 1.0} for v in (1.0, NAN, INF, -INF)]
    content_type, encode = BODIES[body]
    response = await api.admin.push_records("f", encode(rows), content_type=content_type)
    assert response.accepted == 4
    batch = await api.admin.lease_batch("f")
    assert batch is not None
    stored = from_ipc(batch.records).column("x").to_pylist()
    assert stored[0] == 1.0
    assert stored[1] != stored[1]  # NaN
    assert stored[2:] == [INF, -INF]
    # the opt-in is the column's alone
    with pytest.raises(SapwoodError, match=r"\(row 0, column y\)"):
        await api.admin.push_records("f", [{"x": NAN, "y": NAN}])


async def test_allow_non_finite_is_for_float_columns(api: Api) -> None:
    schema = [{"name": "n", "dtype": "int64", "allowNonFinite": True}]
    with pytest.raises(SapwoodError) as caught:
        await _feed(api, schema)
    assert caught.value.status == 422
    assert "allowNonFinite needs a float64 or float32 column" in str(caught.value)


async def test_stored_nan_results_read_as_unavailable_not_as_a_class(
    api: Api, settings: Settings
) -> None:
    await api.admin.apply([feed("ids", team="default", labelColumn="label_value")])
    await api.admin.push_records("ids", antinex_rows(4))
    store_results(settings.database_url, "ids", raw_results([0.9, NAN, INF, 0.1]))

    page = await api.admin.feed_results("ids")
    assert [(r.sequence, r.prediction, r.score) for r in page.items] == [
        (1, 1, pytest.approx(0.9)),
        (2, None, None),
        (3, None, None),
        (4, 0, pytest.approx(0.1)),
    ]
    assert page.items[1].probabilities is None
    assert page.items[1].label is None  # a NaN label is no label
    # a NaN score is not class 0
    negatives = await api.admin.feed_results("ids", prediction=0)
    assert [r.sequence for r in negatives.items] == [4]
    async with api.http(api.admin_token) as http:
        raw = await http.get("/api/v1/feeds/ids/results?team=default")
    assert raw.status_code == 200
    assert raw.json()["items"][1]["score"] is None

    text = (await api.admin.export_feed_results("ids", format="csv")).decode()
    exported = list(csv.DictReader(io.StringIO(text)))
    assert [(r["prediction"], r["score"]) for r in exported[1:3]] == [("", ""), ("", "")]
    table = pq.read_table(io.BytesIO(await api.admin.export_feed_results("ids", format="parquet")))
    assert table.column("score").to_pylist()[1:3] == [None, None]
    assert table.column("prediction").to_pylist()[1:3] == [None, None]


async def test_an_answer_with_a_nan_score_is_stored_as_unavailable(api: Api) -> None:
    await api.admin.apply([feed("ids", team="default", labelColumn="label_value")])
    await api.admin.push_records("ids", antinex_rows(3))  # labels: 1, 0, 0
    batch = await api.admin.lease_batch("ids")
    assert batch is not None
    answers = threshold_scores(from_ipc(batch.records))  # predictions 1, 0, 0
    # what a worker before the fix sent for a NaN output: class 0, score NaN
    answers = answers.set_column(1, "score", pa.array([1.0, NAN, 0.0]))
    await api.admin.ack_batch("ids", batch.lease_id, to_ipc(answers), model_version="1")

    page = await api.admin.feed_results("ids")
    assert [(r.prediction, r.score) for r in page.items] == [(1, 1.0), (None, None), (0, 0.0)]
    figures = await api.admin.feed_figures("ids")
    assert figures.accuracy == 1.0  # the unscored record is not counted a true negative


async def test_a_null_prediction_with_a_finite_score_is_refused(api: Api) -> None:
    await api.admin.apply([feed("ids", team="default")])
    await api.admin.push_records("ids", antinex_rows(2))
    batch = await api.admin.lease_batch("ids")
    assert batch is not None
    answers = pa.table({"prediction": pa.array([1, None], pa.int64()), "score": [0.9, 0.4]})
    with pytest.raises(SapwoodError, match=r"row 1: prediction is empty but its score is 0\.4"):
        await api.admin.ack_batch("ids", batch.lease_id, to_ipc(answers), model_version="1")
