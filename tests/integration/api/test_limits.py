"""The server says its body limit, and a 413 names the remedy."""

from __future__ import annotations

from pathlib import Path

import pytest

from sapwood.server.settings import ApiSettings, Settings
from sapwood.testing.feeds import feed
from tests.support import Api

pytestmark = pytest.mark.anyio

LIMIT = 64 * 1024


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'limits.db'}"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"api": ApiSettings(max_body_bytes=LIMIT)})


async def test_the_server_says_its_limits_to_any_token(api: Api) -> None:
    limits = await api.admin.limits()
    assert limits.max_body_bytes == LIMIT
    async with api.http() as anonymous:
        assert (await anonymous.get("/api/v1/limits")).status_code == 401


async def test_a_413_on_feed_records_points_at_feed_push_and_the_setting(api: Api) -> None:
    await api.admin.apply([feed("ids")])
    body = b"a,b\n" + b"1,2\n" * LIMIT
    async with api.http(api.admin_token) as http:
        answer = await http.post(
            "/api/v1/feeds/ids/records", content=body, headers={"content-type": "text/csv"}
        )
    assert answer.status_code == 413
    error = answer.json()["error"]
    assert f"larger than {LIMIT} bytes" in error["message"]
    assert "`sapwood feed push FEED FILE`" in error["hint"]
    assert "SAPWOOD_MAX_BODY_BYTES" in error["hint"]


async def test_a_413_elsewhere_names_the_setting_to_raise(api: Api) -> None:
    body = b'{"objects": [' + b" " * LIMIT + b"]}"
    async with api.http(api.admin_token) as http:
        answer = await http.post(
            "/api/v1/apply", content=body, headers={"content-type": "application/json"}
        )
    assert answer.status_code == 413
    assert "SAPWOOD_MAX_BODY_BYTES" in answer.json()["error"]["hint"]


def test_the_limit_is_read_from_the_environment() -> None:
    settings = Settings.from_env({"SAPWOOD_MAX_BODY_BYTES": str(32 * 1024 * 1024)})
    assert settings.api.max_body_bytes == 32 * 1024 * 1024
