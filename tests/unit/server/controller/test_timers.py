"""The controller's timer queue: when each object next needs a look though nothing changed."""

from __future__ import annotations

from sapwood.server.controller.timers import TimerQueue


def test_an_empty_queue_has_nothing_due() -> None:
    timers = TimerQueue()
    assert len(timers) == 0
    assert timers.next_due() is None
    assert timers.pop_due(1e9) == set()


def test_only_what_is_due_pops_and_it_pops_once() -> None:
    timers = TimerQueue()
    timers.schedule("a", 10.0)
    timers.schedule("b", 20.0)
    timers.schedule("c", 30.0)

    assert timers.pop_due(5.0) == set()
    assert timers.pop_due(20.0) == {"a", "b"}  # due exactly now counts
    assert timers.pop_due(25.0) == set()  # popped ones do not come back
    assert len(timers) == 1
    assert timers.next_due() == 30.0


def test_the_earliest_time_asked_for_wins() -> None:
    timers = TimerQueue()
    timers.schedule("a", 10.0)
    timers.schedule("a", 50.0)  # later: the earlier look still stands
    assert timers.next_due() == 10.0
    assert len(timers) == 1

    timers.schedule("a", 5.0)  # sooner: moves it forward
    assert timers.next_due() == 5.0
    assert timers.pop_due(5.0) == {"a"}
    # The superseded entry at 10 s does not bring "a" back.
    assert timers.pop_due(100.0) == set()
    assert timers.next_due() is None
    assert len(timers) == 0


def test_a_cancelled_uid_never_comes_due() -> None:
    timers = TimerQueue()
    timers.schedule("a", 10.0)
    timers.schedule("b", 20.0)
    timers.cancel("a")
    timers.cancel("unknown")  # cancelling what is not there is harmless

    assert len(timers) == 1
    assert timers.next_due() == 20.0  # skips the cancelled entry at 10 s
    assert timers.pop_due(100.0) == {"b"}


def test_next_due_skips_superseded_and_cancelled_entries() -> None:
    timers = TimerQueue()
    timers.schedule("a", 10.0)
    timers.schedule("a", 3.0)  # supersedes the 10 s entry
    timers.schedule("b", 1.0)
    timers.cancel("b")
    assert timers.next_due() == 3.0
    assert timers.pop_due(3.0) == {"a"}
    timers.schedule("c", 12.0)
    # The stale "a" at 10 s is still in the heap; it is not what comes next.
    assert timers.next_due() == 12.0


def test_a_uid_can_be_scheduled_again_after_it_popped_or_was_cancelled() -> None:
    timers = TimerQueue()
    timers.schedule("a", 10.0)
    assert timers.pop_due(10.0) == {"a"}
    timers.schedule("a", 40.0)  # later than its old entry: a fresh timer, not ignored
    assert timers.next_due() == 40.0

    timers.cancel("a")
    timers.schedule("a", 60.0)
    assert timers.pop_due(50.0) == set()
    assert timers.pop_due(60.0) == {"a"}
