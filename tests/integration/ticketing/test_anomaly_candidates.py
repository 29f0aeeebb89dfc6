"""Anomaly candidates kept at ingest (trip_anomalies, use_anomalies): for any journals cut into uploads
arriving in any order, the anomalies read through them equal the anomalies found from scratch by the rules
(orphan and repeated exits, overstays, double uses, passes too fast), for ranges on and off the hour; the
noted trips are exactly the trips of those kinds; a pass use arriving between the two uses of a fast move
replaces that move; migrations 0016 and 0019 note what is already stored. On both engines."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session
from support.issuing import NOW
from support.trips import store_paired

from ticketing import partitions
from ticketing.audit.anomalies import double_use, entry_unseen, overstay, pass_too_fast, repeated_exit
from ticketing.audit.query import Query, iso
from ticketing.catalog import load_catalog
from ticketing.db import make_engine, migrate
from ticketing.ingest import candidates, pairing
from ticketing.ingest.rules import DoubleUseRule, StoredUse, entered_twice
from ticketing.models import ChangeCounter, ScanEvent, Trip, table_of

_SCANS = table_of(ScanEvent)
_TRIPS = table_of(Trip)
_COUNTERS = table_of(ChangeCounter)
CATALOG = load_catalog()
RULE = DoubleUseRule.of(CATALOG.network, CATALOG.policy)
_PRODUCTS = {"t:1001": "single", "t:1002": "single", "t:1003": "day", "p:pa": "monthly", "p:pb": "monthly"}
_STATIONS = [s.code for s in CATALOG.network.stations]


def _use(credential: str, gate: int, seq: int, at: datetime, direction: str) -> dict[str, Any]:
    serial = int(credential[2:]) if credential.startswith("t:") else None
    station = _STATIONS[gate % len(_STATIONS)]
    return {
        "gate_id": f"{station}-G{gate}",
        "seq": seq,
        "hash": f"{gate:08x}{seq:056x}",
        "prev_hash": f"{gate:08x}{seq - 1:056x}",
        "station": station,
        "at": at,
        "direction": direction,
        "input": "ticket" if serial else "pass",
        "verdict": "accept",
        "reason": None,
        "flags": "",
        "owed_vnd": 0,
        "credential": credential,
        "ticket_serial": serial,
        "product": _PRODUCTS.get(credential, "single"),
        "pass_id": None if serial else credential[2:],
        "event": json.dumps({"ticket": {"fare_vnd": 8000}}),
        "received_at": NOW,
        "problem": None,
    }


@st.composite
def _journals(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    """Uploads (one gate's batch each) of accepted uses at distinct times a few minutes apart, at gates of
    near and far stations: double uses, passes seen too fast, orphan and repeated exits, long trips."""
    minutes = draw(st.lists(st.integers(0, 240), min_size=1, max_size=24, unique=True))
    seqs: dict[int, int] = {}
    by_gate: dict[int, list[dict[str, Any]]] = {}
    for minute in sorted(minutes):
        gate = draw(st.integers(0, 6))
        credential = draw(st.sampled_from([*sorted(_PRODUCTS), "p:pa", "p:pa"]))
        direction = draw(st.sampled_from(["entry", "exit"]))
        seqs[gate] = seqs.get(gate, 0) + 1
        at = NOW + timedelta(minutes=minute * 3 // 2, seconds=draw(st.integers(0, 59)))
        by_gate.setdefault(gate, []).append(_use(credential, gate, seqs[gate], at, direction))
    batches = []
    for own in by_gate.values():
        cut = draw(st.integers(0, len(own)))
        batches += [b for b in (own[:cut], own[cut:]) if b]
    return draw(st.permutations(batches))


def _ingest(session: Session, batches: list[list[dict[str, Any]]]) -> None:
    """Each batch stored and paired as an upload does (the pairing transaction's own function)."""
    c = _COUNTERS.c
    feed = session.connection().execute(sa.select(c.value).where(c.name == "paired")).scalar_one()
    for batch in batches:
        rows = []
        for use in batch:
            feed += 1
            rows.append({**use, "feed_seq": feed})
        session.connection().execute(sa.insert(_SCANS), rows)
        pairing.pair_stored_uses(session, rows, [json.loads(r["event"]) for r in rows], NOW, RULE)


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    partitions.ensure_for_times(engine, [NOW], NOW)
    yield engine
    engine.dispose()


def _ranges(rng: random.Random) -> Iterator[tuple[datetime, datetime]]:
    yield NOW - timedelta(hours=1), NOW + timedelta(hours=20)  # whole hours, everything
    for _ in range(3):
        since = NOW + timedelta(seconds=rng.randrange(-1800, 16 * 3600))
        yield since, since + timedelta(seconds=rng.randrange(60, 8 * 3600))


# The anomalies from scratch, by the rules, over every stored trip and use.


def _trips_of(trips: list[dict[str, Any]], q: Query, shown: str) -> list[tuple[Any, ...]]:
    """Each trip in q's range as its anomaly item shows it: at `shown`, then the trip's fields."""
    found = sorted((t for t in trips if q.since <= t["started_at"] < q.until), key=_start)
    fields = ("entry_station", "entry_at", "exit_station", "exit_gate", "exit_at", "duration_s", "flags")
    return [
        (t["credential"], iso(t[shown]), *(iso(t[f]) if f.endswith("_at") else t[f] for f in fields))
        for t in found
    ]


def _start(t: dict[str, Any]) -> tuple[datetime, int]:
    return t["started_at"], t["id"]


def _doubled(uses: list[dict[str, Any]], q: Query) -> list[str]:
    assert q.since is not None
    found = []
    for credential in sorted({u["credential"] for u in uses if u["credential"].startswith("t:")}):
        own = [u for u in uses if u["credential"] == credential]
        inside = [u for u in own if u["direction"] == "entry" and q.since <= u["at"] < q.until]
        seen = [
            StoredUse(u["credential"], u["gate_id"], u["seq"], u["station"], u["at"], u["direction"])
            for u in own
            if q.since - RULE.open_entry <= u["at"] < q.until
        ]
        if len(inside) > 1 and entered_twice(seen, RULE, single=own[0]["product"] == "single"):
            found.append(credential)
    return found


def _too_fast(uses: list[dict[str, Any]], q: Query) -> list[tuple[datetime, str]]:
    found = []
    for credential in {u["credential"] for u in uses if u["credential"].startswith("p:")}:
        own = sorted(
            (u for u in uses if u["credential"] == credential),
            key=lambda u: (u["at"], u["gate_id"], u["seq"]),
        )
        for a, b in itertools.pairwise(own):
            if a["station"] == b["station"] or not q.since <= b["at"] < q.until:
                continue
            if b["at"] - a["at"] < CATALOG.network.hops(a["station"], b["station"]) * RULE.per_hop:
                found.append((b["at"], credential))
    return sorted(found)


# What an item shows of its trip, in _trips_of's order.
_SHOWN = (
    "credential",
    "at",
    "origin",
    "entry_at",
    "destination",
    "exit_gate",
    "exit_at",
    "duration_s",
    "flags",
)
_REPEATED = ("credential", "at", "station", "gate", "flags")


def _found(session: Session, q: Query) -> dict[str, Any]:
    def listed(findings: Any, *fields: str) -> tuple[int, list[Any]]:
        return findings.count, [tuple(getattr(i, f) for f in fields) for i in findings.items]

    return {
        "entry_unseen": listed(entry_unseen.find(session, q, CATALOG), *_SHOWN),
        "repeated_exit": listed(repeated_exit.find(session, q, CATALOG), *_REPEATED),
        "overstay": listed(overstay.find(session, q, CATALOG), *_SHOWN),
        "double_use": listed(double_use.find(session, q, CATALOG), "credential"),
        "pass_too_fast": listed(pass_too_fast.find(session, q, CATALOG), "at", "credential"),
    }


def _by_hand(trips: list[dict[str, Any]], uses: list[dict[str, Any]], q: Query) -> dict[str, Any]:
    limit_s = CATALOG.policy.max_trip_minutes * 60
    long = [
        t
        for t in trips
        if t["status"] == "complete" and t["product"] == "single" and t["duration_s"] > limit_s
    ]
    found: dict[str, list[Any]] = {
        "entry_unseen": _trips_of([t for t in trips if t["status"] == "orphan_exit"], q, "started_at"),
        "repeated_exit": [
            (c, at, station, gate, flags)
            for c, at, _, _, station, gate, _, _, flags in _trips_of(
                [t for t in trips if t["status"] == "repeated_exit"], q, "exit_at"
            )
        ],
        "overstay": _trips_of(long, q, "started_at"),
        "double_use": [(c,) for c in _doubled(uses, q)],
        "pass_too_fast": [(iso(at), c) for at, c in _too_fast(uses, q)],
    }
    return {kind: (len(items), items) for kind, items in found.items()}


def _stored(session: Session) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    connection = session.connection()
    trips = [dict(r._mapping) for r in connection.execute(sa.select(_TRIPS))]
    uses = [
        dict(r._mapping) for r in connection.execute(sa.select(_SCANS).where(_SCANS.c.verdict == "accept"))
    ]
    return trips, uses


def _noted_trips(session: Session) -> dict[int, str]:
    rows = session.connection().execute(
        sa.select(candidates.TRIP_TABLE.c.trip_id, candidates.TRIP_TABLE.c.kind)
    )
    return {int(trip_id): str(kind) for trip_id, kind in rows}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=_journals(), seed=st.integers(0, 1000))
def test_anomalies_read_through_the_candidates_equal_the_anomalies_found_from_scratch(
    engine: sa.Engine, batches: list[list[dict[str, Any]]], seed: int
) -> None:
    with Session(engine) as session:
        _ingest(session, batches)
        trips, uses = _stored(session)
        noted = _noted_trips(session)
        answers = [
            (_found(session, q), _by_hand(trips, uses, q))
            for since, until in _ranges(random.Random(seed))
            for q in [Query(since=since, until=until)]
        ]
        session.rollback()
    assert noted == {t["id"]: kind for t in trips if (kind := candidates.trip_kind(t)) is not None}
    for found, expected in answers:
        assert found == expected


def test_a_pass_use_arriving_between_the_two_uses_of_a_fast_move_replaces_that_move(
    engine: sa.Engine,
) -> None:
    entry = _use("p:pa", 0, 1, NOW, "entry")  # L1-01
    exit_ = _use("p:pa", 2, 1, NOW + timedelta(seconds=60), "exit")  # L1-03: two hops in a minute
    again = _use("p:pa", 2, 2, NOW + timedelta(seconds=120), "entry")  # L1-03 again
    q = Query(since=NOW - timedelta(hours=1), until=NOW + timedelta(hours=1))
    with Session(engine) as session:
        _ingest(session, [[entry], [again]])  # the exit's gate uploads it late
        first = pass_too_fast.find(session, q, CATALOG)
        _ingest(session, [[exit_]])
        then = pass_too_fast.find(session, q, CATALOG)
        session.rollback()
    moves = [(i.at, i.station, i.previous_station, i.seconds, i.at_least_s) for i in first.items]
    assert (first.count, moves) == (1, [(iso(again["at"]), "L1-03", "L1-01", 120, 180)])
    # The exit comes between them: the move is now entry -> exit; exit -> entry again is one station.
    moves = [(i.at, i.station, i.previous_station, i.seconds, i.at_least_s) for i in then.items]
    assert (then.count, moves) == (1, [(iso(exit_["at"]), "L1-03", "L1-01", 60, 180)])


def test_a_fast_move_found_again_when_an_earlier_use_arrives_is_kept_once(engine: sa.Engine) -> None:
    entry = _use("p:pa", 0, 1, NOW, "entry")  # L1-01
    exit_ = _use("p:pa", 2, 1, NOW + timedelta(seconds=60), "exit")  # L1-03: two hops in a minute
    before = _use("p:pa", 0, 2, NOW - timedelta(minutes=30), "exit")  # L1-01, uploaded last
    q = Query(since=NOW - timedelta(hours=1), until=NOW + timedelta(hours=1))
    with Session(engine) as session:
        _ingest(session, [[entry, exit_]])
        first = pass_too_fast.find(session, q, CATALOG)
        _ingest(session, [[before]])  # the move after it is made again, the same row
        then = pass_too_fast.find(session, q, CATALOG)
        session.rollback()
    moves = [(i.at, i.station, i.previous_station, i.seconds) for i in first.items]
    assert (first.count, moves) == (1, [(iso(exit_["at"]), "L1-03", "L1-01", 60)])
    assert (then.count, [(i.at, i.station, i.previous_station, i.seconds) for i in then.items]) == (1, moves)


def test_migration_0016_notes_the_anomalies_already_stored(database_url: str, tmp_path: Any) -> None:
    if database_url.startswith("sqlite"):  # the template is at head: start from an empty file at 0015
        database_url = f"sqlite:///{tmp_path / 'at-0015.db'}"
    else:  # the session database is at head: step it back, and forward again after
        from alembic import command

        from ticketing.db import alembic_config

        command.downgrade(alembic_config(database_url), "0015")
    migrate(database_url, "0015")
    engine = make_engine(database_url)
    partitions.ensure_for_times(engine, [NOW], NOW)
    try:
        with Session(engine) as session:  # stored and paired with no candidates kept
            connection = session.connection()
            batches = _journal(random.Random(11))
            for batch in batches:
                connection.execute(sa.insert(_SCANS), batch)
            store_paired(connection, batches, lambda u: json.loads(u["event"]), RULE.open_entry)
            session.commit()
        migrate(database_url)
        with Session(engine) as session:
            trips, uses = _stored(session)
            for since, until in _ranges(random.Random(2)):
                q = Query(since=since, until=until)
                assert _found(session, q) == _by_hand(trips, uses, q)
            assert _noted_trips(session) == {
                t["id"]: kind for t in trips if (kind := candidates.trip_kind(t)) is not None
            }
            assert _found(session, Query(since=NOW, until=NOW + timedelta(hours=20)))["double_use"][0]
    finally:
        engine.dispose()


def _journal(rng: random.Random) -> list[list[dict[str, Any]]]:
    """A few riders' uses over fifteen hours at seven gates, one batch per gate and 10 uses, out of order."""
    by_gate: dict[int, list[dict[str, Any]]] = {}
    for second in sorted(rng.sample(range(15 * 3600), 300)):
        gate = rng.randrange(7)
        credential = rng.choice(["t:1001", "t:1002", "t:1003", "t:1004", "p:pa", "p:pb"])
        own = by_gate.setdefault(gate, [])
        at = NOW + timedelta(seconds=second)
        own.append(_use(credential, gate, len(own) + 1, at, rng.choice(["entry", "exit"])))
    batches = [own[i : i + 10] for own in by_gate.values() for i in range(0, len(own), 10)]
    rng.shuffle(batches)
    return batches
