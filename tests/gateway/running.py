"""The devhub gateway on a free loopback port in a thread of the test process, shared by every test that
calls through a real gateway without the cost of a separate process."""

from __future__ import annotations

import asyncio
import threading

from devhub.settings import Settings


class RunningGateway:
    """Started on construction; `stop()` shuts down as on SIGTERM and flushes metering."""

    def __init__(self, settings: Settings, engine) -> None:
        from devhub.gateway.proxy import Gateway
        from devhub.gateway.server import GatewayServer

        self.loop = asyncio.new_event_loop()
        self.gateway = Gateway(settings, engine)
        started = threading.Event()

        async def main() -> None:
            await self.gateway.start()
            self.server = GatewayServer(self.gateway.handle, self.loop)
            self.port = await self.server.start("127.0.0.1", 0)
            started.set()

        self.thread = threading.Thread(target=self._run, args=(main,), daemon=True)
        self.thread.start()
        assert started.wait(20), "the gateway did not start"
        self.url = f"http://127.0.0.1:{self.port}"

    def _run(self, main) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(main())
        self.loop.run_forever()

    def stop(self) -> None:
        """Graceful shutdown, as on SIGTERM: stop accepting, answer in-flight calls, flush metering."""
        if not self.loop.is_running():
            return

        async def shutdown() -> None:
            await self.server.shutdown(5)
            await self.gateway.close()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
