"""Objects as the API returns them, and the requests and pages around them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator

from sapwood.schemas.base import WireModel
from sapwood.schemas.status import ObjectStatus, Phase, parse_status
from sapwood.specs.workloads import Extension


class ObjectMeta(WireModel):
    name: str
    team: str
    labels: dict[str, str] = Field(default_factory=dict)
    uid: str
    generation: int
    resource_version: int
    created_at: datetime
    updated_at: datetime
    deletion_timestamp: datetime | None = None
    owner: str | None = None  # the user whose apply created it (read-only; None for older objects)


class Object(WireModel):
    """A stored object: what the user asked for (spec) and what the system saw (status)."""

    api_version: str = "sapwood/v1"
    kind: str
    metadata: ObjectMeta
    spec: dict[str, Any]
    status: dict[str, Any] = Field(default_factory=dict)

    @property
    def phase(self) -> Phase | None:
        """The status's phase; None while it has none, UNKNOWN for one this version lacks."""
        value = self.status.get("phase")
        return None if value is None else Phase.of(value)

    @property
    def typed_status(self) -> ObjectStatus:
        """The status as its kind's type (``JobStatus``, ``ServiceStatus``...); ``status``
        stays the JSON as the server sent it. Raises ``pydantic.ValidationError`` when
        the status is malformed."""
        return parse_status(self.kind, self.status)


class ObjectPage(WireModel):
    items: list[Object]
    continue_: str | None = Field(default=None, alias="continue")


class ApplyAction(StrEnum):
    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"


class ApplyRequest(WireModel):
    """Objects to create or update, all or none."""

    objects: list[dict[str, Any]] = Field(min_length=1, max_length=500)
    dry_run: bool = Field(default=False, strict=True)


class ApplyResult(WireModel):
    action: ApplyAction
    object: Object


class ApplyResponse(WireModel):
    results: list[ApplyResult]
    dry_run: bool = False


class DeleteResponse(WireModel):
    object: Object
    finished: bool = Field(description="true when the object is gone, false while it winds down")


class ExtendRequest(WireModel):
    """How much longer a workspace may live: added to its expiry, or to now once it ran out."""

    by: Extension = Field(description="1m to 30d, such as 8h or 1d")


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


class Event(WireModel):
    id: int
    kind: str
    team: str
    name: str
    uid: str
    type: EventType
    reason: str
    message: str
    created_at: datetime  # when it first happened
    # Repeats of an object's latest event fold into it: how many times it happened, first
    # and last. A server older than these fields sends none: once, at createdAt.
    count: int = 1
    first_seen: datetime | None = None
    last_seen: datetime | None = None

    @model_validator(mode="after")
    def _seen_defaults_to_created(self) -> Event:
        if self.first_seen is None:
            self.first_seen = self.created_at
        if self.last_seen is None:
            self.last_seen = self.created_at
        return self


class EventPage(WireModel):
    items: list[Event]
    continue_: str | None = Field(default=None, alias="continue")
