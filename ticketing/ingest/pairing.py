"""The second transaction of a journal upload (ticketing.ingest.pipeline): pair the uses stored into trips,
set tickets' first uses, keep the trip counts (`rollups`) and the anomaly candidates (`candidates`), revoke
double uses.

Pairing is serial: two uploads pairing one credential at once would each miss the other's use. Uses are
paired in feed order, under the `paired` counter row: its value is the last feed_seq paired. An upload
pairs whatever was stored before its own uses and is not paired yet (another upload still pairing its own,
or one interrupted between its two transactions: a crash, a lost connection), then its own. So every
stored use is paired exactly once, in the order it was stored, whoever pairs it, and an upload's trips are
there when its answer is sent. Leftovers with no further upload stay unpaired until the next upload from
any gate.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from ticketing.ingest import candidates as anomaly_candidates
from ticketing.ingest import double_use
from ticketing.ingest.adapter import adapter_for
from ticketing.ingest.rules import DoubleUseRule, first_uses
from ticketing.models import ChangeCounter, ScanEvent, table_of

__all__ = ["PAIRED", "pair_stored_uses"]

PAIRED = "paired"  # change_counters row: the last feed_seq whose use is paired
_COUNTERS: sa.Table = table_of(ChangeCounter)
_SCANS: sa.Table = table_of(ScanEvent)
# What pairing and double-use detection read of a stored use.
_USE_COLUMNS = (
    "gate_id", "seq", "station", "at", "direction", "verdict", "credential", "ticket_serial", "product",
    "pass_id", "owed_vnd", "flags", "feed_seq", "problem", "event",
)  # fmt: skip


def pair_stored_uses(
    session: Session,
    own: Sequence[Mapping[str, Any]],
    own_events: Sequence[Mapping[str, Any]],
    now: datetime,
    rule: DoubleUseRule,
) -> None:
    """Pair everything stored and not yet paired up to this upload's uses `own` (scan_events rows with
    their feed_seq, committed; `own_events` their journal events), in feed order. The caller commits."""
    counters = _COUNTERS.c
    paired = (
        session.connection()
        .execute(sa.select(counters.value).where(counters.name == PAIRED).with_for_update())
        .scalar_one_or_none()
    )
    if paired is None:
        raise RuntimeError("change counter 'paired' is missing: run the migrations")
    mine = [(r, e) for r, e in zip(own, own_events, strict=True) if r["feed_seq"] > paired]
    # Everything below this upload's first use is committed (feed_seqs are reserved in commit order); with
    # no use of its own, everything the committed `events` counter has handed out.
    last = mine[0][0]["feed_seq"] - 1 if mine else _stored_up_to(session)
    earlier = _stored_uses(session, paired, last) if last > paired else []
    uses = [*earlier, *mine]
    if not uses:
        return
    rows = [r for r, _ in uses]
    events = [e for _, e in uses]
    connection = session.connection()
    candidates = adapter_for(connection).record_uses(
        connection, rows, events, first_uses(rows), rule=rule, now=now
    )
    entered_twice = double_use.entered_twice_among(session, rows, rule, candidates=candidates)
    anomaly_candidates.note_double_uses(connection, rows, entered_twice)
    double_use.revoke_double_uses(session, entered_twice, now)
    session.connection().execute(
        sa.update(_COUNTERS).where(counters.name == PAIRED).values(value=rows[-1]["feed_seq"])
    )


def _stored_up_to(session: Session) -> int:
    counters = _COUNTERS.c
    query = sa.select(counters.value).where(counters.name == "events")
    return int(session.connection().execute(query).scalar_one_or_none() or 0)


def _stored_uses(session: Session, after: int, last: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The uses with feed_seq in (after, last], in feed order, each with its journal event."""
    t = _SCANS.c
    query = (
        sa.select(*(t[c] for c in _USE_COLUMNS))
        .where(t.feed_seq > after, t.feed_seq <= last)
        .order_by(t.feed_seq)
    )
    found = []
    for row in session.connection().execute(query).mappings():
        use = dict(row)
        found.append((use, json.loads(use.pop("event"))))
    return found
