"""The gateway's HTTP/1.1 client to upstreams: asyncio protocols, httptools, a keep-alive pool, a breaker.

Why hand-written: measured on the 2-core target machine (docs/benchmarks.md, Gateway), the upstream call is
most of a proxied request's cost. aiohttp's client costs ~230 µs per call there and httpx ~3 ms; this client
(one `asyncio.Protocol` per connection, httptools parsing the response, no per-call task, no stream
objects) costs a fraction of that, which is what lets one worker pass 5,000 requests/s with auth, limits and
metering. It does only what a reverse proxy needs: send a head and a (streamed) body, read a head, stream
the body back, keep connections alive, time out, and tell connect failures from failures after sending.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

import httptools

_BUFFER_HIGH = 1 << 20  # pause reading an upstream once this much of its body waits for the client


class UpstreamError(Exception):
    """A failed upstream call; `kind` labels the metric and picks the status (502 or 504)."""

    kind = "error"
    status = 502


class ConnectFailed(UpstreamError):
    kind = "connect"


class ConnectTimeout(ConnectFailed):
    kind = "connect_timeout"
    status = 504


class ReadTimeout(UpstreamError):
    kind = "read_timeout"
    status = 504


class UpstreamReset(UpstreamError):
    """The connection closed or broke after the request was (partly) sent."""

    kind = "reset"


class BadResponse(UpstreamError):
    kind = "protocol"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an upstream base URL sends calls: the pool key and the path every call is prefixed with."""

    scheme: str
    host: str
    port: int
    base_path: str  # without a trailing slash
    host_header: bytes

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)


@lru_cache(maxsize=1024)
def parse_origin(url: str) -> Origin:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    default = (parts.scheme, port) in (("http", 80), ("https", 443))
    host_header = parts.hostname if default else f"{parts.hostname}:{port}"
    if ":" in parts.hostname and not default:  # IPv6 literal
        host_header = f"[{parts.hostname}]:{port}"
    return Origin(parts.scheme, parts.hostname, port, parts.path.rstrip("/"), host_header.encode("idna"))


def _expire(future: asyncio.Future, error: UpstreamError) -> None:
    if not future.done():
        future.set_exception(error)


class _Connection(asyncio.Protocol):
    """One keep-alive connection to an upstream; a response is parsed into futures and a chunk queue."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.used = 0
        self._head: asyncio.Future | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self.status = 0
        self.keep_alive = False
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._reading_paused = False
        self._waiter: asyncio.Future | None = None
        self.done = False
        self.got_bytes = False
        self._error: UpstreamError | None = None
        self._write_paused = False
        self._drain: asyncio.Future | None = None
        self._framed = True

    # --- asyncio.Protocol -------------------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.closed = True
        if not self.done and self.status >= 200 and not self._framed and exc is None:
            self.done = True  # a body delimited by the end of the connection (no length, not chunked)
            self._wake()
        if not self.done:
            error = UpstreamReset("the upstream closed the connection" + (f": {exc}" if exc else ""))
            self._fail(error)
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(BadResponse(f"invalid response from the upstream: {exc}"))
            self.transport.close()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    # --- httptools callbacks ----------------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()
        if self.status < 200:  # 1xx interim response: ignore it, the real one follows
            self._headers = []
            return
        self._framed = any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in self._headers)
        if self._head is not None and not self._head.done():
            self._head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _BUFFER_HIGH and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.status < 200:
            return
        self.done = True
        self._wake()

    # --- used by the pool and the response --------------------------------------------------------------
    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _fail(self, error: UpstreamError) -> None:
        self._error = error
        if self._head is not None and not self._head.done():
            self._head.set_exception(error)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)

    def reset_for_call(self) -> None:
        self._headers = []
        self._chunks.clear()
        self._buffered = 0
        self.status = 0
        self.done = False
        self.got_bytes = False
        self._error = None
        self._head = None
        self._waiter = None
        self.used += 1

    async def drain(self) -> None:
        if self.closed:
            raise UpstreamReset("the upstream closed the connection while the request was sent")
        if self._write_paused:
            self._drain = self.loop.create_future()
            await self._drain
            self._drain = None

    async def wait_head(self, timeout: float) -> None:
        if self.status >= 200:
            return
        if self._error is not None:
            raise self._error
        self._head = future = self.loop.create_future()
        timer = self.loop.call_later(timeout, _expire, future, ReadTimeout(f"no response within {timeout:g} s"))
        try:
            await future
        finally:
            timer.cancel()
            self._head = None

    async def read(self, timeout: float) -> bytes:
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._reading_paused and self._buffered < _BUFFER_HIGH // 2:
                    self._reading_paused = False
                    self.transport.resume_reading()
                return chunk
            if self.done:
                return b""
            if self._error is not None:
                raise self._error
            self._waiter = future = self.loop.create_future()
            timer = self.loop.call_later(timeout, _expire, future, ReadTimeout(f"the body stalled for {timeout:g} s"))
            try:
                await future
            finally:
                timer.cancel()
                self._waiter = None


class UpstreamResponse:
    """A response whose head has arrived; read the body with `read()` until b"", then `release()`."""

    __slots__ = ("_conn", "_head_only", "_origin", "_pool", "_read_timeout", "headers", "status")

    def __init__(self, pool: UpstreamPool, origin: Origin, conn: _Connection, read_timeout: float, head_only: bool):
        self._pool, self._origin, self._conn = pool, origin, conn
        self._read_timeout = read_timeout
        self._head_only = head_only
        self.status = conn.status
        self.headers = conn._headers

    async def read(self) -> bytes:
        if self._head_only:
            return b""
        return await self._conn.read(self._read_timeout)

    def ready_body(self) -> bytes | None:
        """The whole body when it has already arrived with the head (the common small response), else None."""
        conn = self._conn
        if self._head_only:
            return b""
        if not conn.done:
            return None
        chunks = conn._chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        conn._buffered = 0
        return body

    def release(self) -> None:
        """Give the connection back to the pool when the response was read whole, else close it."""
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        if conn.done and conn.keep_alive and not conn.closed and not self._head_only:
            self._pool._put(self._origin, conn)
        elif conn.transport is not None:
            conn.transport.close()


@dataclass
class UpstreamPool:
    """Idle keep-alive connections per origin (most recently used first)."""

    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_idle: int = 256
    _idle: dict[tuple, deque[_Connection]] = field(default_factory=dict)
    _ssl: ssl.SSLContext | None = None

    def _put(self, origin: Origin, conn: _Connection) -> None:
        idle = self._idle.setdefault(origin.key, deque())
        if len(idle) >= self.max_idle:
            conn.transport.close()
            return
        idle.append(conn)

    def _take(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin.key)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    async def _connect(self, origin: Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        context = None
        if origin.scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(loop), origin.host, origin.port, ssl=context),
                self.connect_timeout,
            )
        except TimeoutError:
            raise ConnectTimeout(
                f"no connection to {origin.host}:{origin.port} within {self.connect_timeout:g} s"
            ) from None
        except OSError as exc:
            raise ConnectFailed(f"cannot connect to {origin.host}:{origin.port}: {exc.strerror or exc}") from None
        return conn

    async def request(
        self,
        origin: Origin,
        head: bytes,
        body=None,
        chunked: bool = False,
        head_only: bool = False,
        retry_connect: bool = False,
    ) -> UpstreamResponse:
        """Send `head` (the request line and headers, ending in a blank line) and the body, if any.

        `body` is an async callable returning the next chunk (b"" at the end); with `chunked`, chunks are
        framed for `Transfer-Encoding: chunked`. A reused connection that turns out dead before any byte of
        the response is replaced once when nothing of the body was consumed yet (a request without body).
        Connect failures are retried once when `retry_connect` (idempotent methods).
        """
        attempts_connect = 2 if retry_connect else 1
        while True:
            conn = self._take(origin)
            reused = conn is not None
            if conn is None:
                try:
                    conn = await self._connect(origin)
                except ConnectFailed:
                    attempts_connect -= 1
                    if attempts_connect <= 0:
                        raise
                    continue
            conn.reset_for_call()
            conn.transport.write(head)
            try:
                if body is not None:
                    await self._send_body(conn, body, chunked)
                await conn.wait_head(self.read_timeout)
            except UpstreamReset:
                conn.transport.close()
                if reused and body is None and not conn.got_bytes:
                    continue  # a stale keep-alive connection: the request never reached a live upstream
                raise
            except BaseException:  # an upstream failure, or the client's body broke off (client gone)
                conn.transport.close()
                raise
            return UpstreamResponse(self, origin, conn, self.read_timeout, head_only)

    async def _send_body(self, conn: _Connection, body, chunked: bool) -> None:
        transport = conn.transport
        write = transport.write
        while True:
            chunk = await body()
            if not chunk:
                break
            if transport.is_closing() or conn.status >= 200:
                # The upstream answered (or hung up) before taking the whole body: stop sending, and never
                # reuse this connection (the rest of the body would be read as the next request).
                conn.keep_alive = False
                if conn.status >= 200:
                    return
                raise UpstreamReset("the upstream closed the connection while the request body was sent")
            if chunked:
                write(b"%x\r\n" % len(chunk))
                write(chunk)
                write(b"\r\n")
            else:
                write(chunk)
            await conn.drain()
        if chunked and not transport.is_closing():
            write(b"0\r\n\r\n")
        await conn.drain()

    def close(self) -> None:
        for idle in self._idle.values():
            while idle:
                conn = idle.pop()
                if conn.transport is not None:
                    conn.transport.close()
        self._idle.clear()


class CircuitBreaker:
    """Per upstream: open after `threshold` consecutive failures for `open_seconds`, then one probe call.

    Closed: every call goes. Open: calls fail fast (503) until the period ends. Half-open: one call (the
    probe) goes; its success closes the breaker, its failure opens it again.
    """

    __slots__ = ("failures", "open_seconds", "opened_at", "probing", "threshold")

    def __init__(self, threshold: int = 5, open_seconds: float = 10.0) -> None:
        self.threshold = threshold
        self.open_seconds = open_seconds
        self.failures = 0
        self.opened_at: float | None = None
        self.probing = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if time.monotonic() - self.opened_at < self.open_seconds:
            return "open"
        return "half-open"

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        if time.monotonic() - self.opened_at < self.open_seconds or self.probing:
            return False
        self.probing = True
        return True

    def release(self) -> None:
        """A call that ended with neither outcome (the client left): let another probe go."""
        self.probing = False

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.probing = False

    def failure(self) -> None:
        self.failures += 1
        if self.probing or self.failures >= self.threshold:
            self.opened_at = time.monotonic()
        self.probing = False

    def retry_after(self) -> int:
        if self.opened_at is None:
            return 0
        return max(1, int(self.open_seconds - (time.monotonic() - self.opened_at) + 0.999))
