"""Double use: one ticket let in by two offline gates of different stations. Both accept (each decides alone);
after sync the server holds both entries and puts the ticket on the revocation list (reason double_use), so
every gate refuses it from its next sync on; a day ticket only when no one rider could have made both entries.
On both engines; the books (scan_events and revocations) are read directly (tests/e2e/test_audit_e2e.py sees
the same through the anomalies report).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select
from support.gate_sync import enrolled_gate, stored_events
from support.issuing import Api

from fare_rules.reasons import Reason
from ticketing.catalog import load_catalog
from ticketing.db import make_engine
from ticketing.ingest.rules import DoubleUseRule, StoredUse, entered_twice
from ticketing.models import Revocation, Ticket, TicketStatus


def _day_ticket(api: Api) -> dict[str, Any]:
    return api.paid_order({"product": "day"})["tickets"][0]  # type: ignore[no-any-return]


def _books(api: Api) -> tuple[list[tuple[int, str]], dict[str, str]]:
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        revocations = [(r.ticket_serial, r.reason) for r in session.exec(select(Revocation)).all()]
        tickets = {t.serial: str(t.status) for t in session.exec(select(Ticket)).all()}
    engine.dispose()
    return revocations, {str(k): v for k, v in tickets.items()}


def test_one_ticket_entering_at_two_offline_stations_is_stored_twice_and_blocked_for_the_future(
    api: Api, tmp_path: Path
) -> None:
    ben_thanh = enrolled_gate(api, tmp_path, "L1-01", "L1-01-G1")
    suoi_tien = enrolled_gate(api, tmp_path, "L1-14", "L1-14-G1")
    ben_thanh.sync()
    suoi_tien.sync()
    ticket = _day_ticket(api)

    # Both gates are cut off: each sees the ticket for the first time and lets it in.
    here = ben_thanh.scan(ticket["qr_payload"])
    there = suoi_tien.scan(ticket["qr_payload"], at=api.clock() + timedelta(minutes=3))
    api.clock.advance(minutes=10)
    ben_thanh.sync()
    suoi_tien.sync()
    ben_thanh.sync()  # the gate that uploaded first learns of the block at its next sync
    later = ben_thanh.scan(ticket["qr_payload"], at=api.clock() + timedelta(hours=5))

    assert (here.verdict.value, there.verdict.value) == ("accept", "accept")
    entries = [(e.gate_id, e.verdict, e.ticket_serial) for e in stored_events(api) if e.direction == "entry"]
    serial = int(ticket["serial"])
    assert sorted(entries) == [("L1-01-G1", "accept", serial), ("L1-14-G1", "accept", serial)]
    revocations, statuses = _books(api)
    assert revocations == [(serial, "double_use")]
    assert statuses[ticket["serial"]] == TicketStatus.REVOKED.value
    assert (later.verdict.value, later.reason) == ("deny", Reason.REVOKED_DOUBLE_USE)


def test_the_same_double_use_uploaded_again_adds_no_second_revocation(api: Api, tmp_path: Path) -> None:
    first = enrolled_gate(api, tmp_path, "L1-01", "L1-01-G1")
    second = enrolled_gate(api, tmp_path, "L1-05", "L1-05-G1")
    first.sync()
    second.sync()
    ticket = _day_ticket(api)
    first.scan(ticket["qr_payload"])
    second.scan(ticket["qr_payload"])
    first.sync()
    second.sync()

    third = enrolled_gate(api, tmp_path, "L1-09", "L1-09-G1")  # a third offline gate, never synced since
    third.gate.conn.execute("DELETE FROM revocations")  # as if it had synced before the block
    third.scan(ticket["qr_payload"], at=api.clock() + timedelta(minutes=1))
    third.sync()

    revocations, _ = _books(api)
    assert revocations == [(int(ticket["serial"]), "double_use")]


def test_an_entry_and_exit_then_an_entry_elsewhere_is_an_ordinary_second_ride(
    api: Api, tmp_path: Path
) -> None:
    entry = enrolled_gate(api, tmp_path, "L1-01", "L1-01-G1")
    exit_ = enrolled_gate(api, tmp_path, "L1-05", "L1-05-G1")
    for gate in (entry, exit_):
        gate.sync()
    ticket = _day_ticket(api)
    entry.scan(ticket["qr_payload"])
    exit_.scan(ticket["qr_payload"], "exit", at=api.clock() + timedelta(minutes=15))
    exit_.scan(ticket["qr_payload"], "entry", at=api.clock() + timedelta(minutes=40))
    entry.sync()
    exit_.sync()

    revocations, statuses = _books(api)
    assert revocations == []
    assert statuses[ticket["serial"]] == TicketStatus.ISSUED.value


def test_a_day_ticket_entering_elsewhere_before_its_late_exit_arrives_is_not_blocked(
    api: Api, tmp_path: Path
) -> None:
    # Entry at Bến Thành, exit at Ba Son through a gate that stays offline, entry at Ba Son an hour later: the
    # server sees two entries with no exit between until the exit gate uploads. One rider could make
    # that trip, so a day ticket is not revoked (a single ticket would be: it pays one ride).
    ben_thanh = enrolled_gate(api, tmp_path, "L1-01", "L1-01-G1")
    ba_son_exit = enrolled_gate(api, tmp_path, "L1-03", "L1-03-G1")
    ba_son_entry = enrolled_gate(api, tmp_path, "L1-03", "L1-03-G2")
    for gate in (ben_thanh, ba_son_exit, ba_son_entry):
        gate.sync()
    ticket = _day_ticket(api)
    ben_thanh.scan(ticket["qr_payload"])
    ba_son_exit.scan(ticket["qr_payload"], "exit", at=api.clock() + timedelta(minutes=8))
    ba_son_entry.scan(ticket["qr_payload"], at=api.clock() + timedelta(minutes=60))
    ben_thanh.sync()
    ba_son_entry.sync()

    revocations, statuses = _books(api)
    assert revocations == []
    assert statuses[ticket["serial"]] == TicketStatus.ISSUED.value
    ba_son_exit.sync()  # the exit arrives: still an ordinary second ride
    assert _books(api)[0] == []


@pytest.mark.parametrize(
    ("settings_overrides", "revoked"),
    [({}, True), ({"policy": {"passback_reset_minutes": 20}}, False)],
    indirect=["settings_overrides"],
)
def test_ingest_judges_double_use_by_the_operators_policy_file(
    api: Api, tmp_path: Path, revoked: bool
) -> None:
    # Two entries at the ticket's origin, through two offline gates half an hour apart: within the bundled 240
    # minutes a double use; past an operator's 20, an entry whose exit was lost.
    first = enrolled_gate(api, tmp_path, "L1-01", "L1-01-G1")
    second = enrolled_gate(api, tmp_path, "L1-01", "L1-01-G2")
    first.sync()
    second.sync()
    ticket = api.paid_order({"product": "single", "origin": "L1-01", "destination": "L1-05"})["tickets"][0]
    first.scan(ticket["qr_payload"])
    second.scan(ticket["qr_payload"], at=api.clock() + timedelta(minutes=30))
    first.sync()
    second.sync()

    revocations, _ = _books(api)
    assert revocations == ([(int(ticket["serial"]), "double_use")] if revoked else [])


T0 = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
RULE = DoubleUseRule.of(load_catalog().network, load_catalog().policy)  # 90 s a hop, 2 min, 240 min


def _uses(*uses: tuple[str, str, str, int]) -> list[StoredUse]:
    """(gate, station, direction, minutes after T0) of one ticket"""
    return [
        StoredUse("t:1001", gate, seq, station, T0 + minutes * MINUTE, direction)
        for seq, (gate, station, direction, minutes) in enumerate(uses, start=1)
    ]


def test_entries_at_two_gates_count_as_double_use_only_without_an_exit_between_and_within_the_window() -> (
    None
):
    twice = _uses(("A", "L1-01", "entry", 0), ("B", "L1-14", "entry", 3))

    assert entered_twice(twice, RULE, single=True)
    assert entered_twice(list(reversed(twice)), RULE, single=True)  # arrival order is irrelevant
    one_gate = _uses(("A", "L1-01", "entry", 0), ("A", "L1-01", "entry", 1))
    assert not entered_twice(one_gate, RULE, single=True)  # one gate: its own rule
    exit_between = _uses(("A", "L1-01", "entry", 0), ("B", "L1-05", "exit", 1), ("C", "L1-05", "entry", 2))
    assert not entered_twice(exit_between, RULE, single=True)
    exit_lost = _uses(("A", "L1-01", "entry", 0), ("B", "L1-05", "entry", 5 * 60))
    assert not entered_twice(exit_lost, RULE, single=True)


@pytest.mark.parametrize(
    ("second_station", "minutes", "doubled"),
    [
        ("L1-14", 19, True),  # 13 hops x 90 s = 19.5 min: nobody rides Bến Thành - Suối Tiên in 19
        ("L1-14", 20, False),  # could have ridden there, left through an exit not heard from, come back in
        ("L1-02", 1, True),  # one hop takes 90 s
        ("L1-02", 2, False),
        ("L1-01", 1, True),  # same station, other gate: re-entry needs 2 minutes after an exit
        ("L1-01", 2, False),
    ],
)
def test_a_day_ticket_entering_twice_is_a_double_use_only_if_no_rider_could_have(
    second_station: str, minutes: int, doubled: bool
) -> None:
    uses = _uses(("A", "L1-01", "entry", 0), ("B", second_station, "entry", minutes))

    assert entered_twice(uses, RULE, single=False) is doubled
    assert entered_twice(uses, RULE, single=True)  # a single ticket pays for one ride: always


def test_the_rule_reads_the_operators_policy() -> None:
    policy = dataclasses.replace(load_catalog().policy, min_seconds_per_hop=10, passback_reset_minutes=30)
    rule = DoubleUseRule.of(load_catalog().network, policy)
    uses = _uses(("A", "L1-01", "entry", 0), ("B", "L1-14", "entry", 3))

    assert rule.open_entry == 30 * MINUTE
    assert not entered_twice(uses, rule, single=False)  # 13 hops x 10 s: three minutes is enough
    assert not entered_twice(
        _uses(("A", "L1-01", "entry", 0), ("B", "L1-14", "entry", 31)), rule, single=True
    )
