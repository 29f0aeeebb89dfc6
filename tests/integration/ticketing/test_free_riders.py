"""The free-rider registry (admin API), the gates' free_riders list, free rides at a synced gate and in the
journal the service stores; on both engines."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session
from support.audit import auditor_token
from support.gate_sync import enrolled_gate
from support.issuing import HOLDER, TODAY, Api, bearer

from fare_rules.model import Flag
from fare_rules.reasons import Reason
from ticketing.cli import EXIT_OK, main
from ticketing.context import build_context
from ticketing.db import make_engine
from ticketing.services.gates import export_bundle
from validator.bundle import load_bundle
from validator.testing import cccd_qr

CARD = cccd_qr()  # HOLDER's card: born 2003, so only the registry lets them ride free
SENIOR_CARD = cccd_qr("079055001234", birth="02021955", sex="Nam", name="Lê Văn Cao")


def entry(**changes: Any) -> dict[str, Any]:
    return {
        "holder": HOLDER,
        "category": "disability",
        "first_day": TODAY.isoformat(),
        "last_day": (TODAY + timedelta(days=364)).isoformat(),
        "document_ref": "GXN-2024-0042",
        "staff_id": "S042",
        **changes,
    }


def add(api: Api, body: dict[str, Any]) -> Any:
    return api.client.post("/v1/admin/free-riders", json=body, headers=bearer(api.admin_token))


def test_staff_enter_a_free_rider_and_the_answer_holds_the_masked_number_only(api: Api) -> None:
    answer = add(api, entry())

    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["product"] == "free_priority"
    assert (body["category"], body["status"], body["holder_masked"]) == (
        "disability",
        "active",
        "0793******34",
    )
    assert (body["holder_initials"], body["holder_birth_year"]) == ("NTM", 2003)
    assert (body["document_ref"], body["staff_id"]) == ("GXN-2024-0042", "S042")
    assert body["entered_by"]
    assert HOLDER["cccd"] not in answer.text
    listed = api.client.get("/v1/admin/free-riders", headers=bearer(api.admin_token)).json()
    assert [e["id"] for e in listed] == [body["id"]]


def test_an_entry_rides_from_its_first_service_day_to_the_end_of_its_last(api: Api) -> None:
    body = add(api, entry(first_day="2025-03-03", last_day="2025-03-31")).json()

    assert body["valid_from"].startswith("2025-03-02T21:00:00")  # 04:00 local on the first day
    assert body["valid_until"].startswith("2025-03-31T21:00:00")  # 04:00 local the day after the last


def test_an_entry_is_refused_with_a_code_when_it_cannot_be_made(api: Api) -> None:
    cases = {
        "cccd_birth_year_mismatch": entry(holder={**HOLDER, "birth_date": "1990-06-15"}),
        "invalid_dates": entry(first_day="2025-04-01", last_day="2025-03-31"),
        "far_dates": entry(first_day="9999-12-30", last_day="9999-12-31"),
        "request_validation": entry(category="senior"),
    }
    answers = {code: add(api, body) for code, body in cases.items()}

    assert answers["cccd_birth_year_mismatch"].json()["code"] == "cccd_birth_year_mismatch"
    assert answers["invalid_dates"].json()["code"] == "invalid_dates"
    assert answers["far_dates"].json()["code"] == "invalid_dates"
    assert answers["request_validation"].status_code == 422
    past = add(api, entry(first_day="2024-01-01", last_day=(TODAY - timedelta(days=1)).isoformat()))
    assert past.json()["code"] == "invalid_dates"


def test_a_second_active_entry_over_the_same_days_is_refused_but_one_after_it_is_not(api: Api) -> None:
    first = add(api, entry(last_day="2025-06-30"))
    overlapping = add(api, entry(first_day="2025-06-30", last_day="2025-12-31"))
    after = add(api, entry(first_day="2025-07-01", last_day="2025-12-31"))

    assert first.status_code == 201
    assert (overlapping.status_code, overlapping.json()["code"]) == (409, "free_rider_overlaps")
    assert after.status_code == 201, after.text


def test_an_entry_is_ended_once_and_leaves_the_active_list(api: Api) -> None:
    entry_id = add(api, entry()).json()["id"]
    admin = bearer(api.admin_token)

    ended = api.client.post(f"/v1/admin/free-riders/{entry_id}/end", json={"reason": "fraud"}, headers=admin)
    again = api.client.post(f"/v1/admin/free-riders/{entry_id}/end", json={"reason": "fraud"}, headers=admin)
    missing = api.client.post("/v1/admin/free-riders/fr_nope/end", json={"reason": "fraud"}, headers=admin)

    assert (ended.json()["status"], ended.json()["ended_reason"]) == ("ended", "fraud")
    assert (again.status_code, again.json()["code"]) == (409, "free_rider_ended")
    assert (missing.status_code, missing.json()["code"]) == (404, "free_rider_not_found")
    active = api.client.get("/v1/admin/free-riders?status=active", headers=admin).json()
    assert active == []


def test_a_synced_gate_lets_a_registered_card_ride_free_and_refuses_it_once_ended(
    api: Api, tmp_path: Path
) -> None:
    entry_id = add(api, entry()).json()["id"]
    gate = enrolled_gate(api, tmp_path)

    report = gate.sync()
    ride = gate.scan(CARD)
    api.client.post(
        f"/v1/admin/free-riders/{entry_id}/end",
        json={"reason": "no_longer_eligible"},
        headers=bearer(api.admin_token),
    )
    gate.sync()
    api.clock.advance(minutes=30)
    gate.scan(CARD, "exit")
    ended = gate.scan(CARD, at=api.clock() + timedelta(minutes=5))

    assert report.free_riders == 1
    assert (ride.accepted, ride.free_category) == (True, "disability")
    assert ended.reason is Reason.FREE_RIDER_ENDED


def test_the_gate_list_holds_the_keyed_hash_category_and_validity_only(api: Api, tmp_path: Path) -> None:
    add(api, entry())
    gate = enrolled_gate(api, tmp_path)

    with gate.http() as http:
        page = http.get("/v1/gate/free_riders?after=0").json()

    assert set(page["items"][0]) == {
        "seq",
        "entry_id",
        "holder_hash",
        "category",
        "valid_from",
        "valid_until",
        "status",
    }
    assert "server_time" in page


def test_a_lapsed_entry_is_refused_free_rider_expired(api: Api, tmp_path: Path) -> None:
    add(api, entry(last_day=TODAY.isoformat()))
    gate = enrolled_gate(api, tmp_path)
    gate.sync()

    refused = gate.scan(CARD, at=api.clock() + timedelta(days=1))

    assert refused.reason is Reason.FREE_RIDER_EXPIRED


def test_free_rides_reach_the_journal_store_with_their_category_and_pair_as_a_trip_at_no_fare(
    api: Api, tmp_path: Path
) -> None:
    gate = enrolled_gate(api, tmp_path)
    gate.sync()
    entry_at = api.clock()
    senior_in = gate.scan(SENIOR_CARD, at=entry_at)
    gate.scan(SENIOR_CARD, "exit", at=entry_at + timedelta(minutes=25))
    gate.sync()

    engine = make_engine(api.database_url)
    with engine.connect() as connection:
        scans = connection.execute(
            sa.text("SELECT direction, free_category, product FROM scan_events ORDER BY seq")
        ).all()
        trips = connection.execute(sa.text("SELECT status, product, fare_vnd FROM trips")).all()
    engine.dispose()

    assert Flag.COMPARE_CARD in senior_in.flags
    assert [tuple(s) for s in scans] == [
        ("entry", "senior", "free_priority"),
        ("exit", "senior", "free_priority"),
    ]
    assert [tuple(t) for t in trips] == [("complete", "free_priority", 0)]
    history = api.client.get(
        "/v1/audit/trips",
        params={"from": "2025-03-03", "to": "2025-03-04"},
        headers={**bearer(auditor_token(api)), "X-Audit-CCCD": "079055001234"},
    )
    assert [(t["product"], t["fare_vnd"]) for t in history.json()["items"]] == [("free_priority", 0)]


def test_the_free_priority_product_is_not_sold(api: Api) -> None:
    answer = api.order({"product": "free_priority"})

    assert (answer.status_code, answer.json()["code"]) == (422, "product_not_sold")
    assert "free-riders" in answer.json()["detail"]


def test_first_day_defaults_are_whole_local_dates(api: Api) -> None:
    body = add(api, entry(first_day=date(2025, 3, 3).isoformat(), last_day="2025-03-03")).json()

    assert body["valid_until"].startswith("2025-03-03T21:00:00")


def test_the_free_rides_report_counts_entries_exits_and_refusals_per_category_and_station(
    api: Api, tmp_path: Path
) -> None:
    add(api, entry(last_day=TODAY.isoformat()))
    gate = enrolled_gate(api, tmp_path)
    gate.sync()
    start = api.clock()
    gate.scan(CARD, at=start)
    gate.scan(CARD, "exit", at=start + timedelta(minutes=20))
    gate.scan(SENIOR_CARD, at=start + timedelta(minutes=21))
    gate.scan(SENIOR_CARD, at=start + timedelta(minutes=22))  # already inside: refused
    gate.scan(CARD, at=start + timedelta(hours=20))  # the entry's last day is over
    gate.sync()
    token = auditor_token(api)

    answer = api.client.get(
        "/v1/audit/reports/free_rides",
        params={"from": "2025-03-03", "to": "2025-03-05"},
        headers=bearer(token),
    )
    csv = api.client.get(
        "/v1/audit/reports/free_rides",
        params={"from": "2025-03-03", "to": "2025-03-05", "format": "csv"},
        headers=bearer(token),
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"] == [
        {"category": "disability", "station": "L1-01", "entries": 1, "exits": 1, "refused": 1},
        {"category": "senior", "station": "L1-01", "entries": 1, "exits": 0, "refused": 1},
    ]
    assert csv.text.splitlines()[0] == "category,station,entries,exits,refused"


def test_an_offline_bundle_carries_the_free_rider_list(api: Api) -> None:
    added = add(api, entry()).json()
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        text, _ = export_bundle(session, build_context(api.settings), "L1-01", None, api.clock())
    engine.dispose()

    bundle = load_bundle(text)

    assert [f.entry_id for f in bundle.free_riders] == [added["id"]]
    assert bundle.cursors["free_riders"] == bundle.free_riders[0].seq


def _desk(api: Api, tmp_path: Path, *args: str, number: str = "") -> subprocess.CompletedProcess[str]:
    """`python -m ticketing free-riders ...` as staff run it, on the API's database, the number on stdin."""
    env = {**os.environ, "METRO_DATA_DIR": str(tmp_path / "desk"), "METRO_DATABASE_URL": api.database_url}
    command = [sys.executable, "-m", "ticketing", "free-riders", *args]
    return subprocess.run(
        command, env=env, input=number + "\n", capture_output=True, text=True, timeout=60, check=False
    )


def test_the_registry_desk_adds_lists_and_ends_from_the_command_line_never_printing_the_number(
    api: Api, tmp_path: Path
) -> None:
    last_day = (
        (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    )  # the command runs on the real clock
    details = ["--name", HOLDER["full_name"], "--birth-date", HOLDER["birth_date"], "--staff-id", "S042"]
    category = ["--category", "revolutionary_merit", "--document", "QD-17"]
    wanted = [*details, *category, "--last-day", last_day]

    added = _desk(api, tmp_path, "add", *wanted, number=HOLDER["cccd"])
    wrong = _desk(api, tmp_path, "add", *wanted, number="999303001234")
    listed = _desk(api, tmp_path, "list")
    entry_id = added.stdout.split()[0]
    ended = _desk(api, tmp_path, "end", entry_id, "--reason", "entered_in_error")
    left = _desk(api, tmp_path, "list")

    assert added.returncode == 0, added.stderr
    assert "revolutionary_merit" in added.stdout
    assert "0793******34" in listed.stdout
    assert listed.stdout.splitlines()[-1] == "1 entry"
    assert (wrong.returncode, wrong.stderr.splitlines()[-1].split(":")[:2]) == (
        1,
        ["error", " cccd_province"],
    )
    outputs = added.stdout + added.stderr + wrong.stdout + wrong.stderr + listed.stdout
    assert HOLDER["cccd"] not in outputs
    assert "999303001234" not in outputs
    assert "ended (entered_in_error)" in ended.stdout
    assert left.stdout.strip() == "0 entries"
    via_api = api.client.get("/v1/admin/free-riders", headers=bearer(api.admin_token)).json()
    assert [(e["id"], e["entered_by"], e["document_ref"]) for e in via_api] == [(entry_id, "cli", "QD-17")]


def test_the_registry_desk_lists_an_entry_by_the_local_days_staff_entered(
    api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, last = TODAY + timedelta(days=1), TODAY + timedelta(days=10)
    added = add(api, entry(first_day=first.isoformat(), last_day=last.isoformat()))
    monkeypatch.setenv("METRO_DATA_DIR", str(tmp_path / "desk"))
    monkeypatch.setenv("METRO_DATABASE_URL", api.database_url)
    capsys.readouterr()

    assert main(["free-riders", "list"]) == EXIT_OK
    out = capsys.readouterr().out

    assert added.status_code == 201, added.text
    assert added.json()["valid_from"].startswith(f"{TODAY.isoformat()}T21:00:00")  # 04:00 local
    assert f"  {first.isoformat()} to {last.isoformat()}  document " in out
