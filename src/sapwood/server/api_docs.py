"""/docs: the Swagger UI over the server's OpenAPI document, from files the server ships.

FastAPI's own /docs page loads Swagger UI from a CDN, so on a machine without internet
access it stays blank. The ``fastapi-offline`` package carries Swagger UI's built files;
``install`` serves them under ``STATIC_PREFIX`` and builds the page on them, so every URL
the page loads is this server's own.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from sapwood.server.services.errors import NotFoundError

DOCS_PATH = "/docs"
STATIC_PREFIX = "/docs/static"
# The files the page needs, with their media types; nothing else in the folder is served.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
# validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io
# and show its badge, which needs the internet and leaks the API's shape.
UI_PARAMETERS = {"validatorUrl": None, "persistAuthorization": True}


def assets_dir() -> Path:
    """Where the installed ``fastapi-offline`` keeps Swagger UI's built files."""
    return Path(str(files("fastapi_offline") / "static"))


def docs_page(*, openapi_url: str, title: str) -> HTMLResponse:
    """The Swagger UI page; it loads only ``STATIC_PREFIX`` files and ``openapi_url``."""
    return get_swagger_ui_html(
        openapi_url=openapi_url,
        title=title,
        swagger_js_url=f"{STATIC_PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{STATIC_PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{STATIC_PREFIX}/favicon.png",
        swagger_ui_parameters=UI_PARAMETERS,
    )


def install(app: FastAPI) -> None:
    """Adds ``GET /docs`` and its assets to ``app`` (created with ``docs_url=None`` and an
    ``openapi_url``); anyone may load them, as anyone may read the document."""
    if app.openapi_url is None:
        raise ValueError("the docs page needs the app's openapi_url")
    openapi_url = app.openapi_url
    folder = assets_dir()
    title = f"{app.title} API"

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return docs_page(openapi_url=openapi_url, title=title)

    @app.get(STATIC_PREFIX + "/{name}", include_in_schema=False)
    async def swagger_asset(name: str) -> FileResponse:
        media = ASSETS.get(name)
        if media is None:
            raise NotFoundError(f"no such file {name!r}: expected one of {', '.join(ASSETS)}")
        # The files change only with the installed package: a day of caching is safe.
        headers = {"Cache-Control": "public, max-age=86400"}
        return FileResponse(folder / name, media_type=media, headers=headers)
