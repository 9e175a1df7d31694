"""The tables. Every change here comes with an Alembic migration (tests check they agree)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


Json = JSON().with_variant(JSONB(), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class TeamRow(Base):
    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserRow(Base):
    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MembershipRow(Base):
    __tablename__ = "memberships"

    user: Mapped[str] = mapped_column(
        ForeignKey("users.name", ondelete="CASCADE"), primary_key=True
    )
    team: Mapped[str] = mapped_column(
        ForeignKey("teams.name", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))


class TokenRow(Base):
    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user: Mapped[str] = mapped_column(ForeignKey("users.name", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # "Kind/team/name" for a workload's own token: it reads that team, as a viewer.
    scope: Mapped[str | None] = mapped_column(String(200), nullable=True)


class ObjectRow(Base):
    """One Workspace, Job or Service: the user's spec and the controllers' status."""

    __tablename__ = "objects"
    __table_args__ = (
        UniqueConstraint("kind", "team", "name", name="uq_objects_kind_team_name"),
        # A page of a kind in id order, and a kind's object by name in any team (0013).
        Index("ix_objects_kind_id", "kind", "id"),
        Index("ix_objects_kind_name", "kind", "name"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    team: Mapped[str] = mapped_column(ForeignKey("teams.name", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    labels: Mapped[dict[str, str]] = mapped_column(Json)
    spec: Mapped[dict[str, Any]] = mapped_column(Json)
    status: Mapped[dict[str, Any]] = mapped_column(Json)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    resource_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deletion_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The user whose apply created it (None for objects made before 0016): who a direct
    # message about it goes to.
    owner: Mapped[str | None] = mapped_column(String(63), nullable=True)


class LabelRow(Base):
    """Labels apart from the object, so selectors are plain SQL on every backend."""

    __tablename__ = "labels"
    __table_args__ = (Index("ix_labels_key_value", "key", "value"),)

    object_id: Mapped[int] = mapped_column(
        ForeignKey("objects.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(317), primary_key=True)
    value: Mapped[str] = mapped_column(String(63))


def _first_seen(context: DefaultExecutionContext) -> Any:
    """An event written without ``last_seen_at`` was last seen when it was first seen."""
    # SQLAlchemy leaves this method unannotated.
    return context.get_current_parameters()["created_at"]  # type: ignore[no-untyped-call]


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_team_kind_name", "team", "kind", "name"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    team: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(63))
    type: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())  # first seen
    # Repeats of the object's latest event fold into it (store/events.py): how many times
    # it happened and when last. Both filled in for rows older than migration 0012.
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_first_seen)


class QuotaRow(Base):
    """A team's share of the cluster: guaranteed, borrowing cap, fair-share weight."""

    __tablename__ = "quotas"

    team: Mapped[str] = mapped_column(
        ForeignKey("teams.name", ondelete="CASCADE"), primary_key=True
    )
    guaranteed: Mapped[dict[str, Any]] = mapped_column(Json)
    max: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MetricRow(Base):
    """One training metric point a workload reported; kept, like events, after its object."""

    __tablename__ = "metrics"
    __table_args__ = (
        Index("ix_metrics_uid_metric", "uid", "metric"),
        # The utilisation retention sweep: old samples of the sapwood.* series.
        Index("ix_metrics_metric_time", "metric", "time"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(32))
    team: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(63))
    metric: Mapped[str] = mapped_column(String(100))
    step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    value: Mapped[float] = mapped_column(Float)
    time: Mapped[datetime] = mapped_column(UTCDateTime())


class ChannelRow(Base):
    """Where a team's notifications go; ``secret`` is the webhook HMAC key, never returned."""

    __tablename__ = "notification_channels"

    team: Mapped[str] = mapped_column(
        ForeignKey("teams.name", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)  # "" for the Slack app's types
    secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The Slack conversation (id like C0123, or #name) a "slack-app" channel posts to.
    slack_channel: Mapped[str | None] = mapped_column(String(80), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RuleRow(Base):
    """Which events (and objects, by label selector) notify which channel."""

    __tablename__ = "notification_rules"

    team: Mapped[str] = mapped_column(
        ForeignKey("teams.name", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    channel: Mapped[str] = mapped_column(String(63))
    events: Mapped[list[str]] = mapped_column(Json)
    selector: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Parameters of some events: {"threshold": percent, "durationS": seconds} (underutilised).
    params: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DeliveryRow(Base):
    """One attempt to post a notification: the delivery log."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (Index("ix_notification_deliveries_team_id", "team", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    team: Mapped[str] = mapped_column(String(63))
    channel: Mapped[str] = mapped_column(String(63))
    event: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(63))
    reason: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime())


class CursorRow(Base):
    """How far a background reader (the notifier) has read the events table."""

    __tablename__ = "event_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ModelRow(Base):
    """A registry model of a team; ``last_version`` numbers its next version (never reused)."""

    __tablename__ = "models"

    team: Mapped[str] = mapped_column(
        ForeignKey("teams.name", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    last_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ModelVersionRow(Base):
    """One immutable version: its bytes (by sha256, unique per model) and what was read from it."""

    __tablename__ = "model_versions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["team", "name"],
            ["models.team", "models.name"],
            name="fk_model_versions_team_models",
            ondelete="CASCADE",
        ),
        UniqueConstraint("team", "name", "sha256", name="uq_model_versions_team_name_sha256"),
        Index("ix_model_versions_sha256", "sha256"),
    )

    team: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    inputs: Mapped[list[Any]] = mapped_column(Json)
    outputs: Mapped[list[Any]] = mapped_column(Json)
    opset: Mapped[int | None] = mapped_column(Integer, nullable=True)
    features: Mapped[list[str] | None] = mapped_column(Json, nullable=True)
    props: Mapped[dict[str, str]] = mapped_column(Json)
    framework: Mapped[str | None] = mapped_column(String(63), nullable=True)
    metrics: Mapped[dict[str, float]] = mapped_column(Json)
    lineage: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ModelAliasRow(Base):
    """A movable name for one version of a model (``production``, ``staging``)."""

    __tablename__ = "model_aliases"
    __table_args__ = (
        ForeignKeyConstraint(
            ["team", "name"],
            ["models.team", "models.name"],
            name="fk_model_aliases_team_models",
            ondelete="CASCADE",
        ),
    )

    team: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    alias: Mapped[str] = mapped_column(String(63), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FeedBatchRow(Base):
    """One ingest request's records (an Arrow IPC blob) and their place in the queue.

    Records ``first_seq..last_seq`` of a feed; ``batch_key`` makes a retried post a no-op
    (``body_sha256`` tells a retry from another body under the same id).
    The store-backed broker leases rows by ``lease_expires_at`` and marks them ``acked``.
    """

    __tablename__ = "feed_batches"
    __table_args__ = (
        UniqueConstraint("feed_uid", "first_seq", name="uq_feed_batches_feed_uid_first_seq"),
        UniqueConstraint("feed_uid", "batch_key", name="uq_feed_batches_feed_uid_batch_key"),
        Index("ix_feed_batches_feed_uid_acked_id", "feed_uid", "acked", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    feed_uid: Mapped[str] = mapped_column(String(36))
    batch_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    acked: Mapped[bool] = mapped_column(Boolean, default=False)
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    lease_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The sha256 of the post's media type and body (intake.fingerprint), kept with each of
    # its batches when it had a batch id: the same id with another body is refused.
    # None: no batch id, or stored before migration 0011.
    body_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Last: SQLite reads the columns before a large value without its overflow pages.
    records: Mapped[bytes] = mapped_column(LargeBinary)


class FeedResultRow(Base):
    """The results for one batch, written once (the primary key refuses a second write).

    ``results`` is an Arrow IPC blob with one row per record (sequence, prediction, score,
    probabilities, label); the counts beside it make per-feed figures cheap SQL.
    """

    __tablename__ = "feed_results"
    __table_args__ = (Index("ix_feed_results_feed_uid_scored_at", "feed_uid", "scored_at"),)

    feed_uid: Mapped[str] = mapped_column(String(36), primary_key=True)
    first_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
    model_version: Mapped[str] = mapped_column(String(64))
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime())
    flagged: Mapped[int] = mapped_column(Integer)
    labelled: Mapped[int] = mapped_column(Integer)
    true_pos: Mapped[int] = mapped_column(Integer)
    false_pos: Mapped[int] = mapped_column(Integer)
    true_neg: Mapped[int] = mapped_column(Integer)
    false_neg: Mapped[int] = mapped_column(Integer)
    results: Mapped[bytes] = mapped_column(LargeBinary)


class LeaseRow(Base):
    """A named lease (leader election among server replicas): who holds it.

    Writers compare and bump `version`, so two replicas never both take the same lease;
    `term` moves only when a holding begins, and fences the holder's writes. The times are
    the writer's wall clock, for people: no replica compares them with its own.
    """

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))  # "" once released
    renewed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer)
    term: Mapped[int] = mapped_column(Integer, server_default="0")


class ServerReplicaRow(Base):
    """A server replica whose gateway the leader reads for load (server/replicas.py).

    Each replica bumps its `beat` every heartbeat; readers judge a row's age by when they
    saw its beat last change, on their own clock. `seen_at` is the writer's wall clock,
    for people only.
    """

    __tablename__ = "server_replicas"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    gateway_url: Mapped[str] = mapped_column(String(255))
    beat: Mapped[int] = mapped_column(Integer)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SlackLinkRow(Base):
    """A Slack user (of one Slack workspace) acting as a Sapwood user."""

    __tablename__ = "slack_links"

    slack_team: Mapped[str] = mapped_column(String(32), primary_key=True)
    slack_user: Mapped[str] = mapped_column(String(32), primary_key=True)
    user: Mapped[str] = mapped_column(ForeignKey("users.name", ondelete="CASCADE"), index=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SlackLinkCodeRow(Base):
    """A one-time code that a signed-in dashboard user confirms to link a Slack user; only
    its hash is kept."""

    __tablename__ = "slack_link_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    slack_team: Mapped[str] = mapped_column(String(32))
    slack_user: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SlackDeliveryRow(Base):
    """A Slack interaction already handled (by trigger id or envelope id): a retry, a
    redelivered envelope or another replica finds it here and does nothing."""

    __tablename__ = "slack_deliveries"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class SlackMessageRow(Base):
    """A Slack message that shows an object's state, updated in place as it changes."""

    __tablename__ = "slack_messages"
    __table_args__ = (UniqueConstraint("channel", "ts", name="uq_slack_messages_channel_ts"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(36), index=True)
    # The object it shows, also once the object is gone ("deleted" is shown then).
    kind: Mapped[str] = mapped_column(String(32))
    team: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(63))
    channel: Mapped[str] = mapped_column(String(80))
    ts: Mapped[str] = mapped_column(String(32))
    # A digest of what the message shows now: an update is sent only when it differs.
    shown: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UnderuseDismissalRow(Base):
    """Under-use alerts about an object are not posted until ``until`` (Slack's "Dismiss
    for a day")."""

    __tablename__ = "underuse_dismissals"

    uid: Mapped[str] = mapped_column(String(36), primary_key=True)
    until: Mapped[datetime] = mapped_column(UTCDateTime())
