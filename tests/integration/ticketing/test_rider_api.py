"""What the rider's app reads besides orders and tickets, on both engines: the order's VietQR as an image, the
payment details as text, each ticket's state as far as the service knows, the policy facts a rider is told,
and a pass holder's details checked before paying."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from support.audit import at, journal, ticket_use
from support.issuing import HOLDER, Api, bearer, monthly, single

from validator.vietqr import parse_emv


def _decoded(png: bytes) -> str:
    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return str(found.text)


def test_an_order_carries_its_vietqr_as_an_image_that_decodes_to_its_payload(api: Api) -> None:
    order = api.order(single()).json()
    auth = bearer(order["access_token"])

    png = api.client.get(f"/v1/orders/{order['id']}/payment/qr.png", headers=auth)
    svg = api.client.get(f"/v1/orders/{order['id']}/payment/qr.svg", headers=auth)

    assert (png.status_code, png.headers["content-type"]) == (200, "image/png")
    assert (svg.status_code, svg.headers["content-type"]) == (200, "image/svg+xml")
    assert _decoded(png.content) == order["payment"]["vietqr_payload"]


def test_in_sandbox_mode_the_payment_is_a_vietqr_to_a_labelled_sandbox_account(api: Api) -> None:
    payment = api.order(single()).json()["payment"]

    fields = dict(parse_emv(payment["vietqr_payload"]))

    assert (payment["sandbox"], payment["account"], payment["account_name"]) == (
        True,
        "0000000000",
        "SANDBOX METRO QR",
    )
    assert fields["54"] == str(payment["amount_vnd"])
    assert payment["reference"] in payment["vietqr_payload"]


def test_a_payment_reference_carries_over_a_hundred_bits_of_randomness(api: Api) -> None:
    references = {api.order(single()).json()["payment"]["reference"] for _ in range(20)}

    assert len(references) == 20
    assert all(len(r) == 25 and r.startswith("MQR") for r in references)


def test_the_payment_image_of_another_riders_order_is_a_404(api: Api) -> None:
    mine, theirs = api.order(single()).json(), api.order(single()).json()

    answer = api.client.get(f"/v1/orders/{theirs['id']}/payment/qr.svg", headers=bearer(mine["access_token"]))

    assert (answer.status_code, answer.json()["code"]) == (404, "order_not_found")


def test_a_single_ticket_is_unused_then_in_use_inside_then_used_after_its_exit(
    api: Api, tmp_path: Path
) -> None:
    order = api.paid_order(single("L1-01", "L1-05"))
    ticket = order["tickets"][0]
    path, auth = f"/v1/tickets/{ticket['id']}", bearer(order["access_token"])
    entry, exit_ = journal(api, tmp_path, "L1-01", "E01"), journal(api, tmp_path, "L1-05", "X05")

    before = api.client.get(path, headers=auth).json()["state"]
    entry.add("entry", at(0), **ticket_use(ticket))
    entry.upload()
    inside = api.client.get(path, headers=auth).json()["state"]
    exit_.add("exit", at(20), **ticket_use(ticket))
    exit_.upload()
    after = api.client.get(f"/v1/orders/{order['id']}", headers=auth).json()["tickets"][0]["state"]

    assert (before, inside, after) == ("unused", "in_use", "used")


def test_an_unused_single_ticket_is_expired_after_its_validity(api: Api) -> None:
    order = api.paid_order(single())
    api.clock.advance(days=31)

    ticket = api.client.get(f"/v1/tickets/{order['tickets'][0]['id']}", headers=bearer(order["access_token"]))

    assert ticket.json()["state"] == "expired"


@pytest.mark.parametrize("settings_overrides", [{"policy": {"refunds_allowed": True}}], indirect=True)
def test_a_refunded_ticket_is_refunded(api: Api) -> None:
    order = api.paid_order(single())
    path = f"/v1/tickets/{order['tickets'][0]['id']}"

    refunded = api.client.post(f"{path}/refund", headers=bearer(order["access_token"]))

    assert refunded.json()["state"] == "refunded"


@pytest.mark.parametrize(
    "settings_overrides",
    [{"policy": {"refunds_allowed": True, "refund_fee_vnd": 2000, "refund_hold_minutes": 60}}],
    indirect=True,
)
def test_the_policy_a_rider_is_told_is_the_operators(api: Api) -> None:
    policy = api.client.get("/v1/policy").json()

    assert (policy["refunds_allowed"], policy["refund_fee_vnd"], policy["refund_hold_minutes"]) == (
        True,
        2000,
        60,
    )
    assert (policy["single_validity_days"], policy["order_expiry_minutes"], policy["utc_offset_hours"]) == (
        30,
        15,
        7,
    )
    assert policy["service_day_start"] == "04:00"


def test_a_pass_holder_checked_before_paying_shows_what_staff_will_see(api: Api) -> None:
    answer = api.client.post("/v1/holders/check", json=HOLDER)

    assert answer.status_code == 200
    assert answer.json() == {"cccd_masked": "0793******34", "initials": "NTM", "birth_year": 2003}
    assert HOLDER["cccd"] not in answer.text


@pytest.mark.parametrize(
    ("holder", "code"),
    [
        ({"cccd": "07930300123"}, "cccd_format"),
        ({"cccd": "999303001234"}, "cccd_province"),
        ({"birth_date": "1990-06-15"}, "cccd_birth_year_mismatch"),
    ],
)
def test_a_bad_holder_is_refused_by_the_check_exactly_as_by_an_order(
    api: Api, holder: dict[str, str], code: str
) -> None:
    checked = api.client.post("/v1/holders/check", json={**HOLDER, **holder})
    ordered = api.order({**monthly(), "holder": {**HOLDER, **holder}})

    assert (checked.status_code, checked.json()["code"]) == (422, code)
    assert checked.json() == ordered.json()


def test_a_ticket_of_an_order_paid_a_moment_ago_is_unused(api: Api) -> None:
    order = api.paid_order(single())
    api.clock.advance(minutes=1)

    read = api.client.get(f"/v1/orders/{order['id']}", headers=bearer(order["access_token"])).json()

    assert [t["state"] for t in read["tickets"]] == ["unused"]


def _transfer(api: Api, order: dict[str, Any]) -> dict[str, Any]:
    """What the rider's banking app shows of the transfer that paid `order`."""
    paid_on = datetime.fromisoformat(order["paid_at"]).astimezone(timezone(timedelta(hours=7))).date()
    return {
        "reference": order["payment"]["reference"],
        "amount_vnd": order["amount_vnd"],
        "paid_on": str(paid_on),
    }


def test_an_order_recovered_from_its_bank_transfer_gets_a_new_token_and_the_old_link_stops_working(
    api: Api,
) -> None:
    order = api.paid_order(single())
    old = bearer(order["access_token"])

    recovered = api.client.post(
        "/v1/orders/recover",
        json={**_transfer(api, order), "reference": order["payment"]["reference"].lower()},
    )
    new = bearer(recovered.json()["access_token"])

    assert recovered.status_code == 200
    assert recovered.json()["access_token"] != order["access_token"]
    assert [t["qr_payload"] for t in recovered.json()["tickets"]] == [
        t["qr_payload"] for t in order["tickets"]
    ]
    assert api.client.get(f"/v1/orders/{order['id']}", headers=old).status_code == 404
    assert api.client.get(f"/v1/orders/{order['id']}", headers=new).status_code == 200
    assert api.client.get(f"/v1/tickets/{order['tickets'][0]['id']}", headers=old).status_code == 404


@pytest.mark.parametrize("wrong", ["reference", "amount", "date", "unpaid"])
def test_a_recovery_that_does_not_match_is_the_same_404_whatever_was_wrong(api: Api, wrong: str) -> None:
    order = api.paid_order(single())
    transfer = _transfer(api, order)
    if wrong == "reference":
        transfer["reference"] = "MQR" + "A" * 22
    elif wrong == "amount":
        transfer["amount_vnd"] += 1000
    elif wrong == "date":
        transfer["paid_on"] = str(date.fromisoformat(transfer["paid_on"]) - timedelta(days=2))
    else:
        unpaid = api.order(single()).json()
        transfer["reference"] = unpaid["payment"]["reference"]

    answer = api.client.post("/v1/orders/recover", json=transfer)

    assert answer.status_code == 404
    assert answer.json() == {
        "code": "no_matching_order",
        "detail": "no paid order matches this reference, amount and date",
    }
    assert (
        api.client.get(f"/v1/orders/{order['id']}", headers=bearer(order["access_token"])).status_code == 200
    )


@pytest.mark.parametrize(
    "settings_overrides", [{"recover_rate_per_minute": 1, "recover_rate_burst": 3}], indirect=True
)
def test_recovery_attempts_are_rate_limited(api: Api) -> None:
    guess = {"reference": "MQR" + "B" * 22, "amount_vnd": 9000, "paid_on": "2025-03-03"}

    answers = [api.client.post("/v1/orders/recover", json=guess).status_code for _ in range(4)]

    assert answers == [404, 404, 404, 429]


def test_a_day_pass_is_in_use_on_its_service_day_and_expired_the_next_though_activatable_for_a_month(
    api: Api, tmp_path: Path
) -> None:
    order = api.paid_order({"product": "day"})
    ticket = order["tickets"][0]
    path, auth = f"/v1/tickets/{ticket['id']}", bearer(order["access_token"])
    gate = journal(api, tmp_path, "L1-01", "E01")
    gate.add("entry", at(0), **ticket_use(ticket))
    gate.upload()

    same_day = api.client.get(path, headers=auth).json()["state"]
    api.clock.advance(days=1)
    next_day = api.client.get(path, headers=auth).json()["state"]

    assert (same_day, next_day) == ("in_use", "expired")


@pytest.mark.parametrize("days", [-1, 1])
def test_a_transfer_dated_a_day_from_its_confirmation_still_recovers_the_order(api: Api, days: int) -> None:
    order = api.paid_order(single())
    transfer = _transfer(api, order)
    transfer["paid_on"] = str(date.fromisoformat(transfer["paid_on"]) + timedelta(days=days))

    assert api.client.post("/v1/orders/recover", json=transfer).status_code == 200
