"""Refunds against rides an offline gate has not uploaded yet, and revenue books that add up, on both
engines: a refund is held before it is final, a use uploaded within the hold withdraws it, one uploaded later
is a used_after_refund anomaly, and each amount of the revenue report has one meaning."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.audit import Journal, at, auditor_token, get, journal, pass_use, ticket_use
from support.issuing import HOLDER, Api, bearer, monthly, single

from fare_rules.cccd import holder_hash

CCCD_KEY = b"test-cccd-key-0123456789"
FEE = 2_000
HOLD = {"policy": {"refunds_allowed": True, "refund_fee_vnd": FEE}}
NO_HOLD = {"policy": {"refunds_allowed": True, "refund_fee_vnd": FEE, "refund_hold_minutes": 0}}
DAY = {"from": "2025-03-03", "to": "2025-03-04"}


def _ride(
    api: Api, tmp_path: Path, ticket: dict[str, Any], name: str = "", shift: timedelta = timedelta(0)
) -> tuple[Journal, Journal]:
    """An entry at L1-01 and an exit at L1-05 (`shift` after 09:00 on 3 March 2025), recorded by two new
    gates that have not uploaded yet."""
    entry, exit_ = journal(api, tmp_path, "L1-01", f"E{name}"), journal(api, tmp_path, "L1-05", f"X{name}")
    entry.add("entry", at(0) + shift, **ticket_use(ticket))
    exit_.add("exit", at(20) + shift, **ticket_use(ticket))
    return entry, exit_


def _refund(api: Api, order: dict[str, Any]) -> Any:
    ticket = order["tickets"][0]
    return api.client.post(f"/v1/tickets/{ticket['id']}/refund", headers=bearer(order["access_token"]))


def _ticket(api: Api, order: dict[str, Any]) -> dict[str, Any]:
    ticket = order["tickets"][0]
    answer = api.client.get(f"/v1/tickets/{ticket['id']}", headers=bearer(order["access_token"]))
    return answer.json()  # type: ignore[no-any-return]


def _revenue(api: Api, token: str, **span: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = get(api, "reports/revenue", token, **(span or DAY)).json()["rows"]
    return {(r["product"], r["station"]): r for r in rows}[("single", "L1-01")]


@pytest.mark.parametrize("settings_overrides", [HOLD], indirect=True)
def test_a_refund_answers_what_goes_back_the_fee_kept_and_when_it_is_final(api: Api) -> None:
    order = api.paid_order(single())

    refund = _refund(api, order).json()["refund"]

    fare = order["tickets"][0]["fare_vnd"]
    assert (refund["amount_vnd"], refund["fee_vnd"], refund["withdrawn_at"]) == (fare - FEE, FEE, None)
    final = datetime.fromisoformat(refund["final_at"]) - datetime.fromisoformat(refund["refunded_at"])
    assert final == timedelta(hours=24)


@pytest.mark.parametrize("settings_overrides", [HOLD], indirect=True)
def test_a_ride_uploaded_within_the_refund_hold_withdraws_the_refund(api: Api, tmp_path: Path) -> None:
    token = auditor_token(api)
    order = api.paid_order(single())
    entry, exit_ = _ride(api, tmp_path, order["tickets"][0])

    refunded = _refund(api, order)
    entry.upload()
    exit_.upload()

    ticket = _ticket(api, order)
    [found] = get(api, "anomalies", token, kind="used_after_refund", **DAY).json()["anomalies"].values()
    books = _revenue(api, token)
    fare = order["tickets"][0]["fare_vnd"]
    assert refunded.status_code == 200
    assert (ticket["status"], ticket["refund"]["withdrawn_at"] is not None) == ("revoked", True)
    [item] = found["items"]
    assert (item["refund"]["state"], [t["status"] for t in item["trips"]]) == ("withdrawn", ["complete"])
    assert (books["used_vnd"], books["refunded_vnd"], books["tickets_refunded"]) == (fare, 0, 0)


@pytest.mark.parametrize("settings_overrides", [NO_HOLD], indirect=True)
def test_a_ride_uploaded_after_the_refund_is_final_is_a_used_after_refund_anomaly_in_the_books(
    api: Api, tmp_path: Path
) -> None:
    token = auditor_token(api)
    order = api.paid_order(single())
    entry, exit_ = _ride(api, tmp_path, order["tickets"][0])

    _refund(api, order)
    entry.upload()
    exit_.upload()

    ticket = _ticket(api, order)
    found = get(api, "anomalies", token, **DAY).json()["anomalies"]
    books = _revenue(api, token)
    fare = order["tickets"][0]["fare_vnd"]
    assert (ticket["status"], ticket["refund"]["withdrawn_at"]) == ("refunded", None)
    [item] = found["used_after_refund"]["items"]
    assert item["credential"] == f"t:{order['tickets'][0]['serial']}"
    assert (item["refund"]["state"], item["refund"]["amount_vnd"]) == ("final", fare - FEE)
    assert [(t["origin"], t["destination"], t["status"]) for t in item["trips"]] == [
        ("L1-01", "L1-05", "complete")
    ]
    assert (books["refunded_vnd"], books["refund_fees_vnd"], books["ridden_after_refund_vnd"]) == (
        fare - FEE,
        FEE,
        fare,
    )
    assert (books["sold_vnd"], books["used_vnd"], books["fares_ridden_vnd"]) == (fare, 0, fare)


def test_a_double_used_single_counts_its_fare_once_in_the_fares_ridden(api: Api, tmp_path: Path) -> None:
    token = auditor_token(api)
    ticket = api.paid_order(single())["tickets"][0]
    here, there = _ride(api, tmp_path, ticket, "1"), _ride(api, tmp_path, ticket, "2")
    for gate in (*here, *there):
        gate.upload()

    books = _revenue(api, token)

    assert (books["trips"], books["fares_ridden_vnd"], books["used_vnd"]) == (
        2,
        ticket["fare_vnd"],
        ticket["fare_vnd"],
    )


# Each ticket's fate: used or not, then refunded (no, and ride uploaded before or after) or double-used.
FATES = st.sampled_from(
    ["unused", "used", "refunded", "ridden_then_refunded", "refunded_then_upload", "twice"]
)


@pytest.mark.parametrize("settings_overrides", [HOLD, NO_HOLD], indirect=True, ids=["hold", "no_hold"])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fates=st.lists(FATES, min_size=1, max_size=6))
def test_the_revenue_books_add_up_whatever_became_of_the_tickets_sold(
    api: Api, tmp_path_factory: pytest.TempPathFactory, fates: list[str]
) -> None:
    token = auditor_token(api)
    api.clock.advance(days=2)  # each example its own service day
    day = api.clock().date()
    tmp_path = tmp_path_factory.mktemp("gates")
    shift = api.clock() - at(0)
    for n, fate in enumerate(fates):
        order = api.paid_order(single())
        ticket = order["tickets"][0]
        name = f"{day:%m%d}-{n}"  # gate ids are unique across examples (one database)
        gates: list[Journal] = []
        if fate in ("used", "ridden_then_refunded", "refunded_then_upload", "twice"):
            gates += _ride(api, tmp_path, ticket, f"{name}a", shift)
        if fate == "twice":
            gates += _ride(api, tmp_path, ticket, f"{name}b", shift)
        if fate == "ridden_then_refunded":
            for gate in gates:
                gate.upload()
        if fate in ("refunded", "ridden_then_refunded", "refunded_then_upload"):
            _refund(api, order)
        for gate in gates if fate != "ridden_then_refunded" else []:
            gate.upload()

    span = {"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()}
    books = _revenue(api, token, **span)

    parts = ("used_vnd", "unused_vnd", "refunded_vnd", "refund_fees_vnd")
    assert books["tickets_sold"] == len(fates)
    assert books["sold_vnd"] == sum(books[p] for p in parts)
    assert books["fares_ridden_vnd"] == books["used_vnd"] + books["ridden_after_refund_vnd"]


def test_a_monthly_pass_ridden_with_the_holders_card_is_used_in_the_books(api: Api, tmp_path: Path) -> None:
    token = auditor_token(api)
    order = api.paid_order(monthly())
    card = pass_use(order["tickets"][0], holder_hash(HOLDER["cccd"], CCCD_KEY).hex())
    gate = journal(api, tmp_path, "L1-01", "E01")
    gate.add("entry", at(0), **card)
    gate.upload()

    rows = get(api, "reports/revenue", token, **DAY).json()["rows"]
    books = {(r["product"], r["station"]): r for r in rows}[("monthly", "")]

    assert (books["used_vnd"], books["unused_vnd"]) == (books["sold_vnd"], 0)
