"""A 404 for a mistyped resource or object name offers the closest one the caller may see."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import Api, job

pytestmark = pytest.mark.anyio


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'suggest.db'}"


async def test_an_unknown_plural_suggests_the_closest(api: Api) -> None:
    async with api.http(api.admin_token) as http:
        answer = await http.get("/api/v1/jbos")
        far = await http.get("/api/v1/pods")
    assert answer.status_code == 404
    assert answer.json()["error"]["message"].endswith("; did you mean 'jobs'?")
    assert far.status_code == 404
    assert "did you mean" not in far.json()["error"]["message"]


async def test_an_unknown_name_suggests_the_closest_in_the_team(api: Api) -> None:
    await api.admin.create_team("research")
    await api.admin.apply([job("hello-train", team="research")])
    async with api.http(api.admin_token) as http:
        answer = await http.get("/api/v1/jobs/hello-trian", params={"team": "research"})
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == (
        "job/hello-trian not found in team research; did you mean 'hello-train'?"
    )


async def test_a_mistyped_name_among_many_still_gets_its_suggestion(api: Api) -> None:
    # More names than a suggestion weighs on either side of the missing one (it weighs
    # its neighbours in sort order, not every name in the store).
    await api.admin.apply([job(f"run-{i:03d}") for i in range(450)] + [job("train-model")])
    async with api.http(api.admin_token) as http:
        answer = await http.get("/api/v1/jobs/train-mdoel")
    assert answer.status_code == 404
    assert answer.json()["error"]["message"].endswith("; did you mean 'train-model'?")
