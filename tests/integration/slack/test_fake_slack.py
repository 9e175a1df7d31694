"""The fake Slack answers slack_sdk as Slack does, and sends what Slack sends to an app."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from sapwood.testing.slack_fake import FakeSlack

pytestmark = pytest.mark.anyio

BUTTONS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*nb1* is Running"}},
    {
        "type": "actions",
        "block_id": "ws",
        "elements": [
            {
                "type": "button",
                "action_id": "ws_pause",
                "text": {"type": "plain_text", "text": "Pause"},
                "value": '{"team": "ml", "name": "nb1"}',
            }
        ],
    },
]

MODAL = {
    "type": "modal",
    "callback_id": "env_create",
    "private_metadata": '{"channel": "C_GENERAL"}',
    "title": {"type": "plain_text", "text": "New environment"},
    "submit": {"type": "plain_text", "text": "Create"},
    "blocks": [
        {
            "type": "input",
            "block_id": "name",
            "label": {"type": "plain_text", "text": "Name"},
            "element": {"type": "plain_text_input", "action_id": "name"},
        },
        {
            "type": "input",
            "block_id": "gpu",
            "label": {"type": "plain_text", "text": "GPU"},
            "element": {
                "type": "static_select",
                "action_id": "gpu",
                "options": [
                    {"text": {"type": "plain_text", "text": "none"}, "value": "0"},
                    {"text": {"type": "plain_text", "text": "one"}, "value": "1"},
                ],
                "initial_option": {"text": {"type": "plain_text", "text": "none"}, "value": "0"},
            },
        },
    ],
}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def slack(clock: Clock) -> Iterator[FakeSlack]:
    with FakeSlack(clock=clock) as fake:
        yield fake


@pytest.fixture
def web(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


async def test_a_posted_message_and_its_update_are_recorded(
    slack: FakeSlack, web: AsyncWebClient
) -> None:
    posted = await web.chat_postMessage(channel="C_GENERAL", text="nb1: Pending", blocks=BUTTONS)
    await web.chat_update(channel="C_GENERAL", ts=posted["ts"], text="nb1: Running")

    shown = slack.message("C_GENERAL", posted["ts"])
    assert shown.text == "nb1: Running"
    assert shown.blocks == BUTTONS  # an update without blocks keeps them, as in Slack
    assert [version["text"] for version in shown.history] == ["nb1: Pending", "nb1: Running"]
    assert [call.method for call in slack.calls] == ["chat.postMessage", "chat.update"]


async def test_a_message_to_a_user_goes_to_their_direct_messages(
    slack: FakeSlack, web: AsyncWebClient
) -> None:
    opened = await web.conversations_open(users="U_ALICE")
    posted = await web.chat_postMessage(channel="U_ALICE", text="hello")

    assert opened["channel"]["id"] == posted["channel"] == slack.user_dm("U_ALICE")
    assert slack.messages[0].channel == "D_U_ALICE"


async def test_calls_without_the_bot_token_are_refused(slack: FakeSlack) -> None:
    wrong = AsyncWebClient(token="xoxb-someone-else", base_url=slack.api_url)
    with pytest.raises(SlackApiError) as refused:
        await wrong.chat_postMessage(channel="C_GENERAL", text="hi")
    assert refused.value.response["error"] == "invalid_auth"
    assert slack.messages == []

    app_level = AsyncWebClient(token=slack.app_token, base_url=slack.api_url)
    with pytest.raises(SlackApiError) as refused:
        await app_level.chat_postMessage(channel="C_GENERAL", text="hi")
    assert refused.value.response["error"] == "not_allowed_token_type"


async def test_unknown_methods_and_bad_blocks_are_refused(web: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as refused:
        await web.api_call("chat.teleport", json={"channel": "C_GENERAL"})
    assert refused.value.response["error"] == "unknown_method"

    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    with pytest.raises(SlackApiError) as refused:
        await web.chat_postMessage(channel="C_GENERAL", text="t", blocks=too_long)
    assert refused.value.response["error"] == "invalid_blocks"


async def test_views_open_takes_a_fresh_trigger_once(
    slack: FakeSlack, web: AsyncWebClient, clock: Clock
) -> None:
    trigger = slack.command_payload("U_ALICE", "env create")["trigger_id"]

    opened = await web.views_open(trigger_id=trigger, view=MODAL)

    view_id = opened["view"]["id"]
    assert slack.views[view_id].user == "U_ALICE"
    assert slack.views[view_id].view["callback_id"] == "env_create"
    with pytest.raises(SlackApiError) as refused:
        await web.views_open(trigger_id=trigger, view=MODAL)
    assert refused.value.response["error"] == "trigger_exchanged"


async def test_views_open_refuses_an_expired_or_unknown_trigger(
    slack: FakeSlack, web: AsyncWebClient, clock: Clock
) -> None:
    trigger = slack.mint_trigger("U_ALICE")
    clock.now += 3.5

    with pytest.raises(SlackApiError) as refused:
        await web.views_open(trigger_id=trigger, view=MODAL)
    assert refused.value.response["error"] == "expired_trigger_id"
    with pytest.raises(SlackApiError) as refused:
        await web.views_open(trigger_id="12345.made.up", view=MODAL)
    assert refused.value.response["error"] == "invalid_trigger_id"
    assert slack.views == {}


async def test_views_update_replaces_the_view_and_checks_its_hash(
    slack: FakeSlack, web: AsyncWebClient
) -> None:
    opened = await web.views_open(trigger_id=slack.mint_trigger("U_ALICE"), view=MODAL)
    view_id, first_hash = opened["view"]["id"], opened["view"]["hash"]
    filled = {**MODAL, "title": {"type": "plain_text", "text": "Ready"}}

    await web.views_update(view_id=view_id, view=filled, hash=first_hash)

    assert slack.views[view_id].view["title"]["text"] == "Ready"
    assert len(slack.views[view_id].history) == 2
    with pytest.raises(SlackApiError) as refused:
        await web.views_update(view_id=view_id, view=MODAL, hash=first_hash)
    assert refused.value.response["error"] == "hash_conflict"


async def test_an_uploaded_file_is_recorded(slack: FakeSlack, web: AsyncWebClient) -> None:
    await web.files_upload_v2(
        channel="C_GENERAL", content="line 1\nline 2\n", filename="nb1.log", title="nb1 logs"
    )

    [uploaded] = slack.files
    assert (uploaded.filename, uploaded.title, uploaded.channel) == (
        "nb1.log",
        "nb1 logs",
        "C_GENERAL",
    )
    assert uploaded.content == b"line 1\nline 2\n"


async def test_a_ratelimited_call_answers_429_with_retry_after(
    slack: FakeSlack, web: AsyncWebClient
) -> None:
    slack.fail_next("chat.update", retry_after_s=7)
    posted = await web.chat_postMessage(channel="C_GENERAL", text="a")

    with pytest.raises(SlackApiError) as refused:
        await web.chat_update(channel="C_GENERAL", ts=posted["ts"], text="b")
    assert refused.value.response.status_code == 429
    assert refused.value.response.headers["Retry-After"] == "7"
    await web.chat_update(channel="C_GENERAL", ts=posted["ts"], text="b")
    assert slack.messages[0].text == "b"


async def test_requests_are_signed_as_slack_signs_them(slack: FakeSlack) -> None:
    verifier = SignatureVerifier(slack.signing_secret)
    body, headers = slack.command_request("U_ALICE", "env list", channel="C_GENERAL")

    assert verifier.is_valid_request(body, headers)
    fields = {key: value[0] for key, value in parse_qs(body.decode()).items()}
    assert fields["command"] == "/sapwood"
    assert fields["text"] == "env list"
    assert (fields["user_id"], fields["channel_id"]) == ("U_ALICE", "C_GENERAL")
    assert fields["response_url"].startswith(slack.url + "/respond/")

    stale = slack.signed(body, timestamp=int(headers["X-Slack-Request-Timestamp"]) - 600)
    forged = slack.signed(body, secret="not-the-secret")
    assert not verifier.is_valid_request(*stale)
    assert not verifier.is_valid_request(*forged)


async def test_a_click_carries_the_button_the_message_shows(
    slack: FakeSlack, web: AsyncWebClient
) -> None:
    posted = await web.chat_postMessage(channel="C_GENERAL", text="nb1", blocks=BUTTONS)

    body, _ = slack.block_action_request(
        "U_BOB", action_id="ws_pause", channel="C_GENERAL", ts=posted["ts"]
    )

    payload = json.loads(parse_qs(body.decode())["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["actions"][0]["value"] == '{"team": "ml", "name": "nb1"}'
    assert payload["actions"][0]["block_id"] == "ws"
    assert payload["message"]["ts"] == posted["ts"]
    assert payload["container"]["channel_id"] == "C_GENERAL"
    with pytest.raises(ValueError, match="ws_delete"):
        slack.block_action_request(
            "U_BOB", action_id="ws_delete", channel="C_GENERAL", ts=posted["ts"]
        )


async def test_a_response_url_can_replace_the_message_clicked(
    slack: FakeSlack, web: AsyncWebClient
) -> None:
    posted = await web.chat_postMessage(channel="C_GENERAL", text="nb1", blocks=BUTTONS)
    payload = slack.block_action_payload(
        "U_BOB", action_id="ws_pause", channel="C_GENERAL", ts=posted["ts"]
    )

    async with httpx.AsyncClient() as http:
        answer = await http.post(
            payload["response_url"], json={"replace_original": True, "text": "nb1 paused"}
        )

    assert answer.status_code == 200
    assert slack.responses == [{"replace_original": True, "text": "nb1 paused"}]
    assert slack.message("C_GENERAL", posted["ts"]).text == "nb1 paused"


async def test_a_submission_carries_the_view_the_app_opened(
    slack: FakeSlack, web: AsyncWebClient
) -> None:
    opened = await web.views_open(trigger_id=slack.mint_trigger("U_ALICE"), view=MODAL)
    view_id = opened["view"]["id"]
    values = slack.form_values(view_id, {"name": "nb1"})

    body, headers = slack.view_submission_request("U_ALICE", view_id, values)

    assert SignatureVerifier(slack.signing_secret).is_valid_request(body, headers)
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    view = payload["view"]
    assert (view["id"], view["callback_id"]) == (view_id, "env_create")
    assert view["private_metadata"] == '{"channel": "C_GENERAL"}'
    assert view["state"]["values"]["name"]["name"] == {"type": "plain_text_input", "value": "nb1"}
    # Left unanswered, the select keeps its initial option, as in Slack.
    assert view["state"]["values"]["gpu"]["gpu"]["selected_option"]["value"] == "0"
    with pytest.raises(ValueError, match="offers no option '8'"):
        slack.form_values(view_id, {"gpu": "8"})


async def test_post_sends_a_request_to_the_app_as_a_retry_when_asked(slack: FakeSlack) -> None:
    seen: list[httpx.Request] = []

    def app(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    transport = httpx.MockTransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        built = slack.command_request("U_ALICE", "env list")
        await slack.post(http, built)
        await slack.post(http, built, retry_num=1)

    assert [request.url.path for request in seen] == ["/slack/events"] * 2
    assert "x-slack-retry-num" not in seen[0].headers
    assert seen[1].headers["x-slack-retry-num"] == "1"
    assert seen[1].headers["x-slack-retry-reason"] == "http_timeout"
    assert SignatureVerifier(slack.signing_secret).is_valid_request(
        seen[1].content, dict(seen[1].headers)
    )


async def test_a_socket_mode_client_gets_envelopes_and_reconnects_after_a_drop(
    slack: FakeSlack,
) -> None:
    client = SocketModeClient(
        app_token=slack.app_token,
        web_client=AsyncWebClient(base_url=slack.api_url),
        ping_interval=0.1,
    )
    received: list[SocketModeRequest] = []

    async def ack(client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        received.append(request)
        if request.type == "slash_commands":
            answer = {"text": f"got {request.payload['text']}"}
            response = SocketModeResponse(envelope_id=request.envelope_id, payload=answer)
        else:
            response = SocketModeResponse(envelope_id=request.envelope_id)
        await client.send_socket_mode_response(response)

    client.socket_mode_request_listeners.append(ack)
    try:
        await client.connect()
        first = await slack.socket_send(
            "slash_commands", slack.command_payload("U_ALICE", "env list"), envelope_id="e1"
        )
        slack.drop_sockets()
        await slack.wait_for(lambda: slack.connections_opened == 2 and slack.open_sockets == 1)
        second = await slack.socket_send(
            "interactive", slack.block_action_payload("U_ALICE", action_id="ws_pause")
        )
    finally:
        await client.close()

    assert first == {"envelope_id": "e1", "payload": {"text": "got env list"}}
    assert received[0].type == "slash_commands"
    assert received[0].payload["command"] == "/sapwood"
    assert received[1].type == "interactive"
    assert received[1].payload["actions"][0]["action_id"] == "ws_pause"
    assert second == {"envelope_id": received[1].envelope_id}
    await slack.wait_for(lambda: slack.open_sockets == 0)


async def test_an_envelope_nobody_acks_times_out(slack: FakeSlack) -> None:
    with pytest.raises(TimeoutError, match="no Socket Mode connection"):
        await slack.socket_send("events_api", {"event": {}}, timeout_s=0.05)


async def test_a_client_notices_a_socket_gone_quiet_and_reconnects(slack: FakeSlack) -> None:
    client = SocketModeClient(
        app_token=slack.app_token,
        web_client=AsyncWebClient(base_url=slack.api_url),
        ping_interval=0.1,
    )
    try:
        await client.connect()
        await slack.wait_for(lambda: slack.open_sockets == 1)
        slack.silence_sockets()
        assert slack.open_sockets == 0
        await slack.wait_for(lambda: slack.open_sockets == 1)
    finally:
        await client.close()
    assert slack.connections_opened == 2


async def test_an_envelope_on_a_socket_cut_before_its_ack_fails_at_once(slack: FakeSlack) -> None:
    web = AsyncWebClient(token=slack.app_token, base_url=slack.api_url)
    url = (await web.apps_connections_open(app_token=slack.app_token))["url"]
    with pytest.raises(InvalidStatus):
        await connect(url.replace("ticket=", "ticket=forged"))
    async with connect(url) as socket:
        assert json.loads(await socket.recv())["type"] == "hello"
        sending = asyncio.ensure_future(slack.socket_send("events_api", {"event": {}}))
        envelope = json.loads(await socket.recv())
        assert envelope["type"] == "events_api"
        slack.drop_sockets()
        with pytest.raises(ConnectionError, match=envelope["envelope_id"]):
            await sending
