"""Staff administer CCCD-linked passes: the queue of student passes to verify, refusal, revocation that
reaches every gate, and one pass per holder at a time. On both engines, through the real API and gate."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support.gate_sync import enrolled_gate
from support.issuing import TODAY, Api, bearer, monthly

from fare_rules.reasons import Reason
from ticketing.cli import EXIT_OK, main
from validator.testing import cccd_qr


def _admin(api: Api, method: str, path: str, **kwargs: Any) -> Any:
    return api.client.request(method, f"/v1/admin{path}", headers=bearer(api.admin_token), **kwargs)


def _pass_of(order: dict[str, Any]) -> dict[str, Any]:
    holder_pass: dict[str, Any] = order["tickets"][0]["pass"]
    return holder_pass


def test_staff_list_the_student_passes_waiting_for_verification_with_what_to_compare_on_the_card(
    api: Api,
) -> None:
    student = _pass_of(api.paid_order(monthly(product="monthly_student")))
    api.paid_order(monthly(cccd="079303001235", start=TODAY + timedelta(days=1)))

    waiting = _admin(api, "GET", "/passes?status=pending_verification")
    everything = _admin(api, "GET", "/passes")

    assert waiting.status_code == 200, waiting.text
    assert [
        (p["id"], p["holder_masked"], p["holder_initials"], p["holder_birth_year"]) for p in waiting.json()
    ] == [(student["id"], "0793******34", "NTM", 2003)]
    assert sorted(p["status"] for p in everything.json()) == ["active", "pending_verification"]


def test_a_refused_student_pass_is_refunded_in_full_and_refused_at_the_gate(api: Api, tmp_path: Path) -> None:
    order = api.paid_order(monthly(product="monthly_student"))
    student = _pass_of(order)
    gate = enrolled_gate(api, tmp_path)

    refused = _admin(api, "POST", f"/passes/{student['id']}/refuse")
    ticket = api.client.get(f"/v1/tickets/{order['tickets'][0]['id']}", headers=bearer(order["access_token"]))
    gate.sync()
    by_card, by_qr = gate.scan(cccd_qr()), gate.scan(order["tickets"][0]["qr_payload"])

    assert (refused.status_code, refused.json()["status"], refused.json()["revoked_reason"]) == (
        200,
        "revoked",
        "not_eligible",
    )
    assert ticket.json()["refund"]["amount_vnd"] == 150_000
    assert ticket.json()["refund"]["fee_vnd"] == 0
    assert (by_card.reason, by_qr.reason) == (Reason.REVOKED, Reason.REVOKED)


def test_a_pass_revoked_for_a_lost_card_is_refused_at_a_gate_after_its_next_sync(
    api: Api, tmp_path: Path
) -> None:
    order = api.paid_order(monthly())
    gate = enrolled_gate(api, tmp_path)
    gate.sync()
    before = gate.scan(cccd_qr())

    revoked = _admin(api, "POST", f"/passes/{_pass_of(order)['id']}/revoke", json={"reason": "lost_card"})
    report = gate.sync()
    after = gate.scan(cccd_qr())

    assert before.accepted
    assert (revoked.status_code, revoked.json()["revoked_reason"]) == (200, "lost_card")
    assert report.passes == 1
    assert after.reason is Reason.REVOKED


def test_a_pass_cannot_be_revoked_twice_nor_an_active_pass_refused(api: Api) -> None:
    holder_pass = _pass_of(api.paid_order(monthly()))

    refused = _admin(api, "POST", f"/passes/{holder_pass['id']}/refuse")
    first = _admin(api, "POST", f"/passes/{holder_pass['id']}/revoke", json={"reason": "fraud"})
    second = _admin(api, "POST", f"/passes/{holder_pass['id']}/revoke", json={"reason": "fraud"})
    as_refusal = _admin(api, "POST", f"/passes/{holder_pass['id']}/revoke", json={"reason": "not_eligible"})

    assert (refused.status_code, refused.json()["code"]) == (409, "pass_not_pending")
    assert first.status_code == 200
    assert (second.status_code, second.json()["code"]) == (409, "pass_revoked")
    assert as_refusal.status_code == 422


def test_a_second_monthly_pass_for_the_same_holder_over_an_overlapping_period_is_not_sold(api: Api) -> None:
    api.paid_order(monthly())

    overlapping = api.order(monthly(start=TODAY + timedelta(days=10)))
    student_too = api.order(monthly(product="monthly_student", start=TODAY + timedelta(days=29)))
    after_it = api.order(monthly(start=TODAY + timedelta(days=30)))
    someone_else = api.order(monthly(cccd="079303001235", start=TODAY + timedelta(days=10)))

    assert (overlapping.status_code, overlapping.json()["code"]) == (409, "pass_overlaps")
    assert (student_too.status_code, student_too.json()["code"]) == (409, "pass_overlaps")
    assert after_it.status_code == 201, after_it.text
    assert someone_else.status_code == 201, someone_else.text


def test_an_order_awaiting_payment_holds_its_period_but_a_revoked_pass_frees_it(api: Api) -> None:
    waiting = api.order(monthly())
    second = api.order(monthly())
    replay = api.order(monthly(start=TODAY + timedelta(days=30)), key="monthly-pass-order-0001")
    same_again = api.order(monthly(start=TODAY + timedelta(days=30)), key="monthly-pass-order-0001")

    assert waiting.status_code == 201
    assert (second.status_code, second.json()["code"]) == (409, "pass_overlaps")
    assert replay.status_code == 201, replay.text
    assert same_again.status_code == 201, same_again.text
    assert same_again.json()["id"] == replay.json()["id"]  # a repeated request is answered, not refused

    paid = api.paid_order(monthly(cccd="079303001235"))
    _admin(api, "POST", f"/passes/{_pass_of(paid)['id']}/revoke", json={"reason": "card_replaced"})
    assert api.order(monthly(cccd="079303001235")).status_code == 201


def _desk(api: Api, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m ticketing passes ...` as staff run it, in its own process, on the API's database."""
    env = {**os.environ, "METRO_DATA_DIR": str(tmp_path / "desk"), "METRO_DATABASE_URL": api.database_url}
    command = [sys.executable, "-m", "ticketing", "passes", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_the_pass_desk_lists_the_queue_verifies_one_and_revokes_another_from_the_command_line(
    api: Api, tmp_path: Path
) -> None:
    student = _pass_of(api.paid_order(monthly(product="monthly_student")))
    other = _pass_of(api.paid_order(monthly(product="monthly_student", cccd="079303001235")))

    queue = _desk(api, tmp_path, "list")
    verified = _desk(api, tmp_path, "verify", student["id"])
    revoked = _desk(api, tmp_path, "revoke", other["id"], "--reason", "fraud")
    unknown = _desk(api, tmp_path, "verify", "no-such-pass")
    left = _desk(api, tmp_path, "list")

    assert queue.returncode == 0, queue.stderr
    assert [line.split()[0] for line in queue.stdout.splitlines()[:-1]] == [student["id"], other["id"]]
    assert "0793******34" in queue.stdout
    assert "079303001234" not in queue.stdout
    assert " active " in verified.stdout
    assert "revoked (fraud)" in revoked.stdout
    assert (unknown.returncode, unknown.stderr.splitlines()[-1]) == (1, "error: pass_not_found: no such pass")
    assert left.stdout.strip() == "0 pass(es)"


def test_the_pass_desk_lists_a_pass_by_the_local_service_days_it_was_bought_for(
    api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    start = TODAY + timedelta(days=1)  # its first service day begins at 04:00 local, 21:00 UTC the day before
    holder_pass = _pass_of(api.paid_order(monthly(start=start)))
    monkeypatch.setenv("METRO_DATA_DIR", str(tmp_path / "desk"))
    monkeypatch.setenv("METRO_DATABASE_URL", api.database_url)
    capsys.readouterr()

    assert main(["passes", "list", "--status", "all"]) == EXIT_OK
    out = capsys.readouterr().out

    assert holder_pass["valid_from"].startswith(f"{TODAY.isoformat()}T21:00:00")
    assert f"  {start.isoformat()} to {(start + timedelta(days=29)).isoformat()}\n" in out  # 30 days
