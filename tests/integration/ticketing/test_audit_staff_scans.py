"""Station staff's actions in the scans audit, from real gates through journal ingest, on both engines: each
item says its kind (scan, settlement, override), and a staff one who acted, why or how, in JSON, CSV and the
CLI table; `kind` filters them."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support.audit import auditor_token, get
from support.gate_sync import EnrolledGate, enrolled_gate
from support.issuing import NOW, Api, single

from fare_rules.model import Direction
from fare_rules.overrides import OverrideAction, OverrideReason
from fare_rules.settlement import PaymentMethod
from ticketing.audit.models import ScanItem
from ticketing.cli import EXIT_OK, main
from validator.staff import LastRefused

DAY = {"from": "2025-03-03", "to": "2025-03-04"}
STAFF = ("kind", "agent", "override_reason", "gate_reason", "method", "collected_vnd", "settlement_seq")


def _refused_exit(api: Api, tmp_path: Path) -> tuple[EnrolledGate, int]:
    """A ticket to L1-05 that entered at L1-01 and is refused at L1-09 with the difference owed."""
    entry = enrolled_gate(api, tmp_path, "L1-01", "L1-01-G1")
    leave = enrolled_gate(api, tmp_path, "L1-09", "L1-09-G1")
    payload = api.paid_order(single("L1-01", "L1-05"))["tickets"][0]["qr_payload"]
    entry.sync()
    leave.sync()
    assert entry.scan(payload).accepted
    entry.sync()
    leave.sync()
    refused = leave.scan(payload, "exit", NOW + timedelta(minutes=30))
    assert refused.owed_vnd > 0
    return leave, refused.owed_vnd


def _scans(api: Api, **params: Any) -> list[dict[str, Any]]:
    answer = get(api, "scans", auditor_token(api), **DAY, gate="L1-09-G1", **params)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def _staff(item: dict[str, Any]) -> tuple[Any, ...]:
    return (item["seq"], item["verdict"], item["reason"], *(item[f] for f in STAFF))


def test_an_override_shows_its_kind_agent_reason_and_what_the_gate_said(api: Api, tmp_path: Path) -> None:
    gate, _ = _refused_exit(api, tmp_path)
    gate.gate.override(
        LastRefused(),
        OverrideAction.ADMIT,
        OverrideReason.BROKEN_PHONE,
        "A17",
        direction=Direction.EXIT,
        now=NOW + timedelta(minutes=31),
    )
    gate.sync()

    items = _scans(api)

    assert [_staff(i) for i in items] == [
        (1, "deny", "fare_exceeded", "scan", None, None, None, None, None, None),
        (2, "accept", None, "override", "A17", "broken_phone", "fare_exceeded", None, None, None),
    ]


def test_a_settlement_and_the_exit_it_let_out_show_the_agent_method_and_amount(
    api: Api, tmp_path: Path
) -> None:
    gate, owed = _refused_exit(api, tmp_path)
    gate.gate.settle(LastRefused(), owed, PaymentMethod.VIETQR, "A17", NOW + timedelta(minutes=31))
    gate.sync()

    items = _scans(api)

    assert [_staff(i) for i in items] == [
        (1, "deny", "fare_exceeded", "scan", None, None, None, None, None, None),
        (2, "settle", None, "settlement", "A17", None, None, "vietqr", owed, None),
        (3, "accept", None, "scan", "A17", None, None, "vietqr", owed, 2),
    ]
    assert [i["exit_seq"] for i in items] == [None, 3, None]


def test_the_kind_filter_finds_overrides_settlements_and_plain_scans(api: Api, tmp_path: Path) -> None:
    gate, owed = _refused_exit(api, tmp_path)
    gate.gate.settle(LastRefused(), owed + 1000, PaymentMethod.CASH, "B02", NOW + timedelta(minutes=31))
    gate.gate.override(
        LastRefused(),
        OverrideAction.ADMIT,
        OverrideReason.SYSTEM_FAULT,
        "A17",
        direction=Direction.EXIT,
        now=NOW + timedelta(minutes=32),
    )
    gate.sync()

    found = {kind: [i["seq"] for i in _scans(api, kind=kind)] for kind in ("scan", "settlement", "override")}
    refused = _scans(api, kind="settlement")[0]
    wrong = get(api, "scans", auditor_token(api), kind="double_use")

    assert found == {"scan": [1], "settlement": [2], "override": [3]}
    assert (refused["reason"], refused["agent"], refused["collected_vnd"]) == (
        "over_collected",
        "B02",
        owed + 1000,
    )
    assert (wrong.status_code, wrong.json()["code"]) == (422, "bad_filter")


def test_the_csv_ends_with_the_staff_fields_in_the_models_order(api: Api, tmp_path: Path) -> None:
    gate, _ = _refused_exit(api, tmp_path)
    gate.gate.override(
        LastRefused(),
        OverrideAction.REFUSE,
        OverrideReason.STAFF_JUDGEMENT,
        "A17",
        direction=Direction.EXIT,
        now=NOW + timedelta(minutes=31),
    )
    gate.sync()

    answer = get(api, "scans", auditor_token(api), **DAY, gate="L1-09-G1", format="csv")
    header, *rows = csv.reader(io.StringIO(answer.text))

    assert header == list(ScanItem.model_fields)
    assert header[-len(STAFF) - 1 :] == [*STAFF, "exit_seq"]
    shown = [dict(zip(header, r, strict=True)) for r in rows]
    assert [(r["kind"], r["reason"], r["agent"], r["override_reason"]) for r in shown] == [
        ("scan", "fare_exceeded", "", ""),
        ("override", "staff_refused", "A17", "staff_judgement"),
    ]


def test_the_cli_table_shows_who_overrode_and_why(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gate, _ = _refused_exit(api, tmp_path)
    gate.gate.override(
        LastRefused(),
        OverrideAction.ADMIT,
        OverrideReason.BROKEN_PHONE,
        "A17",
        direction=Direction.EXIT,
        now=NOW + timedelta(minutes=31),
    )
    gate.sync()
    monkeypatch.setenv("METRO_DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("METRO_DATABASE_URL", api.database_url)
    monkeypatch.setenv("METRO_CCCD_HASH_KEY", "test-cccd-key-0123456789")
    capsys.readouterr()

    code = main(["audit", "scans", "--gate", "L1-09-G1", "--kind", "override", "--from", "2025-03-03"])
    header, *lines = capsys.readouterr().out.splitlines()

    assert code == EXIT_OK
    assert header.split()[-6:] == [
        "kind",
        "agent",
        "override_reason",
        "gate_reason",
        "method",
        "collected_vnd",
    ]
    assert [line.split()[-6:] for line in lines] == [
        ["override", "A17", "broken_phone", "fare_exceeded", "-", "-"]
    ]
