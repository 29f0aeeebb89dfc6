"""Audit reports (ridership, origin-destination, revenue, denials) and anomalies, over a time range.

Hours and days are local, at the policy's `utc_offset_hours` (Query.utc_offset_hours): an auditor's
"07:00-08:00" is Ho Chi Minh City time. Buckets are computed
in SQL (date_trunc on PostgreSQL, strftime on SQLite) so only the aggregate leaves the database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from fare_rules.errors import FareRulesError
from ticketing.audit.csv_writer import csv_line
from ticketing.audit.query import ANOMALY_KINDS, Query, iso
from ticketing.catalog import Catalog
from ticketing.db import UTCDateTime
from ticketing.errors import InvalidRequest
from ticketing.ingest import scan_counts
from ticketing.ingest.rules import DoubleUseRule, StoredUse, entered_twice
from ticketing.models import Gate, JournalGap, Revocation, ScanEvent, Ticket, Trip, table_of

__all__ = ["ANOMALY_COLUMNS", "anomalies", "anomaly_rows", "report", "rows_csv"]

_SCANS: sa.Table = table_of(ScanEvent)
_TRIPS: sa.Table = table_of(Trip)
_TICKETS: sa.Table = table_of(Ticket)
_GAPS: sa.Table = table_of(JournalGap)
_GATES: sa.Table = table_of(Gate)
_REVOCATIONS: sa.Table = table_of(Revocation)
_PASSBACK = ("already_inside", "reentry_too_soon")
_OVERSTAY_REFUSED = ("trip_time_exceeded", "same_station_time_exceeded")


def rows_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> Iterator[str]:
    """CSV lines of report or anomaly rows, a header first."""
    yield csv_line(columns)
    for row in rows:
        yield csv_line([row.get(c) for c in columns])


def _range(column: sa.Column[Any], q: Query) -> list[ColumnElement[bool]]:
    assert q.since is not None  # parse_query(require_range=True)
    assert q.until is not None
    return [column >= q.since, column < q.until]


def _bucket(session: Session, column: sa.Column[Any], q: Query) -> ColumnElement[Any]:
    """The local hour or day (q.bucket, in q's local time) of a UTC time column."""
    hours = int(q.utc_offset_hours)  # an int: it goes into the SQL text
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.date_trunc(q.bucket, column + sa.text(f"interval '{hours} hours'"))
    return sa.func.strftime(
        "%Y-%m-%d %H:00" if q.bucket == "hour" else "%Y-%m-%d", column, f"{hours:+d} hours"
    )


def _bucket_text(value: Any, q: Query) -> str:
    if isinstance(value, datetime):
        value = value.strftime("%Y-%m-%d %H:00" if q.bucket == "hour" else "%Y-%m-%d")
    offset = datetime(2000, 1, 1, tzinfo=q.local).strftime("%z")
    return f"{str(value).replace(' ', 'T')}{offset[:3]}:{offset[3:]}" if q.bucket == "hour" else str(value)


# --- reports -------------------------------------------------------------------------------------------


def _ridership(session: Session, q: Query) -> list[dict[str, Any]]:
    """Accepted entries and exits per station and hour or day: whole hours from scan_counts, the rest of the
    range from the scans."""
    assert q.since is not None
    assert q.until is not None
    whole, parts = scan_counts.split(q.since, q.until)
    totals: dict[tuple[str | None, str], list[int]] = {}
    for since, until in parts:
        for r in _ridership_scans(session, q, since, until):
            sums = totals.setdefault((r.station, _bucket_text(r.bucket, q)), [0, 0])
            sums[0] += r.entries
            sums[1] += r.exits
    if whole is not None:
        columns = ("station", "hour", "direction")
        rows = scan_counts.summed(session, whole, columns, verdict="accept", problem=False, station=q.station)
        for r in rows:
            local = (r.hour + timedelta(hours=q.utc_offset_hours)).replace(tzinfo=None)
            sums = totals.setdefault((r.station or None, _bucket_text(local, q)), [0, 0])
            if r.direction in ("entry", "exit"):
                sums[0 if r.direction == "entry" else 1] += int(r.n)
    out = [
        {"station": station, q.bucket: bucket, "entries": entries, "exits": exits}
        for (station, bucket), (entries, exits) in totals.items()
    ]
    return sorted(out, key=lambda r: (r[q.bucket], r["station"] or ""))


def _ridership_scans(session: Session, q: Query, since: datetime, until: datetime) -> Sequence[Any]:
    t = _SCANS
    bucket = _bucket(session, t.c.at, q).label("bucket")
    entries = sa.func.sum(sa.case((t.c.direction == "entry", 1), else_=0)).label("entries")
    exits = sa.func.sum(sa.case((t.c.direction == "exit", 1), else_=0)).label("exits")
    where = [t.c.verdict == "accept", t.c.problem.is_(None), t.c.at >= since, t.c.at < until]
    if q.station is not None:
        where.append(t.c.station == q.station)
    return session.execute(
        sa.select(t.c.station, bucket, entries, exits).where(*where).group_by(t.c.station, bucket)
    ).all()


def _od(session: Session, q: Query) -> list[dict[str, Any]]:
    t = _TRIPS
    where = [t.c.status == "complete", *_range(t.c.started_at, q)]
    if q.product is not None:
        where.append(t.c.product == q.product)
    rows = session.execute(
        sa.select(
            t.c.entry_station,
            t.c.exit_station,
            sa.func.count().label("trips"),
            sa.func.sum(t.c.fare_vnd).label("fare_vnd"),
            sa.func.avg(t.c.duration_s).label("avg_duration_s"),
        )
        .where(*where)
        .group_by(t.c.entry_station, t.c.exit_station)
    ).all()
    return sorted(
        (
            {
                "origin": r.entry_station,
                "destination": r.exit_station,
                "trips": r.trips,
                "fare_vnd": int(r.fare_vnd or 0),
                "avg_duration_s": round(float(r.avg_duration_s or 0)),
            }
            for r in rows
        ),
        key=lambda r: (r["origin"], r["destination"]),
    )


def _revenue(session: Session, q: Query) -> list[dict[str, Any]]:
    """What was sold (tickets issued in the range, by product and origin) and what became of it, next to what
    was ridden (trips started in the range, by product and entry station). docs/audit.md defines each
    amount; by construction sold_vnd = used_vnd + unused_vnd + refunded_vnd + refund_fees_vnd."""
    table: dict[tuple[str, str], dict[str, Any]] = {}

    def row(product: str | None, station: str | None) -> dict[str, Any]:
        key = (product or "", station or "")
        zero = dict.fromkeys(_REVENUE_COLUMNS, 0)
        return table.setdefault(key, {"product": key[0], "station": key[1], **zero})

    for r in _sold(session, q):
        row(r.product, r.origin).update(
            tickets_sold=r.n,
            sold_vnd=int(r.vnd or 0),
            used_vnd=int(r.used_vnd or 0),
            unused_vnd=int(r.unused_vnd or 0),
            tickets_refunded=int(r.refunded or 0),
            refunded_vnd=int(r.refunded_vnd or 0),
            refund_fees_vnd=int(r.fees or 0),
            ridden_after_refund_vnd=int(r.ridden_refunded or 0),
        )
    for r in _ridden(session, q):
        row(r.product, r.entry_station).update(
            trips=r.n, fares_ridden_vnd=int(r.vnd or 0), owed_vnd=int(r.owed or 0)
        )
    return [table[key] for key in sorted(table)]


def _sold(session: Session, q: Query) -> Sequence[Any]:
    """Tickets issued in the range by product and origin, each in one bucket: refunded (not withdrawn), else
    used, else unused."""
    k = _TICKETS
    refunded = k.c.status == "refunded"
    used = sa.and_(sa.not_(refunded), k.c.first_used_at.is_not(None))
    fee = sa.func.coalesce(k.c.refund_fee_vnd, 0)

    def total(when: ColumnElement[bool], value: Any) -> Any:
        return sa.func.sum(sa.case((when, value), else_=0))

    return session.execute(
        sa.select(
            k.c.product,
            k.c.origin,
            sa.func.count().label("n"),
            sa.func.sum(k.c.fare_vnd).label("vnd"),
            total(used, k.c.fare_vnd).label("used_vnd"),
            total(sa.and_(sa.not_(refunded), k.c.first_used_at.is_(None)), k.c.fare_vnd).label("unused_vnd"),
            total(refunded, 1).label("refunded"),
            total(refunded, k.c.fare_vnd - fee).label("refunded_vnd"),
            total(refunded, fee).label("fees"),
            total(sa.and_(refunded, k.c.first_used_at.is_not(None)), k.c.fare_vnd).label("ridden_refunded"),
        )
        .where(*_range(k.c.issued_at, q))
        .group_by(k.c.product, k.c.origin)
    ).all()


def _ridden(session: Session, q: Query) -> Sequence[Any]:
    """Trips started in the range by product and entry station. A single ticket's fare counts on its first
    trip only: a double-used one was paid for once."""
    t = _TRIPS
    earlier = sa.alias(t, "earlier")
    first_trip = sa.not_(
        sa.exists().where(
            earlier.c.ticket_serial == t.c.ticket_serial,
            earlier.c.entry_station.is_not(None),
            sa.or_(
                earlier.c.started_at < t.c.started_at,
                sa.and_(earlier.c.started_at == t.c.started_at, earlier.c.id < t.c.id),
            ),
        )
    )
    fare = sa.case((sa.or_(t.c.ticket_serial.is_(None), first_trip), t.c.fare_vnd), else_=0)
    return session.execute(
        sa.select(
            t.c.product,
            t.c.entry_station,
            sa.func.count().label("n"),
            sa.func.sum(fare).label("vnd"),
            sa.func.sum(t.c.owed_vnd).label("owed"),
        )
        .where(t.c.entry_station.is_not(None), *_range(t.c.started_at, q))
        .group_by(t.c.product, t.c.entry_station)
    ).all()


_REVENUE_COLUMNS = (
    "tickets_sold", "sold_vnd", "used_vnd", "unused_vnd", "tickets_refunded", "refunded_vnd",
    "refund_fees_vnd", "ridden_after_refund_vnd", "trips", "fares_ridden_vnd", "owed_vnd",
)  # fmt: skip


def _denials(session: Session, q: Query) -> list[dict[str, Any]]:
    """Refusals by reason, station and gate: whole hours from scan_counts, the rest from the scans."""
    assert q.since is not None
    assert q.until is not None
    whole, parts = scan_counts.split(q.since, q.until)
    totals: Counter[tuple[str | None, str | None, str]] = Counter()
    t = _SCANS
    for since, until in parts:
        where = [t.c.verdict == "deny", t.c.at >= since, t.c.at < until]
        if q.station is not None:
            where.append(t.c.station == q.station)
        if q.gate is not None:
            where.append(t.c.gate_id == q.gate)
        scanned = session.execute(
            sa.select(t.c.reason, t.c.station, t.c.gate_id, sa.func.count().label("n"))
            .where(*where)
            .group_by(t.c.reason, t.c.station, t.c.gate_id)
        )
        for r in scanned:
            totals[r.reason, r.station, r.gate_id] += r.n
    if whole is not None:
        columns = ("reason", "station", "gate_id")
        counted_rows = scan_counts.summed(
            session, whole, columns, verdict="deny", station=q.station, gate_id=q.gate
        )
        for r in counted_rows:
            totals[r.reason or None, r.station or None, r.gate_id] += int(r.n)
    out = [
        {"reason": reason, "station": station, "gate": gate, "denials": n}
        for (reason, station, gate), n in totals.items()
    ]
    return sorted(out, key=lambda r: (-r["denials"], r["reason"] or "", r["station"] or "", r["gate"]))


_REPORTS: dict[str, Callable[[Session, Query], list[dict[str, Any]]]] = {
    "ridership": _ridership,
    "od": _od,
    "revenue": _revenue,
    "denials": _denials,
}


def report(session: Session, kind: str, q: Query) -> list[dict[str, Any]]:
    """Rows of report `kind` (ridership, od, revenue, denials) over q's time range (required)."""
    if kind not in _REPORTS:
        raise InvalidRequest(f"no report {kind!r}: one of {', '.join(_REPORTS)}", code="unknown_report")
    if q.since is None or q.until is None:
        raise InvalidRequest("a report needs a time range: from and to", code="bad_range")
    return _REPORTS[kind](session, q)


# --- anomalies -------------------------------------------------------------------------------------------


def _scan_item(r: Any, **extra: Any) -> dict[str, Any]:
    base = {"at": iso(r.at), "station": r.station, "gate": r.gate_id, "credential": r.credential}
    return {**base, "reason": r.reason, **extra}


def _double_use(session: Session, q: Query, catalog: Catalog) -> tuple[int, list[dict[str, Any]]]:
    """Tickets let in at two gates with no exit between (each gate offline, neither knowing the other): the
    rule journal ingest revokes them by (ticketing.ingest.rules.entered_twice)."""
    doubled = _doubled_uses(session, q, DoubleUseRule.of(catalog.network, catalog.policy))
    shown = doubled[: q.limit]
    revoked = _revocations(session, [int(credential[2:]) for credential, _ in shown])
    items = [
        {
            "credential": credential,
            "at": iso(uses[0].at),
            "entries": [
                {"at": iso(u.at), "station": u.station, "gate": u.gate_id, "flags": u.flags}
                for u in uses
                if u.direction == "entry"
            ],
            # Ingest revokes a double-used ticket: every gate refuses it after its next sync.
            "revoked": _revocation(revoked.get(int(credential[2:]))),
        }
        for credential, uses in shown
    ]
    return len(doubled), items


def _doubled_uses(session: Session, q: Query, rule: DoubleUseRule) -> list[tuple[str, list[Any]]]:
    """(credential, its accepted uses in time order) of every ticket that entered twice in q's range."""
    t = _SCANS
    accepted = [t.c.verdict == "accept", t.c.credential.like("t:%"), t.c.problem.is_(None)]
    assert q.since is not None
    candidates = (
        sa.select(t.c.credential)
        .where(*accepted, t.c.direction == "entry", *_range(t.c.at, q))
        .group_by(t.c.credential)
        .having(sa.func.count() > 1)
    )
    uses = session.execute(
        sa.select(
            t.c.credential, t.c.product, t.c.gate_id, t.c.seq, t.c.station, t.c.direction, t.c.at, t.c.flags
        )
        .where(*accepted, t.c.credential.in_(candidates))
        .where(t.c.at >= q.since - rule.open_entry, t.c.at < q.until)
        .order_by(t.c.credential, t.c.at)
    ).all()
    by_credential: dict[str, list[Any]] = {}
    for use in uses:
        by_credential.setdefault(use.credential, []).append(use)
    return [
        (credential, rows)
        for credential, rows in sorted(by_credential.items())
        if entered_twice(
            [StoredUse(r.credential, r.gate_id, r.seq, r.station, r.at, r.direction) for r in rows],
            rule,
            single=any(r.product == "single" for r in rows),
        )
    ]


def _revocations(session: Session, serials: Sequence[int]) -> dict[int, Any]:
    r = _REVOCATIONS.c
    rows = session.execute(sa.select(r.ticket_serial, r.reason, r.at).where(r.ticket_serial.in_(serials)))
    return {row.ticket_serial: row for row in rows}


def _revocation(row: Any) -> dict[str, Any] | None:
    return None if row is None else {"reason": row.reason, "at": iso(row.at)}


def _refused(session: Session, q: Query, reasons: Sequence[str]) -> tuple[int, list[dict[str, Any]]]:
    t = _SCANS
    where = [t.c.verdict == "deny", t.c.reason.in_(reasons), *_range(t.c.at, q)]
    total = session.execute(sa.select(sa.func.count()).where(*where)).scalar_one()
    rows = session.execute(
        sa.select(t).where(*where).order_by(t.c.at, t.c.gate_id, t.c.seq).limit(q.limit)
    ).all()
    return int(total), [_scan_item(r, source="refused") for r in rows]


def _passback(session: Session, q: Query, _catalog: Catalog) -> tuple[int, list[dict[str, Any]]]:
    return _refused(session, q, _PASSBACK)


def _trip_item(r: Any, **extra: Any) -> dict[str, Any]:
    return {
        "at": iso(r.started_at),
        "credential": r.credential,
        "origin": r.entry_station,
        "entry_at": iso(r.entry_at),
        "destination": r.exit_station,
        "exit_gate": r.exit_gate,
        "exit_at": iso(r.exit_at),
        "duration_s": r.duration_s,
        "flags": r.flags,
        **extra,
    }


def _overstay(session: Session, q: Query, catalog: Catalog) -> tuple[int, list[dict[str, Any]]]:
    """Single-ticket trips longer than the policy allows (let out by a gate that did not know the entry),
    plus exits refused for time."""
    t = _TRIPS
    limit_s = catalog.policy.max_trip_minutes * 60
    where = [
        t.c.status == "complete",
        t.c.product == "single",
        t.c.duration_s > limit_s,
        *_range(t.c.started_at, q),
    ]
    total = session.execute(sa.select(sa.func.count()).where(*where)).scalar_one()
    rows = session.execute(sa.select(t).where(*where).order_by(t.c.started_at, t.c.id).limit(q.limit)).all()
    refused_total, refused = _refused(session, q, _OVERSTAY_REFUSED)
    items = [_trip_item(r, source="trip") for r in rows] + refused
    return int(total) + refused_total, items[: q.limit]


def _entry_unseen(session: Session, q: Query, _catalog: Catalog) -> tuple[int, list[dict[str, Any]]]:
    """Exits whose entry never reached the server (orphan exits): reconciliation work."""
    t = _TRIPS
    where = [t.c.status == "orphan_exit", *_range(t.c.started_at, q)]
    total = session.execute(sa.select(sa.func.count()).where(*where)).scalar_one()
    rows = session.execute(sa.select(t).where(*where).order_by(t.c.started_at, t.c.id).limit(q.limit)).all()
    return int(total), [_trip_item(r) for r in rows]


def _repeated_exit(session: Session, q: Query, _catalog: Catalog) -> tuple[int, list[dict[str, Any]]]:
    """Second exits of a trip already complete (two exit gates that did not know of each other), each with
    the trip it repeats: the ride was paid once and let out twice, so the QR may have been shared."""
    t = _TRIPS
    where = [t.c.status == "repeated_exit", *_range(t.c.started_at, q)]
    total = session.execute(sa.select(sa.func.count()).where(*where)).scalar_one()
    rows = session.execute(sa.select(t).where(*where).order_by(t.c.started_at, t.c.id).limit(q.limit)).all()
    if not rows:
        return int(total), []
    latest = max(r.exit_at for r in rows)
    complete = _trips_of(
        session,
        t.c.credential,
        {r.credential for r in rows},
        t.c.status == "complete",
        t.c.entry_at <= latest,
    )
    items = []
    for r in rows:
        before = [c for c in complete.get(r.credential, []) if c.entry_at <= r.exit_at]
        repeats = _trip_item(max(before, key=lambda c: c.entry_at)) if before else None
        items.append(
            {"at": iso(r.exit_at), "credential": r.credential, "station": r.exit_station, "gate": r.exit_gate,
             "flags": r.flags, "repeats": repeats}
        )  # fmt: skip
    return int(total), items


def _trips_of(
    session: Session, key: sa.Column[Any], values: set[Any], *where: ColumnElement[bool]
) -> dict[Any, list[Any]]:
    """The trips whose `key` is one of `values` (one query for a page of anomalies), by that key, in order."""
    t = _TRIPS
    if not values:
        return {}
    rows = session.execute(
        sa.select(t).where(key.in_(sorted(values)), *where).order_by(t.c.started_at, t.c.id)
    ).all()
    found: dict[Any, list[Any]] = {}
    for row in rows:
        found.setdefault(getattr(row, key.name), []).append(row)
    return found


def _used_after_refund(session: Session, q: Query, _catalog: Catalog) -> tuple[int, list[dict[str, Any]]]:
    """Tickets refunded (in the range) that an upload later showed used: a gate offline at the refund let them
    ride. Each with its refund (withdrawn when the use arrived within the hold, else final: money returned
    for a ride taken) and its trips."""
    k, t = _TICKETS, _TRIPS
    where = [k.c.refunded_at.is_not(None), k.c.first_used_at.is_not(None), *_range(k.c.refunded_at, q)]
    total = session.execute(sa.select(sa.func.count()).where(*where)).scalar_one()
    rows = session.execute(
        sa.select(k).where(*where).order_by(k.c.refunded_at, k.c.serial).limit(q.limit)
    ).all()
    ridden_by = _trips_of(session, t.c.ticket_serial, {r.serial for r in rows})
    items = []
    for r in rows:
        ridden = ridden_by.get(r.serial, [])
        fee = r.refund_fee_vnd or 0
        items.append(
            {
                "at": iso(r.first_used_at),
                "credential": f"t:{r.serial}",
                "refund": {
                    "at": iso(r.refunded_at),
                    "amount_vnd": r.fare_vnd - fee,
                    "fee_vnd": fee,
                    "final_at": iso(r.refund_final_at),
                    "state": "withdrawn" if r.refund_withdrawn_at is not None else "final",
                },
                "trips": [_trip_item(trip, status=trip.status) for trip in ridden],
            }
        )
    return int(total), items


def _journal_gap(session: Session, q: Query, _catalog: Catalog) -> tuple[int, list[dict[str, Any]]]:
    """Every gate whose journal has a hole, whatever the range: since = the time of the last event before
    it (when the gate's record stops being whole)."""
    g, s = _GAPS, _SCANS
    gaps = session.execute(
        sa.select(g, _GATES.c.station)
        .join(_GATES, _GATES.c.gate_id == g.c.gate_id)
        .order_by(g.c.gate_id, g.c.from_seq)
    ).all()
    items = []
    for gap in gaps:
        # A gap answered 409 is usually filled by the gate's resend: only what is still missing is a hole.
        stored = session.execute(
            sa.select(sa.func.count())
            .select_from(s)
            .where(s.c.gate_id == gap.gate_id, s.c.seq.between(gap.from_seq, gap.to_seq))
        ).scalar_one()
        missing = gap.to_seq - gap.from_seq + 1 - stored
        if missing <= 0:
            continue
        before = session.execute(
            sa.select(s.c.at).where(s.c.gate_id == gap.gate_id, s.c.seq == gap.from_seq - 1)
        ).scalar_one_or_none()
        items.append(
            {
                "gate": gap.gate_id,
                "station": gap.station,
                "from_seq": gap.from_seq,
                "to_seq": gap.to_seq,
                "missing": missing,
                "since": iso(before) if before is not None else iso(gap.detected_at),
                "detected_at": iso(gap.detected_at),
                "accepted_as_lost": gap.accepted_at is not None,
            }
        )
    return len(items), items[: q.limit]


def _pass_too_fast(session: Session, q: Query, catalog: Catalog) -> tuple[int, list[dict[str, Any]]]:
    """A pass seen at two stations closer in time than the train takes (hops x min_seconds_per_hop)."""
    per_hop = catalog.policy.min_seconds_per_hop
    found = []
    for r in _pass_moves(session, q):
        try:
            hops = catalog.network.hops(r.prev_station, r.station)
        except FareRulesError:
            continue
        gap_s = (r.at - r.prev_at).total_seconds()
        if gap_s < hops * per_hop and (q.since is None or r.at >= q.since):
            found.append(
                {
                    "credential": r.credential,
                    "at": iso(r.at),
                    "station": r.station,
                    "gate": r.gate_id,
                    "previous_station": r.prev_station,
                    "previous_at": iso(r.prev_at),
                    "seconds": int(gap_s),
                    "at_least_s": hops * per_hop,
                }
            )
    found.sort(key=lambda f: (f["at"], f["credential"]))
    return len(found), found[: q.limit]


def _pass_moves(session: Session, q: Query) -> Sequence[Any]:
    """Each accepted pass use at another station than the same pass's use before it (from an hour before
    the range, so a move into it is seen), with the station and time it came from."""
    t = _SCANS
    order = (t.c.at, t.c.gate_id, t.c.seq)
    seen = (
        sa.select(
            t.c.credential,
            t.c.station,
            t.c.gate_id,
            t.c.at,
            sa.func.lag(t.c.station).over(partition_by=t.c.credential, order_by=order).label("prev_station"),
            sa.func.lag(t.c.at, type_=UTCDateTime())
            .over(partition_by=t.c.credential, order_by=order)
            .label("prev_at"),
        )
        .where(
            t.c.verdict == "accept",
            t.c.credential.like("p:%"),
            t.c.problem.is_(None),
            t.c.at >= q.since - timedelta(hours=1) if q.since else sa.true(),
            t.c.at < q.until if q.until else sa.true(),
        )
        .subquery()
    )
    return session.execute(
        sa.select(seen).where(seen.c.prev_station.is_not(None), seen.c.station != seen.c.prev_station)
    ).all()


_KINDS: dict[str, Callable[[Session, Query, Catalog], tuple[int, list[dict[str, Any]]]]] = {
    "double_use": _double_use,
    "passback": _passback,
    "overstay": _overstay,
    "entry_unseen": _entry_unseen,
    "repeated_exit": _repeated_exit,
    "used_after_refund": _used_after_refund,
    "journal_gap": _journal_gap,
    "pass_too_fast": _pass_too_fast,
}
assert tuple(_KINDS) == ANOMALY_KINDS


def anomalies(session: Session, catalog: Catalog, q: Query) -> dict[str, dict[str, Any]]:
    """`{kind: {"count", "items"}}` for each anomaly kind (or only q.kind) in q's range (required; journal
    gaps are listed whatever the range). Items are capped at q.limit per kind; count is the full number."""
    if q.since is None or q.until is None:
        raise InvalidRequest("anomalies need a time range: from and to", code="bad_range")
    kinds = [q.kind] if q.kind else list(_KINDS)
    out = {}
    for kind in kinds:
        count, items = _KINDS[kind](session, q, catalog)
        out[kind] = {"count": count, "items": items}
    return out


ANOMALY_COLUMNS = ("kind", "at", "station", "gate", "credential", "detail")


def anomaly_rows(found: dict[str, dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Anomalies flattened for CSV and tables: the common columns, the rest as `key=value; ...`."""
    for kind, result in found.items():
        for item in result["items"]:
            rest = {k: v for k, v in item.items() if k not in ANOMALY_COLUMNS}
            detail = "; ".join(f"{k}={v}" for k, v in rest.items())
            yield {"kind": kind, **{c: item.get(c) for c in ANOMALY_COLUMNS[1:5]}, "detail": detail}
