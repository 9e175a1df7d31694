"""The API double's container logs and list chunking behave as the kubelet and API server."""

from __future__ import annotations

import threading

import pytest

from sapwood.testing.kube_errors import ApiError
from sapwood.testing.kube_logs import LogBook, LogQuery, PodLog, rfc3339_nano
from sapwood.testing.kube_paging import paginate

KEY = ("ns", "pod")


def test_stamps_are_printed_as_go_prints_rfc3339_nano() -> None:
    assert rfc3339_nano(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"
    assert rfc3339_nano(1_700_000_000_120_000_000) == "2023-11-14T22:13:20.12Z"


def test_lines_are_stamped_where_they_begin() -> None:
    log = PodLog()
    log.write(b"one\ntw", 1_000_000_000)
    log.write(b"o\nthree\n", 2_000_000_000)
    assert log.render(0, len(log.data), timestamps=True) == (
        b"1970-01-01T00:00:01Z one\n1970-01-01T00:00:01Z two\n1970-01-01T00:00:02Z three\n"
    )
    assert log.first_line(since_ns=2_000_000_000, tail_lines=None) == 2
    assert log.first_line(since_ns=None, tail_lines=1) == 2


def test_reads_honour_tail_and_limit_and_collected_containers_go() -> None:
    book = LogBook(threading.RLock())
    book.write(KEY, b"a\nb\nc\n")
    assert book.read(KEY, LogQuery(tail_lines=2)) == b"b\nc\n"
    assert book.read(KEY, LogQuery(limit_bytes=3)) == b"a\nb"
    book.collect(KEY)
    assert KEY in book.collected
    assert book.read(KEY, LogQuery()) == b""


def _objs(*names: str) -> list[dict[str, object]]:
    return [{"metadata": {"name": n}} for n in names]


def test_lists_come_in_pages_and_an_expired_token_is_gone() -> None:
    first = paginate(_objs("c", "a", "b"), version=7, limit="2", token="", compacted_at=0)
    assert [o["metadata"]["name"] for o in first.items] == ["a", "b"]  # type: ignore[index]
    assert first.remaining == 1
    rest = paginate(_objs("a", "b", "c"), version=9, limit="2", token=first.token, compacted_at=0)
    assert [o["metadata"]["name"] for o in rest.items] == ["c"]  # type: ignore[index]
    assert (rest.token, rest.version) == ("", 7)
    with pytest.raises(ApiError) as gone:
        paginate(_objs("a"), version=9, limit="2", token=first.token, compacted_at=8)
    assert gone.value.code == 410
    assert "too old to display a consistent list result" in gone.value.message
