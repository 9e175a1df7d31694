"""The names the package exports: removing one breaks users' imports, so it must be on purpose.

Adding a name is fine (the pinned names need only be exported); removing or renaming one
fails here, and then this list and the changelog change together.
"""

from __future__ import annotations

import importlib

import pytest

PINNED: dict[str, set[str]] = {
    "sapwood": {"AsyncClient", "Client"},
    "sapwood.client": {
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
    },
    "sapwood.schemas": {
        "Amounts",
        "ApplyAction",
        "ApplyRequest",
        "ApplyResponse",
        "ApplyResult",
        "Channel",
        "ChannelRequest",
        "ChannelType",
        "DeleteResponse",
        "Delivery",
        "ErrorBody",
        "ErrorDetail",
        "ErrorInfo",
        "Event",
        "EventPage",
        "EventType",
        "FeedStatus",
        "JobStatus",
        "Limits",
        "Membership",
        "MembershipRequest",
        "MetricPoint",
        "MetricSeries",
        "MetricsWritten",
        "NotificationEvent",
        "Object",
        "ObjectMeta",
        "ObjectPage",
        "ObjectStatus",
        "Phase",
        "QueueEntry",
        "Quota",
        "QuotaRequest",
        "Reason",
        "ReplicaState",
        "Role",
        "Rule",
        "RuleRequest",
        "SeriesPoint",
        "ServiceStatus",
        "SlackMode",
        "SlackStatus",
        "Target",
        "Team",
        "TeamRequest",
        "Token",
        "TokenCreated",
        "TokenRequest",
        "User",
        "UserRequest",
        "WhoAmI",
        "WorkspaceStatus",
        "dump_status",
        "parse_status",
    },
    "sapwood.testing": {"FakeClock", "FakeRuntime", "documents", "eventually", "eventually_sync"},
    "sapwood.testing.documents": {
        "document",
        "feed",
        "job",
        "model_service",
        "service",
        "stored",
        "workspace",
    },
}


@pytest.mark.parametrize("module", sorted(PINNED))
def test_every_pinned_name_is_still_exported(module: str) -> None:
    exported = set(importlib.import_module(module).__all__)
    missing = PINNED[module] - exported
    assert not missing, f"{module} no longer exports {sorted(missing)}"


@pytest.mark.parametrize("module", sorted(PINNED))
def test_every_exported_name_resolves(module: str) -> None:
    """``from module import *`` works: each name in __all__ is there, and only once."""
    found = importlib.import_module(module)
    names = list(found.__all__)
    assert len(names) == len(set(names)), f"{module}.__all__ repeats a name"
    unresolved = [name for name in names if not hasattr(found, name)]
    assert not unresolved, f"{module}.__all__ names what it lacks: {unresolved}"
