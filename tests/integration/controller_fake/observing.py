"""The app's observers in the fake-runtime server: the utilisation monitor and the notifier,
driven as their real loops are, on the fake clock."""

from __future__ import annotations

from sapwood.server.loop import Loop
from sapwood.server.observe.notifier import Notifier
from sapwood.server.observe.utilisation import UtilisationMonitor
from tests.integration.controller_fake.conftest import Harness


def monitor_of(sw: Harness) -> UtilisationMonitor:
    monitor = sw.api.transport.app.state.sapwood.usage  # type: ignore[attr-defined]
    assert isinstance(monitor, UtilisationMonitor)
    return monitor


def notifier_of(sw: Harness) -> Notifier:
    notifier = sw.api.transport.app.state.sapwood.notifier  # type: ignore[attr-defined]
    assert isinstance(notifier, Notifier)
    return notifier


async def round_of(loop: Loop) -> None:
    """One round of ``loop`` that begins now. A round the clock just made due (the test
    advanced it past the loop's wait) is this same round, not another."""
    target = loop.begun + 1
    loop.wake()
    await loop.wait_ticks(target)


async def sample(sw: Harness) -> None:
    """The monitor's round: a sample of what runs now (and a sweep, when one is due)."""
    await round_of(monitor_of(sw))


async def notify(sw: Harness) -> None:
    """The notifier's round: the events past its cursor, and under-use when it is due."""
    await round_of(notifier_of(sw))


async def notify_only_when_asked(sw: Harness) -> None:
    """Parks the notifier until ``notify``, so the rounds the fake clock would make due do
    not race the samples a test takes (under-use is judged over those)."""
    notifier = notifier_of(sw)
    notifier.interval_s = 10**9
    await round_of(notifier)
