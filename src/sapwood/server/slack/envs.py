"""``/sapwood env create``: the modal that opens at once, the form it becomes, the Workspace
a submission creates (through the API's own apply), and the message that follows.

A trigger id lives 3 seconds, so the modal opens with "Loading…" before anything slow
(the database, linking) and is filled with views.update afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from sapwood.schemas import Object, Role
from sapwood.server.services.access import Caller, can_read, can_write
from sapwood.server.services.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    ServiceError,
)
from sapwood.server.services.extend import extend_workspace
from sapwood.server.services.objects import apply_objects, delete_object
from sapwood.server.services.pause import pause_object, resume_object
from sapwood.server.slack import context, forms
from sapwood.server.slack.blocks import (
    DELETE,
    EXTEND,
    EXTEND_BY,
    PAUSE,
    RESUME,
    workspace_message,
    workspace_of,
)
from sapwood.server.slack.context import Deps, SlackUser, slack_user
from sapwood.server.slack.message import Message
from sapwood.server.slack.reports import gateway_url
from sapwood.server.slack.updates import digest, track_message
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import TeamRow

log = logging.getLogger("sapwood.slack")
KIND = "Workspace"


def creatable_teams(caller: Caller, teams: list[str]) -> list[str]:
    """The teams (of ``teams``, every team there is) the caller may create in, sorted."""
    return sorted(t for t in teams if can_write(caller, t))


def cannot_create(caller: Caller) -> str:
    """Why a caller with no team to create in gets no form: its role, or no team at all."""
    viewing = sorted(t for t, role in caller.roles.items() if role is Role.VIEWER)
    if not viewing:
        return (
            f"You (Sapwood user {caller.user}) belong to no team yet, so you cannot create "
            "environments; ask an admin to add you to a team."
        )
    teams = ", ".join(viewing)
    noun = "team" if len(viewing) == 1 else "teams"
    return (
        f"You are a viewer of {noun} {teams} and cannot create environments; "
        "ask a team admin for the member role."
    )


async def open_form(deps: Deps, body: Mapping[str, Any], respond: AsyncRespond) -> None:
    """Opens the modal at once, then fills it: the form, the link step for a Slack user
    not linked yet, or why this user cannot create environments."""
    try:
        opened = await deps.client.views_open(
            trigger_id=body["trigger_id"], view=forms.loading_view()
        )
    except SlackApiError as exc:
        log.warning("views.open for /sapwood env create failed: %s", exc.response.get("error"))
        await respond(
            text="Slack could not open the form in time; run `/sapwood env create` again.",
            response_type="ephemeral",
        )
        return
    view_id = str(opened["view"]["id"])
    try:
        view = await _first_view(deps, slack_user(body), channel=body.get("channel_id"))
    except Exception:
        log.exception("filling the env create form failed")
        view = forms.notice_view("Something went wrong on the Sapwood server; try again soon.")
    await deps.client.views_update(view_id=view_id, view=view)


async def _first_view(deps: Deps, who: SlackUser, *, channel: str | None) -> dict[str, Any]:
    caller = await deps.caller(who)
    if caller is None:
        return forms.link_view(await deps.link_url(who))
    if caller.admin:
        async with deps.state.sessions() as session:
            teams = list(await session.scalars(select(TeamRow.name).order_by(TeamRow.name)))
    else:
        teams = list(caller.roles)
    choice = creatable_teams(caller, teams)
    if not choice:
        return forms.notice_view(cannot_create(caller))
    return forms.form_view(choice, channel=channel)


async def submit_form(deps: Deps, body: Mapping[str, Any], ack: AsyncAck) -> None:
    """Creates the Workspace the form describes, as the linked user, through the same apply
    the API runs (roles, validation); the modal shows what is wrong per field, or closes
    and the workspace's message follows in the channel the command came from."""
    view = body["view"]
    who = slack_user(body)
    try:
        document = forms.workspace_document(view["state"]["values"])
    except forms.FormError as exc:
        await ack(response_action="errors", errors=exc.errors)
        return
    caller = await deps.caller(who)
    if caller is None:
        await ack(response_action="errors", errors={forms.NAME: _unlinked()})
        return
    name, team = document["metadata"]["name"], document["metadata"]["team"]
    # resourceVersion 0 makes the apply a create: an existing workspace of that name
    # (even one created a moment ago by a racing request) is a conflict, never changed.
    document["metadata"]["resourceVersion"] = 0
    settings = deps.state.settings
    try:
        async with deps.state.sessions() as session:
            result = await apply_objects(
                session,
                caller,
                [document],
                dry_run=False,
                now=deps.now(),
                priorities=settings.scheduling.priorities,
                local_workdirs=deps.state.local_workdirs,
            )
    except ServiceError as exc:
        await ack(response_action="errors", errors=_errors(exc, name=name, team=team))
        return
    await ack()
    deps.state.wake(KIND)
    await post_workspace(deps, result.results[0].object, who=who, channel=_channel(view))


def _errors(exc: ServiceError, *, name: str, team: str) -> dict[str, str]:
    if isinstance(exc, ConflictError):
        return {forms.NAME: f"team {team} already has a workspace named {name}: choose another"}
    if isinstance(exc, ForbiddenError | NotFoundError):
        return {forms.TEAM: exc.message}
    if isinstance(exc, InvalidError) and exc.details:
        return forms.field_errors((d.path, d.message) for d in exc.details)
    return {forms.NAME: exc.message}


def _channel(view: Mapping[str, Any]) -> str | None:
    return forms.channel_of(str(view.get("private_metadata") or ""))


def _unlinked() -> str:
    return "your Slack user is no longer linked to a Sapwood user: run `/sapwood link`"


def render(deps: Deps, obj: Object | None, *, team: str, name: str) -> Message:
    """The workspace message as it should look now."""
    url = gateway_url(deps.state.settings)
    return workspace_message(obj, team=team, name=name, gateway_url=url, now=deps.now())


async def post_workspace(deps: Deps, obj: Object, *, who: SlackUser, channel: str | None) -> None:
    """Posts the new workspace's message in ``channel`` (the user's DM when there is none
    or the app may not post there) and tracks it, so it follows the workspace's state."""
    team, name = obj.metadata.team, obj.metadata.name
    message = render(deps, obj, team=team, name=name)
    where, ts = await _post_here_or_dm(deps, message, channel=channel, user=who.user)
    await _track(deps, obj, message, channel=where, ts=ts)


async def _track(deps: Deps, obj: Object, message: Message, *, channel: str, ts: str) -> None:
    async with deps.state.sessions() as session:
        await track_message(
            session,
            uid=obj.metadata.uid,
            kind=KIND,
            team=obj.metadata.team,
            name=obj.metadata.name,
            channel=channel,
            ts=ts,
            shown=digest(message),
            now=deps.now(),
        )


async def _post_here_or_dm(
    deps: Deps, message: Message, *, channel: str | None, user: str
) -> tuple[str, str]:
    if channel is not None:
        try:
            return await deps.post(channel, message)
        except SlackApiError as exc:  # not in that channel, or it is archived: a DM instead
            log.info("posting in the command's channel failed (%s); sending a DM", _error(exc))
    return await deps.post(await deps.dm_channel(user), message)


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or exc)


async def press(deps: Deps, body: Mapping[str, Any], respond: AsyncRespond) -> None:
    """A workspace button (Pause, Resume, Delete, Extend) pressed: done as the linked user
    through the API's services, then the message shows the new state at once. A refusal
    (not linked, a viewer, gone) is an ephemeral reply saying why."""
    action = (body.get("actions") or [{}])[0]
    target = workspace_of(str(action.get("value") or ""))
    if target is None:
        return
    team, name = target
    caller = await deps.caller(slack_user(body))
    if caller is None:
        await _say(respond, context.LINK_HINT)
        return
    obj: Object | None
    try:
        async with deps.state.sessions() as session:
            obj = await _act(deps, session, caller, str(action.get("action_id")), team, name)
    except NotFoundError as exc:
        await _say(respond, exc.message)
        if can_read(caller, team):  # it is gone: the message says so
            await _update(deps, body, None, team=team, name=name)
        return
    except ServiceError as exc:
        await _say(respond, exc.message + (f" ({exc.hint})" if exc.hint else ""))
        return
    deps.state.wake(KIND)
    await _update(deps, body, obj, team=team, name=name)


async def _act(
    deps: Deps, session: AsyncSession, caller: Caller, action: str, team: str, name: str
) -> Object | None:
    """The service call a button stands for; the workspace afterwards (None: gone)."""
    now = deps.now()
    if action == PAUSE:
        return await pause_object(session, caller, KIND, name, team=team, now=now)
    if action == RESUME:
        return await resume_object(session, caller, KIND, name, team=team, now=now)
    if action == EXTEND:
        return await extend_workspace(session, caller, name, team=team, by=EXTEND_BY, now=now)
    if action == DELETE:
        deleted = await delete_object(session, caller, KIND, name, team=team, now=now)
        return None if deleted.finished else deleted.object
    raise InvalidError(f"unknown button {action!r}")


async def _update(
    deps: Deps, body: Mapping[str, Any], obj: Object | None, *, team: str, name: str
) -> None:
    """Shows the workspace's new state in the message whose button was pressed."""
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    if not channel or not ts:
        return
    message = render(deps, obj, team=team, name=name)
    try:
        await deps.client.chat_update(
            channel=channel, ts=ts, text=message.text, blocks=message.blocks
        )
    except SlackApiError as exc:  # the live updates will get there
        log.warning("updating a workspace message failed: %s", _error(exc))
        return
    if obj is not None:  # what it shows now, so the live updates do not send it again
        await _track(deps, obj, message, channel=str(channel), ts=str(ts))


async def _say(respond: AsyncRespond, text: str) -> None:
    await respond(text=text, response_type="ephemeral", replace_original=False)
