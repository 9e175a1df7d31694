"""Wakes lease long-polls in this process when records arrive for their feed."""

from __future__ import annotations

import asyncio


class FeedSignals:
    """One event per feed uid; ``notify`` after a commit, ``wait`` until one or a timeout."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def notify(self, feed_uid: str) -> None:
        event = self._events.pop(feed_uid, None)
        if event is not None:
            event.set()

    async def wait(self, feed_uid: str, timeout_s: float) -> bool:
        """True when records arrived before ``timeout_s`` seconds passed."""
        event = self._events.setdefault(feed_uid, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout=timeout_s)
        except TimeoutError:
            return False
        return True
