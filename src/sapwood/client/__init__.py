"""The Python SDK: ``Client`` (blocking) and ``AsyncClient`` over the REST API, and the
status types and ``Phase``/``Reason`` enums to read what they return."""

from sapwood.client.aio import AsyncClient
from sapwood.client.errors import (
    ConflictError,
    ConnectionFailedError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    SapwoodError,
    UnauthorizedError,
)
from sapwood.client.sync import Client
from sapwood.schemas.status import (
    FeedStatus,
    JobStatus,
    ObjectStatus,
    Phase,
    Reason,
    ReplicaState,
    ServiceStatus,
    Target,
    WorkspaceStatus,
)

__all__ = [
    "AsyncClient",
    "Client",
    "ConflictError",
    "ConnectionFailedError",
    "FeedStatus",
    "ForbiddenError",
    "InvalidError",
    "JobStatus",
    "NotFoundError",
    "ObjectStatus",
    "Phase",
    "Reason",
    "ReplicaState",
    "SapwoodError",
    "ServiceStatus",
    "Target",
    "UnauthorizedError",
    "WorkspaceStatus",
]
