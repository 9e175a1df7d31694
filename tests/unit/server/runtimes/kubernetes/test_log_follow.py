"""Resuming a followed log: stamped streams in, each byte of output out exactly once."""

from __future__ import annotations

from sapwood.server.runtimes.kubernetes.log_follow import Resume, parse_stamp, since_time

T1 = b"2026-01-02T03:04:05.1Z"
T2 = b"2026-01-02T03:04:05.123456789Z"


def test_stamps_parse_to_nanoseconds() -> None:
    assert parse_stamp(T1) is not None
    assert parse_stamp(T2) == parse_stamp(b"2026-01-02T03:04:05.123456789+00:00")
    assert parse_stamp(T2) - parse_stamp(T1) == 23_456_789  # type: ignore[operator]
    assert parse_stamp(b"2026-01-02T04:04:05+01:00") == parse_stamp(b"2026-01-02T03:04:05Z")
    assert parse_stamp(b"hello") is None
    assert since_time(parse_stamp(T2) or 0) == "2026-01-02T03:04:05Z"


def test_a_new_stream_repeats_nothing_already_delivered() -> None:
    resume = Resume()
    assert resume.feed(T1 + b" one\n" + T1 + b" one again\n" + T2 + b" pa") == (
        b"one\none again\npa"
    )
    assert resume.since() == "2026-01-02T03:04:05Z"
    resume.new_stream()  # from sinceTime: whole seconds, so it starts earlier
    stream = T1 + b" one\n" + T1 + b" one again\n" + T2 + b" partial\n" + T2 + b" next\n"
    assert resume.feed(stream[:30]) == b""
    assert resume.feed(stream[30:]) == b"rtial\nnext\n"


def test_lines_with_the_same_stamp_are_counted() -> None:
    resume = Resume()
    assert resume.feed(T1 + b" a\n" + T1 + b" a\n") == b"a\na\n"
    resume.new_stream()
    assert resume.feed(T1 + b" a\n" + T1 + b" a\n" + T1 + b" a\n") == b"a\n"
