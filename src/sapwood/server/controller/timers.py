"""When each object next needs a look although nothing about it changed.

A heap of (due, uid) on the monotonic clock, one entry per uid (setting a uid again keeps
the earlier time). Backoff, deadlines, idle windows and probes of running objects come
due here, and a plan's ``due`` (a workspace's time to live running out); objects that
only wait (pending, finished) have no other entry and cost nothing.
"""

from __future__ import annotations

import heapq


class TimerQueue:
    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        self._due: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._due)

    def schedule(self, uid: str, due: float) -> None:
        """Asks for ``uid`` at ``due`` at the latest."""
        current = self._due.get(uid)
        if current is not None and current <= due:
            return
        self._due[uid] = due
        heapq.heappush(self._heap, (due, uid))

    def cancel(self, uid: str) -> None:
        self._due.pop(uid, None)  # its heap entry is skipped when it surfaces

    def pop_due(self, now: float) -> set[str]:
        """The uids due at ``now``, removed from the queue."""
        out: set[str] = set()
        while self._heap and self._heap[0][0] <= now:
            due, uid = heapq.heappop(self._heap)
            if self._due.get(uid) == due:
                del self._due[uid]
                out.add(uid)
        return out

    def next_due(self) -> float | None:
        while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)  # superseded or cancelled
        return self._heap[0][0] if self._heap else None
