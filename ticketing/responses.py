"""Responses a gate verifies: JSON bytes with an `X-Signature` by the issuer keys (validator.signing).

The signature covers the request target as the client sent it (path and query), so a signed page of passes
can never be replayed as a page of revocations, nor page 1 as page 2.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import Request, Response
from sqlmodel import Session

from ticketing.keys import KeyRing
from validator.signing import SIGNATURE_HEADER, sign_response
from validator.wire import iso

__all__ = ["Signer", "request_target"]


def request_target(request: Request) -> str:
    """Path and query exactly as sent (`/v1/gate/passes?after=7`), before any percent-decoding."""
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    query: bytes = request.scope.get("query_string", b"")
    return (raw + b"?" + query if query else raw).decode("latin-1")


class Signer:
    """Turns a JSON body into a signed response for the current request (a per-request dependency)."""

    def __init__(self, request: Request, session: Session, keyring: KeyRing, now: datetime) -> None:
        self.request = request
        self.session = session
        self.keyring = keyring
        self.now = now

    def __call__(self, body: Mapping[str, Any], *, with_time: bool = True) -> Response:
        """The body (plus `server_time`, which gates use to measure their clock offset), signed."""
        payload = {**body, "server_time": iso(self.now)} if with_time else dict(body)
        content = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        target = request_target(self.request)
        header = ", ".join(
            sign_response(target, content, kid, key)
            for kid, key in self.keyring.response_keys(self.session, self.now)
        )
        return Response(content, media_type="application/json", headers={SIGNATURE_HEADER: header})
