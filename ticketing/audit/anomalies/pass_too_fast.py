"""Pass too fast: a pass seen at two stations closer in time than the train takes (hops x
min_seconds_per_hop), so two people may share it. Only the passes journal ingest noted as candidates
(ticketing.ingest.candidates) are read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from fare_rules.errors import FareRulesError
from ticketing.audit.models import PassTooFastFindings, PassTooFastItem
from ticketing.audit.query import Query, iso
from ticketing.audit.tables import SCANS
from ticketing.catalog import Catalog
from ticketing.db import UTCDateTime
from ticketing.ingest.candidates import PASS_TOO_FAST, USE_TABLE

__all__ = ["find"]


def find(session: Session, q: Query, catalog: Catalog) -> PassTooFastFindings:
    """The moves into q's range faster than the network allows, by time then credential."""
    per_hop = catalog.policy.min_seconds_per_hop
    found = []
    for r in _pass_moves(session, q):
        try:
            hops = catalog.network.hops(r.prev_station, r.station)
        except FareRulesError:
            continue
        if (r.at - r.prev_at).total_seconds() < hops * per_hop and (q.since is None or r.at >= q.since):
            found.append((iso(r.at), r.credential, r, hops * per_hop))
    found.sort(key=lambda f: (f[0], f[1]))  # items only for the page: a busy day finds thousands
    items = [
        PassTooFastItem(
            credential=credential,
            at=at,
            station=r.station,
            gate=r.gate_id,
            previous_station=r.prev_station,
            previous_at=iso(r.prev_at),
            seconds=int((r.at - r.prev_at).total_seconds()),
            at_least_s=at_least_s,
        )
        for at, credential, r, at_least_s in found[: q.limit]
    ]
    return PassTooFastFindings(count=len(found), items=items)


def _pass_moves(session: Session, q: Query) -> Sequence[Any]:
    """Each accepted pass use at another station than the same pass's use before it (from an hour before
    the range, so a move into it is seen), with the station and time it came from."""
    t, n = SCANS, USE_TABLE
    # A move into the range is noted at the time of its later use, which is in the range.
    noted = sa.select(n.c.credential).where(
        n.c.kind == PASS_TOO_FAST,
        n.c.at >= q.since if q.since else sa.true(),
        n.c.at < q.until if q.until else sa.true(),
    )
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
            t.c.credential.in_(noted),
            t.c.problem.is_(None),
            t.c.at >= q.since - timedelta(hours=1) if q.since else sa.true(),
            t.c.at < q.until if q.until else sa.true(),
        )
        .subquery()
    )
    return session.execute(
        sa.select(seen).where(seen.c.prev_station.is_not(None), seen.c.station != seen.c.prev_station)
    ).all()
