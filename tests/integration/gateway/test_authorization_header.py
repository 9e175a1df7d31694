"""The gateway refuses a request with more than one Authorization header, as the API does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sapwood.server.gateway.server import build_gateway
from sapwood.server.settings import Settings
from sapwood.testing.servers import free_port
from tests.integration.gateway.support import write_routes
from tests.support import Api
from tests.support_gateway import whole_request

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("valid_first", [True, False])
async def test_a_repeated_authorization_header_is_401(
    api: Api, settings: Settings, tmp_path: Path, valid_first: bool
) -> None:
    routes = tmp_path / "routes.yaml"
    endpoint = f"127.0.0.1:{free_port()}"
    write_routes(routes, [{"team": "default", "service": "echo", "endpoints": [endpoint]}])
    gateway = build_gateway(
        settings, routes_file=routes, database_url=settings.database_url, timeout_s=5.0
    )
    values = [f"Bearer {api.admin_token}".encode(), b"Bearer sw_someone_else"]
    if not valid_first:
        values.reverse()
    await gateway.start()
    try:
        headers = [(b"host", b"gw")] + [(b"authorization", v) for v in values]
        response = await gateway.handle(whole_request(b"GET", b"/s/default/echo/", headers))
    finally:
        await gateway.close()
    assert response.status == 401
    assert (b"www-authenticate", b"Bearer") in response.headers
    message = json.loads(response.body)["error"]["message"]
    assert message == "exactly one Authorization header is allowed; this request has 2"
