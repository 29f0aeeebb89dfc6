"""scan_counts: the ridership and denials reports read whole hours from the counts ingest keeps, and give the
same rows as counting the scans one by one, for any range (on the hour or not) and filter; migration 0006
fills the counts from scans already stored. On both engines."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session
from support.audit import at, auditor_token, get, journal, ticket_use
from support.gate_sync import post_batch
from support.issuing import Api, single

from ticketing.audit.query import Query
from ticketing.audit.reports import denials, ridership
from ticketing.db import make_engine, migrate
from ticketing.ingest import scan_counts
from ticketing.ingest.adapter import adapter_for
from ticketing.models import ScanEvent, table_of

T0 = datetime(2025, 3, 2, 20, 0, tzinfo=UTC)  # 03:00 in Ho Chi Minh City: a day and a half of scans follows
_SCANS = table_of(ScanEvent)
_REASONS = [None, "already_used", "bad_signature", "expired"]


def _scans(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for seq in range(1, count + 1):
        verdict = rng.choice(["accept"] * 5 + ["deny"])
        rows.append(
            {
                "gate_id": rng.choice(["L1-01-G1", "L1-01-G2", "L1-05-G1"]),
                "seq": seq,
                "hash": f"{seq:064x}",
                "prev_hash": f"{seq - 1:064x}",
                "station": rng.choice(["L1-01", "L1-05", None]) if verdict == "deny" else "L1-01",
                "at": T0 + timedelta(seconds=rng.randrange(36 * 3600)) if rng.random() > 0.02 else None,
                "direction": rng.choice(["entry", "exit"]),
                "verdict": verdict,
                "reason": rng.choice(_REASONS[1:]) if verdict == "deny" else None,
                "flags": "",
                "owed_vnd": 0,
                "event": "{}",
                "received_at": T0,
                "problem": "bad reason" if rng.random() < 0.03 else None,
            }
        )
    return rows


def _store(engine: sa.Engine, rows: list[dict[str, Any]], counted: bool = True) -> None:
    with Session(engine) as session:
        session.connection().execute(sa.insert(_SCANS), rows)
        if counted:
            _count(session, rows)
        session.commit()


def _count(session: Session, rows: list[dict[str, Any]]) -> None:
    """What ingest does with the rows it has just stored."""
    connection = session.connection()
    adapter_for(connection).add_scan_counts(connection, scan_counts.counted(rows))


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _ridership(session: Session, q: Query) -> list[dict[str, Any]]:
    return [row.model_dump() for row in ridership.rows(session, q)]


def _denials(session: Session, q: Query) -> list[dict[str, Any]]:
    return [row.model_dump() for row in denials.rows(session, q)]


# The reports' definitions, counted one scan at a time: what the counts must add up to.


def _local(at: datetime, bucket: str) -> str:
    local = at + timedelta(hours=7)
    return f"{local:%Y-%m-%dT%H}:00+07:00" if bucket == "hour" else f"{local:%Y-%m-%d}"


def _ridership_by_hand(rows: list[dict[str, Any]], q: Query) -> list[dict[str, Any]]:
    totals: dict[tuple[str | None, str], list[int]] = {}
    for r in rows:
        at = r["at"]
        if r["verdict"] not in ("accept", "deny") or at is None or not q.since <= at < q.until:
            continue
        if q.station is not None and r["station"] != q.station:
            continue
        if r["verdict"] == "accept" and r["problem"]:
            continue
        sums = totals.setdefault((r["station"], _local(at, q.bucket)), [0, 0, 0])
        sums[2 if r["verdict"] == "deny" else 0 if r["direction"] == "entry" else 1] += 1
    out = [
        {"station": station, q.bucket: bucket, "entries": entries, "exits": exits, "denials": denials}
        for (station, bucket), (entries, exits, denials) in totals.items()
    ]
    return sorted(out, key=lambda r: (r[q.bucket], r["station"] or ""))


def _denials_by_hand(rows: list[dict[str, Any]], q: Query) -> list[dict[str, Any]]:
    totals: dict[tuple[str | None, str | None, str], int] = {}
    for r in rows:
        at = r["at"]
        if r["verdict"] != "deny" or at is None or not q.since <= at < q.until:
            continue
        if (q.station is not None and r["station"] != q.station) or (
            q.gate is not None and r["gate_id"] != q.gate
        ):
            continue
        key = (r["reason"], r["station"], r["gate_id"])
        totals[key] = totals.get(key, 0) + 1
    out = [{"reason": a, "station": b, "gate": c, "denials": n} for (a, b, c), n in totals.items()]
    return sorted(out, key=lambda r: (-r["denials"], r["reason"] or "", r["station"] or "", r["gate"]))


def _ranges(rng: random.Random) -> Iterator[tuple[datetime, datetime]]:
    yield T0, T0 + timedelta(hours=36)  # whole hours only
    yield T0 + timedelta(minutes=30), T0 + timedelta(minutes=50)  # inside one hour
    yield T0 + timedelta(minutes=59, seconds=59), T0 + timedelta(hours=1, seconds=1)  # across one boundary
    for _ in range(12):
        since = T0 + timedelta(seconds=rng.randrange(-3600, 36 * 3600))
        yield since, since + timedelta(seconds=rng.randrange(1, 20 * 3600))


def test_reports_from_the_counts_equal_counting_the_scans(engine: sa.Engine) -> None:
    rows = _scans(3000)
    _store(engine, rows)
    rng = random.Random(3)
    with Session(engine) as session:
        for since, until in _ranges(rng):
            for bucket in ("hour", "day"):
                for station in (None, "L1-01"):
                    q = Query(since=since, until=until, bucket=bucket, station=station)
                    assert _ridership(session, q) == _ridership_by_hand(rows, q), (since, until)
            for station, gate in ((None, None), ("L1-05", None), (None, "L1-01-G2")):
                q = Query(since=since, until=until, station=station, gate=gate)
                assert _denials(session, q) == _denials_by_hand(rows, q), (since, until)


def test_the_reports_read_whole_hours_from_the_counts(engine: sa.Engine) -> None:
    rows = _scans(200)
    _store(engine, rows)
    day = Query(since=T0, until=T0 + timedelta(hours=36), bucket="day")
    with Session(engine) as session:
        before = _ridership(session, day)
        _count(session, rows[:10])
        assert _ridership(session, day) != before
        session.rollback()
        assert _ridership(session, day) == before


def test_migration_0006_counts_the_scans_already_stored(database_url: str, tmp_path: Any) -> None:
    if database_url.startswith("sqlite"):  # the template is at head: start from an empty file at 0005
        database_url = f"sqlite:///{tmp_path / 'at-0005.db'}"
    else:  # the session database is at head: step it back, and forward again after
        from alembic import command

        from ticketing.db import alembic_config

        command.downgrade(alembic_config(database_url), "0005")
    migrate(database_url, "0005")
    engine = make_engine(database_url)
    try:
        rows = _scans(500)
        _store(engine, rows, counted=False)
        migrate(database_url)
        with Session(engine) as session:
            day = Query(since=T0, until=T0 + timedelta(hours=36), bucket="hour")
            assert _ridership(session, day) == _ridership_by_hand(rows, day)
            assert _denials(session, day) == _denials_by_hand(rows, day)
    finally:
        engine.dispose()


def test_a_batch_uploaded_twice_is_counted_once(api: Api, tmp_path: Path) -> None:
    ticket = api.paid_order(single("L1-01", "L1-05"))["tickets"][0]
    gate = journal(api, tmp_path, "L1-01", "E01")
    gate.add("entry", at(0), **ticket_use(ticket))
    gate.add("entry", at(1), verdict="deny", reason="bad_signature", input="ticket")
    events = list(gate.pending)
    gate.upload()
    token = auditor_token(api)
    day = {"from": "2025-03-03", "to": "2025-03-04", "bucket": "day"}
    first = (
        get(api, "reports/ridership", token, **day).json(),
        get(api, "reports/denials", token, **day).json(),
    )

    again = post_batch(gate.gate, events)

    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
    assert (
        get(api, "reports/ridership", token, **day).json(),
        get(api, "reports/denials", token, **day).json(),
    ) == first
    assert first[0]["rows"] == [
        {"station": "L1-01", "day": "2025-03-03", "entries": 1, "exits": 0, "denials": 1}
    ]
