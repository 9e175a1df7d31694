"""A Service paused by hand answers 503 with how to resume it, never 502 from a replica
that is gone."""

from __future__ import annotations

import httpx
import pytest

from sapwood.server.gateway.server import build_gateway
from sapwood.server.settings import Settings
from sapwood.testing.waiting import eventually
from tests.integration.gateway.support import running_gateway, upstreams
from tests.integration.gateway.test_store import set_status
from tests.support import Api, service

pytestmark = pytest.mark.anyio


async def test_a_paused_service_answers_503_saying_how_to_resume_it(
    api: Api, settings: Settings
) -> None:
    await api.admin.apply(
        [
            service("api", gateway={"auth": "public"}),
            service("down", paused=True, gateway={"auth": "public"}),
        ]
    )
    with upstreams("a") as (replica,):
        await set_status(settings.database_url, "default", "api", {"endpoints": [replica.endpoint]})
        # A status written before the pause still lists a replica that is gone.
        await set_status(
            settings.database_url,
            "default",
            "down",
            {"phase": "Paused", "endpoints": ["127.0.0.1:9"]},
        )
        gateway = build_gateway(settings, poll_interval_s=0.05)
        with running_gateway(gateway) as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:

                async def ready() -> bool:
                    return (await http.get("/s/default/api/")).status_code == 200

                await eventually(ready)
                answer = await http.get("/s/default/down/predict")
    assert answer.status_code == 503
    error = answer.json()["error"]
    assert error["code"] == "paused"
    assert error["message"] == (
        "service down is paused; resume with `sapwood resume service down --team default`"
    )
