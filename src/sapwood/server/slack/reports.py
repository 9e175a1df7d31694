"""The read-only commands: ``/sapwood env list``, ``queue``, ``jobs``, ``status``, ``help``.

Everything is read through the services as the linked caller, so a Slack user sees exactly
what the API would show them (``--team`` of a team they are not in is "not found"); a
refusal becomes the reply's text. The looks are report_blocks.py's.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sapwood.schemas import Object
from sapwood.schemas.status import HOLDING_PHASES
from sapwood.server.controller.port import ReadPort
from sapwood.server.services import objects, quotas
from sapwood.server.services.access import Caller, can_read
from sapwood.server.services.errors import NotFoundError, ServiceError
from sapwood.server.services.overview import Holding, allocated_of, node_groups
from sapwood.server.settings import Settings
from sapwood.server.slack import report_blocks
from sapwood.server.slack.commands import Command, Verb
from sapwood.server.slack.logs import log_tail
from sapwood.server.slack.message import Message
from sapwood.server.state import AppState
from sapwood.server.store.engine import AsyncSession
from sapwood.server.units import Capacity
from sapwood.specs.objects import KINDS

log = logging.getLogger("sapwood.slack")
PAGE = 500
MAX_OBJECTS = 2000  # per kind; a report past that is cut (the CLI lists everything)
CAPACITY_TIMEOUT_S = 2.0


async def answer(state: AppState, caller: Caller, command: Command, *, now: datetime) -> Message:
    """The reply to a read-only command (env list, queue, jobs, status, help; logs too).

    Raises ValueError for a command that is not a report (env create, link, unlink)."""
    if command.verb is Verb.HELP:
        return report_blocks.help_message()
    if command.verb is Verb.LOGS:
        if command.kind is None or command.name is None:
            raise ValueError("a logs command needs a kind and a name")
        return await log_tail(state, caller, command.kind, command.name, team=command.team)
    team = command.team
    try:
        async with state.sessions() as session:
            if command.verb is Verb.ENV_LIST:
                workspaces = await list_all(session, caller, "Workspace", team=team)
                url = gateway_url(state.settings)
                return report_blocks.env_list_message(
                    workspaces, team=team, gateway_url=url, now=now
                )
            if command.verb is Verb.QUEUE:
                entries = await quotas.list_queue(session, caller, team=team)
                return report_blocks.queue_message(entries, team=team, now=now)
            if command.verb is Verb.JOBS:
                jobs = await list_all(session, caller, "Job", team=team)
                return report_blocks.jobs_message(jobs, team=team, now=now)
            if command.verb is Verb.STATUS:
                view = await load_status(session, caller, state.reads, team=team)
                return report_blocks.status_message(view)
    except ServiceError as exc:
        return report_blocks.error_message(exc.message)
    raise ValueError(f"`{command.verb.value}` is not a report")


def gateway_url(settings: Settings) -> str:
    """Where people reach the gateway: SAPWOOD_GATEWAY_URL, else the API's host on the
    gateway's port."""
    return (settings.slack.gateway_url or settings.gateway_url).rstrip("/")


async def list_all(
    session: AsyncSession, caller: Caller, kind: str, *, team: str | None
) -> list[Object]:
    """Objects of a kind the caller reads (NotFoundError for a team it does not), oldest
    first, at most MAX_OBJECTS."""
    items: list[Object] = []
    token: str | None = None
    while len(items) < MAX_OBJECTS:
        page = await objects.list_objects(
            session, caller, kind, team=team, selector=None, limit=PAGE, continue_=token
        )
        items.extend(page.items)
        token = page.continue_
        if token is None:
            break
    return items[:MAX_OBJECTS]


async def load_status(
    session: AsyncSession, caller: Caller, reads: ReadPort | None, *, team: str | None
) -> report_blocks.StatusView:
    """Per node, the runtime's capacity and what the caller's teams (or ``team``) hold."""
    if team is not None and not can_read(caller, team):
        raise NotFoundError(f"team {team} not found")
    if reads is None:
        return report_blocks.StatusView(controller=False, nodes=[], everyone=caller.admin)
    holdings = []
    for kind in KINDS:
        for obj in await list_all(session, caller, kind, team=team):
            if obj.phase in HOLDING_PHASES:
                holdings.append(Holding(obj.metadata.team, allocated_of(obj.status), {}))
    capacity = await _capacity(reads)
    cluster: dict[str, float] | None = None
    if capacity is not None:
        cluster = {
            "cpu": capacity.cpu_millis,
            "memory": capacity.memory_bytes,
            "gpu": capacity.gpus,
        }
    return report_blocks.StatusView(
        controller=True,
        nodes=node_groups(reads.runtime_name, cluster, holdings),
        everyone=caller.admin,
        team=team,
        gpu_models=capacity.gpu_models if capacity is not None else (),
    )


async def _capacity(reads: ReadPort) -> Capacity | None:
    try:
        return await asyncio.wait_for(reads.capacity(), CAPACITY_TIMEOUT_S)
    except Exception:  # the report says "unknown" rather than failing
        log.warning("the runtime did not report its capacity", exc_info=True)
        return None
