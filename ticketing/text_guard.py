"""Refuse a NUL character (U+0000) in a request's path, query or headers, before any route sees it.

PostgreSQL cannot store U+0000 in a text column, nor compare with one (psycopg raises DataError): an id in a
path, an audit filter or a header carrying one was a 500. No part of the API has a use for it, so this one
check covers every text that arrives outside a body, on both engines alike. JSON bodies are checked where
they are parsed: the request models (ticketing.schemas) and the journal's own validation.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ticketing.errors import InvalidCharacter
from ticketing.handlers import error_response

__all__ = ["NulGuard"]


class NulGuard:
    """400 `invalid_character` for a request with U+0000 in its path, query string or headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        where = _where(scope) if scope["type"] == "http" else None
        if where is None:
            await self.app(scope, receive, send)
            return
        error = InvalidCharacter(f"a NUL character (U+0000) in the {where}: nothing here accepts one")
        await error_response(error.status, error.code, error.detail)(scope, receive, send)


def _where(scope: Scope) -> str | None:
    if "\x00" in scope["path"] or b"%00" in scope.get("raw_path", b""):
        return "path"
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        return "query"
    if any(b"\x00" in name or b"\x00" in value for name, value in scope["headers"]):
        return "headers"
    return None
