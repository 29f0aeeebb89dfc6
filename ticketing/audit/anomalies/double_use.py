"""Double use: tickets let in at two gates with no exit between (each gate offline, neither knowing the
other), by the rule journal ingest revokes them by (ticketing.ingest.rules.entered_twice). Only the tickets
ingest noted as candidates (ticketing.ingest.candidates) are checked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from ticketing.audit.models import DoubleUseEntry, DoubleUseFindings, DoubleUseItem, Revoked
from ticketing.audit.query import Query, iso
from ticketing.audit.tables import REVOCATIONS, SCANS, in_range
from ticketing.catalog import Catalog
from ticketing.ingest.candidates import DOUBLE_USE, USE_TABLE
from ticketing.ingest.rules import DoubleUseRule, StoredUse, entered_twice

__all__ = ["find"]


def find(session: Session, q: Query, catalog: Catalog) -> DoubleUseFindings:
    """Every ticket that entered twice in q's range, with its entries and the revocation ingest made."""
    doubled = _doubled_uses(session, q, DoubleUseRule.of(catalog.network, catalog.policy))
    shown = doubled[: q.limit]
    revoked = _revocations(session, [int(credential[2:]) for credential, _ in shown])
    items = [
        DoubleUseItem(
            credential=credential,
            at=iso(uses[0].at),
            entries=[
                DoubleUseEntry(at=iso(u.at), station=u.station, gate=u.gate_id, flags=u.flags)
                for u in uses
                if u.direction == "entry"
            ],
            # Ingest revokes a double-used ticket: every gate refuses it after its next sync.
            revoked=_revocation(revoked.get(int(credential[2:]))),
        )
        for credential, uses in shown
    ]
    return DoubleUseFindings(count=len(doubled), items=items)


def _doubled_uses(session: Session, q: Query, rule: DoubleUseRule) -> list[tuple[str, list[Any]]]:
    """(credential, its accepted uses in time order) of every ticket that entered twice in q's range."""
    t = SCANS
    accepted = [t.c.verdict == "accept", t.c.credential.like("t:%"), t.c.problem.is_(None)]
    assert q.since is not None
    assert q.until is not None
    # Two entries that make a double use are within open_entry of each other, one of them noted at ingest.
    noted = sa.select(USE_TABLE.c.credential).where(
        USE_TABLE.c.kind == DOUBLE_USE, USE_TABLE.c.at >= q.since - rule.open_entry, USE_TABLE.c.at < q.until
    )
    candidates = (
        sa.select(t.c.credential)
        .where(*accepted, t.c.direction == "entry", *in_range(t.c.at, q), t.c.credential.in_(noted))
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
    r = REVOCATIONS.c
    rows = session.execute(sa.select(r.ticket_serial, r.reason, r.at).where(r.ticket_serial.in_(serials)))
    return {row.ticket_serial: row for row in rows}


def _revocation(row: Any) -> Revoked | None:
    return None if row is None else Revoked(reason=row.reason, at=iso(row.at))
