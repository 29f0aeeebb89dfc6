"""Trip pairing at ingest on both engines (PostgreSQL pairs in set-based statements, SQLite in Python):
exits before their entries, several uses of one credential in one batch, batches sent twice, double use
across batches and within one; and each engine's adapter against the rules for random journals."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select
from support.audit import at, journal, pass_use, ticket_use
from support.gate_sync import post_batch
from support.issuing import HOLDER, NOW, Api, monthly, single

from fare_rules.cccd import holder_hash
from ticketing.catalog import load_catalog
from ticketing.db import make_engine
from ticketing.ingest import pairing
from ticketing.ingest.adapter import adapter_for
from ticketing.ingest.rules import DoubleUseRule, FirstUses, TripDraft, pair, use_of
from ticketing.ingest.sqlite import TRIP_COLUMNS
from ticketing.models import Revocation, Ticket, TicketStatus, Trip, table_of

CCCD_KEY = b"test-cccd-key-0123456789"
OPEN_ENTRY = timedelta(minutes=240)
_CATALOG = load_catalog()
RULE = replace(DoubleUseRule.of(_CATALOG.network, _CATALOG.policy), open_entry=OPEN_ENTRY)
NO_USES = FirstUses({}, {})
_TRIPS = table_of(Trip)


def _trips(api: Api) -> list[tuple[Any, ...]]:
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        rows = session.exec(select(Trip).order_by(Trip.started_at)).all()  # type: ignore[arg-type]
        out = [(t.status, t.entry_station, t.exit_station, t.duration_s) for t in rows]
    engine.dispose()
    return out


def _ticket(api: Api, serial: str) -> tuple[str, datetime | None, int]:
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        ticket = session.exec(select(Ticket).where(Ticket.serial == int(serial))).one()
        revocations = session.exec(select(Revocation).where(Revocation.ticket_serial == int(serial))).all()
        out = (str(ticket.status), ticket.first_used_at, len(revocations))
    engine.dispose()
    return out


def test_an_exit_uploaded_before_its_entry_is_filled_in_and_first_use_is_the_entry(
    api: Api, tmp_path: Path
) -> None:
    ticket = api.paid_order(single("L1-01", "L1-05"))["tickets"][0]
    entry, exit_ = journal(api, tmp_path, "L1-01", "E01"), journal(api, tmp_path, "L1-05", "X05")
    exit_.add("exit", at(25), flags=["entry_unseen", "entry_unseen"], **ticket_use(ticket))
    exit_.upload()
    entry.add("entry", at(0), **ticket_use(ticket))
    entry.upload()

    assert _trips(api) == [("complete", "L1-01", "L1-05", 25 * 60)]
    assert _ticket(api, ticket["serial"])[1] == at(0)


def test_a_pass_used_with_the_holders_card_marks_its_ticket_used_at_its_earliest_use(
    api: Api, tmp_path: Path
) -> None:
    ticket = api.paid_order(monthly())["tickets"][0]
    use = pass_use(ticket, holder_hash(HOLDER["cccd"], CCCD_KEY).hex())
    evening, morning = journal(api, tmp_path, "L1-01", "G01"), journal(api, tmp_path, "L1-14", "G14")
    evening.add("entry", at(540), **use)
    evening.upload()
    assert _ticket(api, ticket["serial"])[1] == at(540)

    morning.add("entry", at(0), **use)  # uploaded late: the pass was first used in the morning
    morning.upload()
    assert _ticket(api, ticket["serial"])[1] == at(0)


def test_several_uses_of_one_pass_in_one_batch_pair_in_time_order(api: Api, tmp_path: Path) -> None:
    ticket = api.paid_order(monthly())["tickets"][0]
    use = pass_use(ticket, holder_hash(HOLDER["cccd"], CCCD_KEY).hex())
    home, work = journal(api, tmp_path, "L1-14", "G14"), journal(api, tmp_path, "L1-01", "G01")
    work.add("exit", at(30), **use)  # arrives first: an orphan until the morning entry arrives
    work.add("entry", at(540), **use)
    work.upload()
    home.add("entry", at(0), **use)  # one batch, three uses of the same pass
    home.add("exit", at(600), **use)
    home.add("entry", at(1440), **use)
    home.upload()

    assert _trips(api) == [
        ("complete", "L1-14", "L1-01", 30 * 60),
        ("complete", "L1-01", "L1-14", 60 * 60),
        ("open", "L1-14", None, None),
    ]


def test_a_batch_that_completes_trips_sent_twice_changes_nothing(api: Api, tmp_path: Path) -> None:
    tickets = api.paid_order(single("L1-01", "L1-05", quantity=3))["tickets"]
    entry, exit_ = journal(api, tmp_path, "L1-01", "E01"), journal(api, tmp_path, "L1-05", "X05")
    for i, ticket in enumerate(tickets):
        entry.add("entry", at(i), **ticket_use(ticket))
        exit_.add("exit", at(20 + i), **ticket_use(ticket))
    entry.upload()
    events = list(exit_.pending)
    exit_.upload()
    before = (_trips(api), [_ticket(api, t["serial"]) for t in tickets])

    again = post_batch(exit_.gate, events)

    assert [r["status"] for r in again.json()["results"]] == ["duplicate"] * 3
    assert (_trips(api), [_ticket(api, t["serial"]) for t in tickets]) == before
    assert before[0] == [("complete", "L1-01", "L1-05", 20 * 60)] * 3


def test_uses_stored_by_an_upload_cut_off_before_pairing_are_paired_once_by_the_next_upload(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = api.paid_order(single("L1-01", "L1-05"))["tickets"][0]
    entry, exit_ = journal(api, tmp_path, "L1-01", "E01"), journal(api, tmp_path, "L1-05", "X05")
    entry.add("entry", at(0), **ticket_use(ticket))
    entry.upload()
    exit_.add("exit", at(20), **ticket_use(ticket))
    events = list(exit_.pending)
    pair = pairing.pair_stored_uses

    def cut_off(*args: Any, **kwargs: Any) -> None:  # the server dies between storing and pairing
        monkeypatch.setattr(pairing, "pair_stored_uses", pair)
        raise ConnectionError("server gone")

    monkeypatch.setattr(pairing, "pair_stored_uses", cut_off)
    cut = post_batch(exit_.gate, events)
    stored_unpaired = _trips(api)
    again = post_batch(exit_.gate, events)  # the gate never got an answer: it sends the batch again

    assert (cut.status_code, cut.json()["code"]) == (500, "internal_error")
    assert stored_unpaired == [("open", "L1-01", None, None)]
    assert [r["status"] for r in again.json()["results"]] == ["duplicate"]
    assert _trips(api) == [("complete", "L1-01", "L1-05", 20 * 60)]
    entry.add("exit", at(30), verdict="deny", reason="not_our_code", input="other")
    entry.upload()  # a later upload from any gate finds nothing left to pair
    assert _trips(api) == [("complete", "L1-01", "L1-05", 20 * 60)]


def test_a_double_use_across_batches_is_revoked_once_even_with_its_exit_in_the_same_batch(
    api: Api, tmp_path: Path
) -> None:
    ticket = api.paid_order({"product": "day"})["tickets"][0]
    first, second = journal(api, tmp_path, "L1-01", "A01"), journal(api, tmp_path, "L1-06", "B06")
    first.add("entry", at(0), **ticket_use(ticket))
    first.upload()
    # No exit between, and sooner than the train takes (5 hops x 90 s): the second rider.
    second.add("entry", at(5), **ticket_use(ticket))
    second.add("exit", at(40), **ticket_use(ticket))  # the same batch goes on to pair an exit
    second.upload()

    assert _ticket(api, ticket["serial"]) == (TicketStatus.REVOKED.value, at(0), 1)


def test_two_entries_with_an_exit_between_or_at_one_gate_are_no_double_use(api: Api, tmp_path: Path) -> None:
    ridden = api.paid_order({"product": "day"})["tickets"][0]
    passback = api.paid_order({"product": "day"})["tickets"][0]
    a, b = journal(api, tmp_path, "L1-01", "A01"), journal(api, tmp_path, "L1-05", "B05")
    c = journal(api, tmp_path, "L1-09", "C09")
    a.add("entry", at(0), **ticket_use(ridden))
    a.add("entry", at(1), **ticket_use(passback))
    a.add("entry", at(5), **ticket_use(passback))  # one gate twice in one batch: passback, no double use
    a.upload()
    b.add("exit", at(20), **ticket_use(ridden))
    b.upload()
    c.add("entry", at(30), **ticket_use(ridden))  # a second ride: the exit came between
    c.upload()

    assert _ticket(api, ridden["serial"])[0] == TicketStatus.ISSUED.value
    assert _ticket(api, passback["serial"])[0] == TicketStatus.ISSUED.value


def test_a_double_use_inside_one_upload_among_other_riders(api: Api, tmp_path: Path) -> None:
    shared, other = api.paid_order(single("L1-01", "L1-05", quantity=2))["tickets"]
    first, second = journal(api, tmp_path, "L1-01", "A01"), journal(api, tmp_path, "L1-01", "A02")
    first.add("entry", at(0), **ticket_use(shared))
    first.upload()
    second.add("entry", at(1), **ticket_use(other))
    second.add("entry", at(2), **ticket_use(shared))
    second.add("exit", at(3), verdict="deny", reason="not_our_code", input="other")
    second.upload()

    assert _ticket(api, shared["serial"])[0] == TicketStatus.REVOKED.value
    assert _ticket(api, other["serial"])[0] == TicketStatus.ISSUED.value


# --- conformance: each engine's adapter pairs as the rules do --------------------------------------------

_COLUMNS = ["credential", *TRIP_COLUMNS]


def _use(credential: str, gate: int, seq: int, minute: int, direction: str, flags: str) -> dict[str, Any]:
    serial = int(credential[2:]) if credential.startswith("t:") else None
    return {
        "credential": credential,
        "gate_id": f"G{gate}",
        "seq": seq,
        "station": f"L1-{gate:02d}",
        "at": NOW + timedelta(minutes=minute),
        "direction": direction,
        "product": "single" if serial else "monthly",
        "ticket_serial": serial,
        "pass_id": None if serial else credential[2:],
        "owed_vnd": minute % 3 * 1000,
        "flags": flags,
    }


@st.composite
def _journals(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    """Uploads (one gate's batch each) of accepted uses of a few credentials at distinct minutes."""
    credentials = ["t:1001", "t:1002", "p:pa", "p:pb"]
    minutes = draw(st.lists(st.integers(0, 3000), min_size=1, max_size=24, unique=True))
    uses = []
    for minute in minutes:
        credential = draw(st.sampled_from(credentials))
        gate = draw(st.integers(1, 3))
        direction = draw(st.sampled_from(["entry", "exit"]))
        flags = draw(st.sampled_from(["", "entry_unseen", "clock_suspect,entry_unseen"]))
        uses.append((gate, credential, minute, direction, flags))
    seqs: dict[int, int] = {}
    by_gate: dict[int, list[dict[str, Any]]] = {}
    for gate, credential, minute, direction, flags in uses:  # a gate numbers its scans in time order
        seqs[gate] = seqs.get(gate, 0) + 1
        by_gate.setdefault(gate, []).append(_use(credential, gate, seqs[gate], minute, direction, flags))
    batches = []
    for own in by_gate.values():
        own.sort(key=lambda u: u["at"])
        cut = draw(st.integers(0, len(own)))
        batches += [b for b in (own[:cut], own[cut:]) if b]
    return draw(st.permutations(batches))


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _fare(use: dict[str, Any]) -> dict[str, Any]:
    return {"ticket": {"fare_vnd": 7000 + use["seq"]}}


def _by_the_rules(batches: list[list[dict[str, Any]]]) -> tuple[list[tuple[Any, ...]], list[set[int]]]:
    """The trips and candidates `rules.pair` gives, batch by batch, with every trip in memory."""
    known: dict[str, list[TripDraft]] = {}
    candidates = [pair(known, [use_of(u, _fare(u)) for u in batch], OPEN_ENTRY)[1] for batch in batches]
    rows = [(t.credential, *(t.get(c) for c in TRIP_COLUMNS)) for trips in known.values() for t in trips]
    return sorted(rows, key=_order), candidates


def _by_the_adapter(engine: sa.Engine, batches: list[list[dict[str, Any]]]) -> tuple[Any, ...]:
    with Session(engine) as session:
        connection = session.connection()
        connection.execute(sa.delete(_TRIPS))
        adapter = adapter_for(connection)
        candidates = [
            adapter.record_uses(connection, batch, [_fare(u) for u in batch], NO_USES, rule=RULE, now=NOW)
            for batch in batches
        ]
        rows = [tuple(r) for r in connection.execute(sa.select(*(_TRIPS.c[c] for c in _COLUMNS)))]
        session.rollback()
    return sorted(rows, key=_order), candidates


def _order(row: tuple[Any, ...]) -> tuple[tuple[bool, str], ...]:
    return tuple((value is None, str(value)) for value in row)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=_journals())
def test_each_engine_pairs_any_journals_as_the_rules_do(
    engine: sa.Engine, batches: list[list[dict[str, Any]]]
) -> None:
    # Any journals, cut into uploads anywhere, arriving in any order: the trips and double-use candidates of
    # the rules with everything in memory (PostgreSQL pairs in one statement, SQLite in Python per batch).
    assert _by_the_adapter(engine, batches) == _by_the_rules(batches)
