"""The app's composition: what the lifespan builds once and every route reads.

It lives beside app.py, not in routes/, because the dashboard and the routes both read it
and the app writes it; routes/deps.py only turns a request into what a route needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from sapwood.schemas import SlackMode, SlackStatus
from sapwood.server.clock import Clock
from sapwood.server.controller.port import ControllerPort, ReadPort
from sapwood.server.ingest.broker import Broker
from sapwood.server.ingest.signals import FeedSignals
from sapwood.server.observe.notifier import Notifier
from sapwood.server.observe.prometheus import UsageFigures
from sapwood.server.services.streams import StreamLimiter
from sapwood.server.settings import Settings
from sapwood.server.store.engine import AsyncSession


@dataclass
class AppState:
    """Built by the lifespan; one per app, never a module global.

    ``controller`` is the controller's narrow port (None while this replica does not lead,
    or runs none); the app alone holds the manager behind it. ``reads`` is what this
    replica can read of the runtime (logs, capacity): the controller while it leads; while
    it follows, a runtime it only reads where any replica may (Kubernetes), else None.
    """

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    # A spec's workdir is a folder on this machine (the runtime registry says per kind).
    local_workdirs: bool = False
    wake: Callable[[str], None] = field(default=lambda kind: None)
    controller: ControllerPort | None = None
    reads: ReadPort | None = None
    notifier: Notifier | None = None
    usage: UsageFigures | None = None  # the utilisation monitor's newest samples
    feed_broker: Broker | None = None
    feed_signals: FeedSignals = field(default_factory=FeedSignals)
    # The Slack app's status on this replica (the app sets it when Slack is configured).
    slack_status: Callable[[], SlackStatus] = field(default=lambda: SlackStatus(mode=SlackMode.OFF))
    streams: StreamLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.streams = StreamLimiter(self.settings.api.max_streams_per_token)
