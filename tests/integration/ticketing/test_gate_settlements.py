"""Settlements and overrides from real gates through journal ingest, on both engines: the trip completes with
the adjustment, a double settlement across gates counts once and is flagged, the revenue report shows the
adjustments by station, gate and method, and the overrides report counts per gate, agent and reason."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, select
from support.audit import auditor_token, get
from support.gate_sync import EnrolledGate, enrolled_gate
from support.issuing import NOW, Api, single

from fare_rules.model import Direction
from fare_rules.overrides import OverrideAction, OverrideReason
from fare_rules.settlement import PaymentMethod
from ticketing.db import make_engine
from ticketing.ingest.adjustments import GateSettlement
from ticketing.models import Trip
from validator.staff import LastRefused, NoCredential, Shown

RANGE = {"from": "2025-03-03", "to": "2025-03-04"}


def _owed_exit(api: Api, tmp_path: Path, exit_gate_id: str = "L1-09-G1") -> tuple[EnrolledGate, str, int]:
    """A ticket to L1-05 that entered at L1-01 and is refused at L1-09 with the difference owed."""
    entry = enrolled_gate(api, tmp_path, "L1-01", "L1-01-G1")
    leave = enrolled_gate(api, tmp_path, "L1-09", exit_gate_id)
    payload = api.paid_order(single("L1-01", "L1-05"))["tickets"][0]["qr_payload"]
    entry.sync()
    leave.sync()
    assert entry.scan(payload).accepted
    entry.sync()
    leave.sync()  # the exit gate learns of the entry
    refused = leave.scan(payload, "exit", NOW + timedelta(minutes=30))
    assert refused.owed_vnd > 0
    return leave, payload, refused.owed_vnd


def _report(api: Api, kind: str, **params: Any) -> dict[str, Any]:
    answer = get(api, f"reports/{kind}", auditor_token(api), **RANGE, **params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_a_settled_exit_completes_the_trip_with_its_adjustment(api: Api, tmp_path: Path) -> None:
    gate, _, owed = _owed_exit(api, tmp_path)

    settled = gate.gate.settle(LastRefused(), owed, PaymentMethod.CASH, "A17", NOW + timedelta(minutes=31))
    gate.sync()

    assert settled.accepted
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        trip = session.exec(select(Trip)).one()
        adjustment = session.exec(select(GateSettlement)).one()
    engine.dispose()
    assert (trip.status, trip.exit_station, trip.owed_vnd) == ("complete", "L1-09", owed)
    assert (adjustment.gate_id, adjustment.method, adjustment.agent) == ("L1-09-G1", "cash", "A17")
    assert (adjustment.collected_vnd, adjustment.exit_seq) == (owed, trip.exit_seq)


def test_an_auditor_sees_a_trips_adjustment_amount_method_gate_and_agent(api: Api, tmp_path: Path) -> None:
    gate, _, owed = _owed_exit(api, tmp_path)
    gate.gate.settle(LastRefused(), owed, PaymentMethod.VIETQR, "A17", NOW + timedelta(minutes=31))
    gate.sync()

    answer = get(api, "trips", auditor_token(api), **RANGE)

    (trip,) = answer.json()["items"]
    shown = (trip["owed_vnd"], trip["adjustment_method"], trip["exit_gate"], trip["adjustment_agent"])
    assert shown == (owed, "vietqr", "L1-09-G1", "A17")


def test_the_revenue_report_shows_adjustments_by_station_gate_and_method(api: Api, tmp_path: Path) -> None:
    gate, payload, owed = _owed_exit(api, tmp_path)
    over = gate.gate.settle(
        Shown(payload), owed + 1000, PaymentMethod.CASH, "A17", NOW + timedelta(minutes=31)
    )
    gate.gate.settle(Shown(payload), owed, PaymentMethod.VIETQR, "A17", NOW + timedelta(minutes=32))
    gate.sync()

    report = _report(api, "revenue")

    assert not over.accepted
    columns = ("station", "gate", "method", "settlements", "collected_vnd", "refused_settlements")
    assert [tuple(r[c] for c in columns) for r in report["adjustments"]] == [
        ("L1-09", "L1-09-G1", "cash", 0, 0, 1),
        ("L1-09", "L1-09-G1", "vietqr", 1, owed, 0),
    ]
    assert {r["double_settlements"] for r in report["adjustments"]} == {0}
    assert sum(r["owed_vnd"] for r in report["rows"]) == owed


def test_a_trip_settled_at_two_gates_that_cannot_see_each_other_counts_once_and_is_flagged(
    api: Api, tmp_path: Path
) -> None:
    first, payload, owed = _owed_exit(api, tmp_path, "L1-09-G1")
    second = enrolled_gate(api, tmp_path, "L1-09", "L1-09-G2")  # its own store: it never saw G1's settlement
    second.sync()
    first.gate.settle(Shown(payload), owed, PaymentMethod.CASH, "A17", NOW + timedelta(minutes=31))
    again = second.gate.settle(Shown(payload), owed, PaymentMethod.CASH, "B02", NOW + timedelta(minutes=32))
    first.sync()
    second.sync()

    rows = {r["gate"]: r for r in _report(api, "revenue")["adjustments"]}

    assert again.accepted  # offline from each other, both gates settled
    assert (rows["L1-09-G1"]["settlements"], rows["L1-09-G1"]["collected_vnd"]) == (1, owed)
    assert (rows["L1-09-G2"]["settlements"], rows["L1-09-G2"]["double_settlements"]) == (0, 1)
    assert rows["L1-09-G2"]["double_collected_vnd"] == owed


def test_the_overrides_report_counts_per_gate_agent_and_reason(api: Api, tmp_path: Path) -> None:
    gate = enrolled_gate(api, tmp_path, "L1-01", "L1-01-G1")
    gate.sync()
    payload = api.paid_order(single("L1-01", "L1-05"))["tickets"][0]["qr_payload"]
    act = gate.gate.override
    act(
        NoCredential(),
        OverrideAction.ADMIT,
        OverrideReason.EVACUATION,
        "A17",
        direction=Direction.EXIT,
        now=NOW,
    )
    act(
        NoCredential(),
        OverrideAction.ADMIT,
        OverrideReason.EVACUATION,
        "A17",
        direction=Direction.EXIT,
        now=NOW,
    )
    act(
        Shown(payload),
        OverrideAction.REFUSE,
        OverrideReason.STAFF_JUDGEMENT,
        "B02",
        direction=Direction.ENTRY,
        now=NOW,
    )
    gate.sync()

    rows = _report(api, "overrides")["rows"]
    csv = get(api, "reports/overrides", auditor_token(api), **RANGE, format="csv").text.splitlines()

    assert [tuple(r.values()) for r in rows] == [
        ("L1-01", "L1-01-G1", "A17", "admit", "evacuation", 2),
        ("L1-01", "L1-01-G1", "B02", "refuse", "staff_judgement", 1),
    ]
    assert csv[0] == "station,gate,agent,action,reason,overrides"
    assert len(csv) == 3


def test_a_refused_override_is_a_denial_and_an_admitted_one_a_passage(api: Api, tmp_path: Path) -> None:
    gate = enrolled_gate(api, tmp_path, "L1-01", "L1-01-G1")
    gate.sync()
    payload = api.paid_order(single("L1-01", "L1-05"))["tickets"][0]["qr_payload"]
    gate.gate.override(
        Shown(payload), OverrideAction.REFUSE, OverrideReason.OTHER, "A17", direction=Direction.ENTRY, now=NOW
    )
    gate.gate.override(
        Shown(payload),
        OverrideAction.ADMIT,
        OverrideReason.BROKEN_PHONE,
        "A17",
        direction=Direction.ENTRY,
        now=NOW,
    )
    gate.sync()

    denials = _report(api, "denials")["rows"]
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        trips = session.exec(select(Trip)).all()
    engine.dispose()

    assert [(r["reason"], r["denials"]) for r in denials] == [("staff_refused", 1)]
    assert [(t.status, t.entry_station) for t in trips] == [("open", "L1-01")]
