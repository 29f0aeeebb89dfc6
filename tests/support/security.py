"""The route classification the security tests share, and every kind of credential to try on each route."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlmodel import Session
from starlette.routing import Route

from support.gate_sync import enrolled_gate
from support.issuing import Api, bearer, single
from ticketing.db import make_engine
from ticketing.models import Role
from ticketing.services.api_tokens import create_token

__all__ = [
    "ACCESS",
    "PREFIX_ACCESS",
    "Access",
    "Credentials",
    "access_of",
    "app_routes",
    "call",
    "credentials",
    "operator_token",
]


class Access(StrEnum):
    """Who may call a route, and with what."""

    PUBLIC = "public"  # anyone, no credential
    RIDER = "rider"  # the order's own access token; anything else is the 404 of a missing order
    ADMIN = "admin"  # an operator token of role admin
    AUDITOR = "auditor"  # an operator token of role auditor (or admin)
    GATE = "gate"  # an enrolled, active gate's token
    WEBHOOK = "webhook"  # the payment provider's HMAC over the body (X-Signature), no bearer token
    ENROLMENT = "enrolment"  # a gate's one-time enrolment code in the body


# Every route of the app, by (method, path). A route missing here fails
# test_every_route_of_the_app_is_classified: decide who may call it before it ships.
ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/openapi.json"): Access.PUBLIC,
    ("GET", "/docs"): Access.PUBLIC,
    ("GET", "/docs/oauth2-redirect"): Access.PUBLIC,
    ("GET", "/redoc"): Access.PUBLIC,
    ("GET", "/docs/assets/{name}"): Access.PUBLIC,
    ("GET", "/audit/"): Access.PUBLIC,  # the auditors' page and its files; every figure needs a token
    ("GET", "/audit/{name}"): Access.PUBLIC,
    ("GET", "/v1/network"): Access.PUBLIC,
    ("GET", "/v1/fares/quote"): Access.PUBLIC,
    ("GET", "/v1/keys"): Access.PUBLIC,
    ("GET", "/v1/policy"): Access.PUBLIC,
    ("GET", "/v1/gtfs/feed.zip"): Access.PUBLIC,
    ("POST", "/v1/holders/check"): Access.PUBLIC,
    ("POST", "/v1/orders"): Access.PUBLIC,
    ("POST", "/v1/orders/recover"): Access.PUBLIC,
    ("GET", "/"): Access.PUBLIC,
    ("GET", "/sw.js"): Access.PUBLIC,
    ("GET", "/app/{name}"): Access.PUBLIC,
    ("GET", "/v1/orders/{order_id}"): Access.RIDER,
    ("GET", "/v1/orders/{order_id}/payment/qr.svg"): Access.RIDER,
    ("GET", "/v1/orders/{order_id}/payment/qr.png"): Access.RIDER,
    ("POST", "/v1/sandbox/orders/{order_id}/pay"): Access.RIDER,
    ("GET", "/v1/tickets/{ticket_id}"): Access.RIDER,
    ("GET", "/v1/tickets/{ticket_id}/qr.png"): Access.RIDER,
    ("GET", "/v1/tickets/{ticket_id}/qr.svg"): Access.RIDER,
    ("POST", "/v1/tickets/{ticket_id}/refund"): Access.RIDER,
    ("POST", "/v1/payments/notify"): Access.WEBHOOK,
    ("POST", "/v1/gate/enroll"): Access.ENROLMENT,
    ("GET", "/v1/gate/revocations"): Access.GATE,
    ("GET", "/v1/gate/passes"): Access.GATE,
    ("GET", "/v1/gate/events"): Access.GATE,
    ("GET", "/v1/gate/tariffs"): Access.GATE,
    ("GET", "/v1/gate/free_riders"): Access.GATE,
    ("POST", "/v1/gate/journal"): Access.GATE,
    ("GET", "/v1/admin/tariffs"): Access.ADMIN,
    ("POST", "/v1/admin/tariffs"): Access.ADMIN,
    ("GET", "/v1/admin/passes"): Access.ADMIN,
    ("POST", "/v1/admin/passes/{pass_id}/verify"): Access.ADMIN,
    ("POST", "/v1/admin/passes/{pass_id}/refuse"): Access.ADMIN,
    ("POST", "/v1/admin/passes/{pass_id}/revoke"): Access.ADMIN,
    ("POST", "/v1/admin/free-riders"): Access.ADMIN,
    ("GET", "/v1/admin/free-riders"): Access.ADMIN,
    ("POST", "/v1/admin/free-riders/{entry_id}/end"): Access.ADMIN,
    ("POST", "/v1/admin/keys/rotate"): Access.ADMIN,
    ("POST", "/v1/admin/keys/{kid}/revoke"): Access.ADMIN,
    ("POST", "/v1/admin/gates"): Access.ADMIN,
    ("GET", "/v1/admin/gates"): Access.ADMIN,
    ("POST", "/v1/admin/gates/{gate_id}/revoke"): Access.ADMIN,
    ("GET", "/v1/admin/tokens"): Access.ADMIN,
    ("POST", "/v1/admin/tokens/{token_id}/revoke"): Access.ADMIN,
}
# DESIGN.md's contract: everything under /v1/audit/ is the auditors' (admins may do what auditors do).
PREFIX_ACCESS: dict[str, Access] = {"/v1/audit/": Access.AUDITOR}


def app_routes(app: object) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves: its OpenAPI operations (what clients are told of) plus
    every route the schema leaves out (docs pages, the web app), found through FastAPI's nested routers."""
    assert isinstance(app, FastAPI)  # TestClient types its app as a bare ASGI callable
    methods = {"get", "put", "post", "delete", "patch", "options"}
    documented = {
        (m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops if m in methods
    }
    plain = {(m, r.path) for r in _all_routes(app.routes) for m in r.methods or () if m != "HEAD"}
    return sorted(documented | plain)


def _all_routes(routes: list[Any]) -> list[Route]:
    found: list[Route] = []
    for route in routes:
        if isinstance(route, Route):
            found.append(route)
        nested = getattr(route, "original_router", None)  # FastAPI's included router
        if nested is not None:
            found += _all_routes(nested.routes)
    return found


def access_of(method: str, path: str) -> Access | None:
    if (method, path) in ACCESS:
        return ACCESS[method, path]
    return next((access for prefix, access in PREFIX_ACCESS.items() if path.startswith(prefix)), None)


@dataclass(frozen=True)
class Credentials:
    """One of each kind, all valid for something, plus what the rider's own routes need."""

    order_id: str
    ticket_id: str
    tokens: dict[str, str | None]  # name -> bearer token (None: no Authorization header)


def operator_token(api: Api, role: Role) -> tuple[str, str]:
    """(id, token) of a fresh operator token."""
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        created = create_token(session, role, "security tests", api.clock())
    engine.dispose()
    return created.id, created.token


def credentials(api: Api, tmp_path: Path) -> Credentials:
    mine = api.paid_order(single())
    theirs = api.order(single()).json()
    return Credentials(
        order_id=mine["id"],
        ticket_id=mine["tickets"][0]["id"],
        tokens={
            "none": None,
            "garbage": "mqa_admin_not-a-real-token",
            "own_order": mine["access_token"],
            "other_order": theirs["access_token"],
            "admin": api.admin_token,
            "auditor": operator_token(api, Role.AUDITOR)[1],
            "gate": enrolled_gate(api, tmp_path, gate_id="L1-01-G9").token,
        },
    )


def call(api: Api, method: str, path: str, creds: Credentials, token: str | None, **kwargs: Any) -> Any:
    """The route called with its path parameters filled in: the rider's own ids, else ids that exist
    nowhere (an operator who gets past authentication then gets a 404, not a changed gate or key)."""
    values = {
        "order_id": creds.order_id,
        "ticket_id": creds.ticket_id,
        "pass_id": "0" * 32,
        "gate_id": "NO-SUCH-GATE",
        "kid": "65535",
        "token_id": "0" * 32,
    }
    filled = path
    for name in [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]:
        filled = filled.replace("{" + name + "}", values.get(name, "x"))
    headers = bearer(token) if token else {}
    if method in {"POST", "PUT", "PATCH"} and "json" not in kwargs and "content" not in kwargs:
        kwargs["json"] = {}
    return api.client.request(method, filled, headers=headers, **kwargs)
