"""The spec of each kind: Workspace, Job, Service."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from sapwood.specs import quantity
from sapwood.specs.base import (
    MAX_VOLUMES,
    Command,
    Duration,
    Env,
    Labels,
    Name,
    Resources,
    SpecModel,
    Volume,
    Workdir,
    capped,
    duration_schema,
)
from sapwood.specs.probes import Backoff, HttpProbe, Probe
from sapwood.specs.serving import MODEL_REF, Autoscale, Canary, GatewaySpec

DEFAULT_PRIORITY = "normal"
MODEL_READINESS = Probe(
    http=HttpProbe(path="/v2/health/ready"),
    period=timedelta(seconds=1),
    failure_threshold=3,
)


class WorkloadSpec(SpecModel):
    """What every kind shares."""

    command: Command | None = None
    image: str | None = Field(default=None, description="container image (Kubernetes)")
    workdir: Workdir | None = Field(default=None, description="an absolute path")
    env: Env = Field(default_factory=dict)
    resources: Resources = Field(default_factory=Resources)
    volumes: Annotated[list[Volume], capped(MAX_VOLUMES, "volumes")] = Field(default_factory=list)
    priority: Name = DEFAULT_PRIORITY
    node_selector: Labels = Field(default_factory=dict, description="only nodes with these labels")
    termination_grace_period: Duration = timedelta(seconds=30)

    @model_validator(mode="after")
    def _unique_volumes(self) -> WorkloadSpec:
        counts = Counter(v.name for v in self.volumes)
        duplicates = sorted(n for n, count in counts.items() if count > 1)
        if duplicates:
            raise ValueError(f"volume names must be unique; repeated: {', '.join(duplicates)}")
        return self


MAX_IDLE_CPU_PERCENT = 100 * quantity.MAX_CPU_MILLIS // 1000  # 4096 cores
MAX_IDLE_GPU_PERCENT = 100 * quantity.MAX_GPUS


def _not_bool(value: object) -> object:
    # pydantic reads true as 1.0; a threshold written as a boolean is a mistake
    if isinstance(value, bool):
        raise ValueError("expected a number (percent), got bool")
    return value


def _percent_up_to(limit: int, scale: str) -> Callable[[float], float]:
    def check(value: float) -> float:
        if not 0 <= value <= limit:  # also refuses nan and inf
            raise ValueError(f"{value:g} is out of range: must be between 0 and {limit} ({scale})")
        return value

    return check


IdleCpuPercent = Annotated[
    float,
    BeforeValidator(_not_bool),
    AfterValidator(
        _percent_up_to(MAX_IDLE_CPU_PERCENT, "percent of one core, summed over replicas")
    ),
]
IdleGpuPercent = Annotated[
    float,
    BeforeValidator(_not_bool),
    AfterValidator(
        _percent_up_to(MAX_IDLE_GPU_PERCENT, "percent of one GPU, summed over replicas")
    ),
]


class IdleThreshold(SpecModel):
    """Utilisation at or below these counts as quiet for idle pausing.

    On the scale of the ``sapwood.cpu_percent`` and ``sapwood.gpu_percent`` series: summed
    over the running replicas (and a replica's GPUs), 100 = one full core or one full GPU,
    so a figure above 100 means more than one core or GPU.
    """

    cpu: IdleCpuPercent = Field(
        default=5.0,
        description="percent of one core, summed over running replicas; at or below is quiet",
    )
    gpu: IdleGpuPercent = Field(
        default=5.0,
        description="percent of one GPU, summed over every GPU of the running replicas; "
        "at or below is quiet",
    )


class RestartPolicy(StrEnum):
    NEVER = "Never"
    ON_FAILURE = "OnFailure"


class JobSpec(WorkloadSpec):
    """Runs to completion. ``replicas`` workers are admitted together (a gang)."""

    command: Command
    replicas: int = Field(default=1, ge=1, le=1024)
    completions: int | None = Field(default=None, ge=1, le=100_000)
    restart: RestartPolicy = RestartPolicy.ON_FAILURE
    retries: int = Field(default=3, ge=0, le=1000)
    backoff: Backoff = Field(default_factory=Backoff)
    active_deadline: Duration | None = None

    @field_validator("active_deadline")
    @classmethod
    def _positive_deadline(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be above 0s; leave it out for no deadline")
        return value


class ServiceReplicas(SpecModel):
    min: int = Field(default=1, ge=0, le=1024)
    max: int = Field(default=1, ge=0, le=1024)

    @model_validator(mode="after")
    def _ordered(self) -> ServiceReplicas:
        if self.min > self.max:
            raise ValueError(f"replicas.min ({self.min}) must not exceed replicas.max ({self.max})")
        return self


class ServiceSpec(WorkloadSpec):
    """Long-running; each replica listens on ``$PORT``. Give ``model`` or ``command``."""

    model: str | None = Field(
        default=None,
        pattern=MODEL_REF,
        description="registry model as NAME@ALIAS or NAME@VERSION",
    )
    replicas: ServiceReplicas = Field(default_factory=ServiceReplicas)
    readiness: Probe | None = None
    liveness: Probe | None = None
    backoff: Backoff = Field(default_factory=Backoff)
    canary: Canary | None = None
    gateway: GatewaySpec = Field(default_factory=GatewaySpec)
    autoscale: Autoscale | None = Field(
        default=None, description="follow load between replicas.min and replicas.max"
    )
    idle_timeout: Duration | None = Field(
        default=None, description="pause after this long without requests; resumed by one"
    )
    idle_threshold: IdleThreshold = Field(
        default_factory=IdleThreshold, description="CPU/GPU use that still counts as idle"
    )
    paused: bool = Field(default=False, description="stop every replica, keep the object")

    @model_validator(mode="before")
    @classmethod
    def _replicas_shorthand(cls, data: object) -> object:
        # `replicas: 3` means exactly three.
        count = data.get("replicas") if isinstance(data, dict) else None
        if isinstance(data, dict) and isinstance(count, int) and not isinstance(count, bool):
            data = {**data, "replicas": {"min": count, "max": count}}
        return data

    @model_validator(mode="after")
    def _model_or_command(self) -> ServiceSpec:
        if (self.model is None) == (self.command is None):
            raise ValueError("a service needs exactly one of 'model' or 'command'")
        if self.canary is not None and self.model is None:
            raise ValueError("a canary needs a model service: give 'model', not 'command'")
        return self

    def readiness_probe(self) -> Probe | None:
        """The readiness probe in force: a model service is ready once its model is loaded."""
        if self.readiness is None and self.model is not None:
            return MODEL_READINESS
        return self.readiness

    def serving_command(self, model: str) -> list[str]:
        """What a replica serving ``model`` runs, when the service gives no command."""
        return ["python", "-m", "sapwood.serving", "--model", model]


TTL_MIN = timedelta(minutes=1)
TTL_MAX = quantity.MAX_DURATION  # 365d
EXTENSION_MIN = timedelta(minutes=1)
EXTENSION_MAX = timedelta(days=30)


def _within(low: timedelta, high: timedelta) -> Callable[[timedelta], timedelta]:
    def check(value: timedelta) -> timedelta:
        if not low <= value <= high:
            fmt = quantity.format_duration
            raise ValueError(
                f"{fmt(value)} is out of range: must be between {fmt(low)} and {fmt(high)}"
            )
        return value

    return check


TimeToLive = Annotated[
    timedelta,
    BeforeValidator(quantity.parse_duration),
    AfterValidator(_within(TTL_MIN, TTL_MAX)),
    PlainSerializer(quantity.format_duration, return_type=str),
    duration_schema(TTL_MIN, TTL_MAX),
]
"""A workspace's time to live: 1m to 365d."""
Extension = Annotated[
    timedelta,
    BeforeValidator(quantity.parse_duration),
    AfterValidator(_within(EXTENSION_MIN, EXTENSION_MAX)),
    PlainSerializer(quantity.format_duration, return_type=str),
    duration_schema(EXTENSION_MIN, EXTENSION_MAX),
]
"""How much one extension adds to a workspace's time to live: 1m to 30d."""


class WorkspaceTool(StrEnum):
    JUPYTER = "jupyter"
    COMMAND = "command"


class WorkspaceSpec(WorkloadSpec):
    """An interactive environment with a persistent volume, paused when idle."""

    tool: WorkspaceTool = WorkspaceTool.JUPYTER
    idle_timeout: Duration | None = timedelta(hours=2)
    idle_threshold: IdleThreshold = Field(
        default_factory=IdleThreshold, description="CPU/GPU use that still counts as idle"
    )
    preemptible: bool = False
    paused: bool = False
    ttl: TimeToLive | None = Field(
        default=None,
        description="time to live from creation; then it is paused (reason Expired) until "
        "extended (`sapwood extend`)",
    )

    @model_validator(mode="after")
    def _command_matches_tool(self) -> WorkspaceSpec:
        if self.tool is WorkspaceTool.COMMAND and self.command is None:
            raise ValueError("tool 'command' needs a 'command'")
        if self.tool is WorkspaceTool.JUPYTER and self.command is not None:
            raise ValueError("tool 'jupyter' starts JupyterLab itself: drop 'command'")
        return self


Kind = Literal["Workspace", "Job", "Service", "Feed"]
