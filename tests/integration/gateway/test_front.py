"""The gateway's HTTP/1.1 front over raw sockets: what ordinary clients rarely exercise."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httptools
import pytest
import uvloop

from sapwood.server.gateway.listener import GatewayServer
from sapwood.server.gateway.proxy import Gateway
from sapwood.server.gateway.server import build_gateway
from sapwood.server.settings import Settings
from sapwood.testing.servers import free_port
from sapwood.testing.waiting import eventually_sync
from tests.integration.gateway.support import (
    Upstream,
    running_gateway,
    upstreams,
    write_routes,
)


@dataclass
class Answer:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class _Reader:
    """Parses responses off a socket, one after another."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.parser = httptools.HttpResponseParser(self)
        self.answers: list[Answer] = []
        self.current = Answer()
        self.closed = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.current.headers[name.decode().lower()] = value.decode()

    def on_headers_complete(self) -> None:
        self.current.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.current.body += body

    def on_message_complete(self) -> None:
        self.answers.append(self.current)
        self.current = Answer()

    def read(self, count: int, *, head_only: bool = False) -> list[Answer]:
        while len(self.answers) < count and not self.closed:
            data = self.sock.recv(65536)
            if not data:
                self.closed = True
                break
            self.parser.feed_data(data)
            if head_only and self.current.status:  # no body follows a HEAD answer
                self.on_message_complete()
                self.parser = httptools.HttpResponseParser(self)
        taken, self.answers = self.answers[:count], self.answers[count:]
        return taken

    def at_end(self) -> bool:
        """Whether the gateway closed the connection (after reading what is left)."""
        self.sock.settimeout(5)
        try:
            return self.sock.recv(65536) == b""
        except ConnectionResetError:
            return True


@pytest.fixture
def replica() -> Iterator[Upstream]:
    with upstreams("a") as (made,):
        yield made


def _gateway(tmp_path: Path, replica: Upstream) -> Gateway:
    routes = tmp_path / "routes.yaml"
    limits = {"auth": "public", "maxRequestBytes": 1_000_000}
    write_routes(
        routes,
        [{"team": "lab", "service": "echo", "endpoints": [replica.endpoint], "gateway": limits}],
    )
    return build_gateway(Settings(home=tmp_path / "home"), routes_file=routes, timeout_s=10)


@contextmanager
def _serving(tmp_path: Path, replica: Upstream, **options: float) -> Iterator[tuple[str, int]]:
    with running_gateway(_gateway(tmp_path, replica), **options) as url:
        yield "127.0.0.1", int(url.rsplit(":", 1)[1])


@pytest.fixture
def gateway_address(tmp_path: Path, replica: Upstream) -> Iterator[tuple[str, int]]:
    with _serving(tmp_path, replica) as address:
        yield address


@pytest.fixture
def connect(gateway_address: tuple[str, int]) -> Iterator[type[_Reader]]:
    opened: list[socket.socket] = []

    class Connected(_Reader):
        def __init__(self) -> None:
            sock = socket.create_connection(gateway_address, timeout=10)
            opened.append(sock)
            super().__init__(sock)

    yield Connected
    for sock in opened:
        sock.close()


def post(path: str, body: bytes, *extra: str) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: gw", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def test_pipelined_requests_are_answered_in_order(connect: type[_Reader]) -> None:
    conn = connect()
    conn.sock.sendall(b"".join(post("/s/lab/echo/echo", f"request {i}".encode()) for i in range(5)))
    answers = conn.read(5)
    assert [a.body for a in answers] == [f"request {i}".encode() for i in range(5)]


def test_a_request_arriving_a_few_bytes_at_a_time_is_whole(connect: type[_Reader]) -> None:
    conn = connect()
    data = post("/s/lab/echo/echo", b"x" * 5000, "X-Custom: 1")
    for start in range(0, len(data), 7):
        conn.sock.sendall(data[start : start + 7])
        if start < 200:
            time.sleep(0.001)  # separate reads on the gateway's side
    (answer,) = conn.read(1)
    assert answer.status == 200
    assert answer.body == b"x" * 5000


def test_a_chunked_body_larger_than_a_read_goes_through(connect: type[_Reader]) -> None:
    conn = connect()
    pieces = [bytes([i % 256]) * 70_000 for i in range(10)]  # 700 kB in 10 chunks
    head = b"POST /s/lab/echo/echo HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n"
    conn.sock.sendall(head)
    for piece in pieces:
        conn.sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
    conn.sock.sendall(b"0\r\n\r\n")
    (answer,) = conn.read(1)
    assert answer.status == 200
    assert answer.body == b"".join(pieces)


def test_expect_100_continue_is_answered_before_the_body(connect: type[_Reader]) -> None:
    conn = connect()
    conn.sock.sendall(post("/s/lab/echo/echo", b"", "Expect: 100-continue"))  # nothing to wait for
    (empty,) = conn.read(1)
    assert empty.status == 200
    body = b"after the go-ahead"
    head = post("/s/lab/echo/echo", body, "Expect: 100-continue")[: -len(body)]
    conn.sock.sendall(head)
    conn.sock.settimeout(10)
    assert conn.sock.recv(1024).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    conn.sock.sendall(body)
    (answer,) = conn.read(1)
    assert answer.status == 200
    assert answer.body == body


def test_expect_100_continue_over_the_limit_is_413_without_a_go_ahead(
    connect: type[_Reader], replica: Upstream
) -> None:
    conn = connect()
    head = b"POST /s/lab/echo/echo HTTP/1.1\r\nHost: gw\r\nContent-Length: 2000000\r\n"
    conn.sock.sendall(head + b"Expect: 100-continue\r\n\r\n")
    (answer,) = conn.read(1)
    assert answer.status == 413
    assert b"too_large" in answer.body
    assert answer.headers["connection"] == "close"
    assert conn.at_end()
    assert replica.requests == []


def test_a_streamed_body_over_the_limit_is_413_and_the_connection_stays_usable(
    connect: type[_Reader], replica: Upstream
) -> None:
    conn = connect()
    head = b"POST /s/lab/echo/echo HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n"
    conn.sock.sendall(head)
    for _ in range(12):
        conn.sock.sendall(b"%x\r\n%s\r\n" % (100_000, b"z" * 100_000))
    conn.sock.sendall(b"0\r\n\r\n")
    (answer,) = conn.read(1)
    assert answer.status == 413
    conn.sock.sendall(post("/s/lab/echo/echo", b"next"))
    (following,) = conn.read(1)
    assert following.body == b"next"
    assert len(replica.requests) == 1


def test_a_small_body_written_after_its_head_goes_back_whole(connect: type[_Reader]) -> None:
    conn = connect()
    conn.sock.sendall(b"GET /s/lab/echo/split HTTP/1.1\r\nHost: gw\r\n\r\n")
    (answer,) = conn.read(1)
    assert answer.body == b"the body, written apart"
    assert answer.headers["content-length"] == str(len(answer.body))
    assert "transfer-encoding" not in answer.headers


def test_http_1_0_without_keep_alive_is_answered_then_closed(connect: type[_Reader]) -> None:
    conn = connect()
    conn.sock.sendall(b"GET /s/lab/echo/old HTTP/1.0\r\n\r\n")
    (answer,) = conn.read(1)
    assert answer.status == 200
    assert b'"url": "/old"' in answer.body
    assert conn.at_end()


def test_http_1_0_with_keep_alive_keeps_the_connection(connect: type[_Reader]) -> None:
    conn = connect()
    for _ in range(2):
        conn.sock.sendall(b"GET /s/lab/echo/old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        (answer,) = conn.read(1)
        assert answer.status == 200
        assert answer.headers["connection"] == "keep-alive"


def test_head_of_the_gateway_s_own_path_has_no_body(connect: type[_Reader]) -> None:
    conn = connect()
    conn.sock.sendall(b"HEAD /_sapwood/healthz HTTP/1.1\r\nHost: gw\r\n\r\n")
    (answer,) = conn.read(1, head_only=True)
    assert answer.status == 200
    assert int(answer.headers["content-length"]) > 0
    conn.sock.sendall(b"GET /_sapwood/healthz HTTP/1.1\r\nHost: gw\r\n\r\n")
    (following,) = conn.read(1)
    assert following.body == b'{"status": "ok"}'


def test_a_malformed_request_is_400_json_and_closed(connect: type[_Reader]) -> None:
    conn = connect()
    conn.sock.sendall(b"GET / HTTP/1.1\r\nHost gw\r\n\r\n")
    (answer,) = conn.read(1)
    assert answer.status == 400
    assert b'"code": "invalid"' in answer.body
    assert conn.at_end()


def test_upgrades_are_refused(connect: type[_Reader]) -> None:
    conn = connect()
    conn.sock.sendall(
        b"GET /s/lab/echo/ws HTTP/1.1\r\nHost: gw\r\n"
        b"Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    )
    (answer,) = conn.read(1)
    assert answer.status == 501
    assert conn.at_end()


def test_stopping_lets_requests_in_flight_finish(tmp_path: Path, replica: Upstream) -> None:
    routes = tmp_path / "routes.yaml"
    write_routes(
        routes,
        [{"team": "t", "service": "s", "endpoints": [replica.endpoint],
          "gateway": {"auth": "public"}}],
    )  # fmt: skip
    gateway = build_gateway(Settings(home=tmp_path / "home"), routes_file=routes, timeout_s=10)
    port = free_port()
    server = GatewayServer(gateway, host="127.0.0.1", port=port, graceful_s=10)
    thread = threading.Thread(target=uvloop.run, args=(server.serve(handle_signals=False),))
    thread.start()
    try:
        assert server.started.wait(20)
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as busy,
            socket.create_connection(("127.0.0.1", port), timeout=10) as idle,
        ):
            busy.sendall(b"GET /s/t/s/slow HTTP/1.1\r\nHost: gw\r\n\r\n")
            eventually_sync(lambda: len(replica.requests) == 1)
            server.stop()
            idle.settimeout(5)
            assert idle.recv(100) == b""  # idle connections are closed at once
            (answer,) = _Reader(busy).read(1)  # the slow one (3 s) still gets its answer
            assert answer.status == 200
            assert answer.headers["connection"] == "close"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        server.stop()
        thread.join(30)


def _connect(address: tuple[str, int]) -> _Reader:
    return _Reader(socket.create_connection(address, timeout=10))


GET = b"GET /s/lab/echo/get HTTP/1.1\r\nHost: gw\r\n\r\n"


def test_an_idle_keep_alive_connection_is_closed_after_the_timeout(
    tmp_path: Path, replica: Upstream
) -> None:
    with _serving(tmp_path, replica, keep_alive_s=0.2) as address:
        used, unused = _connect(address), _connect(address)
        with used.sock, unused.sock:
            used.sock.sendall(GET)
            (answer,) = used.read(1)
            assert answer.status == 200
            assert "connection" not in answer.headers  # kept alive…
            assert used.at_end()  # …until it has been idle for the timeout
            assert unused.at_end()  # a connection that never sends anything too


def test_a_slow_request_in_flight_is_not_closed_by_the_idle_timer(
    tmp_path: Path, replica: Upstream
) -> None:
    with _serving(tmp_path, replica, keep_alive_s=0.2, header_timeout_s=0.2) as address:
        conn = _connect(address)
        with conn.sock:
            conn.sock.sendall(b"GET /s/lab/echo/slow HTTP/1.1\r\nHost: gw\r\n\r\n")
            (slow,) = conn.read(1)  # the replica takes 3 s, far past both timeouts
            assert slow.status == 200
            assert "connection" not in slow.headers
            conn.sock.sendall(GET)  # and the connection is still there for the next one
            (following,) = conn.read(1)
            assert following.status == 200


def test_a_stalled_request_head_is_408_and_closed(tmp_path: Path, replica: Upstream) -> None:
    with _serving(tmp_path, replica, header_timeout_s=0.2, keep_alive_s=60) as address:
        conn = _connect(address)
        with conn.sock:
            conn.sock.sendall(b"GET /s/lab/echo/get HTTP/1.1\r\nHost: gw\r\n")  # no blank line
            (answer,) = conn.read(1)
            assert answer.status == 408
            assert b'"code": "request_timeout"' in answer.body
            assert answer.headers["connection"] == "close"
            assert conn.at_end()
    assert replica.requests == []


def test_a_head_trickling_in_is_cut_off_at_the_deadline(tmp_path: Path, replica: Upstream) -> None:
    with _serving(tmp_path, replica, header_timeout_s=0.2, keep_alive_s=60) as address:
        conn = _connect(address)
        with conn.sock:
            conn.sock.sendall(b"GET /s/lab/echo/get HTTP/1.1\r\nHost: gw\r\n")
            deadline = time.monotonic() + 20
            # A header line every 20 ms: bytes keep coming, the head never ends.
            while not select.select([conn.sock], [], [], 0.02)[0]:
                assert time.monotonic() < deadline, "the trickling head was never cut off"
                try:
                    conn.sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    break
            (answer,) = conn.read(1)
            assert answer.status == 408
            assert conn.at_end()


def test_connections_past_the_cap_are_answered_503(tmp_path: Path, replica: Upstream) -> None:
    with _serving(tmp_path, replica, max_connections=2, keep_alive_s=60) as address:
        first, second = _connect(address), _connect(address)
        with first.sock, second.sock:
            for conn in (first, second):  # both accepted and counted
                conn.sock.sendall(GET)
                assert conn.read(1)[0].status == 200
            extra = _connect(address)
            with extra.sock:
                (refused,) = extra.read(1)
                assert refused.status == 503
                assert b'"code": "unavailable"' in refused.body
                assert refused.headers["retry-after"] == "1"
                assert extra.at_end()
            second.sock.sendall(GET)  # those already open carry on
            assert second.read(1)[0].status == 200
            first.sock.close()

            def room_again() -> bool:
                with _connect(address).sock as sock:
                    try:
                        sock.sendall(GET)
                        answers = _Reader(sock).read(1)
                    except OSError:  # refused and closed before the request was read
                        return False
                    return bool(answers) and answers[0].status == 200

            eventually_sync(room_again)  # a closed one makes room
