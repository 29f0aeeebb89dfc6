"""Every route refuses what it must: each is classified by who may call it, and each class is tried with
every kind of credential (none, garbage, another rider's, each role's); on both engines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.issuing import Api
from support.security import ACCESS, Access, Credentials, access_of, app_routes, call, credentials

from validator.device import load_or_create_device_key, public_key_text

Outcome = tuple[int, str]


def _outcome(answer: Any) -> Outcome:
    if answer.status_code < 400:
        return answer.status_code, ""
    return answer.status_code, answer.json()["code"]


def _routes(api: Api, access: Access) -> list[tuple[str, str]]:
    return [(m, p) for m, p in app_routes(api.client.app) if access_of(m, p) == access]


def _matrix(
    api: Api, creds: Credentials, access: Access, names: list[str], **kwargs: Any
) -> dict[str, dict[str, Outcome]]:
    return {
        f"{method} {path}": {
            name: _outcome(call(api, method, path, creds, creds.tokens[name], **kwargs)) for name in names
        }
        for method, path in _routes(api, access)
    }


# The answers of a refused credential; anything else (200, 404 gate_not_found, 403 refunds_not_allowed,
# 422 for the empty body the matrix sends) means authentication let the caller through.
_REFUSALS = {"unauthorized", "forbidden", "order_not_found", "ticket_not_found", "bad_signature", "bad_code"}


def _allowed(outcome: Outcome) -> bool:
    return outcome[0] != 401 and outcome[1] not in _REFUSALS


def test_every_route_of_the_app_is_classified(api: Api) -> None:
    unclassified = [f"{m} {p}" for m, p in app_routes(api.client.app) if access_of(m, p) is None]

    assert unclassified == [], "classify these in tests/support/security.py::ACCESS"
    assert len(app_routes(api.client.app)) >= len(ACCESS)


def test_admin_routes_refuse_no_token_a_wrong_one_and_every_other_role(api: Api, tmp_path: Path) -> None:
    creds = credentials(api, tmp_path)
    refused = ["none", "garbage", "own_order", "gate", "auditor"]

    got = _matrix(api, creds, Access.ADMIN, refused)

    unauthorized = (401, "unauthorized")
    expected = dict.fromkeys(refused, unauthorized) | {"auditor": (403, "forbidden")}
    assert got == dict.fromkeys(got, expected)
    assert len(got) >= 6


def test_admin_routes_let_an_admin_through(api: Api, tmp_path: Path) -> None:
    creds = credentials(api, tmp_path)

    got = _matrix(api, creds, Access.ADMIN, ["admin"])

    assert {route: _allowed(by_name["admin"]) for route, by_name in got.items()} == dict.fromkeys(got, True)


def test_gate_routes_refuse_no_token_a_wrong_one_and_every_operator_or_rider_token(
    api: Api, tmp_path: Path
) -> None:
    creds = credentials(api, tmp_path)
    refused = ["none", "garbage", "own_order", "admin", "auditor"]

    got = _matrix(api, creds, Access.GATE, refused)
    own = _matrix(api, creds, Access.GATE, ["gate"])

    assert got == dict.fromkeys(got, dict.fromkeys(refused, (401, "unauthorized")))
    assert {route: _allowed(by_name["gate"]) for route, by_name in own.items()} == dict.fromkeys(own, True)
    assert len(got) == 6  # revocations, passes, free_riders, events, tariffs, journal


def test_auditor_routes_refuse_no_token_a_wrong_one_a_rider_and_a_gate_but_let_auditors_and_admins_in(
    api: Api, tmp_path: Path
) -> None:
    creds = credentials(api, tmp_path)
    refused = ["none", "garbage", "own_order", "gate"]
    assert _routes(api, Access.AUDITOR), "no /v1/audit/ route is served"

    got = _matrix(api, creds, Access.AUDITOR, refused)
    operators = _matrix(api, creds, Access.AUDITOR, ["auditor", "admin"])

    assert got == dict.fromkeys(got, dict.fromkeys(refused, (401, "unauthorized")))
    assert {r: all(map(_allowed, o.values())) for r, o in operators.items()} == dict.fromkeys(operators, True)


def test_rider_routes_answer_every_credential_but_the_orders_own_token_as_if_nothing_were_there(
    api: Api, tmp_path: Path
) -> None:
    creds = credentials(api, tmp_path)
    strangers = ["none", "garbage", "other_order", "admin", "auditor", "gate"]

    got = _matrix(api, creds, Access.RIDER, strangers)
    own = _matrix(api, creds, Access.RIDER, ["own_order"])

    # 404, not 401 or 403: a stranger cannot even learn that the order or ticket exists
    assert {route: {o[0] for o in by_name.values()} for route, by_name in got.items()} == {
        route: {404} for route in got
    }
    assert {o[1] for by_name in got.values() for o in by_name.values()} == {
        "order_not_found",
        "ticket_not_found",
    }
    assert {route: _allowed(by_name["own_order"]) for route, by_name in own.items()} == dict.fromkeys(
        own, True
    )
    assert len(got) == 8


def test_the_payment_webhook_refuses_every_bearer_credential_without_its_signature(
    api: Api, tmp_path: Path
) -> None:
    creds = credentials(api, tmp_path)
    tried = ["none", "own_order", "admin", "auditor", "gate"]

    got = _matrix(api, creds, Access.WEBHOOK, tried, content=b"{}")

    assert got == {"POST /v1/payments/notify": dict.fromkeys(tried, (401, "bad_signature"))}


def test_gate_enrolment_refuses_every_bearer_credential_without_a_live_code(api: Api, tmp_path: Path) -> None:
    creds = credentials(api, tmp_path)
    tried = ["none", "admin", "auditor", "gate", "own_order"]
    body = {
        "code": "AAAA-BBBB-CCCC-DDDD",
        "device_public_key": public_key_text(load_or_create_device_key(tmp_path)),
    }

    got = _matrix(api, creds, Access.ENROLMENT, tried, json=body)

    assert got == {"POST /v1/gate/enroll": dict.fromkeys(tried, (403, "bad_code"))}


def test_public_routes_answer_without_any_credential(api: Api, tmp_path: Path) -> None:
    creds = credentials(api, tmp_path)

    got = _matrix(api, creds, Access.PUBLIC, ["none"])

    assert {
        route: by_name["none"][0] < 500 and _allowed(by_name["none"]) for route, by_name in got.items()
    } == (dict.fromkeys(got, True))
