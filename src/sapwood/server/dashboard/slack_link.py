"""The page where a signed-in user confirms a Slack link (sent by ``/sapwood link``).

The link's code arrives in the URL of the GET, which only asks; the POST carries it in
the form body, with the CSRF token, and links. Neither logs the code.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from sapwood.server.dashboard.web import PageDep, PageRoute, checked_form, render, status_of
from sapwood.server.services import slack_links
from sapwood.server.services.errors import InvalidError, ServiceError

router = APIRouter(route_class=PageRoute, include_in_schema=False)
NO_CODE = f"this Slack link has no code: {slack_links.AGAIN}"


@router.get(slack_links.LINK_PATH)
async def link_form(page: PageDep, code: str = "") -> HTMLResponse:
    """Asks to confirm: which Slack user, which Sapwood user. A signed-out visitor is sent
    to sign in first and comes back here."""
    try:
        if not code:
            raise InvalidError(NO_CODE)
        pending = await slack_links.pending_link(page.session, code, now=page.state.clock.now())
    except ServiceError as exc:
        return _page(page, error=exc)
    return _page(page, code=code, slack_user=pending.slack_user)


@router.post(slack_links.LINK_PATH)
async def confirm(page: PageDep) -> HTMLResponse:
    """Links the code's Slack user to the signed-in user, as ``confirm_link`` does."""
    form = await checked_form(page)
    code = form.get("code", "")
    try:
        if not code:
            raise InvalidError(NO_CODE)
        slack_user = await slack_links.confirm_link(
            page.session, page.caller, code, now=page.state.clock.now()
        )
    except ServiceError as exc:
        return _page(page, error=exc)
    return _page(page, slack_user=slack_user, linked=True)


def _page(
    page: PageDep,
    *,
    code: str = "",
    slack_user: str = "",
    linked: bool = False,
    error: ServiceError | None = None,
) -> HTMLResponse:
    return render(
        page.request,
        "slack_link.html",
        page=page,
        status_code=status_of(error) if error else 200,
        code=code,
        slack_user=slack_user,
        linked=linked,
        error=error,
    )
