"""Errors on the dashboard's paths as HTML pages; the API under /api/v1 keeps its JSON.

Page routes render their own ServiceErrors (``web.PageRoute``). What happens outside a
page's handler (an unknown path, a method the path does not take, a malformed query, an
unhandled exception, the database down) goes through the app's exception handlers,
which answer in JSON. ``install`` wraps each of them: on a dashboard path, the JSON
answer is rendered as the error page with the same status and headers (``Allow``,
``Retry-After``), so the message, the logging and the status stay decided in one place.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response

from sapwood.server.dashboard.web import render

ExceptionHandler = Callable[[Request, Exception], Awaitable[Response] | Response]
# Headers of the JSON answer that do not describe an HTML page.
_BODY_HEADERS = {"content-type", "content-length"}


@dataclass(frozen=True)
class PageError:
    """What the error page shows: the API's message, its field details and hint."""

    message: str
    hint: str | None = None


@dataclass(frozen=True)
class Detail:
    path: str
    message: str


def is_page_path(path: str) -> bool:
    """The dashboard's paths: the overview at ``/`` and everything under ``/ui``."""
    return path == "/" or path == "/ui" or path.startswith("/ui/")


def error_of(body: bytes, status_code: int) -> tuple[PageError, list[Detail]]:
    """The message, hint and details of an API error body; a plain message when the body
    is not one (``{"error": {"message", "hint", "details"}}``)."""
    fallback = PageError(
        "Something went wrong on the server" if status_code >= 500 else f"Error {status_code}",
        hint="the server log says why" if status_code >= 500 else None,
    )
    try:
        info: Any = json.loads(body)["error"]
        message = str(info["message"])
    except (ValueError, KeyError, TypeError):
        return fallback, []
    details = [
        Detail(str(d.get("path") or ""), str(d.get("message") or ""))
        for d in info.get("details") or []
        if isinstance(d, dict)
    ]
    hint = info.get("hint")
    return PageError(message[:1].upper() + message[1:], str(hint) if hint else None), details


def as_page(request: Request, response: Response) -> Response:
    """The API's JSON error answer as the dashboard's error page (same status, headers)."""
    error, details = error_of(bytes(response.body), response.status_code)
    if response.status_code == 404 and error.message == "Not Found":  # no route matched
        error = PageError(f"There is no page at {request.url.path}", hint=None)
    page = render(
        request, "error.html", status_code=response.status_code, error=error, details=details
    )
    for key, value in response.headers.items():
        if key.lower() not in _BODY_HEADERS:
            page.headers[key] = value
    return page


def _wrap(handler: ExceptionHandler) -> ExceptionHandler:
    async def on_error(request: Request, exc: Exception) -> Response:
        answer = handler(request, exc)
        response = answer if isinstance(answer, Response) else await answer
        # A WebSocket's handlers answer None: nothing to render.
        if isinstance(response, Response) and is_page_path(request.url.path):
            return as_page(request, response)
        return response

    return on_error


def install(app: FastAPI) -> None:
    """Wraps every exception handler the app has so far; call it after installing them."""
    for key, handler in list(app.exception_handlers.items()):
        app.exception_handlers[key] = _wrap(handler)
