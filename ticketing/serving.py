"""What `serve` hands uvicorn besides the app: an HTTP protocol that turns Nagle's algorithm off.

With `--workers N` uvicorn binds the listening socket itself and leaves its `proto` at 0; asyncio sets
TCP_NODELAY only on accepted sockets whose `proto` is IPPROTO_TCP (uvicorn issue #3149). Every response on a
keep-alive connection then waits for the client's delayed ACK: about 40 ms on Linux, per request.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HTTP_PROTOCOL", "NoDelayH11Protocol"]

HTTP_PROTOCOL = "ticketing.serving:NoDelayH11Protocol"  # an import string: each worker imports it


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with TCP_NODELAY set on each connection it is given."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
