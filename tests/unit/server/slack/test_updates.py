"""What a tracked message shows (its digest) and what Slack's answers to an update mean."""

from __future__ import annotations

import itertools

import pytest

from sapwood.server.slack.message import Attachment, Message, context, section
from sapwood.server.slack.updates import MAX_HOLD_S, Outcome, digest, hold_s, outcome_of


def card(state: str) -> Message:
    return Message(text=f"research/notebook is {state}", blocks=[section(state), context("x")])


def test_the_same_message_has_the_same_digest() -> None:
    assert digest(card("Running")) == digest(card("Running"))
    assert len(digest(card("Running"))) == 64  # fits SlackMessageRow.shown


def test_a_change_of_state_changes_the_digest() -> None:
    assert digest(card("Running")) != digest(card("Paused"))


def test_text_and_blocks_both_count() -> None:
    blocks = [section("Running")]
    assert digest(Message("a", blocks)) != digest(Message("b", blocks))
    assert digest(Message("a", blocks)) != digest(Message("a", [section("Paused")]))
    assert digest(Message("a", [])) != digest(Message("a", blocks))


def test_key_order_inside_blocks_does_not_count() -> None:
    one = {"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}
    other = {"text": {"text": "hi", "type": "mrkdwn"}, "type": "section"}
    assert digest(Message("t", [one])) == digest(Message("t", [other]))


def test_an_attached_file_is_not_part_of_what_an_update_shows() -> None:
    plain = card("Running")
    with_file = Message(plain.text, plain.blocks, Attachment("log.txt", b"...", "log"))
    assert digest(plain) == digest(with_file)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        ("channel_not_found", Outcome.GONE),
        ("message_not_found", Outcome.GONE),
        ("is_archived", Outcome.GONE),
        ("cant_update_message", Outcome.GONE),
        ("edit_window_closed", Outcome.GONE),
        ("ratelimited", Outcome.RATELIMITED),
        ("invalid_auth", Outcome.FAILED),  # a token problem: every message would fail; retry
        ("internal_error", Outcome.FAILED),
        ("", Outcome.FAILED),
    ],
)
def test_what_slack_errors_mean(error: str, outcome: Outcome) -> None:
    assert outcome_of(error) is outcome


def test_failed_updates_wait_longer_each_time_up_to_a_cap() -> None:
    waits = [hold_s(n) for n in range(1, 20)]
    assert waits[0] == 1.0
    assert all(b >= a for a, b in itertools.pairwise(waits))
    assert waits[3] > waits[0]
    assert max(waits) == MAX_HOLD_S
