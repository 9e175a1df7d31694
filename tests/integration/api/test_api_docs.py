"""/docs works without internet: the page loads Swagger UI from the server itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import Api

pytestmark = pytest.mark.anyio

# Every src= and href= on the page, and the url: Swagger UI loads the document from.
_URLS = re.compile(r"""(?:src|href)=["']([^"']+)["']|url:\s*'([^']+)'""")


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'docs.db'}"


async def test_docs_load_only_the_servers_own_files(api: Api) -> None:
    async with api.http() as http:
        page = await http.get("/docs")
        assert page.status_code == 200
        urls = [a or b for a, b in _URLS.findall(page.text)]
        assert any(u.endswith("swagger-ui-bundle.js") for u in urls), page.text
        assert any(u.endswith("swagger-ui.css") for u in urls), page.text
        assert "/api/v1/openapi.json" in urls
        for url in urls:
            assert url.startswith("/"), f"/docs loads {url} from elsewhere"
            answer = await http.get(url)
            assert answer.status_code == 200, url
            assert answer.content, url
        assert "validator.swagger.io" not in page.text
        script = await http.get("/docs/static/swagger-ui-bundle.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert b"SwaggerUIBundle" in script.content


async def test_docs_serve_no_other_file(api: Api) -> None:
    async with api.http() as http:
        answer = await http.get("/docs/static/core.py")
    assert answer.status_code == 404
    assert "swagger-ui-bundle.js" in answer.json()["error"]["message"]
