"""Rows to wire types."""

from __future__ import annotations

from sapwood.schemas import Event, EventType, Object, ObjectMeta, Team, Token
from sapwood.server.store.tables import EventRow, ObjectRow, TeamRow, TokenRow


def row_to_object(row: ObjectRow) -> Object:
    return Object(
        kind=row.kind,
        metadata=ObjectMeta(
            name=row.name,
            team=row.team,
            labels=dict(row.labels),
            uid=row.uid,
            generation=row.generation,
            resource_version=row.resource_version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            deletion_timestamp=row.deletion_timestamp,
            owner=row.owner,
        ),
        spec=row.spec,
        status=row.status,
    )


def row_to_event(row: EventRow) -> Event:
    return Event(
        id=row.id,
        kind=row.kind,
        team=row.team,
        name=row.name,
        uid=row.uid,
        type=EventType(row.type),
        reason=row.reason,
        message=row.message,
        created_at=row.created_at,
        count=row.count,
        first_seen=row.created_at,
        last_seen=row.last_seen_at,
    )


def row_to_team(row: TeamRow) -> Team:
    return Team(name=row.name, created_at=row.created_at)


def row_to_token(row: TokenRow) -> Token:
    return Token(
        id=row.id,
        user=row.user,
        description=row.description,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )
