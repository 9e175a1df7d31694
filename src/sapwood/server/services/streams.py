"""A cap on how many follow streams one token holds open in this process.

The count lives in the app's state (one limiter per app, never a module global); the
response that holds a place until its stream ends is routes/streams.py's ``HeldStream``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sapwood.server.services.errors import TooManyRequestsError

# How long a refused client waits before trying again; streams end when their clients
# hang up, so there is no better estimate than "soon".
RETRY_AFTER_S = 5
ENV_VAR = "SAPWOOD_MAX_STREAMS_PER_TOKEN"


def refusal(open_now: int, cap: int) -> str | None:
    """Why one more stream is refused, or None when it may open."""
    if open_now < cap:
        return None
    return (
        f"too many open streams for this token: {open_now} are open and the cap is {cap} "
        f"({ENV_VAR})"
    )


@dataclass
class StreamSlot:
    """One open stream's place in its token's count; ``release`` is idempotent."""

    limiter: StreamLimiter
    key: str
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.limiter.release(self.key)


@dataclass
class StreamLimiter:
    """Open streams per token in this process; one per app, never a module global."""

    cap: int
    _open: dict[str, int] = field(default_factory=dict)

    def open_count(self, key: str) -> int:
        return self._open.get(key, 0)

    def acquire(self, key: str) -> StreamSlot:
        """A place for one more stream of ``key``; TooManyRequestsError past the cap."""
        reason = refusal(self.open_count(key), self.cap)
        if reason is not None:
            raise TooManyRequestsError(
                reason,
                retry_after_s=RETRY_AFTER_S,
                hint="close a stream (a `sapwood logs -f` or a dashboard log tab) and retry",
            )
        self._open[key] = self.open_count(key) + 1
        return StreamSlot(self, key)

    def release(self, key: str) -> None:
        left = self.open_count(key) - 1
        if left > 0:
            self._open[key] = left
        else:
            self._open.pop(key, None)
