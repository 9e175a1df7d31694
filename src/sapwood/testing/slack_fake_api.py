"""The fake Slack's Web API (``/api/{method}``), upload URLs and response URLs, as Starlette.

Arguments arrive as slack_sdk sends them: in the query string, a form body or a JSON body
(merged, in that order). A call is answered as Slack answers it: HTTP 200 with
``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``; ``ratelimited`` is a 429 with
Retry-After. Every call is recorded in ``World.calls`` before it is answered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sapwood.testing.slack_fake_checks import check_message, check_view, first_problems
from sapwood.testing.slack_fake_records import (
    FakeCall,
    FakeEphemeral,
    FakeFile,
    FakeMessage,
    FakeView,
    World,
)

Answer = dict[str, Any]
Handler = Callable[[World, dict[str, Any]], Answer]

#: Arguments slack_sdk sends as JSON strings in forms (and as objects in JSON bodies).
_JSON_ARGS = ("blocks", "attachments", "view", "files")


class SlackError(Exception):
    """A Slack error answer: ``{"ok": false, "error": error}``."""

    def __init__(self, error: str, *, messages: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []


def _required(args: dict[str, Any], name: str, error: str | None = None) -> Any:
    value = args.get(name)
    if value in (None, ""):
        raise SlackError(error or "invalid_arguments", messages=[f"[ERROR] missing {name}"])
    return value


def dm_channel(user: str) -> str:
    """The id of the direct-message channel between the bot and ``user``."""
    return f"D_{user}"


def _channel(args: dict[str, Any]) -> str:
    channel = str(_required(args, "channel", "channel_not_found"))
    # Posting to a user id posts to the bot's DM with that user, as Slack does.
    return dm_channel(channel) if channel[:1] in ("U", "W") else channel


def _checked(problems: list[str], error: str) -> None:
    if problems:
        raise SlackError(error, messages=first_problems(problems))


def auth_test(world: World, args: dict[str, Any]) -> Answer:
    team = world.team
    return {
        "url": f"https://{team.domain}.slack.com/",
        "team": team.domain,
        "user": "sapwood",
        "team_id": team.id,
        "user_id": team.bot_user,
        "bot_id": team.bot_id,
        "is_enterprise_install": False,
    }


def post_message(world: World, args: dict[str, Any]) -> Answer:
    channel = _channel(args)
    text, blocks = str(args.get("text") or ""), list(args.get("blocks") or [])
    _checked(check_message(text, blocks), "invalid_blocks" if blocks else "no_text")
    message = FakeMessage(
        channel=channel,
        ts=world.next_ts(),
        text=text,
        blocks=blocks,
        thread_ts=args.get("thread_ts"),
    )
    message.history.append({"text": text, "blocks": blocks})
    with world.lock:
        world.messages.append(message)
    return {"channel": channel, "ts": message.ts, "message": message.as_slack(world.team)}


def update_message(world: World, args: dict[str, Any]) -> Answer:
    channel, ts = _channel(args), str(_required(args, "ts", "message_not_found"))
    message = world.message(channel, ts)
    if message is None or message.deleted:
        raise SlackError("message_not_found")
    text = str(args["text"]) if args.get("text") is not None else message.text
    blocks = list(args["blocks"]) if args.get("blocks") is not None else message.blocks
    _checked(check_message(text, blocks), "invalid_blocks" if blocks else "no_text")
    with world.lock:
        message.text, message.blocks = text, blocks
        message.history.append({"text": text, "blocks": blocks})
    return {"channel": channel, "ts": ts, "text": text, "message": message.as_slack(world.team)}


def delete_message(world: World, args: dict[str, Any]) -> Answer:
    channel, ts = _channel(args), str(_required(args, "ts", "message_not_found"))
    message = world.message(channel, ts)
    if message is None or message.deleted:
        raise SlackError("message_not_found")
    with world.lock:
        message.deleted = True
    return {"channel": channel, "ts": ts}


def post_ephemeral(world: World, args: dict[str, Any]) -> Answer:
    channel, user = _channel(args), str(_required(args, "user", "user_not_found"))
    text, blocks = str(args.get("text") or ""), list(args.get("blocks") or [])
    _checked(check_message(text, blocks), "invalid_blocks" if blocks else "no_text")
    with world.lock:
        world.ephemerals.append(FakeEphemeral(channel=channel, user=user, text=text, blocks=blocks))
    return {"message_ts": world.next_ts()}


def _exchange_trigger(world: World, args: dict[str, Any]) -> str:
    """Spends a trigger id: Slack accepts each once, within ``trigger_ttl_s`` of the click."""
    trigger_id = str(_required(args, "trigger_id", "invalid_trigger_id"))
    with world.lock:
        trigger = world.triggers.get(trigger_id)
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if world.clock() - trigger.minted_s > world.trigger_ttl_s:
            raise SlackError("expired_trigger_id")
        if trigger.exchanged:
            raise SlackError("trigger_exchanged")
        trigger.exchanged = True
        return trigger.user


def _shown(world: World, view_id: str, view: dict[str, Any], *, previous: str | None) -> Answer:
    """The view as Slack returns it: the app's fields plus id, hash, state and app ids."""
    version = world.next("view_version")
    shown: Answer = {
        "callback_id": "",
        "private_metadata": "",
        "external_id": "",
        **view,
        "id": view_id,
        "team_id": world.team.id,
        "app_id": world.team.app_id,
        "bot_id": world.team.bot_id,
        "hash": f"{1700000000 + version}.fakehash{version}",
        "state": {"values": {}},
        "root_view_id": view_id if previous is None else previous,
        "previous_view_id": previous,
    }
    return shown


def _open_view(world: World, args: dict[str, Any], *, pushed: bool) -> Answer:
    view = _required(args, "view")
    _checked(check_view(view), "invalid_arguments")
    user = _exchange_trigger(world, args)
    view_id = f"V{world.next('view'):04d}"
    previous = None
    if pushed:
        with world.lock:
            mine = [opened.id for opened in world.views.values() if opened.user == user]
        previous = mine[-1] if mine else None
    shown = _shown(world, view_id, dict(view), previous=previous)
    opened = FakeView(id=view_id, view=shown, user=user, trigger=str(args["trigger_id"]))
    opened.history.append(shown)
    with world.lock:
        world.views[view_id] = opened
    return {"view": shown}


def open_view(world: World, args: dict[str, Any]) -> Answer:
    return _open_view(world, args, pushed=False)


def push_view(world: World, args: dict[str, Any]) -> Answer:
    return _open_view(world, args, pushed=True)


def update_view(world: World, args: dict[str, Any]) -> Answer:
    view = _required(args, "view")
    _checked(check_view(view), "invalid_arguments")
    with world.lock:
        if args.get("view_id"):
            opened = world.views.get(str(args["view_id"]))
        else:
            external_id = _required(args, "external_id", "not_found")
            matches = [v for v in world.views.values() if v.view["external_id"] == external_id]
            opened = matches[-1] if matches else None
        if opened is None:
            raise SlackError("not_found")
        if args.get("hash") and args["hash"] != opened.view["hash"]:
            raise SlackError("hash_conflict")
        shown = _shown(world, opened.id, dict(view), previous=opened.view["previous_view_id"])
        opened.view = shown
        opened.history.append(shown)
    return {"view": shown}


def open_conversation(world: World, args: dict[str, Any]) -> Answer:
    users = [user for user in str(_required(args, "users", "users_list_not_supplied")).split(",")]
    channel = dm_channel(users[0]) if len(users) == 1 else "G_" + "_".join(sorted(users))
    return {"channel": {"id": channel}}


def open_connection(world: World, args: dict[str, Any]) -> Answer:
    ticket = f"ticket-{world.next('ticket'):04d}"
    with world.lock:
        world.tickets.add(ticket)
    return {"url": f"{world.socket_url}/socket?ticket={ticket}"}


def upload_url(world: World, args: dict[str, Any]) -> Answer:
    filename = str(_required(args, "filename"))
    _required(args, "length")
    file_id = f"F{world.next('file'):04d}"
    with world.lock:
        world.files.append(FakeFile(id=file_id, filename=filename))
    return {"upload_url": f"{world.http_url}/upload/{file_id}", "file_id": file_id}


def complete_upload(world: World, args: dict[str, Any]) -> Answer:
    wanted = _required(args, "files")
    if not isinstance(wanted, list):
        raise SlackError("invalid_arguments", messages=["[ERROR] files must be a list"])
    done = []
    with world.lock:
        by_id = {file.id: file for file in world.files}
        for entry in wanted:
            file = by_id.get(str(entry.get("id")))
            if file is None or file.completed:
                raise SlackError("file_not_found")
            file.title = entry.get("title") or file.filename
            file.channel = args.get("channel_id") or args.get("channels")
            file.initial_comment = args.get("initial_comment")
            file.thread_ts = args.get("thread_ts")
            file.completed = True
            done.append({"id": file.id, "name": file.filename, "title": file.title})
    return {"files": done}


def user_info(world: World, args: dict[str, Any]) -> Answer:
    user = str(_required(args, "user", "user_not_found"))
    name = user.removeprefix("U_").lower()
    return {
        "user": {
            "id": user,
            "team_id": world.team.id,
            "name": name,
            "real_name": name.title(),
            "tz": "UTC",
            "is_bot": False,
            "profile": {"display_name": name, "real_name": name.title()},
        }
    }


METHODS: dict[str, Handler] = {
    "auth.test": auth_test,
    "chat.postMessage": post_message,
    "chat.update": update_message,
    "chat.delete": delete_message,
    "chat.postEphemeral": post_ephemeral,
    "views.open": open_view,
    "views.push": push_view,
    "views.update": update_view,
    "conversations.open": open_conversation,
    "apps.connections.open": open_connection,
    "files.getUploadURLExternal": upload_url,
    "files.completeUploadExternal": complete_upload,
    "users.info": user_info,
}

#: Methods called with the app-level token (xapp-); every other one takes the bot token.
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


async def _arguments(request: Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if body and content_type.startswith("application/json"):
        args.update(json.loads(body))
    elif body and content_type.startswith("application/x-www-form-urlencoded"):
        args.update(parse_qsl(body.decode(), keep_blank_values=True))
    elif body:
        raise SlackError("invalid_form_data")
    for name in _JSON_ARGS:
        if isinstance(args.get(name), str) and args[name]:
            try:
                args[name] = json.loads(args[name])
            except ValueError:
                problem = [f"[ERROR] {name} is not JSON"]
                raise SlackError("invalid_arguments", messages=problem) from None
    return args


def _auth(request: Request, args: dict[str, Any], tokens: dict[str, str]) -> str:
    header = request.headers.get("authorization", "")
    token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else args.get("token")
    if not token:
        return "none"
    for kind, known in tokens.items():
        if token == known:
            return kind
    return "invalid"


def _error(error: SlackError) -> Response:
    body: Answer = {"ok": False, "error": error.error}
    if error.messages:
        body["response_metadata"] = {"messages": error.messages}
    return JSONResponse(body)


def web_api(world: World, *, bot_token: str, app_token: str) -> Starlette:
    """The Starlette app serving the Web API, upload URLs and response URLs."""
    tokens = {"bot": bot_token, "app": app_token}

    async def call(request: Request) -> Response:
        method = request.path_params["method"]
        try:
            args = await _arguments(request)
        except SlackError as error:
            return _error(error)
        auth = _auth(request, args, tokens)
        args.pop("token", None)
        with world.lock:
            world.calls.append(FakeCall(method=method, args=args, auth=auth))
        handler = METHODS.get(method)
        wanted = "app" if method in APP_TOKEN_METHODS else "bot"
        if handler is None:
            return _error(SlackError("unknown_method"))
        if auth != wanted:
            errors = {"none": "not_authed", "invalid": "invalid_auth"}
            return _error(SlackError(errors.get(auth, "not_allowed_token_type")))
        failure = world.take_failure(method)
        if failure is not None:
            headers = {}
            if failure.retry_after_s is not None:
                headers["Retry-After"] = str(failure.retry_after_s)
            status = 429 if failure.error == "ratelimited" else 200
            return JSONResponse({"ok": False, "error": failure.error}, status, headers)
        try:
            return JSONResponse({"ok": True, **handler(world, args)})
        except SlackError as error:
            return _error(error)

    async def upload(request: Request) -> Response:
        file_id = request.path_params["file_id"]
        content = await request.body()
        with world.lock:
            for file in world.files:
                if file.id == file_id and not file.completed:
                    file.content = content
                    return PlainTextResponse(f"OK - {len(content)}")
        return PlainTextResponse("file not found", 404)

    async def respond(request: Request) -> Response:
        target = world.response_targets.get(request.path_params["response_id"])
        if target is None:
            return PlainTextResponse("no_service", 404)
        body = json.loads(await request.body() or b"{}")
        with world.lock:
            world.responses.append(body)
        message = None
        if target.channel is not None and target.ts is not None:
            message = world.message(target.channel, target.ts)
        if message is not None and body.get("delete_original"):
            with world.lock:
                message.deleted = True
        elif message is not None and body.get("replace_original"):
            # Replacing the original replaces all of it: blocks not sent are gone.
            replacement = {"text": body.get("text") or "", "blocks": body.get("blocks") or []}
            try:
                update_message(world, {"channel": target.channel, "ts": target.ts, **replacement})
            except SlackError as error:
                return PlainTextResponse(error.error, 400)
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/api/{method}", call, methods=["GET", "POST"]),
            Route("/upload/{file_id}", upload, methods=["POST"]),
            Route("/respond/{response_id}", respond, methods=["POST"]),
        ]
    )
