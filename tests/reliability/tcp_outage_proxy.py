"""A TCP relay that can go down and come back, to give clients a real server outage.

While it is down every relayed connection is cut and nothing listens on its port, so new
connections are refused — what the database's clients see while the server restarts — without
touching the shared server behind it.

No thread ever closes a socket another thread may still be using: a descriptor closed under a
blocked `recv` can be reused by the next accepted connection, and the old reader then steals that
connection's bytes (a query or a reply silently lost, its client waiting forever). Threads only
`shutdown()` each other's sockets, which wakes them, and each socket is closed by the one thread
that owns it once nothing else uses it.
"""

from __future__ import annotations

import contextlib
import socket
import threading

BUFFER_BYTES = 64 * 1024


def _shutdown(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class OutageProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.connections = 0

    def start(self) -> OutageProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._acceptor.start()
        return self

    def go_down(self) -> None:
        """Stop listening and cut every relayed connection; returns once the port is free."""
        with self._lock:
            listener, self._listener = self._listener, None
            acceptor, self._acceptor = self._acceptor, None
            sockets, self._open = self._open, set()
        if listener is not None:
            # Wakes the thread blocked in accept(); that thread closes the listener.
            _shutdown(listener)
        if acceptor is not None:
            acceptor.join()
        _shutdown(*sockets)

    def come_back(self) -> None:
        self.start()

    def _accept(self, listener: socket.socket) -> None:
        try:
            while True:
                try:
                    client, _ = listener.accept()
                except OSError:
                    return  # shut down: the outage began
                try:
                    upstream = socket.create_connection(self.target)
                except OSError:
                    client.close()
                    continue
                with self._lock:
                    if self._listener is not listener:
                        client.close()
                        upstream.close()
                        return
                    self._open.update({client, upstream})
                    self.connections += 1
                threading.Thread(target=self._relay, args=(client, upstream), daemon=True).start()
        finally:
            listener.close()

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        """Pump both ways; close the pair only after both directions have stopped."""
        back = threading.Thread(target=self._pump, args=(upstream, client), daemon=True)
        back.start()
        self._pump(client, upstream)
        back.join()
        with self._lock:
            self._open.difference_update({client, upstream})
        client.close()
        upstream.close()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(BUFFER_BYTES):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _shutdown(source, sink)  # wakes the pump going the other way
