"""Refuse oversized request bodies before anything parses them."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["GATE_BEARER", "BodySizeLimit"]

# A gate token as services.gates issues it ("mqg_" + token_urlsafe(32)); the syntax only, checked for free.
GATE_BEARER = re.compile(rb"[Bb]earer +mqg_[A-Za-z0-9_-]{43}")


class BodySizeLimit:
    """413 for a body over `max_bytes` (or its path's own limit in `per_path`): by Content-Length up front,
    or by counting a chunked upload.

    A path's own, larger limit is granted only to a request whose Authorization header matches `bearer`:
    the limit is checked before any route checks the token, so without this anyone could make the service
    read and parse megabytes for nothing. A well-formed but wrong token still gets the larger limit, then the
    route's 401: the cheapest check that keeps anonymous requests to the default limit."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        per_path: Mapping[str, int] | None = None,
        bearer: re.Pattern[bytes] = GATE_BEARER,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = dict(per_path or {})
        self.bearer = bearer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        limit = self.max_bytes
        if scope["path"] in self.per_path and self.bearer.fullmatch(headers.get(b"authorization", b"")):
            limit = self.per_path[scope["path"]]
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > limit:
                await _too_large(send, limit)
                return
            await self.app(scope, receive, send)
            return
        # No length given: read the body here, within the limit, and hand it on whole.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _too_large(send: Send, max_bytes: int) -> None:
    body = json.dumps(
        {"code": "payload_too_large", "detail": f"request body over {max_bytes} bytes"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
