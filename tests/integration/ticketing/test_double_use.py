"""Double use: one ticket let in by two offline gates of different stations. Both accept (each decides alone);
after sync the server holds both entries and puts the ticket on the revocation list (reason double_use), so
every gate refuses it from its next sync on. On both engines.

TODO(audit): assert through GET /v1/audit/anomalies once it exists; until then the books (scan_events and
revocations) are checked directly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gate_sync_support import enrolled_gate, stored_events
from issuing_support import Api
from sqlmodel import Session, select

from fare_rules.reasons import Reason
from ticketing.db import make_engine
from ticketing.models import Revocation, Ticket, TicketStatus
from ticketing.services.double_use import entered_twice


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
    assert (later.verdict.value, later.reason) == ("deny", Reason.REVOKED)


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


def test_entries_at_two_gates_count_as_double_use_only_without_an_exit_between_and_within_the_window() -> (
    None
):

    t0 = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)
    minutes = timedelta(minutes=1)

    assert entered_twice([("A", "entry", t0), ("B", "entry", t0 + 3 * minutes)])
    assert entered_twice(
        [("B", "entry", t0 + 3 * minutes), ("A", "entry", t0)]
    )  # arrival order is irrelevant
    assert not entered_twice([("A", "entry", t0), ("A", "entry", t0 + minutes)])  # one gate: its own rule
    assert not entered_twice(
        [("A", "entry", t0), ("B", "exit", t0 + minutes), ("C", "entry", t0 + 2 * minutes)]
    )
    assert not entered_twice([("A", "entry", t0), ("B", "entry", t0 + timedelta(hours=5))])  # exit lost
