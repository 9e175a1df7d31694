"""Channels cannot post to non-public addresses: refused when set, and again at each post."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from sapwood.client.errors import SapwoodError
from sapwood.server.observe.messages import Target, sample_notification
from sapwood.server.observe.notifier import Notifier
from sapwood.server.webhook_addresses import AddressPolicy, IPAddress
from sapwood.testing.clock import FakeClock
from tests.integration.notifications.test_notifications import Receiver, receiver  # noqa: F401
from tests.support import Api

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://10.0.0.7:8080/hook", "10.0.0.7 is a private address"),
        ("http://[::1]:9/hook", "::1 is a loopback address"),  # only 127.0.0.1/32 is allowed
    ],
)
async def test_setting_a_channel_to_a_non_public_address_is_422_on_url(
    api: Api, url: str, why: str
) -> None:
    with pytest.raises(SapwoodError) as refused:
        await api.admin.set_channel("hook", type="webhook", url=url, team="default")
    assert refused.value.status == 422
    (detail,) = refused.value.details
    assert detail.path == "url"
    assert why in detail.message
    assert "SAPWOOD_WEBHOOK_ALLOW" in detail.message
    assert await api.admin.list_channels(team="default") == []


def rebinding(to: str) -> Any:
    """A resolver whose answer changed since the channel was set: the name now points at
    ``to``."""

    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(to)]

    return resolve


async def test_a_name_that_resolves_to_loopback_at_post_time_is_refused_and_logged(
    api: Api,
    clock: FakeClock,
    receiver: Receiver,  # noqa: F811
) -> None:
    url = f"http://hooks.example.com:{receiver.port}/hook?token=abc"
    await api.admin.set_channel("hook", type="webhook", url=url, team="default")  # a name: ok
    app: Any = api.transport.app
    notifier = Notifier(
        app.state.sapwood.sessions, clock, policy=AddressPolicy(), resolve=rebinding("127.0.0.1")
    )
    target = Target("default", "hook", "webhook", url, None)
    delivery = await notifier.deliver(target, sample_notification("default", "hook", clock.now()))

    assert not delivery.ok
    assert delivery.attempt == 1  # a refusal is not retried
    assert delivery.error is not None
    assert "refused: hooks.example.com resolves to 127.0.0.1, a loopback address" in (
        delivery.error
    )
    assert receiver.requests == []
    (logged,) = await api.admin.list_deliveries(team="default")
    assert logged.error == delivery.error


async def test_an_allowed_address_is_posted_to_under_the_channels_host_name(
    api: Api,
    clock: FakeClock,
    receiver: Receiver,  # noqa: F811
) -> None:
    url = f"http://hooks.example.com:{receiver.port}/hook"
    app: Any = api.transport.app
    policy = AddressPolicy.parse(["127.0.0.1/32"])
    notifier = Notifier(
        app.state.sapwood.sessions, clock, policy=policy, resolve=rebinding("127.0.0.1")
    )
    target = Target("default", "hook", "webhook", url, None)
    delivery = await notifier.deliver(target, sample_notification("default", "hook", clock.now()))
    assert delivery.ok, delivery.error
    (received,) = receiver.requests
    assert received.headers["host"] == f"hooks.example.com:{receiver.port}"
