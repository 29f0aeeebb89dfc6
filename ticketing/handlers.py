"""One way to fail: every error becomes `{"code", "detail"}` with a fitting status, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fare_rules.cccd import CccdError
from fare_rules.errors import FareRulesError
from ticketing.errors import InvalidCharacter, TicketingError

__all__ = ["AnswerUnexpected", "ErrorPublic", "error_response", "install_handlers"]

log = logging.getLogger(__name__)

# pydantic's types for a body that is JSON but not an object (a list, a number, a string, bytes)
_NOT_AN_OBJECT = frozenset({"model_attributes_type", "dict_type", "model_type"})

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class ErrorPublic(BaseModel):
    """Every error's body. `code` is a stable wire contract; a few errors add a hint (journal_gap:
    `expected_seq`)."""

    model_config = ConfigDict(extra="allow")
    code: str
    detail: str


def error_response(
    status: int, code: str, detail: str, extra: dict[str, object] | None = None
) -> JSONResponse:
    return JSONResponse({"code": code, "detail": detail, **(extra or {})}, status_code=status)


async def _ticketing(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TicketingError)
    if exc.status >= 500:
        log.error("%s: %s", exc.code, exc.detail)
        return error_response(exc.status, exc.code, "the service cannot do this right now")
    return error_response(exc.status, exc.code, exc.detail, exc.extra)


async def _fare_rules(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FareRulesError)
    return error_response(422, exc.code, str(exc))


async def _cccd(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CccdError)
    # CccdError details describe the fault (province, century digit) and show the number masked only.
    return error_response(422, f"cccd_{exc.code}", exc.detail)


async def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Name the fields only: pydantic's messages would echo the input, and the input may be a CCCD number.
    errors = exc.errors()
    fields = sorted({_field(error) for error in errors})
    nul = sorted({_field(error) for error in errors if error.get("type") == InvalidCharacter.code})
    if nul:  # the same refusal as for a NUL in the path, query or headers (ticketing.text_guard)
        detail = "a NUL character (U+0000) in: " + ", ".join(nul)
        return error_response(InvalidCharacter.status, InvalidCharacter.code, detail)
    return error_response(
        422, "invalid_request", _body_fault(errors) or "invalid or missing: " + ", ".join(fields)
    )


def _body_fault(errors: Sequence[Any]) -> str | None:
    """What a rider can fix when the body as a whole is wrong, rather than a field of it: not JSON at all
    (pydantic would name the field `0`), or JSON but not an object. The decoder's message names the fault,
    never the input."""
    for error in errors:
        if error.get("type") == "json_invalid":
            why = str(error.get("ctx", {}).get("error", "")).strip()
            return "the body is not valid JSON" + (f": {why}" if why else "")
        if error.get("loc") == ("body",) and error.get("type") in _NOT_AN_OBJECT:
            return "the body must be a JSON object"
    return None


def _field(error: Any) -> str:
    return ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


async def _database(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, sa_exc.DBAPIError)
    # A dropped or refused connection (the database restarting, failing over, out of connections) is
    # temporary: 503 with a code tells clients to retry; the pool has already discarded the dead connection.
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) or exc.connection_invalidated:
        log.warning("database unavailable: %s", type(exc.orig).__name__)
        response = error_response(503, "database_unavailable", "the database is unreachable: retry shortly")
        response.headers["retry-after"] = "1"
        return response
    return await _unexpected(request, exc)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected %s", type(exc).__name__, exc_info=exc)
    return error_response(500, "internal_error", "something went wrong on our side")


class AnswerUnexpected:
    """Answers an exception that no handler took with 500 `internal_error`, and swallows it.

    Starlette's outermost ServerErrorMiddleware answers such an exception too, but then re-raises it, and
    uvicorn closes the keep-alive connection without a word: the client's next request on it fails. Here the
    answer is complete and the connection stays usable. An exception after the answer has started (a CSV
    stream cut short) is re-raised: only closing the connection tells the client the body is incomplete."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started:
                raise
            response = await _unexpected(Request(scope), exc)
            await response(scope, receive, send)


def _document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with the errors this service really sends: `ErrorPublic` for every 4XX and 5XX, in place of
    FastAPI's default 422 body (a list of pydantic errors) that the handlers above never send. Clients and
    schemathesis check answers against it."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorPublic"] = ErrorPublic.model_json_schema(ref_template="#/components/schemas/{model}")
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorPublic"}}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses.setdefault("4XX", {"description": "Refused; `code` says why", **error})
            responses.setdefault("5XX", {"description": "Failed or unavailable; `code` says why", **error})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def _install_error_schema(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document_errors(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI documents replacing it


def install_handlers(app: FastAPI) -> None:
    _install_error_schema(app)
    app.add_exception_handler(TicketingError, _ticketing)
    app.add_exception_handler(FareRulesError, _fare_rules)
    app.add_exception_handler(CccdError, _cccd)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(sa_exc.DBAPIError, _database)
    app.add_exception_handler(Exception, _unexpected)
