"""CPU, memory, GPU and duration quantities: parsing, formatting and the messages users see."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sapwood.specs.quantity import (
    MAX_CPU_MILLIS,
    MAX_DURATION,
    MAX_MEMORY_BYTES,
    cpu_pattern,
    duration_pattern,
    format_cpu,
    format_duration,
    format_memory,
    memory_pattern,
    parse_cpu,
    parse_duration,
    parse_gpus,
    parse_memory,
)

Ki, Mi, Gi, Ti, Pi = (1024**n for n in range(1, 6))
MAX_DURATION_MS = int(MAX_DURATION.total_seconds() * 1000)

PROPERTY = settings(max_examples=150, deadline=None)


# --- round trips ------------------------------------------------------------------------


@PROPERTY
@given(st.integers(min_value=0, max_value=MAX_CPU_MILLIS))
def test_cpu_format_then_parse_is_identity(millis: int) -> None:
    assert parse_cpu(format_cpu(millis)) == millis


@PROPERTY
@given(st.integers(min_value=0, max_value=MAX_MEMORY_BYTES))
def test_memory_format_then_parse_is_identity(size: int) -> None:
    assert parse_memory(format_memory(size)) == size


@PROPERTY
@given(st.integers(min_value=0, max_value=MAX_MEMORY_BYTES // Mi))
def test_memory_in_whole_mebibytes_formats_with_a_binary_unit(mebibytes: int) -> None:
    text = format_memory(mebibytes * Mi)
    assert parse_memory(text) == mebibytes * Mi
    if mebibytes:
        assert re.fullmatch(r"\d+(Mi|Gi|Ti)", text), text


@PROPERTY
@given(st.integers(min_value=0, max_value=MAX_DURATION_MS))
def test_duration_format_then_parse_is_identity(ms: int) -> None:
    value = timedelta(milliseconds=ms)
    assert parse_duration(format_duration(value)) == value


@PROPERTY
@given(st.integers(min_value=0, max_value=4096), st.integers(min_value=0, max_value=999))
def test_cpu_decimal_cores_equal_millicores(cores: int, millis: int) -> None:
    decimal = f"{cores}.{millis:03d}"
    expected = cores * 1000 + millis
    if expected > MAX_CPU_MILLIS:
        with pytest.raises(ValueError, match="out of range"):
            parse_cpu(decimal)
    else:
        assert parse_cpu(decimal) == parse_cpu(f"{expected}m") == expected


# --- CPU --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "millis"),
    [
        ("0.5", 500),
        ("500m", 500),
        (0.5, 500),
        (".5", 500),
        ("2", 2000),
        (2, 2000),
        ("1.5", 1500),
        ("1m", 1),
        (" 250m ", 250),
        ("1e3m", 1000),
        ("0", 0),
        ("4096", MAX_CPU_MILLIS),
    ],
)
def test_parse_cpu_accepts_cores_and_millicores(value: object, millis: int) -> None:
    assert parse_cpu(value) == millis


def test_half_a_cpu_is_500_millicores_however_written() -> None:
    assert parse_cpu("0.5") == parse_cpu("500m") == parse_cpu(0.5) == 500


@pytest.mark.parametrize(
    ("millis", "text"), [(0, "0"), (1, "1m"), (500, "500m"), (1500, "1500m"), (2000, "2")]
)
def test_format_cpu_canonical_spelling(millis: int, text: str) -> None:
    assert format_cpu(millis) == text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", r"out of range: must be between 0 and 4096 CPUs"),
        (-1, r"out of range: must be between 0 and 4096 CPUs"),
        ("4097", r"out of range"),
        ("4096001m", r"out of range"),
        ("abc", r"'abc' is not a CPU count such as 2, 1.5 or 500m"),
        ("", r"is not a CPU count"),
        ("1.5m", r"'1.5m' is finer than 1m"),
        ("0.0001", r"finer than 1m"),
        ("5x", r"unknown CPU unit 'x' in '5x': use a plain number or 'm'"),
        ("2Gi", r"unknown CPU unit 'Gi'"),
        (True, r"expected a CPU count .* got bool"),
        (False, r"got bool"),
        ([1], r"expected a CPU count .* got list"),
        (None, r"got NoneType"),
        ({"cpu": 1}, r"got dict"),
    ],
)
def test_parse_cpu_rejects_with_a_message_naming_the_problem(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_cpu(value)


# --- memory -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("1Ki", Ki),
        ("512Mi", 512 * Mi),
        ("4Gi", 4 * Gi),
        ("2Ti", 2 * Ti),
        ("64Ti", 64 * Ti),
        ("1k", 1000),
        ("10M", 10 * 10**6),
        ("10G", 10 * 10**9),
        ("1T", 10**12),
        ("1e3", 1000),
        ("1E3", 1000),
        ("1e3k", 10**6),
        ("1.5Gi", 3 * Gi // 2),
        ("0", 0),
        (1024, 1024),
        ("123", 123),
        (1e3, 1000),
    ],
)
def test_parse_memory_accepts_binary_and_decimal_units(value: object, size: int) -> None:
    assert parse_memory(value) == size


def test_pebibyte_unit_is_known_and_its_fraction_fits_the_range() -> None:
    # "Pi" is a known unit: a small fraction of it is in range, a whole one is not.
    assert parse_memory("0.0625Pi") == 64 * Ti
    with pytest.raises(ValueError, match="out of range"):
        parse_memory("1Pi")


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0"), (1, "1"), (1023, "1023"), (Ki, "1Ki"), (512 * Mi, "512Mi"), (4 * Gi, "4Gi")],
)
def test_format_memory_uses_the_largest_exact_binary_unit(size: int, text: str) -> None:
    assert format_memory(size) == text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", r"memory '-1' is out of range: must be between 0 and 64Ti"),
        ("10Pi", r"memory '10Pi' is out of range: must be between 0 and 64Ti"),
        ("65Ti", r"out of range"),
        ("1E", r"out of range"),
        ("abc", r"'abc' is not a memory size such as 512Mi, 4Gi or 10G"),
        ("Gi", r"is not a memory size"),
        ("0.5", r"'0.5' is not a whole number of bytes"),
        ("5x", r"unknown memory unit 'x' in '5x': use one of Ki, Mi, Gi, Ti, Pi, .*k, M, G, T"),
        ("1.5m", r"unknown memory unit 'm'"),
        ("4gb", r"unknown memory unit 'gb'"),
        (True, r"expected a memory size .* got bool"),
        ([1], r"expected a memory size .* got list"),
        (None, r"got NoneType"),
    ],
)
def test_parse_memory_rejects_with_a_message_naming_the_problem(
    value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        parse_memory(value)


# --- GPUs -------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "count"), [(0, 0), (1, 1), ("8", 8), (1024, 1024)])
def test_parse_gpus_accepts_whole_numbers(value: object, count: int) -> None:
    assert parse_gpus(value) == count


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, r"expected a whole number of GPUs, got float"),
        ("1.5", r"'1.5' is not a whole number of GPUs"),
        ("two", r"not a whole number of GPUs"),
        (-1, r"out of range: must be between 0 and 1024"),
        (1025, r"out of range"),
        (True, r"got bool"),
    ],
)
def test_parse_gpus_rejections(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_gpus(value)


# --- durations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("250ms", timedelta(milliseconds=250)),
        ("1d", timedelta(days=1)),
        ("1m30s", timedelta(seconds=90)),
        ("1.5h", timedelta(minutes=90)),
        ("0s", timedelta(0)),
        ("365d", MAX_DURATION),
        ("45", timedelta(seconds=45)),
        ("1.5", timedelta(milliseconds=1500)),
        (45, timedelta(seconds=45)),
        (0.25, timedelta(milliseconds=250)),
        (timedelta(minutes=3), timedelta(minutes=3)),
    ],
)
def test_parse_duration_accepts_units_and_plain_seconds(value: object, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(milliseconds=250), "250ms"),
        (timedelta(days=1, seconds=1, milliseconds=5), "1d1s5ms"),
    ],
)
def test_format_duration_canonical_spelling(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5 minutes", r"'5 minutes' is not a duration such as 30s, 5m, 2h or 1h30m"),
        ("1h 30m", r"is not a duration"),
        ("-1s", r"'-1s' is not a duration"),
        ("5w", r"is not a duration"),
        ("", r"is not a duration"),
        ("400d", r"duration '400d' must be between 0s and 365d"),
        ("366d", r"must be between 0s and 365d"),
        (-1, r"duration -1 must be between 0s and 365d"),
        (timedelta(seconds=-1), r"must be between 0s and 365d"),
        (True, r"expected a duration .* got bool"),
        (["5m"], r"got list"),
        (None, r"got NoneType"),
    ],
)
def test_parse_duration_rejections(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(value)


def test_parse_duration_keeps_millisecond_grain() -> None:
    assert parse_duration(timedelta(microseconds=1_499)) == timedelta(milliseconds=1)


@pytest.mark.parametrize("value", [float("inf"), 10**20, "99999999999d"])
def test_parse_duration_rejects_overflowing_input_with_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="between 0s and 365d"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("parse", "value"), [(parse_cpu, "1e999999999"), (parse_memory, "1e999999999Ki")]
)
def test_huge_exponent_is_out_of_range_not_a_crash(
    parse: Callable[[object], int], value: str
) -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse(value)


# What the JSON Schema advertises (a pattern) is always accepted, in range.
@settings(max_examples=300, deadline=None)
@given(st.from_regex(cpu_pattern(), fullmatch=True))
def test_every_cpu_the_pattern_advertises_is_accepted(text: str) -> None:
    assert 0 <= parse_cpu(text) <= 4096 * 1000


@settings(max_examples=300, deadline=None)
@given(st.from_regex(memory_pattern(), fullmatch=True))
def test_every_memory_size_the_pattern_advertises_is_accepted(text: str) -> None:
    assert 0 <= parse_memory(text) <= 64 * 1024**4


@pytest.mark.parametrize(
    ("value", "inside"), [("4096", True), ("4097", False), ("4096001m", False)]
)
def test_the_cpu_pattern_stops_at_the_limit(value: str, inside: bool) -> None:
    assert bool(re.fullmatch(cpu_pattern(), value)) == inside


BOUNDS = [
    (timedelta(0), timedelta(days=365)),
    (timedelta(milliseconds=1), timedelta(days=365)),
    (timedelta(minutes=1), timedelta(days=7)),
]


@pytest.mark.parametrize(("low", "high"), BOUNDS)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_every_duration_the_pattern_advertises_is_accepted_in_range(
    low: timedelta, high: timedelta, data: st.DataObject
) -> None:
    text = data.draw(st.from_regex(duration_pattern(low, high), fullmatch=True))
    assert low <= parse_duration(text) <= high, text


@pytest.mark.parametrize(("low", "high"), BOUNDS)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_the_duration_pattern_covers_what_the_server_writes(
    low: timedelta, high: timedelta, data: st.DataObject
) -> None:
    span = (int(low.total_seconds() * 1000), int(high.total_seconds() * 1000))
    millis = data.draw(st.integers(*span))
    text = format_duration(timedelta(milliseconds=millis))
    assert re.fullmatch(duration_pattern(low, high), text), text


@pytest.mark.parametrize(
    ("low", "high", "outside"),
    [
        (timedelta(minutes=1), timedelta(days=7), ["59s", "7d1ms", "8d", "0s"]),
        (timedelta(milliseconds=1), timedelta(days=365), ["0s", "0m", "366d", "365d1s"]),
    ],
)
def test_the_duration_pattern_leaves_out_what_is_refused(
    low: timedelta, high: timedelta, outside: list[str]
) -> None:
    for text in outside:
        assert not re.fullmatch(duration_pattern(low, high), text), text


def test_a_whole_float_is_a_gpu_count() -> None:
    assert parse_gpus(2.0) == 2  # JSON has one number type: 2.0 is the integer 2
