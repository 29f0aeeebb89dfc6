"""Gate health on both engines: each gate's last upload, journal holes, clock offset and list staleness, the
gates needing a visit first, by API, CSV and the CLI."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from support.audit import at, auditor_token, get, journal, ticket_use
from support.gate_sync import add_gate, enrolled_gate, fake_events, post_batch
from support.issuing import Api, single

from ticketing.cli import main


def _morning(api: Api, tmp_path: Path) -> None:
    """L1-01-OK syncs its lists and uploads a clean scan; L1-06-GAP lost two events and its clock is 10
    minutes off; L1-09-NEW is enrolled and silent; L1-10-PEND never enrolled. Only L1-01-OK fetched lists."""
    ticket = api.paid_order(single("L1-01", "L1-05"))["tickets"][0]
    fine = journal(api, tmp_path, "L1-01", "L1-01-OK")
    fine.gate.sync()
    fine.add("entry", at(0), **ticket_use(ticket))
    fine.upload()
    gappy = enrolled_gate(api, tmp_path, station="L1-06", gate_id="L1-06-GAP")
    events = fake_events("L1-06-GAP", 5)
    post_batch(gappy, events[:2], clock_offset_seconds=600)
    post_batch(gappy, events[4:], clock_offset_seconds=600)
    post_batch(gappy, events[4:], clock_offset_seconds=600)  # sent again: the gap is accepted as lost
    enrolled_gate(api, tmp_path, station="L1-09", gate_id="L1-09-NEW")
    assert add_gate(api, "L1-10", "L1-10-PEND").status_code == 201


def _gates(api: Api, **params: Any) -> list[dict[str, Any]]:
    answer = get(api, "gates", auditor_token(api), **params)
    assert answer.status_code == 200, answer.text
    gates: list[dict[str, Any]] = answer.json()["gates"]
    return gates


def test_the_gates_that_need_a_visit_come_first_each_with_its_reasons(api: Api, tmp_path: Path) -> None:
    _morning(api, tmp_path)

    gates = _gates(api)

    assert [(g["gate"], g["needs_visit"]) for g in gates] == [
        ("L1-06-GAP", ["journal_gap", "clock_off", "stale_lists"]),
        ("L1-09-NEW", ["never_uploaded", "stale_lists"]),
        ("L1-01-OK", []),
        ("L1-10-PEND", []),
    ]
    gap = gates[0]
    assert (gap["journal_head"], gap["missing_events"], gap["clock_offset_s"]) == (5, 2, 600)
    assert (gap["last_upload_at"], gap["upload_age_s"]) == ("2025-03-03T02:00:00Z", 0)
    assert gates[1]["last_upload_at"] is None
    assert gates[3]["status"] == "pending"


def test_a_gate_silent_for_longer_than_lists_may_age_is_overdue(api: Api, tmp_path: Path) -> None:
    _morning(api, tmp_path)
    api.clock.advance(hours=7)  # the policy lets lists age 6 hours

    gates = {g["gate"]: g for g in _gates(api)}

    assert "upload_overdue" in gates["L1-01-OK"]["needs_visit"]
    assert gates["L1-01-OK"]["upload_age_s"] == 7 * 3600


def test_station_and_gate_filters_narrow_the_list(api: Api, tmp_path: Path) -> None:
    _morning(api, tmp_path)

    assert [g["gate"] for g in _gates(api, station="L1-06")] == ["L1-06-GAP"]
    assert [g["gate"] for g in _gates(api, gate="L1-01-OK")] == ["L1-01-OK"]
    assert get(api, "gates", auditor_token(api), since="2025").json()["code"] == "unknown_filter"


def test_the_csv_holds_the_same_gates_in_the_same_order(api: Api, tmp_path: Path) -> None:
    _morning(api, tmp_path)

    text = get(api, "gates", auditor_token(api), format="csv").text
    rows = list(csv.DictReader(io.StringIO(text)))

    assert [(r["gate"], r["needs_visit"]) for r in rows] == [
        (g["gate"], "|".join(g["needs_visit"])) for g in _gates(api)
    ]


def test_the_cli_prints_every_gate_as_a_table_or_csv(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _morning(api, tmp_path)
    monkeypatch.setenv("METRO_DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("METRO_DATABASE_URL", api.database_url)

    assert main(["audit", "gates", "--station", "L1-06"]) == 0
    table = capsys.readouterr().out
    assert main(["audit", "gates", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))

    assert re.search(r"^L1-06-GAP\s+L1-06\s+active\s+2025-03-03T02:00:00Z\s+5\s+2\s+600\s", table, re.M)
    assert len(table.splitlines()) == 2
    assert {r["gate"] for r in rows} == {"L1-01-OK", "L1-06-GAP", "L1-09-NEW", "L1-10-PEND"}
