"""What every dashboard page shares: the signed-in caller, templates, forms and errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from sapwood.server.dashboard.session import (
    COOKIE,
    CSRF_FIELD,
    csrf_matches,
    csrf_token,
    origin_refusal,
)
from sapwood.server.routes.deps import app_state
from sapwood.server.services.access import Caller
from sapwood.server.services.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    ServiceError,
    TooManyRequestsError,
    UnauthorizedError,
    UnavailableError,
)
from sapwood.server.services.tokens import authenticate
from sapwood.server.state import AppState
from sapwood.server.store.engine import AsyncSession

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
LOGIN = "/ui/login"
NAV = (
    ("overview", "/", "Overview"),
    ("queue", "/ui/queue", "Queue"),
    ("workloads", "/ui/workloads", "Workloads"),
    ("deploy", "/ui/deploy", "Deploy"),
    ("models", "/ui/models", "Models"),
    ("feeds", "/ui/feeds", "Feeds"),
)
# Everything a page loads comes from this server; no inline script, no other origin.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_STATUS: dict[type[ServiceError], int] = {
    InvalidError: 422,
    ForbiddenError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    UnavailableError: 503,
    TooManyRequestsError: 429,
}


class LoginRequired(Exception):  # noqa: N818 - a signal to the route class, not an error
    """No valid session cookie: the page redirects to the sign-in form."""

    def __init__(self, next_path: str, *, message: str = "") -> None:
        super().__init__(message)
        self.next_path = next_path
        self.message = message


@dataclass(frozen=True)
class Page:
    """A signed-in request: the app, a short session, the caller and its CSRF token."""

    request: Request
    state: AppState
    session: AsyncSession
    caller: Caller
    csrf: str


async def signed_in(
    request: Request, state: Annotated[AppState, Depends(app_state)]
) -> AsyncIterator[Page]:
    """The caller behind the session cookie, authenticated as the API authenticates."""
    token = request.cookies.get(COOKIE)
    async with state.sessions() as session:
        try:
            header = f"Bearer {token}" if token else None
            caller = await authenticate(session, header, now=state.clock.now())
        except UnauthorizedError as exc:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(target, message=exc.message if token else "") from None
        yield Page(request, state, session, caller, csrf_token(token or ""))


PageDep = Annotated[Page, Depends(signed_in)]


def render(
    request: Request,
    template: str,
    *,
    page: Page | None = None,
    section: str = "",
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A template with the navigation, the signed-in user and the CSRF token filled in."""
    values = {
        "nav": NAV,
        "section": section,
        "user": page.caller.user if page else None,
        "admin": page.caller.admin if page else False,
        "csrf": page.csrf if page else "",
        "csrf_field": CSRF_FIELD,
        **context,
    }
    response = TEMPLATES.TemplateResponse(request, template, values, status_code=status_code)
    response.headers.update(HEADERS)
    return response


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body as single values (the last one of a repeated field)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}


def require_same_origin(request: Request) -> None:
    """A browser's cross-site POST carries a foreign Origin (or ``null``): refuse it before
    anything else."""
    refusal = origin_refusal(request.headers.get("origin"), request.headers.get("host", ""))
    if refusal is not None:
        raise ForbiddenError(refusal)


async def checked_form(page: Page) -> dict[str, str]:
    """The form, after its CSRF token was checked against the session."""
    require_same_origin(page.request)
    form = await read_form(page.request)
    token = page.request.cookies.get(COOKIE, "")
    if not csrf_matches(token, form.get(CSRF_FIELD)):
        raise ForbiddenError(
            "the form's security token is missing or stale", hint="reload the page and try again"
        )
    return form


def login_redirect(next_path: str, *, expired: bool = False) -> RedirectResponse:
    query = f"?next={quote(next_path, safe='/')}" + ("&expired=1" if expired else "")
    response = RedirectResponse(LOGIN + (query if next_path != "/" or expired else ""), 303)
    if expired:
        response.delete_cookie(COOKIE, path="/")
    return response


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class PageRoute(APIRoute):
    """Dashboard routes answer in HTML: a sign-in redirect or an error page, never JSON."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                return login_redirect(exc.next_path, expired=bool(exc.message))
            except ServiceError as exc:
                return error_page(request, exc)

        return guarded


def status_of(exc: ServiceError) -> int:
    """The HTTP status the API gives the same error."""
    return next((code for cls, code in _STATUS.items() if isinstance(exc, cls)), 400)


def error_page(request: Request, exc: ServiceError) -> HTMLResponse:
    return render(
        request, "error.html", status_code=status_of(exc), error=exc, details=list(exc.details)
    )


def query_values(request: Request, *names: str) -> Mapping[str, str]:
    """The named query parameters that are set and not blank."""
    return {n: v.strip() for n in names if (v := request.query_params.get(n)) and v.strip()}
