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

from ticketing.errors import NoSigningKey
from ticketing.keys import KeyRing
from validator.signing import SIGNATURE_HEADER, sign_response
from validator.wire import iso

__all__ = ["Signer", "json_text", "request_target"]


def json_text(content: str | bytes, status_code: int = 200) -> Response:
    """A JSON answer already serialised (by pydantic's model_dump_json, or stored by run_once): FastAPI's
    response model is then used for the API docs only, not to validate and serialise the answer again."""
    return Response(content, status_code=status_code, media_type="application/json")


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

    def __call__(self, body: Mapping[str, Any], *, required: bool = True) -> Response:
        """The body plus `server_time` (gates measure their clock offset by it), signed by every key in
        `KeyRing.response_keys`. With no key to sign with: 503, or unsigned when not `required` (the public
        keyset must still show riders and operators that every key was revoked)."""
        content = json.dumps(
            {**body, "server_time": iso(self.now)}, ensure_ascii=False, separators=(",", ":")
        ).encode()
        target = request_target(self.request)
        keys = self.keyring.response_keys(self.session, self.now)
        if not keys and required:
            raise NoSigningKey("no unrevoked issuer key to sign with: run `python -m ticketing keys rotate`")
        headers = {SIGNATURE_HEADER: ", ".join(sign_response(target, content, k, key) for k, key in keys)}
        return Response(content, media_type="application/json", headers=headers if keys else {})
