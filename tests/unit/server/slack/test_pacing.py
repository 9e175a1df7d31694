"""Pacing of message updates: one a second per channel, the newest state only, oldest
change first, and Slack's Retry-After honoured."""

from __future__ import annotations

import itertools
import math

import pytest

from sapwood.server.slack.pacing import (
    DEFAULT_RETRY_AFTER_S,
    MAX_RETRY_AFTER_S,
    Pacer,
    Waiting,
    coalesce,
    retry_after_s,
)


def keys(items: list[Waiting]) -> list[object]:
    return [item.key for item in items]


def test_nothing_waiting_nothing_due() -> None:
    pacer = Pacer()
    assert pacer.due([], now=10.0) == []
    assert pacer.next_at([], now=10.0) is None


def test_a_channel_never_written_is_open_at_once() -> None:
    pacer = Pacer()
    waiting = [Waiting("m1", "C1", since=5.0)]
    assert keys(pacer.due(waiting, now=5.0)) == ["m1"]
    assert pacer.next_at(waiting, now=5.0) == 5.0


def test_one_update_per_second_per_channel() -> None:
    pacer = Pacer()
    waiting = [Waiting("m1", "C1", since=0.0)]
    pacer.sent("C1", now=10.0)

    assert pacer.due(waiting, now=10.0) == []
    assert pacer.due(waiting, now=10.999) == []
    assert pacer.next_at(waiting, now=10.2) == pytest.approx(11.0)
    assert keys(pacer.due(waiting, now=11.0)) == ["m1"]


def test_channels_are_paced_apart() -> None:
    pacer = Pacer()
    pacer.sent("C1", now=10.0)
    waiting = [Waiting("m1", "C1", since=1.0), Waiting("m2", "C2", since=2.0)]

    assert keys(pacer.due(waiting, now=10.5)) == ["m2"]


def test_at_most_one_message_per_channel_at_a_time_oldest_change_first() -> None:
    pacer = Pacer()
    waiting = [
        Waiting("new", "C1", since=3.0),
        Waiting("old", "C1", since=1.0),
        Waiting("mid", "C1", since=2.0),
    ]
    sent: list[object] = []
    now = 3.0
    while waiting:
        due = pacer.due(waiting, now=now)
        assert len(due) <= 1
        for item in due:
            pacer.sent(item.channel, now=now)
            sent.append(item.key)
        waiting = [w for w in waiting if w not in due]
        now += 0.25

    assert sent == ["old", "mid", "new"]


def test_messages_waiting_in_one_channel_go_one_per_second() -> None:
    pacer = Pacer()
    waiting = [Waiting(n, "C1", since=float(n)) for n in range(5)]
    times: list[float] = []
    now = 10.0
    while waiting:
        for item in pacer.due(waiting, now=now):
            pacer.sent(item.channel, now=now)
            times.append(now)
            waiting.remove(item)
        now += 0.1

    assert len(times) == 5
    assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(times))


def test_several_channels_each_get_one_update_in_the_same_round() -> None:
    pacer = Pacer()
    waiting = [
        Waiting("a1", "A", since=2.0),
        Waiting("b1", "B", since=1.0),
        Waiting("a2", "A", since=3.0),
    ]
    # oldest change first across channels too
    assert keys(pacer.due(waiting, now=5.0)) == ["b1", "a1"]


def test_changes_of_one_message_coalesce_into_one_update_since_the_first() -> None:
    pacer = Pacer()
    waiting = [
        Waiting("m1", "C1", since=4.0),
        Waiting("m2", "C1", since=2.0),
        Waiting("m1", "C1", since=1.0),  # m1 changed earlier too: it has waited longest
    ]
    due = pacer.due(waiting, now=5.0)

    assert keys(due) == ["m1"]
    assert due[0].since == 1.0


def test_coalesce_keeps_one_per_key_with_the_earliest_since_and_latest_hold() -> None:
    merged = coalesce(
        [
            Waiting("m1", "C1", since=3.0, not_before=1.0),
            Waiting("m2", "C2", since=2.0),
            Waiting("m1", "C1", since=1.0, not_before=7.0),
        ]
    )
    assert merged == [
        Waiting("m1", "C1", since=1.0, not_before=7.0),
        Waiting("m2", "C2", since=2.0),
    ]


def test_equal_waits_keep_their_order_of_arrival() -> None:
    pacer = Pacer()
    waiting = [Waiting("first", "C1", since=1.0), Waiting("second", "C1", since=1.0)]
    assert keys(pacer.due(waiting, now=1.0)) == ["first"]


def test_retry_after_blocks_the_channel_until_it_runs_out() -> None:
    pacer = Pacer()
    waiting = [Waiting("m1", "C1", since=0.0), Waiting("m2", "C2", since=0.0)]
    pacer.sent("C1", now=10.0)
    pacer.ratelimited("C1", now=10.0, retry_after_s=30.0)

    assert keys(pacer.due(waiting, now=11.0)) == ["m2"]  # the pace alone would allow C1
    assert keys(pacer.due(waiting, now=39.9)) == ["m2"]
    assert pacer.open_at("C1") == 40.0
    assert keys(pacer.due(waiting, now=40.0)) == ["m1", "m2"]


def test_a_shorter_retry_after_does_not_shorten_a_longer_one() -> None:
    pacer = Pacer()
    pacer.ratelimited("C1", now=0.0, retry_after_s=30.0)
    pacer.ratelimited("C1", now=1.0, retry_after_s=2.0)
    assert pacer.open_at("C1") == 30.0


def test_a_retry_after_shorter_than_the_pace_leaves_the_pace() -> None:
    pacer = Pacer()
    pacer.sent("C1", now=10.0)
    pacer.ratelimited("C1", now=10.0, retry_after_s=0.0)
    assert pacer.open_at("C1") == 11.0


def test_a_held_message_lets_the_next_in_its_channel_go() -> None:
    pacer = Pacer()
    waiting = [
        Waiting("failing", "C1", since=1.0, not_before=20.0),
        Waiting("other", "C1", since=2.0),
    ]
    assert keys(pacer.due(waiting, now=5.0)) == ["other"]
    assert pacer.next_at([waiting[0]], now=5.0) == 20.0
    assert keys(pacer.due(waiting, now=20.0)) == ["failing"]


def test_next_at_is_the_soonest_any_waiting_message_may_go() -> None:
    pacer = Pacer()
    pacer.sent("C1", now=10.0)
    pacer.ratelimited("C2", now=10.0, retry_after_s=5.0)
    waiting = [Waiting("m1", "C1", since=0.0), Waiting("m2", "C2", since=0.0)]

    assert pacer.next_at(waiting, now=10.0) == 11.0
    assert pacer.next_at([waiting[1]], now=10.0) == 15.0
    assert pacer.next_at(waiting, now=20.0) == 20.0  # already open: now


def test_forget_drops_channels_that_restrain_nothing_and_keeps_the_rest() -> None:
    pacer = Pacer()
    pacer.sent("old", now=0.0)
    pacer.sent("recent", now=9.5)
    pacer.ratelimited("blocked", now=0.0, retry_after_s=60.0)
    pacer.forget(now=10.0)

    assert pacer.open_at("old") == 0.0
    assert pacer.open_at("recent") == 10.5
    assert pacer.open_at("blocked") == 60.0
    pacer.forget(now=60.0)
    assert pacer.open_at("blocked") == 0.0


def test_sent_out_of_order_keeps_the_latest_write() -> None:
    pacer = Pacer()
    pacer.sent("C1", now=10.0)
    pacer.sent("C1", now=9.0)
    assert pacer.open_at("C1") == 11.0


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "30"}, 30.0),
        ({"retry-after": "2"}, 2.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": "soon"}, DEFAULT_RETRY_AFTER_S),
        ({"Retry-After": "-4"}, DEFAULT_RETRY_AFTER_S),
        ({"Retry-After": "nan"}, DEFAULT_RETRY_AFTER_S),
        ({"Retry-After": "1e9"}, MAX_RETRY_AFTER_S),
        ({"Content-Type": "application/json"}, DEFAULT_RETRY_AFTER_S),
        ({}, DEFAULT_RETRY_AFTER_S),
        (None, DEFAULT_RETRY_AFTER_S),
    ],
)
def test_retry_after_seconds(headers: dict[str, str] | None, seconds: float) -> None:
    result = retry_after_s(headers)
    assert math.isfinite(result)
    assert result == seconds
