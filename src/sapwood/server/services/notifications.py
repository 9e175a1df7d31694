"""Notification channels and rules per team, the delivery log, and under-use alerts
dismissed for a while: members write, viewers read."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from sapwood.schemas import Channel, ChannelRequest, ChannelType, Delivery, Rule, RuleRequest
from sapwood.schemas.notifications import (
    DEFAULT_THRESHOLD_PERCENT,
    DEFAULT_UNDERUSE_DURATION,
    SLACK_APP_TYPES,
)
from sapwood.server.services.access import Caller, require_read, require_write
from sapwood.server.services.errors import ConflictError, Detail, InvalidError, NotFoundError
from sapwood.server.services.objects import find_object
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import (
    ChannelRow,
    DeliveryRow,
    RuleRow,
    TeamRow,
    UnderuseDismissalRow,
)
from sapwood.server.webhook_addresses import AddressPolicy, url_refusal
from sapwood.specs.base import check_name

DISMISS_FOR = timedelta(days=1)
"""How long "Dismiss for a day" silences the under-use alerts about an object."""


def row_to_channel(row: ChannelRow) -> Channel:
    # The secret is write-only: only whether one is set leaves the server.
    return Channel(
        team=row.team,
        name=row.name,
        type=row.type,
        url=row.url,
        has_secret=bool(row.secret),
        slack_channel=row.slack_channel,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def row_to_rule(row: RuleRow) -> Rule:
    threshold, duration = rule_params(row)
    return Rule(
        team=row.team,
        name=row.name,
        channel=row.channel,
        events=row.events,
        selector=row.selector,
        threshold=threshold,
        duration=duration,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def rule_params(row: RuleRow) -> tuple[float, timedelta]:
    """The underutilised threshold (percent) and duration of a rule, defaults filled in."""
    params = row.params or {}
    threshold = float(params.get("threshold", DEFAULT_THRESHOLD_PERCENT))
    seconds = params.get("durationS", DEFAULT_UNDERUSE_DURATION.total_seconds())
    return threshold, timedelta(seconds=float(seconds))


def row_to_delivery(row: DeliveryRow) -> Delivery:
    return Delivery(
        id=row.id,
        time=row.time,
        team=row.team,
        channel=row.channel,
        event=row.event,
        kind=row.kind,
        name=row.name,
        reason=row.reason,
        attempt=row.attempt,
        status_code=row.status_code,
        ok=row.ok,
        error=row.error,
    )


def _check_name(name: str) -> None:
    try:
        check_name(name)
    except ValueError as exc:
        raise InvalidError(
            f"invalid name {name!r}", details=[Detail(path="name", message=str(exc))]
        ) from None


async def _require_team(session: AsyncSession, team: str) -> None:
    if await session.get(TeamRow, team) is None:
        raise NotFoundError(f"team {team} not found")


async def list_channels(session: AsyncSession, caller: Caller, team: str) -> list[Channel]:
    require_read(caller, team, "channels")
    query = select(ChannelRow).where(ChannelRow.team == team).order_by(ChannelRow.name)
    return [row_to_channel(r) for r in await session.scalars(query)]


async def get_channel_row(
    session: AsyncSession, caller: Caller, team: str, name: str, *, write: bool
) -> ChannelRow:
    (require_write if write else require_read)(caller, team, f"channel/{name}")
    row = await session.get(ChannelRow, (team, name))
    if row is None:
        raise NotFoundError(f"channel/{name} not found in team {team}")
    return row


async def set_channel(
    session: AsyncSession,
    caller: Caller,
    team: str,
    name: str,
    request: ChannelRequest,
    *,
    now: datetime,
    policy: AddressPolicy,
    slack_app: bool,
) -> Channel:
    """Creates or replaces the channel. Idempotent; the secret is kept as given.

    A URL whose host is a non-public address (or ``localhost``) that ``policy`` does not
    allow is a 422 on ``url``; host names are checked again, resolved, at every post.
    ``slack-app`` and ``slack-dm`` post through the Slack app: a 422 naming its setting
    unless ``slack_app`` (the server has a bot token). They post to Slack's API URL, which
    an admin configured, so the address policy is not theirs."""
    require_write(caller, team, f"channel/{name}")
    _check_name(name)
    _check_slack_channel(request)
    if request.type in SLACK_APP_TYPES:
        if not slack_app:
            raise InvalidError(
                f"a {request.type} channel posts through the Slack app, which this server "
                "does not have",
                details=[
                    Detail(path="type", message="the Slack app is not configured on the server")
                ],
                hint="an admin sets SAPWOOD_SLACK_BOT_TOKEN in the server's environment "
                "(docs/slack.md); or use a slack channel with an incoming webhook url",
            )
        url = ""
    else:
        assert request.url is not None  # ChannelRequest requires it for these types
        url = request.url
    refusal = url_refusal(url, policy) if url else None
    if refusal is not None:
        raise InvalidError(
            "the channel's url points at an address channels may not post to",
            details=[Detail(path="url", message=refusal)],
            hint="use a public address, or ask an admin to allow this one in the server's "
            "SAPWOOD_WEBHOOK_ALLOW (docs/notifications.md)",
        )
    await _require_team(session, team)
    row = await session.get(ChannelRow, (team, name))
    if row is None:
        row = ChannelRow(team=team, name=name, created_at=now)
        session.add(row)
    row.type, row.url, row.secret = request.type.value, url, request.secret or None
    row.slack_channel = request.slack_channel
    row.updated_at = now
    await session.commit()
    return row_to_channel(row)


def _check_slack_channel(request: ChannelRequest) -> None:
    """A slack-app channel names its conversation; no other type takes one."""
    if request.type is ChannelType.SLACK_APP and request.slack_channel is None:
        why = "a slack-app channel needs the conversation to post to (C0123ABCD or #name)"
    elif request.type is not ChannelType.SLACK_APP and request.slack_channel is not None:
        why = f"only a slack-app channel takes slackChannel, not a {request.type} channel"
    else:
        return
    raise InvalidError(why, details=[Detail(path="slackChannel", message=why)])


async def delete_channel(session: AsyncSession, caller: Caller, team: str, name: str) -> None:
    row = await get_channel_row(session, caller, team, name, write=True)
    query = select(RuleRow.name).where(RuleRow.team == team, RuleRow.channel == name)
    users = sorted(await session.scalars(query))
    if users:
        raise ConflictError(
            f"channel/{name} is used by rule(s) {', '.join(users)}",
            hint="delete those rules or point them at another channel first",
        )
    await session.delete(row)
    await session.commit()


async def list_rules(session: AsyncSession, caller: Caller, team: str) -> list[Rule]:
    require_read(caller, team, "rules")
    query = select(RuleRow).where(RuleRow.team == team).order_by(RuleRow.name)
    return [row_to_rule(r) for r in await session.scalars(query)]


async def set_rule(
    session: AsyncSession,
    caller: Caller,
    team: str,
    name: str,
    request: RuleRequest,
    *,
    now: datetime,
) -> Rule:
    require_write(caller, team, f"rule/{name}")
    _check_name(name)
    await _require_team(session, team)
    if await session.get(ChannelRow, (team, request.channel)) is None:
        raise InvalidError(
            f"channel/{request.channel} not found in team {team}",
            details=[Detail(path="channel", message=f"no channel named {request.channel!r}")],
            hint="create it with `sapwood notify channels set`",
        )
    events = list(dict.fromkeys(e.value for e in request.events))
    row = await session.get(RuleRow, (team, name))
    if row is None:
        row = RuleRow(team=team, name=name, created_at=now)
        session.add(row)
    row.channel, row.events, row.selector = request.channel, events, request.selector
    row.params = {
        "threshold": request.threshold,
        "durationS": request.duration.total_seconds(),
    }
    row.updated_at = now
    await session.commit()
    return row_to_rule(row)


async def delete_rule(session: AsyncSession, caller: Caller, team: str, name: str) -> None:
    require_write(caller, team, f"rule/{name}")
    row = await session.get(RuleRow, (team, name))
    if row is None:
        raise NotFoundError(f"rule/{name} not found in team {team}")
    await session.delete(row)
    await session.commit()


async def list_deliveries(
    session: AsyncSession, caller: Caller, team: str, *, limit: int
) -> list[Delivery]:
    """The newest ``limit`` attempts, newest first."""
    require_read(caller, team, "deliveries")
    query = (
        select(DeliveryRow)
        .where(DeliveryRow.team == team)
        .order_by(DeliveryRow.id.desc())
        .limit(limit)
    )
    return [row_to_delivery(r) for r in await session.scalars(query)]


async def dismiss_underuse(
    session: AsyncSession,
    caller: Caller,
    kind: str,
    name: str,
    *,
    team: str | None,
    now: datetime,
    for_: timedelta = DISMISS_FOR,
) -> datetime:
    """No under-use alert about the object is posted before ``now + for_``; returns that
    time; commits. Members and admins of its team, as for pausing it. A second dismissal
    moves the end; the episode going on then is reported again if it outlasts it."""
    row = await find_object(session, caller, kind, name, team=team)
    require_write(caller, row.team, f"{row.kind.lower()}/{row.name}")
    until = now + for_
    dismissal = await session.get(UnderuseDismissalRow, row.uid)
    if dismissal is None:
        session.add(UnderuseDismissalRow(uid=row.uid, until=until))
    else:
        dismissal.until = until
    await session.commit()
    return until
