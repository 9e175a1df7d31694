"""What an object's status holds: the phases, the reasons, and one status type per kind.

The controller alone writes statuses; everything else (the API's services, the CLI, the
dashboard, the SDK) reads them. These types are the one description both sides share: a
reader finds every phase an object can be in in ``Phase``, and every word the controller
uses to explain a status or an event in ``Reason``.

A status keeps what the controller decided apart from what it observed: ``target`` holds
the controller's decisions (how many replicas a Service should run, how many workers a
Feed should have), beside observed figures such as ``readyReplicas`` and ``backlog``.

Statuses travel as plain JSON (the API returns them unchanged); ``parse_status`` reads one
into its kind's type and ``dump_status`` writes it back, so a round trip leaves the JSON as
it was. Keys this version does not know are kept, so an older SDK reading a newer server's
status, or a newer field passing through an older server, loses nothing; a phase it does
not know reads as ``Phase.UNKNOWN``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, overload

from pydantic import (
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from sapwood.schemas.base import WireModel


class Phase(StrEnum):
    """Every phase an object can be in. ``status.phase`` holds one of these values."""

    PENDING = "Pending"  # waiting to be admitted (new, preempted, resuming, rerun)
    ADMITTED = "Admitted"  # resources held, replicas not started yet
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"  # a Job whose completions are done
    FAILED = "Failed"
    PAUSED = "Paused"  # a Service or Workspace paused by spec, for idleness or at expiry
    DEGRADED = "Degraded"  # running, but missing something it needs (a Feed's model)
    TERMINATING = "Terminating"  # deleted; its replicas are being stopped
    UNKNOWN = "Unknown"  # never written: what a reader shows for a status without a phase

    @classmethod
    def of(cls, value: object) -> Phase:
        """The phase a stored value names; UNKNOWN for none, or one this version lacks."""
        try:
            return cls(str(value))
        except ValueError:
            return cls.UNKNOWN


TERMINAL_PHASES = frozenset({Phase.SUCCEEDED, Phase.FAILED})
"""Phases a Job ends in: nothing runs, nothing more is admitted (until a rerun)."""
HOLDING_PHASES = frozenset({Phase.ADMITTED, Phase.RUNNING, Phase.DEGRADED})
"""Phases that hold resources: admission counts them as allocated."""


class ReplicaState(StrEnum):
    """A replica record's state (``status.replicas[].state``): the replica's own words,
    apart from the object's ``Phase`` although two of them read the same."""

    WAITING = "Waiting"
    STARTING = "Starting"
    RUNNING = "Running"
    BACK_OFF = "BackOff"
    SUCCEEDED = "Succeeded"


class Reason(StrEnum):
    """The words the server uses for ``status.reason`` and for events' reasons.

    A status reason may also be a runtime's word for why a start failed (a ``UnitReason``
    such as ``CommandNotFound``, or an error a Kubernetes API returned), so readers treat
    an unknown reason as text, not as an error.
    """

    # the object's life, as the API records it
    CREATED = "Created"
    CONFIGURED = "Configured"
    DELETING = "Deleting"
    DELETED = "Deleted"
    PAUSE_REQUESTED = "PauseRequested"
    RESUME_REQUESTED = "ResumeRequested"  # also a status reason: resume an idle-paused one
    RERUN = "Rerun"
    MODEL_ALIAS_MOVED = "ModelAliasMoved"
    # admission
    WAITING = "Waiting"
    ADMITTED = "Admitted"
    PREEMPTED = "Preempted"
    SCALED = "Scaled"
    AUTOSCALED = "Autoscaled"
    # replicas
    STARTED = "Started"
    START_DELAYED = "StartDelayed"
    COMPLETED = "Completed"
    SUCCEEDED = "Succeeded"
    BACK_OFF = "BackOff"
    OOM_KILLED = "OOMKilled"
    BACKOFF_LIMIT_EXCEEDED = "BackoffLimitExceeded"
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    COMMAND_NOT_FOUND = "CommandNotFound"
    INVALID_SPEC = "InvalidSpec"
    JUPYTER_NOT_INSTALLED = "JupyterNotInstalled"
    PROBE_FAILED = "ProbeFailed"
    READY = "Ready"
    NOT_READY = "NotReady"
    ROLLOUT = "Rollout"
    ROLLOUT_STALLED = "RolloutStalled"
    # pausing and resuming
    PAUSED = "Paused"
    IDLE_PAUSED = "IdlePaused"
    EXPIRED = "Expired"  # a workspace whose time to live ran out: paused until extended
    EXTENDED = "Extended"  # a workspace's time to live was extended
    RESUMING = "Resuming"
    # feeds
    MODEL_NOT_FOUND = "ModelNotFound"
    MODEL_FOUND = "ModelFound"
    # notifications
    UNDERUTILISED = "Underutilised"
    TEST = "Test"


def _known_reason(value: object) -> object:
    """A reason this version knows becomes a ``Reason``; any other text stays as it is."""
    if isinstance(value, str) and not isinstance(value, Reason):
        try:
            return Reason(value)
        except ValueError:
            return value
    return value


def _known_state(value: object) -> object:
    """A replica state this version knows becomes a ``ReplicaState``; other text stays."""
    if isinstance(value, str) and not isinstance(value, ReplicaState):
        try:
            return ReplicaState(value)
        except ValueError:
            return value
    return value


def _iso(value: datetime) -> str:
    return value.isoformat()


Instant = Annotated[datetime, PlainSerializer(_iso, return_type=str, when_used="json")]
"""A time as the controller writes it: ``datetime.isoformat()``, so a round trip keeps it."""
AnyReason = Annotated[Reason | str, BeforeValidator(_known_reason)]
"""A ``Reason`` when this version knows the word, else the text as written."""
KnownPhase = Annotated[Phase, BeforeValidator(Phase.of)]
AnyReplicaState = Annotated[ReplicaState | str, BeforeValidator(_known_state)]
"""A ``ReplicaState`` when this version knows the word, else the text as written."""


class StatusPart(WireModel):
    """A typed part of a status: camelCase keys, and keys it does not know kept as given."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class Allocated(StatusPart):
    """What admission holds for the object's base replicas, in the spec's notation."""

    cpu: str
    memory: str
    gpu: int = 0


class Exit(StatusPart):
    """How a replica's last run ended (``reason`` is a runtime's ``UnitReason``)."""

    code: int | None = None
    reason: str
    at: Instant
    message: str | None = None


class ReplicaStatus(StatusPart):
    """What the controller remembers about one replica between passes."""

    index: int
    state: AnyReplicaState = ReplicaState.WAITING
    restarts: int = 0
    backoff: int = 0  # failures since it last ran healthily for a while
    run: str | None = None  # the start time of the last run whose exit was counted
    next_start_at: Instant | None = None
    ready: bool = False
    pid: int | None = None
    port: int | None = None
    host: str | None = None  # None: 127.0.0.1
    generation: int | None = None
    last_exit: Exit | None = None


class Target(StatusPart):
    """What the controller decided the object should have, apart from what it observed.

    ``replicas``: a Service's replicas (main and canary) it keeps running now;
    ``workers``: the feed workers a Feed's backlog asks for (before admission caps them).
    """

    replicas: int | None = None
    workers: int | None = None


# Keys older servers wrote for what ``target`` holds now: read, never written.
_LEGACY_TARGET = {"desiredReplicas": "replicas", "desiredWorkers": "workers"}


def read_target(status: Mapping[str, Any]) -> Target:
    """The target a stored status holds, also from the keys servers before ``target`` wrote
    (``desiredReplicas``, ``desiredWorkers``); an empty Target when it holds none. Pure."""
    data = dict(status.get("target") or {})
    for old, new in _LEGACY_TARGET.items():
        if new not in data and isinstance(status.get(old), int):
            data[new] = status[old]
    return Target.model_validate(data)


def with_target(status: Mapping[str, Any], **values: int) -> dict[str, Any]:
    """The status with ``target`` fields set (``replicas=3``, ``workers=2``) and the legacy
    keys they replace dropped. Pure; the status given is not changed."""
    out = {k: v for k, v in status.items() if k not in _LEGACY_TARGET}
    target = read_target(status).model_dump(mode="json", by_alias=True, exclude_none=True)
    target.update(values)
    out["target"] = target
    return out


class ObjectStatus(StatusPart):
    """What every kind's status holds: the phase and why, and what admission decided."""

    phase: KnownPhase = Phase.PENDING
    phase_since: Instant | None = None
    reason: AnyReason | None = None
    message: str | None = None
    observed_generation: int | None = None  # the spec generation this status was made for
    limits: str | None = None  # how the runtime enforces limits and isolation, in words
    queue_position: int | None = None  # while Pending: its place in its queue
    admitted_at: Instant | None = None
    allocated: Allocated | None = None
    attained_seconds: float | None = None  # service received over earlier runs
    replicas: list[ReplicaStatus] | None = None
    restarts: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy_target(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and any(k in data for k in _LEGACY_TARGET):
            target = read_target(data).model_dump(mode="json", by_alias=True, exclude_none=True)
            data = {k: v for k, v in data.items() if k not in _LEGACY_TARGET}
            data["target"] = target
        return data


class JobRun(StatusPart):
    """The outcome of one earlier run of a Job, as ``status.history`` keeps it."""

    run: int
    phase: KnownPhase | None = None
    reason: AnyReason | None = None
    message: str | None = None
    started_at: Instant | None = None
    finished_at: Instant | None = None
    succeeded: int | None = None
    failures: int | None = None
    restarts: int | None = None


class JobStatus(ObjectStatus):
    succeeded: int | None = None
    failures: int | None = None
    started_at: Instant | None = None
    finished_at: Instant | None = None
    master_port: int | None = None  # a gang's rendezvous port
    run: int | None = None  # which run this is; absent: the first
    history: list[JobRun] | None = None  # earlier runs, oldest first


class Rollout(StatusPart):
    generation: int
    state: str  # Progressing | Stalled
    message: str


class Autoscaler(StatusPart):
    """The autoscaler's decision and what it remembers between passes."""

    desired: int
    reason: str | None = None
    panic_since: Instant | None = None
    last_active_at: Instant | None = None


class ServingStatus(ObjectStatus):
    """What the kinds that keep replicas up share."""

    ready_replicas: int | None = None
    elastic_replicas: int | None = None  # admitted above the base replicas
    target: Target | None = None


class ServiceStatus(ServingStatus):
    endpoints: list[str] | None = None  # host:port of ready main replicas
    canary_endpoints: list[str] | None = None
    rollout: Rollout | None = None
    autoscaler: Autoscaler | None = None


class WorkspaceStatus(ServingStatus):
    url: str | None = None
    expires_at: Instant | None = None  # when its time to live runs out (spec.ttl given)


class FeedStatus(ServingStatus):
    backlog: int | None = None  # records not yet scored
    model_version: int | None = None  # the version the model reference names now


AnyStatus = JobStatus | ServiceStatus | WorkspaceStatus | FeedStatus
STATUS_TYPES: dict[str, type[ObjectStatus]] = {
    "Job": JobStatus,
    "Service": ServiceStatus,
    "Workspace": WorkspaceStatus,
    "Feed": FeedStatus,
}


@overload
def parse_status(kind: Literal["Job"], data: Mapping[str, Any]) -> JobStatus: ...
@overload
def parse_status(kind: Literal["Service"], data: Mapping[str, Any]) -> ServiceStatus: ...
@overload
def parse_status(kind: Literal["Workspace"], data: Mapping[str, Any]) -> WorkspaceStatus: ...
@overload
def parse_status(kind: Literal["Feed"], data: Mapping[str, Any]) -> FeedStatus: ...
@overload
def parse_status(kind: str, data: Mapping[str, Any]) -> ObjectStatus: ...
def parse_status(kind: str, data: Mapping[str, Any]) -> ObjectStatus:
    """The status of an object of ``kind`` as its typed model; an unknown kind gets the
    shared ``ObjectStatus``. Raises ``pydantic.ValidationError`` on a malformed status."""
    return STATUS_TYPES.get(kind, ObjectStatus).model_validate(data)


def dump_status(status: ObjectStatus) -> dict[str, Any]:
    """The status as JSON-ready data, camelCase, with the fields that were set (parsed,
    passed or updated), so ``parse_status`` then ``dump_status`` gives back the JSON the
    controller wrote."""
    return status.model_dump(mode="json", by_alias=True, exclude_unset=True)


def try_parse_status(kind: str, data: Mapping[str, Any]) -> ObjectStatus | None:
    """Like ``parse_status``, but None for a status this version cannot read."""
    try:
        return parse_status(kind, data)
    except ValidationError:
        return None


__all__ = [
    "HOLDING_PHASES",
    "STATUS_TYPES",
    "TERMINAL_PHASES",
    "Allocated",
    "AnyStatus",
    "Autoscaler",
    "Exit",
    "FeedStatus",
    "JobRun",
    "JobStatus",
    "ObjectStatus",
    "Phase",
    "Reason",
    "ReplicaState",
    "ReplicaStatus",
    "Rollout",
    "ServiceStatus",
    "ServingStatus",
    "Target",
    "WorkspaceStatus",
    "dump_status",
    "parse_status",
    "read_target",
    "try_parse_status",
    "with_target",
]
