"""A uvicorn server that stops as soon as it is asked to: the service's (`execplanner serve`), the simulator's and
the tests' in-process servers are this one class."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from types import FrameType

import uvicorn


class PromptServer(uvicorn.Server):
    """uvicorn's server, woken by a stop instead of noticing it at its next tick.

    uvicorn looks at `should_exit` every 0.1 s and, stopping, gives open connections 0.1 s more before it looks at
    them again: 0.2 s of every stop, paid by an operator's restart and by every test that starts a server. Here
    `stop_soon()` (from any thread) or a SIGTERM/SIGINT wakes the loop at once, and connections that are idle, kept
    alive between requests (what a stop usually finds), are closed at once; uvicorn's own graceful wait is left
    for answers still being sent."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken: asyncio.Event | None = None

    def stop_soon(self) -> None:
        """Ask for a graceful stop, from any thread."""
        self.should_exit = True
        self._wake()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._wake()

    def _wake(self) -> None:
        loop, woken = self._loop, self._woken
        if loop is not None and woken is not None:
            # the loop's own thread- and signal-safe wake-up (its self-pipe), as asyncio's add_signal_handler uses
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(woken.set)

    async def main_loop(self) -> None:
        """uvicorn's loop (a tick every 0.1 s: date header, request limits, exit), but a stop ends the wait."""
        self._loop, self._woken = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), 0.1)
            should_exit = await self.on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for connection in list(self.server_state.connections):
            connection.shutdown()  # an idle one closes now; one mid-answer finishes it first
        await asyncio.sleep(0)  # let the closed ones report their loss
        if self.server_state.connections or self.server_state.tasks:
            await super().shutdown(sockets)  # answers still being sent: uvicorn's graceful wait
            return
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()
