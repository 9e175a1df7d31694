"""The fake Slack's servers, in a background thread with their own event loop.

uvicorn serves the Web API app on a loopback socket bound to port 0 (so the port is known
before it listens, with no race for a "free" port); the Socket Mode hub listens on another.
Work for the hub is handed to that loop with ``run_coroutine_threadsafe``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import uvicorn
from starlette.applications import Starlette

from sapwood.testing.slack_fake_socket import SocketHub

T = TypeVar("T")

#: How long start() waits for the servers to listen, and stop() for them to close.
START_TIMEOUT_S = 30.0


class LoopbackServers:
    """Runs ``make_app(http_url, socket_url)`` under uvicorn and ``hub``, until stopped."""

    def __init__(self, hub: SocketHub, make_app: Callable[[str, str], Starlette]) -> None:
        self._hub = hub
        self._make_app = make_app
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._failure: BaseException | None = None

    def start(self) -> None:
        """Returns once both servers listen; RuntimeError when they cannot (or already run)."""
        if self._thread is not None:
            raise RuntimeError("this FakeSlack is already started")
        ready = threading.Event()
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._main(ready),), name="fake-slack", daemon=True
        )
        self._thread.start()
        if not ready.wait(START_TIMEOUT_S) or self._failure is not None:
            self.stop()
            raise RuntimeError("the fake Slack did not start") from self._failure

    def stop(self) -> None:
        """Closes every connection and both servers, and joins the thread. Idempotent."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # the loop closed between the check and the call
                pass
        thread.join(START_TIMEOUT_S)
        self._thread = None

    def submit(self, work: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Runs ``work`` on the servers' loop; RuntimeError when they are not running."""
        if self._loop is None or self._thread is None:
            work.close()
            raise RuntimeError("the fake Slack is not started")
        return asyncio.run_coroutine_threadsafe(work, self._loop)

    def call(self, action: Callable[[], None]) -> None:
        """Calls ``action`` on the servers' loop and returns once it has run."""

        async def run() -> None:
            action()

        self.submit(run()).result(timeout=START_TIMEOUT_S)

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        listener = socket.socket()
        try:
            socket_port = await self._hub.start()
            listener.bind(("127.0.0.1", 0))
            port = listener.getsockname()[1]
            app = self._make_app(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{socket_port}")
            config = uvicorn.Config(
                app,
                # The fake must not reconfigure the test's logging nor log each request.
                log_config=None,
                log_level="warning",
                access_log=False,
                ws="none",
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
            server = uvicorn.Server(config)
            serving = asyncio.ensure_future(server.serve(sockets=[listener]))
            while not server.started:
                if serving.done():
                    serving.result()
                    raise RuntimeError("uvicorn stopped while starting")
                await asyncio.sleep(0.01)
        except BaseException as error:
            self._failure = error
            ready.set()
            await self._hub.stop()
            listener.close()
            return
        ready.set()
        await self._stopping.wait()
        server.should_exit = True
        await self._hub.stop()
        await serving
        listener.close()
