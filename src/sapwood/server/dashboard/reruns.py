"""The job page's Rerun button: runs a finished job again through the rerun service."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from sapwood.server.dashboard.web import PageDep, PageRoute, checked_form
from sapwood.server.dashboard.workloads import link
from sapwood.server.services import rerun as reruns

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.post("/ui/workloads/jobs/{team}/{name}/rerun")
async def rerun(page: PageDep, team: str, name: str) -> RedirectResponse:
    """As the API's POST /jobs/{name}/rerun: 409 while the job has not finished."""
    await checked_form(page)
    obj = await reruns.rerun_job(
        page.session, page.caller, name, team=team, now=page.state.clock.now()
    )
    return RedirectResponse(link(obj), status_code=303)
