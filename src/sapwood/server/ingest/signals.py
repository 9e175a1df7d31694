"""Wakes lease long-polls in this process when records arrive for their feed."""

from __future__ import annotations

import asyncio


class FeedSignals:
    """Per feed uid, a count of arrivals and an event; ``notify`` after a commit, ``wait``
    until one or a timeout.

    A waiter takes ``mark`` before it looks for work and passes it to ``wait``: records
    that arrived in between (while the look was in flight) end the wait at once, so no
    arrival is missed."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._arrivals: dict[str, int] = {}

    def mark(self, feed_uid: str) -> int:
        """The feed's arrival count now."""
        return self._arrivals.get(feed_uid, 0)

    def notify(self, feed_uid: str) -> None:
        self._arrivals[feed_uid] = self._arrivals.get(feed_uid, 0) + 1
        event = self._events.pop(feed_uid, None)
        if event is not None:
            event.set()

    async def wait(self, feed_uid: str, timeout_s: float, *, since: int | None = None) -> bool:
        """True when records arrived before ``timeout_s`` seconds passed (or, with
        ``since``, after that mark was taken)."""
        if since is not None and self.mark(feed_uid) != since:
            return True
        event = self._events.setdefault(feed_uid, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout=timeout_s)
        except TimeoutError:
            return False
        return True
