"""A TCP forwarder between the services and one backend, which a test controls: latency, resets
and cuts, without touching the backend itself (PostgreSQL and RabbitMQ are shared with other
people's tests, so they are never stopped; the services talk to them through this instead).

* :meth:`TcpProxy.cut` is a restart as the services see it: every open connection is reset
  and new ones are refused (the listening socket is closed, so connecting fails at once,
  exactly as against a server that is down).
* :meth:`TcpProxy.restore` listens again on the same port.
* :meth:`TcpProxy.reset` resets the open connections and keeps listening (a broken link).
* :attr:`TcpProxy.latency` delays every chunk, in both directions (a slow link).

It runs its own event loop in a thread, so that a test's own loop (or a blocking call in it)
never stalls the traffic it forwards, and a synchronous script can drive it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

__all__ = ["TcpProxy"]

T = TypeVar("T")

_CHUNK = 1 << 16


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (RST) rather than an orderly FIN: what the peer of a crashed or
    restarted server sees."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class TcpProxy:
    """Args:
    target_host, target_port: the backend.
    port: where to listen on 127.0.0.1; a free port when 0.
    """

    def __init__(self, target_host: str, target_port: int, *, port: int = 0) -> None:
        self.target = (target_host, target_port)
        self._port = port
        self.latency = 0.0
        # Connections accepted, over the proxy's life: a test can see the services reconnect.
        self.accepted = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- control, from any thread ---------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._port}"

    @property
    def is_cut(self) -> bool:
        return self._server is None

    def start(self) -> TcpProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def cut(self) -> None:
        """Reset every connection and refuse new ones until :meth:`restore`."""
        self._call(self._cut())

    def restore(self) -> None:
        """Accept connections again, on the same port."""
        self._call(self._listen())

    def reset(self) -> None:
        """Reset every open connection; new ones are accepted as before."""
        self._call(self._reset_all())

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """Cut for the duration of the block."""
        self.cut()
        try:
            yield
        finally:
            self.restore()

    def open_connections(self) -> int:
        return len(self._open) // 2

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    # -- the loop's side ------------------------------------------------------------------

    async def _listen(self) -> None:
        if self._server is not None:
            return
        # Reusing the address lets the port be taken again at once after a cut, while the
        # reset connections are still in TIME_WAIT.
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self._port, reuse_address=True
        )
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        await self._reset_all()

    async def _reset_all(self) -> None:
        for writer in list(self._open):
            _reset(writer)
        self._open.clear()
        # Let the pumps see their ends gone before the caller goes on.
        await asyncio.sleep(0)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None:
            _reset(writer)
            return
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(writer)
            return
        self._open.update((writer, up_writer))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink, (writer, up_writer)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        try:
            while chunk := await source.read(_CHUNK):
                if self.latency > 0:
                    await asyncio.sleep(self.latency)
                sink.write(chunk)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            # One side gone: the other goes too, as with a direct connection.
            for writer in pair:
                if writer in self._open:
                    self._open.discard(writer)
                    writer.close()
