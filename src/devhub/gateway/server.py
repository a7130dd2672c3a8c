"""The gateway's HTTP/1.1 server: an asyncio protocol with httptools on uvloop, plus process management.

Why not uvicorn or granian: measured on the 2-core target machine (docs/benchmarks.md, Gateway), a proxy on
uvicorn + aiohttp reached ~3k requests/s and on granian + aiohttp ~4.4k, short of the 5,000 one worker must
carry with auth, limits and metering. The server side of a proxy needs little: parse a request head, stream
a body in, write a head and a streamed body out, keep-alive, pipelined requests answered in order, and a
graceful stop. This module is that and nothing else (no ASGI scopes, no per-request dict building beyond the
headers), and `gateway.proxy` is its one handler.

Several workers (`--workers N`) are processes that each bind the port with `SO_REUSEPORT`, so the kernel
spreads connections over them; each has its own snapshot, pool and metering buffer, and shares rate limits
through Redis when `DEVHUB_REDIS_URL` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from http import HTTPStatus

import httptools

log = logging.getLogger("devhub.gateway")

_REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}
_BODY_HIGH = 1 << 18  # pause reading a client once this much of its body waits for the upstream
KEEPALIVE_SECONDS = 75.0  # an idle keep-alive connection is closed after this (nginx's default)
HEAD_SECONDS = 30.0  # a request head must arrive whole within this (slow-header clients)
SWEEP_SECONDS = 5.0


class Body:
    """The request body as it arrives: `await read()` gives the next chunk, b"" at the end."""

    __slots__ = ("_buffered", "_chunks", "_error", "_proto", "_waiter", "complete", "expect_continue", "received")

    def __init__(self, proto: HttpProtocol) -> None:
        self._proto = proto
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self.complete = False
        self._waiter: asyncio.Future | None = None
        self.received = 0
        self._error: Exception | None = None
        self.expect_continue = False

    def _feed(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        self.received += len(chunk)
        if self._buffered > _BODY_HIGH:
            self._proto._pause_reading()
        self._wake()

    def _finish(self) -> None:
        self.complete = True
        self._wake()

    def _abort(self, error: Exception) -> None:
        self._error = error
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def read(self) -> bytes:
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._buffered < _BODY_HIGH // 2:
                    self._proto._resume_reading()
                return chunk
            if self.complete:
                return b""
            if self._error is not None:
                raise self._error
            if self.expect_continue:  # the client waits for a go-ahead before sending the body
                self.expect_continue = False
                self._proto.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self._waiter = self._proto.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None


class Request:
    """A request whose head has been read. `headers` keeps the order and case-folds names to lower case."""

    __slots__ = ("_proto", "body", "client", "has_body", "headers", "keep_alive", "method", "target", "version")

    def __init__(self, proto, method, target, headers, version, keep_alive, has_body, client) -> None:
        self._proto = proto
        self.method: bytes = method
        self.target: bytes = target
        self.headers: list[tuple[bytes, bytes]] = headers
        self.version: str = version
        self.keep_alive: bool = keep_alive
        self.has_body: bool = has_body
        self.body = Body(proto)
        self.client: str = client

    # --- answering ---------------------------------------------------------------------------------------
    def start(self, status: int, headers: list[tuple[bytes, bytes]], length: int | None, body: bytes = b"") -> None:
        """Write the status line and headers; `length` None streams the body chunked (close on HTTP/1.0).

        `body` (with its `length`) goes out in the same write: one system call for a small response."""
        proto = self._proto
        if not self.body.complete:
            self.keep_alive = False  # the rest of an unread body would be taken for the next request
        parts = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Unknown"))]
        for name, value in headers:
            parts.append(b"%s: %s\r\n" % (name, value))
        if length is not None:
            if length >= 0:  # -1: a response that has no body by definition (204, 304)
                parts.append(b"content-length: %d\r\n" % length)
            proto.chunked = False
        elif self.version == "1.1":
            parts.append(b"transfer-encoding: chunked\r\n")
            proto.chunked = True
        else:
            proto.chunked = False
            self.keep_alive = False
        if not self.keep_alive or proto.closing:
            parts.append(b"connection: close\r\n")
            self.keep_alive = False
        parts.append(b"\r\n")
        proto.head_only = head_only = self.method == b"HEAD"
        if body and not head_only:
            parts.append(body)
        proto.write(b"".join(parts))

    async def write(self, data: bytes) -> None:
        proto = self._proto
        if not data or proto.head_only:
            return
        if proto.chunked:
            proto.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            proto.write(data)
        if proto.write_paused:
            await proto.drain()

    def end(self) -> None:
        proto = self._proto
        if proto.chunked and not proto.head_only:
            proto.write(b"0\r\n\r\n")
        proto.chunked = False

    def respond(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """A whole response at once (errors, /metrics)."""
        self.start(status, headers, len(body), body)


Handler = Callable[[Request], Awaitable[None]]


class HttpProtocol(asyncio.Protocol):
    """One client connection: requests parsed as they arrive, answered one after the other."""

    def __init__(self, server: GatewayServer) -> None:
        self.server = server
        self.loop = server.loop
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.client = ""
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._current: Request | None = None
        self._queue: deque[Request] = deque()
        self.busy = False
        self.closing = False
        self.chunked = False
        self.head_only = False
        self.write_paused = False
        self._drain: asyncio.Future | None = None
        self._reading_paused = False
        self.last_data = self.loop.time()
        self.in_head = False  # part of a request head has arrived, not all of it

    # --- asyncio.Protocol ---------------------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.client = peer[0] if isinstance(peer, tuple) else ""
        self.server.connections.add(self)

    def connection_lost(self, exc) -> None:
        self.closing = True
        self.server.connections.discard(self)
        if self._current is not None:
            self._current.body._abort(ConnectionResetError("the client went away"))
        if self._drain is not None and not self._drain.done():
            self._drain.set_exception(ConnectionResetError("the client went away"))

    def data_received(self, data: bytes) -> None:
        self.last_data = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._bad(b"upgrades are not supported")
        except httptools.HttpParserError:
            self._bad(b"malformed request")

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    # --- httptools callbacks ------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.in_head = True
        self._url = b""
        self._headers = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.in_head = False
        parser = self.parser
        headers = self._headers
        has_body = expect = False
        for name, value in headers:
            if name == b"content-length":
                has_body = value.strip() not in (b"0", b"")
            elif name == b"transfer-encoding":
                has_body = True
            elif name == b"expect":
                expect = value.lower() == b"100-continue"
        request = Request(
            self,
            parser.get_method(),
            self._url,
            headers,
            parser.get_http_version(),
            parser.should_keep_alive(),
            has_body,
            self.client,
        )
        request.body.expect_continue = expect and has_body
        self._current = request
        if self.busy:
            self._queue.append(request)
        else:
            self._run(request)

    def on_body(self, body: bytes) -> None:
        self._current.body._feed(body)

    def on_message_complete(self) -> None:
        self._current.body._finish()
        self._current = None

    # --- running handlers ---------------------------------------------------------------------------------
    def _run(self, request: Request) -> None:
        self.busy = True
        self.server.in_flight += 1
        task = self.loop.create_task(self._handle(request))
        self.server.tasks.add(task)
        task.add_done_callback(self.server.tasks.discard)

    async def _handle(self, request: Request) -> None:
        try:
            await self.server.handler(request)
        except (ConnectionError, asyncio.CancelledError):
            self.transport.close()
        except Exception:
            log.exception("gateway handler failed")
            self.transport.close()
        finally:
            self.server.in_flight -= 1
            self.busy = False
            self.last_data = self.loop.time()
        if self.closing or not request.keep_alive:
            self.transport.close()
            return
        if self._queue:
            self._run(self._queue.popleft())

    def _bad(self, message: bytes) -> None:
        body = b'{"title":"Bad Request","status":400,"detail":"%s"}' % message
        self.write(
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
        )
        self.transport.close()

    # --- writing ------------------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)

    async def drain(self) -> None:
        if self.transport.is_closing():
            raise ConnectionResetError("the client went away")
        self._drain = self.loop.create_future()
        try:
            await self._drain
        finally:
            self._drain = None

    def _pause_reading(self) -> None:
        if not self._reading_paused and not self.transport.is_closing():
            self._reading_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._reading_paused and not self.transport.is_closing():
            self._reading_paused = False
            self.transport.resume_reading()

    def close_if_idle(self) -> None:
        self.closing = True
        if not self.busy:
            self.transport.close()


class GatewayServer:
    """Listens, hands requests to `handler`, and stops gracefully: no new connections, in-flight answered."""

    def __init__(self, handler: Handler, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.handler = handler
        self.loop = loop or asyncio.get_event_loop()
        self.connections: set[HttpProtocol] = set()
        self.tasks: set[asyncio.Task] = set()
        self.in_flight = 0
        self._server: asyncio.base_events.Server | None = None
        self._sweeper: asyncio.TimerHandle | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0, sock: socket.socket | None = None) -> int:
        """Start listening; answers the port (useful with port 0)."""
        if sock is None:
            sock = bind_socket(host, port, reuse_port=False)
        self._server = await self.loop.create_server(lambda: HttpProtocol(self), sock=sock, backlog=2048)
        self._sweeper = self.loop.call_later(SWEEP_SECONDS, self._sweep)
        return self._server.sockets[0].getsockname()[1]

    def _sweep(self) -> None:
        """Close idle keep-alive connections and clients that send a request head too slowly (one timer for
        all connections instead of one per request)."""
        now = self.loop.time()
        for conn in list(self.connections):
            if conn.busy or conn.transport is None:
                continue
            quiet = now - conn.last_data
            if quiet > KEEPALIVE_SECONDS or (conn.in_head and quiet > HEAD_SECONDS):
                conn.transport.close()
        self._sweeper = self.loop.call_later(SWEEP_SECONDS, self._sweep)

    async def shutdown(self, grace: float = 10.0) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.close_if_idle()
        deadline = self.loop.time() + grace
        while self.tasks and self.loop.time() < deadline:
            await asyncio.wait(set(self.tasks), timeout=max(0.0, deadline - self.loop.time()))
        for task in list(self.tasks):
            task.cancel()
        for conn in list(self.connections):
            conn.transport.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)


def bind_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.setblocking(False)
    return sock


# --- processes -----------------------------------------------------------------------------------------------


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def run_worker(settings, host: str, port: int, reuse_port: bool, announce: bool = True) -> None:
    """One gateway process: serve until SIGTERM or SIGINT, then stop gracefully and flush metering."""
    from devhub.gateway.proxy import Gateway

    _install_uvloop()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        gateway = Gateway(settings)
        await gateway.start()
        # What startup built (modules, the ORM's metadata, the access snapshot) lives as long as the process:
        # moved out of the collector's sight, full collections scan only what calls allocate (pauses of
        # tens of ms otherwise, which showed in p99).
        gc.collect()
        gc.freeze()
        # Metering's flush thread holds the GIL in bursts; each event-loop wait (epoll) lets it in, and the loop
        # waited up to the default 5 ms to get the GIL back. 0.5 ms took p99 at full load from ~60 to ~37 ms.
        sys.setswitchinterval(0.0005)
        server = GatewayServer(gateway.handle, loop)
        bound = await server.start(sock=bind_socket(host, port, reuse_port))
        if announce:
            print(f"devhub gateway (pid {os.getpid()}) is proxying on http://{host}:{bound}", flush=True)
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        await server.shutdown(settings.gateway_shutdown_seconds)
        await gateway.close()

    asyncio.run(main())


def run(settings, host: str, port: int, workers: int = 1) -> None:
    """Serve on `host:port` with `workers` processes (1: this process)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if workers <= 1:
        run_worker(settings, host, port, reuse_port=False)
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=run_worker, args=(settings, host, port, True), name=f"devhub-gateway-{n}")
        for n in range(workers)
    ]
    for process in processes:
        process.start()

    def forward(signum, frame) -> None:
        for process in processes:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for process in processes:
        process.join()
    sys.exit(max((p.exitcode or 0) for p in processes))
