"""How fast the Slack app may change messages, per channel. Pure: no I/O, time is passed in.

Slack takes about one message write per second per channel (``chat.update`` included) and
answers ``ratelimited`` with a ``Retry-After`` when pushed harder. The updater keeps, for
each message whose shown state fell behind, one ``Waiting`` (a message waits once however
often its object changed: the newest state is rendered when it goes, so changes coalesce),
and asks ``Pacer.due`` which may go now: per channel at most one, the one waiting
longest, once a second has passed since that channel's last update and any Retry-After
has run out.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

GAP_S = 1.0  # Slack's limit: one message write per second per channel
DEFAULT_RETRY_AFTER_S = 5.0  # a `ratelimited` answer without a readable Retry-After
MAX_RETRY_AFTER_S = 3600.0  # a larger Retry-After is taken as this: never wait forever

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Waiting(Generic[K]):
    """A message whose shown state is behind its object's: ``since`` is when it first fell
    behind (monotonic seconds); ``not_before`` holds it back after a failed update."""

    key: K
    channel: str
    since: float
    not_before: float = 0.0


class Pacer:
    """Per-channel pacing. Holds only when each channel was last written and until when
    Slack asked it to wait; the decisions are plain functions of that and ``now``."""

    def __init__(self, *, gap_s: float = GAP_S) -> None:
        self.gap_s = gap_s
        self._last: dict[str, float] = {}  # channel -> when it was last written
        self._blocked: dict[str, float] = {}  # channel -> the end of Slack's Retry-After

    def sent(self, channel: str, *, now: float) -> None:
        """Records an update of ``channel`` at ``now`` (sent, whatever Slack answered)."""
        self._last[channel] = max(now, self._last.get(channel, now))

    def ratelimited(self, channel: str, *, now: float, retry_after_s: float) -> None:
        """Slack refused an update of ``channel``: nothing goes there for ``retry_after_s``."""
        until = now + max(0.0, retry_after_s)
        self._blocked[channel] = max(until, self._blocked.get(channel, until))

    def open_at(self, channel: str) -> float:
        """The earliest monotonic time ``channel`` may be written again (0: any time)."""
        last = self._last.get(channel)
        paced = last + self.gap_s if last is not None else 0.0
        return max(paced, self._blocked.get(channel, 0.0))

    def due(self, waiting: Iterable[Waiting[K]], *, now: float) -> list[Waiting[K]]:
        """The messages to update now: in each channel that is open, the one that has
        waited longest among those not held back (ties: by key order of arrival). A key
        given more than once waits once, since its earliest ``since``."""
        first: dict[str, Waiting[K]] = {}
        for item in coalesce(waiting):
            if item.not_before > now or self.open_at(item.channel) > now:
                continue
            best = first.get(item.channel)
            if best is None or item.since < best.since:
                first[item.channel] = item
        return sorted(first.values(), key=lambda w: w.since)

    def next_at(self, waiting: Iterable[Waiting[K]], *, now: float) -> float | None:
        """When the soonest of ``waiting`` may go (``now`` when one may go at once); None
        when nothing waits."""
        times = [
            max(now, item.not_before, self.open_at(item.channel)) for item in coalesce(waiting)
        ]
        return min(times, default=None)

    def forget(self, *, now: float) -> None:
        """Drops what no longer restrains anything, so memory follows the busy channels."""
        for channel in [c for c in self._last if self._last[c] + self.gap_s <= now]:
            del self._last[channel]
        for channel in [c for c in self._blocked if self._blocked[c] <= now]:
            del self._blocked[channel]


def coalesce(waiting: Iterable[Waiting[K]]) -> list[Waiting[K]]:
    """One ``Waiting`` per key, in first-seen order: the earliest ``since`` and the latest
    ``not_before`` of its copies."""
    merged: dict[K, Waiting[K]] = {}
    for item in waiting:
        seen = merged.get(item.key)
        if seen is None:
            merged[item.key] = item
        else:
            merged[item.key] = Waiting(
                key=item.key,
                channel=item.channel,
                since=min(seen.since, item.since),
                not_before=max(seen.not_before, item.not_before),
            )
    return list(merged.values())


def retry_after_s(headers: Mapping[str, str] | None) -> float:
    """Seconds Slack asked to wait (its ``Retry-After`` header, any case); a default when
    it is missing or not a number."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                return DEFAULT_RETRY_AFTER_S
            if not seconds >= 0:  # negative or NaN
                return DEFAULT_RETRY_AFTER_S
            return min(seconds, MAX_RETRY_AFTER_S)
    return DEFAULT_RETRY_AFTER_S
