"""Plain data the reconcilers decide over, and the plans they return."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from sapwood.schemas.status import Phase
from sapwood.server.units import UnitKey, UnitSpec
from sapwood.specs.objects import AnyObject


@dataclass(frozen=True)
class ObjectView:
    """One stored object as a pass loaded it: the parsed spec and the raw status."""

    id: int
    uid: str
    obj: AnyObject
    team: str
    generation: int
    resource_version: int
    created_at: datetime
    deletion_timestamp: datetime | None
    status: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.obj.kind

    @property
    def name(self) -> str:
        return self.obj.metadata.name

    @cached_property
    def phase(self) -> Phase:
        """The stored phase; Pending before the controller first wrote one (read once:
        the scheduler asks for it many times per object)."""
        return Phase.of(self.status.get("phase", Phase.PENDING))

    def key(self, replica: int = 0) -> UnitKey:
        return UnitKey(self.kind, self.team, self.name, replica)


@dataclass(frozen=True)
class EventNote:
    reason: str
    message: str
    warning: bool = False


@dataclass
class Plan:
    """What one pass wants done for one object: runtime actions, then a status write."""

    starts: list[UnitSpec] = field(default_factory=list)
    stops: list[UnitKey] = field(default_factory=list)
    forgets: list[UnitKey] = field(default_factory=list)
    status: dict[str, Any] | None = None  # None: leave the status as it is
    events: list[EventNote] = field(default_factory=list)
    remove: bool = False  # delete the row (its units are all gone)
    # Plan the object again at this moment although nothing changes (a time to live runs
    # out then); None: nothing of the kind is ahead.
    due: datetime | None = None

    def event(self, reason: str, message: str, *, warning: bool = False) -> None:
        self.events.append(EventNote(reason, message, warning))

    @property
    def empty(self) -> bool:
        return not (self.starts or self.stops or self.forgets or self.events or self.remove) and (
            self.status is None
        )
