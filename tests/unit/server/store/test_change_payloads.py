"""Change notifications between replicas: uids packed into NOTIFY payloads and read back."""

from __future__ import annotations

import uuid

from sapwood.server.store.changes import notify_payloads, parse_payload

PG_LIMIT = 8000  # bytes PostgreSQL accepts in one NOTIFY payload


def test_nothing_changed_sends_nothing() -> None:
    assert notify_payloads([]) == []


def test_a_few_uids_go_in_one_payload_and_come_back() -> None:
    uids = [str(uuid.uuid4()) for _ in range(3)]
    payloads = notify_payloads(uids)
    assert len(payloads) == 1
    assert parse_payload(payloads[0]) == frozenset(uids)


def test_many_uids_are_split_within_the_limit_and_none_is_lost() -> None:
    uids = [str(uuid.uuid4()) for _ in range(2000)]  # ~74 kB as one string
    payloads = notify_payloads(uids)

    assert len(payloads) > 1
    assert all(len(p.encode()) < PG_LIMIT for p in payloads)
    heard: set[str] = set()
    for payload in payloads:
        part = parse_payload(payload)
        assert not heard & part  # each uid is sent once
        heard |= part
    assert heard == set(uids)


def test_payloads_carry_whole_uids() -> None:
    uids = [f"uid-{n:05d}" for n in range(3000)]
    for payload in notify_payloads(uids):
        assert all(uid.startswith("uid-") and len(uid) == 9 for uid in parse_payload(payload))


def test_parse_ignores_extra_whitespace() -> None:
    assert parse_payload("  a  b\nc ") == frozenset({"a", "b", "c"})
    assert parse_payload("") == frozenset()
