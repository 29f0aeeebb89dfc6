"""Riders buy tickets and passes: orders, payment, reading, refunds; every bad input refused with a code."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, time, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from support.issuing import TODAY, WEBHOOK_SECRET, Api, bearer, monthly, single

from ticketing.db import make_engine
from ticketing.payments.webhook import PaymentNotification, sign_notification
from validator.codec import TicketBody, decode, load_keyset


def _notify(
    api: Api,
    order: dict[str, Any],
    amount: int | None = None,
    tx: str = "bank-tx-1",
    signed_at: datetime | None = None,
    **kw: Any,
) -> Any:
    body = PaymentNotification(
        order_id=kw.get("order_id", order["id"]),
        reference=kw.get("reference", order["payment"]["reference"]),
        amount_vnd=order["amount_vnd"] if amount is None else amount,
        bank_transaction_id=tx,
    ).to_json()
    secret = kw.get("secret", WEBHOOK_SECRET).encode()
    headers = {
        "X-Signature": sign_notification(body, secret, int((signed_at or api.clock.now).timestamp())),
        "content-type": "application/json",
    }
    return api.client.post("/v1/payments/notify", content=body, headers=headers)


def _keyset(api: Api) -> Any:
    return load_keyset(api.client.get("/v1/keys").json())


def test_the_network_lists_fourteen_stations_and_the_products(api: Api) -> None:
    network = api.client.get("/v1/network").json()

    assert [s["code"] for s in network["stations"]][:2] == ["L1-01", "L1-02"]
    assert len(network["stations"]) == 14
    assert {p["product"] for p in network["products"]} >= {"single", "monthly", "monthly_student"}


@pytest.mark.parametrize(
    ("query", "amount"),
    [
        ("origin=L1-01&destination=L1-14", 19_000),
        ("origin=L1-01&destination=L1-14&payment=cash", 20_000),
        ("origin=L1-01&destination=L1-02", 6_000),
        ("product=monthly", 300_000),
    ],
)
def test_a_quote_prices_pairs_and_passes(api: Api, query: str, amount: int) -> None:
    got = api.client.get(f"/v1/fares/quote?{query}")

    assert got.status_code == 200
    assert got.json()["amount_vnd"] == amount


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("origin=L1-01&destination=L9-99", "unknown_station"),
        ("origin=L1-03&destination=L1-03", "invalid_route"),
        ("origin=L1-01", "invalid_route"),
        ("origin=L1-01&destination=L1-02&payment=gold", "invalid_request"),
    ],
)
def test_a_bad_quote_is_refused_with_a_code(api: Api, query: str, code: str) -> None:
    got = api.client.get(f"/v1/fares/quote?{query}")

    assert got.status_code == 422
    assert got.json()["code"] == code


def test_an_order_awaits_payment_with_an_amount_an_expiry_and_a_token(api: Api) -> None:
    got = api.order(single(quantity=2), {"product": "day"})

    order = got.json()
    assert got.status_code == 201
    assert order["status"] == "awaiting_payment"
    single_fare = api.client.get("/v1/fares/quote?origin=L1-01&destination=L1-05").json()["amount_vnd"]
    assert order["amount_vnd"] == 2 * single_fare + 40_000
    assert order["access_token"]
    assert order["payment"]["provider"] == "sandbox"
    assert order["expires_at"].startswith("2025-03-03T02:15")


def test_a_paid_single_ticket_verifies_with_the_published_keys(api: Api) -> None:
    order = api.paid_order(single("L1-01", "L1-05"))

    ticket = order["tickets"][0]
    body = decode(ticket["qr_payload"], _keyset(api))
    assert order["status"] == "paid"
    assert isinstance(body, TicketBody)
    numbers = {s["code"]: s["number"] for s in api.client.get("/v1/network").json()["stations"]}
    assert (body.origin, body.destination) == (numbers["L1-01"], numbers["L1-05"])
    assert body.fare_vnd == ticket["fare_vnd"] == 9_000
    assert body.valid_until - body.issued_at == timedelta(days=30)
    assert str(body.serial) == ticket["serial"]


def test_quantity_makes_that_many_tickets_with_distinct_serials(api: Api) -> None:
    order = api.paid_order(single(quantity=3))

    assert len({t["serial"] for t in order["tickets"]}) == 3


def test_a_monthly_pass_runs_thirty_days_from_four_in_the_morning_local(api: Api) -> None:
    order = api.paid_order(monthly(start=TODAY + timedelta(days=2)))

    ticket = order["tickets"][0]
    body = decode(ticket["qr_payload"], _keyset(api))
    assert isinstance(body, TicketBody)
    assert ticket["valid_from"].startswith("2025-03-04T21:00")  # 04:00 on 5 March in UTC+7
    assert body.valid_until - body.valid_from == timedelta(days=30)
    assert body.holder_hash is not None
    assert len(body.holder_hash) == 16
    assert ticket["pass"]["status"] == "active"
    assert ticket["pass"]["holder_masked"] == "0793******34"


def test_the_cccd_number_is_never_returned_in_full(api: Api) -> None:
    created = api.order(monthly())
    paid = api.paid_order(monthly(cccd="079303001235"))  # one pass per holder at a time: another holder

    assert "079303001234" not in created.text
    assert "079303001235" not in json.dumps(paid)


def test_a_student_pass_is_pending_until_an_admin_verifies_it(api: Api) -> None:
    order = api.paid_order(monthly("monthly_student"))
    pass_id = order["tickets"][0]["pass"]["id"]

    refused = api.client.post(f"/v1/admin/passes/{pass_id}/verify", headers=bearer(order["access_token"]))
    verified = api.client.post(f"/v1/admin/passes/{pass_id}/verify", headers=bearer(api.admin_token))

    assert order["tickets"][0]["pass"]["status"] == "pending_verification"
    assert refused.json()["code"] == "unauthorized"
    assert verified.json()["status"] == "active"


@pytest.mark.parametrize(
    ("item", "code"),
    [
        (single("L1-01", "L1-99"), "unknown_station"),
        (single("L1-04", "L1-04"), "invalid_route"),
        (single(quantity=0), "invalid_request"),
        (single(quantity=11), "invalid_request"),
        ({"product": "single", "origin": "L1-01"}, "invalid_route"),
        ({"product": "free_priority"}, "product_not_sold"),
        ({"product": "teleport"}, "invalid_request"),
        ({"product": "monthly", "start_date": TODAY.isoformat()}, "holder_required"),
        (monthly(cccd="07930300123"), "cccd_format"),
        (monthly(cccd="999303001234"), "cccd_province"),
        (monthly(birth_date="1990-06-15"), "cccd_birth_year_mismatch"),
        ({**monthly(), "start_date": None}, "invalid_start_date"),
        (monthly(start=TODAY - timedelta(days=1)), "invalid_start_date"),
        (monthly(start=TODAY + timedelta(days=90)), "invalid_start_date"),
        ({**monthly(), "quantity": 2}, "quantity_out_of_range"),
        ({**single(), "holder": monthly()["holder"]}, "invalid_request"),
    ],
)
def test_a_bad_order_is_refused_with_a_code_and_writes_nothing(
    api: Api, item: dict[str, Any], code: str
) -> None:
    got = api.order(item)

    assert got.status_code == 422, got.text
    assert got.json()["code"] == code
    assert set(got.json()) == {"code", "detail"}


def test_an_order_with_no_items_or_no_json_is_refused(api: Api) -> None:
    empty = api.client.post("/v1/orders", json={"items": []})
    garbage = api.client.post(
        "/v1/orders", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert (empty.status_code, empty.json()["code"]) == (422, "invalid_request")
    assert (garbage.status_code, garbage.json()["code"]) == (422, "invalid_request")


def test_an_unauthenticated_1_mib_journal_upload_is_refused_before_it_is_read(api: Api) -> None:
    body = b"x" * (1 << 20)
    json_type = {"content-type": "application/json"}

    anonymous = api.client.post("/v1/gate/journal", content=body, headers=json_type)
    admin = api.client.post(
        "/v1/gate/journal", content=body, headers={**json_type, **bearer(api.admin_token)}
    )
    forged = api.client.post(
        "/v1/gate/journal", content=body, headers={**json_type, **bearer("mqg_" + "A" * 43)}
    )

    assert (anonymous.status_code, anonymous.json()["code"]) == (413, "payload_too_large")
    assert (admin.status_code, admin.json()["code"]) == (413, "payload_too_large")
    # A well-formed gate token gets the larger limit, then is refused (body or token, whichever first).
    assert forged.status_code in {401, 422}


def test_an_oversized_body_is_refused_with_413(api: Api) -> None:
    got = api.client.post("/v1/orders", content=b"x" * 70_000, headers={"content-type": "application/json"})

    assert got.status_code == 413
    assert got.json()["code"] == "payload_too_large"


def test_an_unknown_path_answers_with_a_code(api: Api) -> None:
    got = api.client.get("/v1/nothing-here")

    assert (got.status_code, got.json()["code"]) == (404, "not_found")


def test_an_order_is_read_only_with_its_own_token(api: Api) -> None:
    mine = api.order(single()).json()
    theirs = api.order(single()).json()

    own = api.client.get(f"/v1/orders/{mine['id']}", headers=bearer(mine["access_token"]))
    other = api.client.get(f"/v1/orders/{mine['id']}", headers=bearer(theirs["access_token"]))
    none = api.client.get(f"/v1/orders/{mine['id']}")

    assert own.status_code == 200
    assert "access_token" not in own.json() or own.json()["access_token"] is None
    assert (other.status_code, other.json()["code"]) == (404, "order_not_found")
    assert (none.status_code, none.json()["code"]) == (404, "order_not_found")


def test_reading_another_orders_ticket_is_404_like_a_ticket_that_does_not_exist(api: Api) -> None:
    mine = api.paid_order(single())
    theirs = api.order(single()).json()
    ticket_id = mine["tickets"][0]["id"]

    for path in (f"/v1/tickets/{ticket_id}", f"/v1/tickets/{ticket_id}/qr.png", "/v1/tickets/" + "0" * 32):
        got = api.client.get(path, headers=bearer(theirs["access_token"]))
        assert (got.status_code, got.json()["code"]) == (404, "ticket_not_found")


def test_qr_images_are_served_as_png_and_svg(api: Api) -> None:
    order = api.paid_order(single())
    ticket_id = order["tickets"][0]["id"]

    png = api.client.get(f"/v1/tickets/{ticket_id}/qr.png", headers=bearer(order["access_token"]))
    svg = api.client.get(f"/v1/tickets/{ticket_id}/qr.svg", headers=bearer(order["access_token"]))

    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content


def test_paying_an_expired_order_is_refused(api: Api) -> None:
    order = api.order(single()).json()
    api.clock.advance(minutes=16)

    got = api.client.post(f"/v1/sandbox/orders/{order['id']}/pay", headers=bearer(order["access_token"]))
    read = api.client.get(f"/v1/orders/{order['id']}", headers=bearer(order["access_token"]))

    assert (got.status_code, got.json()["code"]) == (409, "order_expired")
    assert read.json()["status"] == "expired"
    assert read.json()["tickets"] == []


def test_paying_twice_issues_the_tickets_once(api: Api) -> None:
    order = api.order(single(quantity=2)).json()
    pay = f"/v1/sandbox/orders/{order['id']}/pay"

    first = api.client.post(pay, headers=bearer(order["access_token"])).json()
    second = api.client.post(pay, headers=bearer(order["access_token"])).json()

    assert [t["id"] for t in first["tickets"]] == [t["id"] for t in second["tickets"]]
    assert len(second["tickets"]) == 2


def test_concurrent_confirmations_issue_the_tickets_once(api: Api) -> None:
    order = api.order(single(quantity=2)).json()
    results: list[int] = []

    def confirm() -> None:
        results.append(_notify(api, order, tx="bank-tx-race").status_code)

    threads = [threading.Thread(target=confirm) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    read = api.client.get(f"/v1/orders/{order['id']}", headers=bearer(order["access_token"])).json()

    assert results == [200] * 6
    assert len(read["tickets"]) == 2


def test_the_answer_to_a_payment_is_what_reading_the_order_gives(api: Api) -> None:
    # The payment answers from the rows it has just written; a later read takes them from the database.
    order = api.order(
        single(quantity=3), single("L1-02", "L1-14"), monthly(start=TODAY + timedelta(days=1))
    ).json()

    paid = api.client.post(f"/v1/sandbox/orders/{order['id']}/pay", headers=bearer(order["access_token"]))
    read = api.client.get(f"/v1/orders/{order['id']}", headers=bearer(order["access_token"]))

    assert paid.status_code == 200
    assert paid.json() == read.json()
    assert len(read.json()["tickets"]) == 5


def test_concurrent_orders_with_one_idempotency_key_make_one_order(api: Api) -> None:
    answers: list[Any] = []

    key = str(uuid.uuid4())

    def create() -> None:
        answers.append(api.order(single(), key=key))

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [a.status_code for a in answers] == [201] * 6
    assert len({a.json()["id"] for a in answers}) == 1


def test_concurrent_payments_with_one_idempotency_key_issue_once_and_answer_alike(api: Api) -> None:
    order = api.order(single(quantity=2)).json()
    headers = {**bearer(order["access_token"]), "Idempotency-Key": str(uuid.uuid4())}
    answers: list[Any] = []

    def pay() -> None:
        answers.append(api.client.post(f"/v1/sandbox/orders/{order['id']}/pay", headers=headers))

    threads = [threading.Thread(target=pay) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    read = api.client.get(f"/v1/orders/{order['id']}", headers=bearer(order["access_token"])).json()

    assert [a.status_code for a in answers] == [200] * 6
    assert all(a.json() == read for a in answers)
    assert len(read["tickets"]) == 2


def test_a_signed_bank_notification_pays_the_order(api: Api) -> None:
    order = api.order(single()).json()

    got = _notify(api, order)
    again = _notify(api, order)
    read = api.client.get(f"/v1/orders/{order['id']}", headers=bearer(order["access_token"])).json()

    assert got.json() == {"order_id": order["id"], "status": "paid"}
    assert again.status_code == 200
    assert len(read["tickets"]) == 1


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"secret": "not-the-secret"}, 401, "bad_signature"),
        ({"amount": 1_000}, 409, "amount_mismatch"),
        ({"order_id": "f" * 32}, 404, "order_not_found"),
        ({"reference": "MQRWRONGREF"}, 404, "order_not_found"),
    ],
)
def test_a_bad_bank_notification_issues_nothing(
    api: Api, change: dict[str, Any], status: int, code: str
) -> None:
    order = api.order(single()).json()

    got = _notify(api, order, **change)
    read = api.client.get(f"/v1/orders/{order['id']}", headers=bearer(order["access_token"])).json()

    assert (got.status_code, got.json()["code"]) == (status, code)
    assert read["status"] == "awaiting_payment"


def test_a_notification_replayed_after_the_300_second_window_is_refused(api: Api) -> None:
    order = api.order(single()).json()
    signed_at = api.clock.now
    api.clock.advance(seconds=301)

    got = _notify(api, order, signed_at=signed_at)
    read = api.client.get(f"/v1/orders/{order['id']}", headers=bearer(order["access_token"])).json()

    assert (got.status_code, got.json()["code"]) == (401, "stale_timestamp")
    assert read["status"] == "awaiting_payment"


def test_a_notification_replayed_inside_the_window_is_answered_once_and_issues_once(api: Api) -> None:
    order = api.order(single(quantity=2)).json()
    signed_at = api.clock.now
    first = _notify(api, order, signed_at=signed_at)
    api.clock.advance(seconds=299)

    replayed = _notify(api, order, signed_at=signed_at)
    read = api.client.get(f"/v1/orders/{order['id']}", headers=bearer(order["access_token"])).json()

    assert first.status_code == replayed.status_code == 200
    assert replayed.json() == {"order_id": order["id"], "status": "paid"}
    assert len(read["tickets"]) == 2


def test_a_notification_signed_too_far_ahead_of_the_clock_is_refused(api: Api) -> None:
    order = api.order(single()).json()

    got = _notify(api, order, signed_at=api.clock.now + timedelta(seconds=301))
    read = api.client.get(f"/v1/orders/{order['id']}", headers=bearer(order["access_token"])).json()

    assert (got.status_code, got.json()["code"]) == (401, "stale_timestamp")
    assert read["status"] == "awaiting_payment"


def test_a_stale_notification_with_a_wrong_secret_is_a_bad_signature(api: Api) -> None:
    order = api.order(single()).json()

    got = _notify(api, order, secret="not-the-secret", signed_at=api.clock.now - timedelta(hours=1))

    assert (got.status_code, got.json()["code"]) == (401, "bad_signature")


def test_a_second_transaction_for_a_paid_order_is_reported_not_issued(api: Api) -> None:
    order = api.order(single()).json()
    _notify(api, order, tx="bank-tx-1")

    got = _notify(api, order, tx="bank-tx-2")

    assert (got.status_code, got.json()["code"]) == (409, "order_already_paid")


@pytest.mark.parametrize("local_time", ["00:00", "03:59"])
def test_a_monthly_pass_bought_before_4am_may_start_on_the_service_day_still_running(
    api: Api, local_time: str
) -> None:
    hours, minutes = map(int, local_time.split(":"))
    api.clock.now = datetime.combine(TODAY, time(hours, minutes), tzinfo=timezone(timedelta(hours=7)))

    yesterday = api.order(monthly(start=TODAY - timedelta(days=1)))
    before = api.order(monthly(start=TODAY - timedelta(days=2)))

    assert yesterday.status_code == 201, yesterday.text
    assert (before.status_code, before.json()["code"]) == (422, "invalid_start_date")


def test_a_monthly_pass_bought_at_4am_starts_today_at_the_earliest(api: Api) -> None:
    api.clock.now = datetime.combine(TODAY, time(4, 0), tzinfo=timezone(timedelta(hours=7)))

    created = api.order(monthly(start=TODAY - timedelta(days=1)))

    assert (created.status_code, created.json()["code"]) == (422, "invalid_start_date")


def test_a_bank_transaction_id_longer_than_64_characters_is_an_invalid_notification(api: Api) -> None:
    order = api.order(single()).json()

    too_long = _notify(api, order, tx="T" * 65)
    longest = _notify(api, order, tx="T" * 64)

    assert (too_long.status_code, too_long.json()["code"]) == (422, "invalid_notification")
    assert (longest.status_code, longest.json()["status"]) == (200, "paid")


def test_an_idempotency_key_replays_the_first_order(api: Api) -> None:
    key = str(uuid.uuid4())
    first = api.order(single(), key=key)
    second = api.order(single(), key=key)
    reused = api.order(single("L1-01", "L1-09"), key=key)

    assert second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["access_token"] == first.json()["access_token"]
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")


def test_an_idempotency_key_on_payment_replays_and_refuses_another_order(api: Api) -> None:
    one, two = api.order(single()).json(), api.order(single()).json()
    key = "pay-" + uuid.uuid4().hex
    headers = {**bearer(one["access_token"]), "Idempotency-Key": key}

    first = api.client.post(f"/v1/sandbox/orders/{one['id']}/pay", headers=headers)
    again = api.client.post(f"/v1/sandbox/orders/{one['id']}/pay", headers=headers)
    other = api.client.post(
        f"/v1/sandbox/orders/{two['id']}/pay",
        headers={**bearer(two["access_token"]), "Idempotency-Key": key},
    )

    assert first.json() == again.json()
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


@pytest.mark.parametrize(
    "key", ["my-first-order", "a" * 21, "a" * 129, "key with spaces 0123456789", "key.with.dots.0123456789"]
)
def test_a_guessable_idempotency_key_is_refused_on_orders_and_payments(api: Api, key: str) -> None:
    order = api.order(single()).json()

    created = api.order(single(), key=key)
    paid = api.client.post(
        f"/v1/sandbox/orders/{order['id']}/pay",
        headers={**bearer(order["access_token"]), "Idempotency-Key": key},
    )

    assert (created.status_code, created.json()["code"]) == (422, "invalid_idempotency_key")
    assert (paid.status_code, paid.json()["code"]) == (422, "invalid_idempotency_key")


@pytest.mark.parametrize(
    "key", ["6f1c1e0a-2b3d-4c5e-8f90-a1b2c3d4e5f6", "6f1c1e0a2b3d4c5e8f90a1b2c3d4e5f6", "A" * 22, "x_-9" * 32]
)
def test_a_uuid_or_a_long_url_safe_idempotency_key_is_accepted(api: Api, key: str) -> None:
    first, second = api.order(single(), key=key), api.order(single(), key=key)

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["id"] == first.json()["id"]


def test_the_database_holds_a_keyed_hash_of_an_idempotency_key_never_the_key(api: Api) -> None:
    key, pay_key = str(uuid.uuid4()), str(uuid.uuid4())
    order = api.order(single(), key=key).json()
    api.client.post(
        f"/v1/sandbox/orders/{order['id']}/pay",
        headers={**bearer(order["access_token"]), "Idempotency-Key": pay_key},
    )

    engine = make_engine(api.database_url)
    with engine.connect() as db:
        stored = db.execute(sa.text("SELECT idempotency_key FROM orders")).scalars().all()
        records = db.execute(sa.text("SELECT key FROM idempotency_records")).scalars().all()
    engine.dispose()

    assert [value[: len("order:")] for value in stored] == ["order:"]
    assert [value[: len("sandbox-pay:")] for value in records] == ["sandbox-pay:"]
    assert not any(key in value or pay_key in value for value in [*stored, *records])


def test_refunds_are_refused_when_the_policy_forbids_them(api: Api) -> None:
    order = api.paid_order(single())

    got = api.client.post(
        f"/v1/tickets/{order['tickets'][0]['id']}/refund", headers=bearer(order["access_token"])
    )

    assert (got.status_code, got.json()["code"]) == (403, "refunds_not_allowed")


def test_a_bank_transaction_id_reused_for_another_order_is_a_409_and_leaves_that_order_unpaid(
    api: Api,
) -> None:
    first = api.order(single()).json()
    second = api.order(single()).json()
    _notify(api, first, tx="bank-tx-1")

    got = _notify(api, second, tx="bank-tx-1")
    read = api.client.get(f"/v1/orders/{second['id']}", headers=bearer(second["access_token"])).json()

    assert (got.status_code, got.json()["code"]) == (409, "transaction_already_used")
    assert read["status"] == "awaiting_payment"
    assert read["tickets"] == []
