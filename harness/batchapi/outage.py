"""OutageProxy: a TCP relay in front of a model server that a test can switch off and on.

Down, it stops listening (new connections are refused) and resets every open connection
(streams in flight break), which is what a crashed or restarting Ollama looks like to its
clients; up, it listens on the same port again. It works in front of any server, the
simulator or a real Ollama, without touching the server itself.
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

from harness.lifecycle import Runs


class OutageProxy(Runs):
    """Relays 127.0.0.1:<port> to `target_url`; `down()` and `up()` switch it (`with`
    brings it up and takes it down)."""

    def __init__(self, target_url: str) -> None:
        parts = urlsplit(target_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> str:
        listener = socket.create_server(("127.0.0.1", self.port))
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._spawn(self._accept, listener)
        return self.url

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            _shut(conn)
        self._join()

    start, stop, close = up, down, down

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _join(self) -> None:
        with self._lock:
            threads, self._threads = self._threads, []
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(5.0)

    def _accept(self, listener: socket.socket) -> None:
        # A timeout, so the loop notices down() within 0.1 s whatever the platform does
        # to an accept() blocked on a socket closed by another thread.
        listener.settimeout(0.1)
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5.0)
            except OSError:
                client.close()
                continue
            for conn in (client, upstream):
                conn.settimeout(None)
                # Relayed chunks are small; Nagle would hold each for the peer's delayed ACK.
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns.update((client, upstream))
            self._spawn(self._pipe, client, upstream)
            self._spawn(self._pipe, upstream, client)

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _shut(sink)
            with self._lock:
                self._conns.discard(source)
            source.close()


def _shut(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
