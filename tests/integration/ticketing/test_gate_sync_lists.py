"""The lists gates pull (revocations, passes, other gates' uses), by cursor and signed; on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.gate_sync import enrolled_gate
from support.issuing import Api, bearer, monthly, single

from fare_rules.model import Flag
from fare_rules.reasons import Reason
from validator.codec import load_keyset
from validator.signing import SignatureError, verify_response
from validator.testing import cccd_qr

# Refunds put tickets on the revocation list; the bundled policy forbids them, so these tests allow them.
pytestmark = pytest.mark.parametrize(
    "settings_overrides", [{"policy": {"refunds_allowed": True}}], indirect=True
)


def _refunded_tickets(api: Api, count: int) -> list[int]:
    order = api.paid_order(single(quantity=count))
    for ticket in order["tickets"]:
        refund = api.client.post(f"/v1/tickets/{ticket['id']}/refund", headers=bearer(order["access_token"]))
        assert refund.status_code == 200, refund.text
    return [int(t["serial"]) for t in order["tickets"]]


def test_revocations_come_oldest_first_in_pages_and_a_cursor_resumes(api: Api, tmp_path: Path) -> None:
    serials = _refunded_tickets(api, 5)
    gate = enrolled_gate(api, tmp_path)
    pages, after = [], 0
    with gate.http() as http:
        while True:
            page = http.get(f"/v1/gate/revocations?after={after}&limit=2").json()
            if not page["items"]:
                break
            pages.append([item["serial"] for item in page["items"]])
            after = page["next"]

    assert pages == [serials[0:2], serials[2:4], serials[4:5]]


def test_every_gate_response_is_signed_by_an_issuer_key_over_its_own_target(api: Api, tmp_path: Path) -> None:
    _refunded_tickets(api, 1)
    api.paid_order(monthly())
    gate = enrolled_gate(api, tmp_path)
    keyset = load_keyset(api.client.get("/v1/keys").json())

    with gate.http() as http:
        for target in (
            "/v1/keys",
            "/v1/gate/revocations?after=0",
            "/v1/gate/passes?after=0",
            "/v1/gate/events",
        ):
            answer = http.get(target)
            assert verify_response(target, answer.content, answer.headers, keyset) > 0
        page = http.get("/v1/gate/passes?after=0")
    with pytest.raises(SignatureError):
        verify_response("/v1/gate/revocations?after=0", page.content, page.headers, keyset)


def test_during_a_key_rotation_a_gate_that_knows_only_the_old_key_still_verifies(
    api: Api, tmp_path: Path
) -> None:
    old_keyset = load_keyset(api.client.get("/v1/keys").json())
    gate = enrolled_gate(api, tmp_path)
    api.client.post("/v1/admin/keys/rotate", headers=bearer(api.admin_token))

    with gate.http() as http:
        answer = http.get("/v1/keys")

    assert verify_response("/v1/keys", answer.content, answer.headers, old_keyset) in old_keyset
    assert len(answer.json()["keys"]) == 2


def test_a_gate_syncs_and_then_denies_a_refunded_ticket_and_admits_a_pass_by_cccd(
    api: Api, tmp_path: Path
) -> None:
    order = api.paid_order(single())
    ticket = order["tickets"][0]
    api.client.post(f"/v1/tickets/{ticket['id']}/refund", headers=bearer(order["access_token"]))
    api.paid_order(monthly())
    gate = enrolled_gate(api, tmp_path)

    report = gate.sync()
    refunded = gate.scan(ticket["qr_payload"])
    by_card = gate.scan(cccd_qr())

    assert (report.keys, report.revocations, report.passes) == (1, 1, 1)
    assert refunded.reason is Reason.REFUNDED
    assert by_card.accepted
    assert Flag.STALE_LISTS not in by_card.flags


def test_a_pass_verified_after_a_sync_reaches_the_gate_at_the_next_one(api: Api, tmp_path: Path) -> None:
    student = api.paid_order(monthly(product="monthly_student"))
    gate = enrolled_gate(api, tmp_path)
    gate.sync()
    before = gate.scan(cccd_qr())

    api.client.post(
        f"/v1/admin/passes/{student['tickets'][0]['pass']['id']}/verify", headers=bearer(api.admin_token)
    )
    report = gate.sync()
    after = gate.scan(cccd_qr())

    assert before.reason is Reason.PENDING_VERIFICATION
    assert report.passes == 1
    assert after.accepted


def test_the_events_feed_gives_other_gates_uses_but_not_the_callers_own(api: Api, tmp_path: Path) -> None:
    first, second = api.paid_order(single(quantity=2))["tickets"]
    g1 = enrolled_gate(api, tmp_path, "L1-01", "G1")
    g2 = enrolled_gate(api, tmp_path, "L1-01", "G2")
    for gate in (g1, g2):
        gate.sync()
    g1.scan(first["qr_payload"])
    g2.scan(second["qr_payload"])
    g1.scan("not a ticket")  # refused: journaled, but not a use
    for gate in (g1, g2):
        gate.sync()

    with g1.http() as http:
        seen_by_g1 = http.get("/v1/gate/events?after=0").json()["items"]
    with g2.http() as http:
        seen_by_g2 = http.get("/v1/gate/events?after=0").json()["items"]

    assert [(e["gate"], e["credential"], e["direction"]) for e in seen_by_g1] == [
        ("G2", f"t:{second['serial']}", "entry")
    ]
    assert [(e["gate"], e["gate_seq"], e["credential"]) for e in seen_by_g2] == [
        ("G1", 1, f"t:{first['serial']}")
    ]


def test_an_exit_gate_at_another_station_learns_the_entry_and_charges_nothing_extra(
    api: Api, tmp_path: Path
) -> None:
    ticket = api.paid_order(single("L1-01", "L1-05"))["tickets"][0]
    entry_gate = enrolled_gate(api, tmp_path, "L1-01", "G1")
    exit_gate = enrolled_gate(api, tmp_path, "L1-05", "G9")
    entry_gate.sync()
    exit_gate.sync()

    entry = entry_gate.scan(ticket["qr_payload"], "entry")
    entry_gate.sync()
    report = exit_gate.sync()
    api.clock.advance(minutes=25)
    leaving = exit_gate.scan(ticket["qr_payload"], "exit")

    assert entry.accepted
    assert report.events == 1
    assert leaving.accepted
    assert Flag.ENTRY_UNSEEN not in leaving.flags


def test_a_fresh_gate_starts_the_events_feed_at_the_recent_past(api: Api, tmp_path: Path) -> None:
    ticket = api.paid_order(single())["tickets"][0]
    g1 = enrolled_gate(api, tmp_path, "L1-01", "G1")
    g1.sync()
    g1.scan(ticket["qr_payload"])
    g1.sync()
    api.clock.advance(days=3)
    g2 = enrolled_gate(api, tmp_path, "L1-02", "G2")

    with g2.http() as http:
        page = http.get("/v1/gate/events?after=0").json()

    assert page["items"] == []
    assert page["next"] == 1


@pytest.mark.parametrize("path", ["/v1/gate/revocations", "/v1/gate/passes", "/v1/gate/events"])
def test_a_cursor_beyond_any_sequence_number_is_refused_as_bad_input(
    api: Api, tmp_path: Path, path: str
) -> None:
    gate = enrolled_gate(api, tmp_path)

    with gate.http() as http:
        answer = http.get(f"{path}?after={2**63}")

    assert answer.status_code == 422
    assert "code" in answer.json()
