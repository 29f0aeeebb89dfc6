"""What `serve` hands uvicorn besides the app: the event loop and an HTTP protocol that turns Nagle's
algorithm off.

With `--workers N` uvicorn binds the listening socket itself and leaves its `proto` at 0; asyncio sets
TCP_NODELAY only on accepted sockets whose `proto` is IPPROTO_TCP (uvicorn issue #3149). Every response on a
keep-alive connection then waits for the client's delayed ACK: about 40 ms on Linux, per request.

uvloop and httptools (uvicorn's own "standard" choices) are used when installed: they parse HTTP and run the
event loop in C, which takes about a tenth of the server's CPU off every request (docs/issuing.md,
Performance). Without them the server runs on asyncio and h11.
"""

from __future__ import annotations

import asyncio
import importlib.util
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HTTP_PROTOCOL", "NoDelayH11Protocol", "event_loop", "http_protocol"]

HTTP_PROTOCOL = "ticketing.serving:NoDelayH11Protocol"  # an import string: each worker imports it
_HTTPTOOLS_PROTOCOL = "ticketing.serving_httptools:NoDelayHttpToolsProtocol"


def no_delay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with TCP_NODELAY set on each connection it is given."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        no_delay(transport)
        super().connection_made(transport)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def http_protocol() -> str:
    """The protocol for uvicorn's `http`: httptools when installed, else h11; TCP_NODELAY either way."""
    return _HTTPTOOLS_PROTOCOL if _installed("httptools") else HTTP_PROTOCOL


def event_loop() -> str:
    """uvicorn's `loop`: uvloop when installed, else asyncio."""
    return "uvloop" if _installed("uvloop") else "asyncio"
