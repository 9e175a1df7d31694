"""A table the gateway loads whole from the store or a file, then again every poll."""

from __future__ import annotations

import logging
from abc import abstractmethod
from typing import ClassVar, Generic, TypeVar

from sapwood.server.clock import Clock, SystemClock
from sapwood.server.loop import Loop

log = logging.getLogger(__name__)

T = TypeVar("T")


class Polled(Loop, Generic[T]):
    """Loads a value whole and publishes it, then again every ``poll_interval_s`` (a loop
    on the clock, server/loop.py).

    A poll that fails keeps the last good value: the next poll tries again. ``what`` names
    the value in log lines and in the name of the polling task ("routes", "workspaces").
    """

    # Whether ``start`` goes on without a value when the first load fails (the server may
    # still be migrating the store); the value then comes with the first poll that succeeds.
    may_start_empty: ClassVar[bool] = False

    def __init__(self, poll_interval_s: float, *, what: str, clock: Clock | None = None) -> None:
        super().__init__(clock=clock or SystemClock(), interval_s=poll_interval_s)
        self.what = what
        self.name = f"gateway-{what}"

    @abstractmethod
    async def load(self) -> T:
        """The whole value as the source has it now."""

    @abstractmethod
    def publish(self, value: T) -> None:
        """Makes ``value`` the current one."""

    async def start(self) -> None:
        """Loads the first value (raising when it cannot, unless ``may_start_empty``) and
        starts following changes."""
        try:
            self.publish(await self.load())
        except Exception as exc:
            if not self.may_start_empty:
                raise
            log.warning("the store is not ready (%s); %s follow once it is", exc, self.what)
        await super().start()

    async def tick(self) -> None:
        try:
            self.publish(await self.load())
        except Exception:
            # Keep serving the last good value; the next poll tries again.
            log.exception("could not reload the %s", self.what)
