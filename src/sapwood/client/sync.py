"""The blocking SDK: every verb of AsyncClient, run on a private event loop thread.

Each verb is written once, in AsyncClient; this class only names them (``blocking`` keeps
their signatures for type checkers and editors). ``tests/unit/client/test_parity.py``
fails when a verb is added to one client and not the other.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

import httpx

from sapwood.client.aio import AsyncClient
from sapwood.client.blocking import LoopThread, blocking, blocking_iter


class Client:
    """Same verbs and arguments as :class:`AsyncClient`, blocking. Close it, or use ``with``.

    Async generators (``iter``, ``logs``) become iterators; leaving one early closes its
    stream. Works from plain scripts and from inside a running event loop (notebooks).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        team: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        # The async client first: a bad configuration then leaves no loop thread behind.
        self.aio = AsyncClient(
            url, token=token, team=team, timeout_s=timeout_s, transport=transport
        )
        self.loop_thread = LoopThread()
        self.url = self.aio.url
        self.team = self.aio.team
        self._closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connection pool and stops the loop thread; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self.loop_thread.call(self.aio.aclose)
        finally:
            self.loop_thread.close()

    # objects
    apply = blocking(AsyncClient.apply)
    get = blocking(AsyncClient.get)
    list_page = blocking(AsyncClient.list_page)
    list = blocking(AsyncClient.list)
    iter = blocking_iter(AsyncClient.iter)
    delete = blocking(AsyncClient.delete)
    pause = blocking(AsyncClient.pause)
    resume = blocking(AsyncClient.resume)
    rerun = blocking(AsyncClient.rerun)
    extend = blocking(AsyncClient.extend)
    events = blocking(AsyncClient.events)
    logs = blocking_iter(AsyncClient.logs)

    # scheduling
    queue = blocking(AsyncClient.queue)
    list_quotas = blocking(AsyncClient.list_quotas)
    set_quota = blocking(AsyncClient.set_quota)
    delete_quota = blocking(AsyncClient.delete_quota)

    # identity, teams, users, tokens
    whoami = blocking(AsyncClient.whoami)
    slack_status = blocking(AsyncClient.slack_status)
    limits = blocking(AsyncClient.limits)
    list_teams = blocking(AsyncClient.list_teams)
    create_team = blocking(AsyncClient.create_team)
    delete_team = blocking(AsyncClient.delete_team)
    list_users = blocking(AsyncClient.list_users)
    create_user = blocking(AsyncClient.create_user)
    delete_user = blocking(AsyncClient.delete_user)
    set_membership = blocking(AsyncClient.set_membership)
    remove_membership = blocking(AsyncClient.remove_membership)
    create_token = blocking(AsyncClient.create_token)
    list_tokens = blocking(AsyncClient.list_tokens)
    revoke_token = blocking(AsyncClient.revoke_token)

    # training metrics
    write_metrics = blocking(AsyncClient.write_metrics)
    list_metrics = blocking(AsyncClient.list_metrics)

    # notifications
    list_channels = blocking(AsyncClient.list_channels)
    set_channel = blocking(AsyncClient.set_channel)
    delete_channel = blocking(AsyncClient.delete_channel)
    test_channel = blocking(AsyncClient.test_channel)
    list_rules = blocking(AsyncClient.list_rules)
    set_rule = blocking(AsyncClient.set_rule)
    delete_rule = blocking(AsyncClient.delete_rule)
    list_deliveries = blocking(AsyncClient.list_deliveries)

    # model registry
    push_model = blocking(AsyncClient.push_model)
    list_models = blocking(AsyncClient.list_models)
    get_model = blocking(AsyncClient.get_model)
    resolve_model = blocking(AsyncClient.resolve_model)
    download_model = blocking(AsyncClient.download_model)
    set_alias = blocking(AsyncClient.set_alias)
    delete_alias = blocking(AsyncClient.delete_alias)
    delete_model_version = blocking(AsyncClient.delete_model_version)

    # feeds
    push_records = blocking(AsyncClient.push_records)
    lease_batch = blocking(AsyncClient.lease_batch)
    ack_batch = blocking(AsyncClient.ack_batch)
    feed_results = blocking(AsyncClient.feed_results)
    export_feed_results = blocking(AsyncClient.export_feed_results)
    feed_figures = blocking(AsyncClient.feed_figures)
