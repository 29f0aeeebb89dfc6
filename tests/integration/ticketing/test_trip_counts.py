"""trip_counts: journal ingest keeps trips counted per hour as it pairs, and the counts equal counting the
trips from scratch for any journals cut into uploads arriving in any order (exits before their entries, late
entries that become a ticket's first ride, repeated exits), and pairing gives back the passes' trips around
their uses as the table holds them; the od report and the revenue report's ridden
columns give the same rows as counting the trips one by one for any range, on the hour or not; a batch sent
twice counts once; migration 0016 fills the counts from trips already stored. On both engines."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session
from support.audit import at, auditor_token, get, journal, ticket_use
from support.gate_sync import post_batch
from support.issuing import NOW, Api, single
from support.trips import store_paired

from ticketing.audit.query import Query
from ticketing.audit.reports import od, revenue
from ticketing.catalog import load_catalog
from ticketing.db import make_engine, migrate
from ticketing.ingest import pairing, rollups
from ticketing.ingest.rules import DoubleUseRule
from ticketing.models import ChangeCounter, Trip, table_of

_TRIPS = table_of(Trip)
_COUNTERS = table_of(ChangeCounter)
_CATALOG = load_catalog()
RULE = DoubleUseRule.of(_CATALOG.network, _CATALOG.policy)
# Tickets ride one product each (two single tickets, a day ticket); passes ride by QR.
_PRODUCTS = {"t:1001": "single", "t:1002": "single", "t:1003": "day", "p:pa": "monthly", "p:pb": "monthly"}


def _use(credential: str, gate: int, seq: int, minute: int, direction: str, owed: int) -> dict[str, Any]:
    serial = int(credential[2:]) if credential.startswith("t:") else None
    return {
        "credential": credential,
        "gate_id": f"G{gate}",
        "seq": seq,
        "station": f"L1-{gate:02d}",
        "at": NOW + timedelta(minutes=minute),
        "direction": direction,
        "verdict": "accept",
        "product": _PRODUCTS.get(credential, "single"),
        "ticket_serial": serial,
        "pass_id": None if serial else credential[2:],
        "owed_vnd": owed,
        "flags": "",
        "problem": None,
    }


@st.composite
def _journals(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    """Uploads (one gate's batch each) of accepted uses of a few credentials at distinct minutes."""
    minutes = draw(st.lists(st.integers(0, 3000), min_size=1, max_size=24, unique=True))
    seqs: dict[int, int] = {}
    by_gate: dict[int, list[dict[str, Any]]] = {}
    for minute in sorted(minutes):  # a gate numbers its scans in time order
        gate = draw(st.integers(1, 4))
        credential = draw(st.sampled_from(sorted(_PRODUCTS)))
        direction = draw(st.sampled_from(["entry", "exit"]))
        owed = draw(st.sampled_from([0, 0, 2000])) if direction == "exit" else 0
        seqs[gate] = seqs.get(gate, 0) + 1
        by_gate.setdefault(gate, []).append(_use(credential, gate, seqs[gate], minute, direction, owed))
    batches = []
    for own in by_gate.values():
        cut = draw(st.integers(0, len(own)))
        batches += [b for b in (own[:cut], own[cut:]) if b]
    return draw(st.permutations(batches))


def _fare(use: Mapping[str, Any]) -> dict[str, Any]:
    # A fare that differs from use to use: a trip keeps the larger of its entry's and its exit's.
    return {"ticket": {"fare_vnd": 7000 + 100 * use["seq"]}}


def _pair(session: Session, batches: list[list[dict[str, Any]]]) -> None:
    """Each batch through the pairing transaction of an upload, in order, as if just stored."""
    c = _COUNTERS.c
    feed = session.connection().execute(sa.select(c.value).where(c.name == "paired")).scalar_one()
    for batch in batches:
        rows = []
        for use in batch:
            feed += 1
            rows.append({**use, "feed_seq": feed})
        pairing.pair_stored_uses(session, rows, [_fare(u) for u in batch], NOW, RULE)


def _all_trips(session: Session) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in session.connection().execute(sa.select(_TRIPS))]


def _kept(session: Session) -> dict[tuple[Any, ...], dict[str, int]]:
    """trip_counts as stored, leaving out keys whose amounts have all come back to 0."""
    rows = session.connection().execute(sa.select(rollups.TABLE)).mappings()
    kept = {tuple(r[k] for k in rollups.KEY): {a: int(r[a]) for a in rollups.AMOUNTS} for r in rows}
    return {k: v for k, v in kept.items() if any(v.values())}


def _from_scratch(trips: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, int]]:
    counts = rollups.counted(trips)
    out: dict[tuple[Any, ...], dict[str, int]] = {}
    for (key, amount), value in counts.items():
        out.setdefault(key, dict.fromkeys(rollups.AMOUNTS, 0))[amount] = value
    return {k: v for k, v in out.items() if any(v.values())}


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=_journals())
def test_the_counts_kept_at_ingest_equal_counting_the_trips_from_scratch(
    engine: sa.Engine, batches: list[list[dict[str, Any]]]
) -> None:
    with Session(engine) as session:
        _pair(session, batches)
        kept, expected = _kept(session), _from_scratch(_all_trips(session))
        session.rollback()
    assert kept == expected


# The reports' definitions, counted one trip at a time: what the counts must add up to.


def _od_by_hand(trips: list[dict[str, Any]], q: Query) -> list[dict[str, Any]]:
    totals: dict[tuple[str, str], list[int]] = {}
    for t in trips:
        if t["status"] != "complete" or not q.since <= t["started_at"] < q.until:
            continue
        if q.product is not None and t["product"] != q.product:
            continue
        sums = totals.setdefault((t["entry_station"], t["exit_station"]), [0, 0, 0])
        sums[0] += 1
        sums[1] += t["fare_vnd"]
        sums[2] += t["duration_s"]
    return [
        {"origin": o, "destination": d, "trips": n, "fare_vnd": fare, "avg_duration_s": round(seconds / n)}
        for (o, d), (n, fare, seconds) in sorted(totals.items())
    ]


def _ridden_by_hand(trips: list[dict[str, Any]], q: Query) -> list[tuple[str, str, int, int, int]]:
    entered = sorted((t for t in trips if t["entry_station"]), key=lambda t: (t["started_at"], t["id"]))
    firsts: dict[int | None, int] = {}
    for t in entered:
        firsts.setdefault(t["ticket_serial"], t["id"])
    totals: dict[tuple[str, str], list[int]] = {}
    for t in entered:
        if q.since <= t["started_at"] < q.until:
            sums = totals.setdefault((t["product"], t["entry_station"]), [0, 0, 0])
            first = t["ticket_serial"] is None or firsts[t["ticket_serial"]] == t["id"]
            sums[0] += 1
            sums[1] += t["fare_vnd"] if first else 0
            sums[2] += t["owed_vnd"]
    return [(p, s, n, fare, owed) for (p, s), (n, fare, owed) in sorted(totals.items())]


def _ridden(session: Session, q: Query) -> list[tuple[str, str, int, int, int]]:
    return [(r.product, r.station, r.trips, r.fares_ridden_vnd, r.owed_vnd) for r in revenue.rows(session, q)]


def _ranges(rng: random.Random) -> Iterator[tuple[datetime, datetime]]:
    yield NOW - timedelta(hours=2), NOW + timedelta(hours=60)  # whole hours only
    yield NOW + timedelta(minutes=30), NOW + timedelta(minutes=50)  # inside one hour
    for _ in range(4):
        since = NOW + timedelta(seconds=rng.randrange(-3600, 50 * 3600))
        yield since, since + timedelta(seconds=rng.randrange(1, 30 * 3600))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=_journals(), seed=st.integers(0, 1000))
def test_the_od_and_revenue_reports_from_the_counts_equal_counting_the_trips(
    engine: sa.Engine, batches: list[list[dict[str, Any]]], seed: int
) -> None:
    with Session(engine) as session:
        _pair(session, batches)
        trips = _all_trips(session)
        for since, until in _ranges(random.Random(seed)):
            for product in (None, "single", "monthly"):
                q = Query(since=since, until=until, product=product)
                assert [r.model_dump() for r in od.rows(session, q)] == _od_by_hand(trips, q), (since, until)
            q = Query(since=since, until=until)
            assert _ridden(session, q) == _ridden_by_hand(trips, q), (since, until)
        session.rollback()


def test_a_batch_that_completes_trips_uploaded_twice_is_counted_once(api: Api, tmp_path: Path) -> None:
    tickets = api.paid_order(single("L1-01", "L1-05", quantity=2))["tickets"]
    entry, exit_ = journal(api, tmp_path, "L1-01", "E01"), journal(api, tmp_path, "L1-05", "X05")
    for i, ticket in enumerate(tickets):
        entry.add("entry", at(i), **ticket_use(ticket))
        exit_.add("exit", at(20 + i), **ticket_use(ticket))
    entry.upload()
    events = list(exit_.pending)
    exit_.upload()
    token = auditor_token(api)
    day = {"from": "2025-03-03", "to": "2025-03-04"}
    first = (get(api, "reports/od", token, **day).json(), get(api, "reports/revenue", token, **day).json())

    again = post_batch(exit_.gate, events)

    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
    assert (
        get(api, "reports/od", token, **day).json(),
        get(api, "reports/revenue", token, **day).json(),
    ) == first
    assert first[0]["rows"] == [
        {"origin": "L1-01", "destination": "L1-05", "trips": 2, "fare_vnd": 2 * tickets[0]["fare_vnd"],
         "avg_duration_s": 20 * 60}
    ]  # fmt: skip


def test_migration_0016_counts_the_trips_already_stored(database_url: str, tmp_path: Any) -> None:
    if database_url.startswith("sqlite"):  # the template is at head: start from an empty file at 0015
        database_url = f"sqlite:///{tmp_path / 'at-0015.db'}"
    else:  # the session database is at head: step it back, and forward again after
        from alembic import command

        from ticketing.db import alembic_config

        command.downgrade(alembic_config(database_url), "0015")
    migrate(database_url, "0015")
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:  # the trips as pairing kept them before 0016, with no counts
            store_paired(session.connection(), _journal(random.Random(5)), _fare, RULE.open_entry)
            session.commit()
        migrate(database_url)
        with Session(engine) as session:
            kept = _kept(session)
            assert kept == _from_scratch(_all_trips(session))
            assert any(key[-1] for key in kept)  # complete trips among them
    finally:
        engine.dispose()


def _journal(rng: random.Random) -> list[list[dict[str, Any]]]:
    """Many credentials' uses over two days, one batch per gate and 20 uses, arriving out of order."""
    by_gate: dict[int, list[dict[str, Any]]] = {}
    for minute in sorted(rng.sample(range(3000), 400)):
        gate = rng.randrange(1, 8)
        credential = rng.choice([f"t:{2000 + i}" for i in range(60)] + ["p:pa", "p:pb"])
        own = by_gate.setdefault(gate, [])
        use = _use(credential, gate, len(own) + 1, minute, rng.choice(["entry", "exit"]), 0)
        own.append(use)
    batches = [own[i : i + 20] for own in by_gate.values() for i in range(0, len(own), 20)]
    rng.shuffle(batches)
    return batches
