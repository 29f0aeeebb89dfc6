"""Ingest on PostgreSQL: a whole batch as one set-based statement per step, over `unnest` of column arrays.

The events go in as one INSERT ... SELECT FROM unnest (ON CONFLICT DO NOTHING on (gate_id, seq, at): a unique
key on the partitioned table must hold the partition key), the hour counts as one upsert, and the uses pair
into trips with `_PAIR_SQL`: one statement per round that probes each use's match by index, updates the
matched trips, inserts the rest, sets tickets.first_used_at (finding a pass's ticket itself), and keeps the
trip counts and noted trips by what it wrote. After the rounds one more statement keeps the pass moves
(`_MOVES_SQL`). No trip row travels to Python and back; the rounds return only the double-use candidates.

A round holds at most one use per credential, so its uses are independent and the statement's single
snapshot gives the same answer as pairing them one by one (`rules.pair`); a credential's next use (a gate's
batch may hold a pass holder's morning entry and evening exit) goes in the next round, which sees what this
one wrote. Most uses pair in the first round; a pass used twice in a batch needs a second (bench_audit's
batches take about two). The conformance test holds this to `rules.pair`.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from fare_rules import FareRulesError
from fare_rules.network import Network
from ticketing.ingest.candidates import NOTED_COLUMNS, trip_kind_sql
from ticketing.ingest.pg_arrays import ColumnArrays, naive_utc
from ticketing.ingest.rules import PAIRING_WINDOW, DoubleUseRule, FirstUses, fare_of, flag_set
from ticketing.ingest.scan_counts import COUNT_KEY, CountKey
from ticketing.ingest.trip_changes import COLUMNS, NEIGHBOUR_LOOKBACK
from ticketing.models import ScanEvent, TicketStatus, table_of

__all__ = ["SCAN_COLUMNS", "PostgresIngest"]

SCAN_COLUMNS = tuple(c.name for c in table_of(ScanEvent).columns if c.name != "id")
# What differs from row to row; gate_id, received_at and clock_offset_s are the same for the whole batch.
_EVENT_ARRAYS = tuple(c for c in SCAN_COLUMNS if c not in ("gate_id", "received_at", "clock_offset_s"))
_EVENT_TYPES = {"seq": "bigint", "at": "timestamp", "owed_vnd": "integer", "ticket_serial": "bigint"}
_EVENT_TYPES["feed_seq"] = "bigint"
_COUNT_TYPES = ("timestamp", "text", "text", "text", "text", "text", "boolean")


class PostgresIngest:
    """The ingest adapter for PostgreSQL (ticketing.ingest.adapter.IngestEngine)."""

    name = "postgresql"

    def insert_events(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> set[int]:
        arrays = ColumnArrays()
        sources = [arrays.add(c, _EVENT_TYPES.get(c, "text"), [r[c] for r in rows]) for c in _EVENT_ARRAYS]
        params = arrays.params
        params["gate_id"], params["received_at"] = rows[0]["gate_id"], naive_utc(rows[0]["received_at"])
        params["clock_offset_s"] = rows[0]["clock_offset_s"]
        constant = "%(gate_id)s, %(received_at)s, %(clock_offset_s)s::integer"
        statement = (
            f"INSERT INTO scan_events (gate_id, received_at, clock_offset_s, {', '.join(_EVENT_ARRAYS)})"  # noqa: S608
            f" SELECT {constant}, * FROM unnest({', '.join(sources)})"
            " ON CONFLICT (gate_id, seq, at) DO NOTHING RETURNING seq"
        )
        return set(connection.exec_driver_sql(statement, params).scalars())

    def add_scan_counts(self, connection: Connection, counts: Sequence[tuple[CountKey, int]]) -> None:
        arrays = ColumnArrays()
        sources = [
            arrays.add(name, kind, [k[i] for k, _ in counts])
            for i, (name, kind) in enumerate(zip(COUNT_KEY, _COUNT_TYPES, strict=True))
        ]
        sources.append(arrays.add("n", "bigint", [n for _, n in counts]))
        columns = ", ".join((*COUNT_KEY, "n"))
        connection.exec_driver_sql(
            f"INSERT INTO scan_counts ({columns}) SELECT * FROM unnest({', '.join(sources)})"  # noqa: S608 (our names)
            f" ON CONFLICT ({', '.join(COUNT_KEY)}) DO UPDATE SET n = scan_counts.n + excluded.n",
            arrays.params,
        )

    def record_uses(
        self,
        connection: Connection,
        rows: Sequence[Mapping[str, Any]],
        events: Sequence[Mapping[str, Any]],
        first_uses: FirstUses,
        *,
        rule: DoubleUseRule,
        now: datetime,
    ) -> set[int]:
        # Round k pairs each credential's k-th use in time order (module doc).
        order = sorted(range(len(rows)), key=lambda i: (rows[i]["at"], rows[i]["gate_id"], rows[i]["seq"]))
        seen: dict[str, int] = {}
        rounds: list[list[int]] = []
        for i in order:
            k = seen.get(rows[i]["credential"], 0)
            seen[rows[i]["credential"]] = k + 1
            if k == len(rounds):
                rounds.append([])
            rounds[k].append(i)
        doubled: set[int] = set()
        for k, part in enumerate(rounds):
            picked, fares = [rows[i] for i in part], [events[i] for i in part]
            first = first_uses if k == 0 else _NO_FIRST_USES
            doubled.update(_pair(connection, picked, fares, first, open_entry=rule.open_entry, now=now))
        _keep_pass_moves(connection, rows, rule)
        return doubled


_NO_FIRST_USES = FirstUses({}, {})


# The rules of rules.exit_match, rules.entry_match and rules.is_double_use_candidate, per use, by index
# probes on (credential, started_at) (a trip's started_at is its entry time, or an orphan's exit time):
# - exit: the latest trip entered at or before it within PAIRING_WINDOW; matched if that trip has no exit,
#   else a repeated exit if within open_entry of that trip's entry;
# - entry: the first trip from its time on within PAIRING_WINDOW that is an orphan exit or was entered
#   strictly later (orphans first at equal times); matched if it is the orphan (no entry came between);
# - entry of a ticket: a double-use candidate if a trip of it was entered at another gate within open_entry.
# Flags are merged as sorted sets (COLLATE "C": code point order, as Python sorts), cut at 200 characters.
# The `= ANY(...)` beside each join makes the plan an index probe per row whatever the statistics say (a
# table not yet analysed was read whole for a hash join).
# The first round also sets tickets' first uses (rules.FirstUses, a card's pass found by its ticket) and
# withdraws those tickets' refunds still in their hold (services.tickets.withdraw_held_refunds).
# Then the counts and noted trips, as rollups.counted and candidates.trip_kind define them: `changes` counts
# each trip written (+1) and each updated trip as it was (`o_` columns: -1); a ticket's fare is ridden on its
# first entered trip only (`firsts` before the round, `first_after` after it), and a first trip a late entry
# displaced, unchanged itself, stops counting it as ridden. All CTEs read the trips as the round began.
_PAIR_SQL = """
WITH u AS (
  SELECT * FROM unnest({uses})
    AS u(credential, gate, seq, station, at, direction, product, serial, pass_id, fare, owed, flags)
), m AS (
  SELECT u.*,
    CASE WHEN u.direction = 'exit' THEN CASE WHEN x.exit_at IS NULL THEN x.id END
         WHEN o.entry_at IS NULL THEN o.id END AS trip_id,
    (u.direction = 'exit' AND x.exit_at IS NOT NULL AND u.at - x.entry_at <= %(open)s::interval) AS repeated,
    d.doubled
  FROM u
  LEFT JOIN LATERAL (
    SELECT t.id, t.entry_at, t.exit_at FROM trips t
    WHERE u.direction = 'exit' AND t.credential = u.credential AND t.entry_at IS NOT NULL
      AND t.started_at >= u.at - %(window)s::interval AND t.started_at <= u.at
    ORDER BY t.started_at DESC, t.id DESC LIMIT 1
  ) x ON true
  LEFT JOIN LATERAL (
    SELECT t.id, t.entry_at FROM trips t
    WHERE u.direction = 'entry' AND t.credential = u.credential
      AND t.started_at >= u.at AND t.started_at <= u.at + %(window)s::interval
      AND (t.entry_at IS NULL OR t.started_at > u.at) AND t.status <> 'repeated_exit'
    ORDER BY t.started_at, t.entry_at IS NULL DESC, t.id LIMIT 1
  ) o ON true
  LEFT JOIN LATERAL (
    SELECT true AS doubled FROM trips t
    WHERE u.direction = 'entry' AND u.serial IS NOT NULL AND u.credential LIKE 't:%%'
      AND t.credential = u.credential AND t.entry_gate IS NOT NULL AND t.entry_gate <> u.gate
      AND t.started_at >= u.at - %(open)s::interval AND t.started_at <= u.at + %(open)s::interval
    LIMIT 1
  ) d ON true
), matched AS (
  UPDATE trips t SET
    entry_gate = CASE WHEN m.direction = 'entry' THEN m.gate ELSE t.entry_gate END,
    entry_seq = CASE WHEN m.direction = 'entry' THEN m.seq ELSE t.entry_seq END,
    entry_station = CASE WHEN m.direction = 'entry' THEN m.station ELSE t.entry_station END,
    entry_at = CASE WHEN m.direction = 'entry' THEN m.at ELSE t.entry_at END,
    exit_gate = CASE WHEN m.direction = 'exit' THEN m.gate ELSE t.exit_gate END,
    exit_seq = CASE WHEN m.direction = 'exit' THEN m.seq ELSE t.exit_seq END,
    exit_station = CASE WHEN m.direction = 'exit' THEN m.station ELSE t.exit_station END,
    exit_at = CASE WHEN m.direction = 'exit' THEN m.at ELSE t.exit_at END,
    started_at = CASE WHEN m.direction = 'entry' THEN m.at ELSE t.started_at END,
    duration_s = trunc(extract(epoch FROM
      CASE WHEN m.direction = 'exit' THEN m.at - t.entry_at ELSE t.exit_at - m.at END))::integer,
    status = 'complete',
    product = COALESCE(NULLIF(t.product, ''), m.product),
    ticket_serial = COALESCE(NULLIF(t.ticket_serial, 0), m.serial),
    pass_id = COALESCE(NULLIF(t.pass_id, ''), m.pass_id),
    fare_vnd = GREATEST(t.fare_vnd, m.fare),
    owed_vnd = t.owed_vnd + m.owed,
    flags = CASE WHEN m.flags = '' THEN t.flags ELSE left(array_to_string(ARRAY(
      SELECT DISTINCT f COLLATE "C" FROM unnest(string_to_array(t.flags || ',' || m.flags, ',')) AS f
      WHERE f <> '' ORDER BY 1), ','), 200) END
  FROM m JOIN trips o ON o.id = m.trip_id
  WHERE t.id = m.trip_id AND t.id = ANY(ARRAY(SELECT trip_id FROM m WHERE trip_id IS NOT NULL))
  RETURNING {new_columns}, {old_columns}
), fresh AS (
  INSERT INTO trips (credential, status, started_at, product, ticket_serial, pass_id, entry_gate,
    entry_seq, entry_station, entry_at, exit_gate, exit_seq, exit_station, exit_at, duration_s, fare_vnd,
    owed_vnd, flags)
  SELECT credential,
    CASE WHEN direction = 'entry' THEN 'open' WHEN repeated THEN 'repeated_exit' ELSE 'orphan_exit' END,
    at, product, serial, pass_id,
    CASE WHEN direction = 'entry' THEN gate END, CASE WHEN direction = 'entry' THEN seq END,
    CASE WHEN direction = 'entry' THEN station END, CASE WHEN direction = 'entry' THEN at END,
    CASE WHEN direction = 'exit' THEN gate END, CASE WHEN direction = 'exit' THEN seq END,
    CASE WHEN direction = 'exit' THEN station END, CASE WHEN direction = 'exit' THEN at END,
    NULL, fare, owed, flags
  FROM m WHERE trip_id IS NULL
  RETURNING {columns}
), first_serials AS (
  SELECT serial, min(at) AS at FROM (
    SELECT * FROM unnest({first_serial}, {first_serial_at}) AS f(serial, at)
    UNION ALL
    SELECT k.serial, f.at FROM unnest({first_pass}, {first_pass_at}) AS f(pass_id, at)
      JOIN passes p ON p.id = f.pass_id AND p.id = ANY({first_pass}) JOIN tickets k ON k.id = p.ticket_id
  ) a GROUP BY serial
), first_use AS (
  UPDATE tickets SET first_used_at = LEAST(tickets.first_used_at, f.at),
    status = CASE WHEN {held} THEN '{revoked}' ELSE tickets.status END,
    refund_withdrawn_at = CASE WHEN {held} THEN %(now)s ELSE tickets.refund_withdrawn_at END
  FROM first_serials f
  WHERE tickets.serial = f.serial AND tickets.serial = ANY(ARRAY(SELECT serial FROM first_serials))
    AND (tickets.first_used_at IS NULL OR tickets.first_used_at > f.at OR {held})
), written AS (
  SELECT {columns} FROM matched UNION ALL SELECT {columns} FROM fresh
), firsts AS (
  SELECT f.* FROM (SELECT DISTINCT credential FROM u WHERE credential LIKE 't:%%') c CROSS JOIN LATERAL (
    SELECT {columns} FROM trips
    WHERE trips.credential = c.credential AND entry_station IS NOT NULL ORDER BY started_at, id LIMIT 1
  ) f
), first_after AS (
  SELECT DISTINCT ON (credential) credential, id FROM (
    SELECT credential, started_at, id FROM firsts
    UNION ALL SELECT credential, started_at, id FROM written WHERE entry_station IS NOT NULL
  ) e ORDER BY credential, started_at, id
), changes AS (
  SELECT w.started_at, w.product, w.entry_station, w.exit_station, w.status, 1 AS n, w.fare_vnd,
    CASE WHEN w.ticket_serial IS NULL OR w.id = a.id THEN w.fare_vnd ELSE 0 END AS ridden_vnd, w.owed_vnd,
    COALESCE(w.duration_s, 0) AS duration_s
  FROM written w LEFT JOIN first_after a ON a.credential = w.credential WHERE w.entry_station IS NOT NULL
  UNION ALL
  SELECT o.o_started_at, o.o_product, o.o_entry_station, o.o_exit_station, o.o_status, -1, -o.o_fare_vnd,
    CASE WHEN o.o_ticket_serial IS NULL OR o.o_id = f.id THEN -o.o_fare_vnd ELSE 0 END, -o.o_owed_vnd,
    -COALESCE(o.o_duration_s, 0)
  FROM matched o LEFT JOIN firsts f ON f.credential = o.o_credential WHERE o.o_entry_station IS NOT NULL
  UNION ALL
  SELECT f.started_at, f.product, f.entry_station, f.exit_station, f.status, 0, 0, -f.fare_vnd, 0, 0
  FROM firsts f JOIN first_after a ON a.credential = f.credential
  WHERE a.id <> f.id AND f.ticket_serial IS NOT NULL AND f.id <> ALL(ARRAY(SELECT o_id FROM matched))
), counts AS (
  INSERT INTO trip_counts (hour, product, origin, destination, complete, n, fare_vnd, ridden_vnd, owed_vnd,
    duration_s)
  SELECT date_trunc('hour', started_at), COALESCE(product, ''), entry_station,
    CASE WHEN status = 'complete' THEN COALESCE(exit_station, '') ELSE '' END, status = 'complete',
    sum(n), sum(fare_vnd), sum(ridden_vnd), sum(owed_vnd), sum(duration_s)
  FROM changes GROUP BY 1, 2, 3, 4, 5
  HAVING sum(n) <> 0 OR sum(fare_vnd) <> 0 OR sum(ridden_vnd) <> 0 OR sum(owed_vnd) <> 0
    OR sum(duration_s) <> 0
  ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (hour, product, origin, destination, complete) DO UPDATE SET
    n = trip_counts.n + excluded.n, fare_vnd = trip_counts.fare_vnd + excluded.fare_vnd,
    ridden_vnd = trip_counts.ridden_vnd + excluded.ridden_vnd,
    owed_vnd = trip_counts.owed_vnd + excluded.owed_vnd,
    duration_s = trip_counts.duration_s + excluded.duration_s
), unnoted AS (
  DELETE FROM trip_anomalies WHERE trip_id = ANY(ARRAY(
    SELECT o_id FROM matched WHERE {old_kind} IS NOT NULL AND {new_kind} IS NULL))
), noted AS (
  INSERT INTO trip_anomalies (trip_id, kind, {noted})
  SELECT id, kind, {noted} FROM (SELECT id, {new_kind} AS kind, {noted} FROM written) k WHERE kind IS NOT NULL
  ON CONFLICT (trip_id) DO UPDATE SET {noted_update}
)
SELECT serial FROM m WHERE doubled
"""


def _pair(
    connection: Connection,
    rows: Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any]],
    first_uses: FirstUses,
    *,
    open_entry: timedelta,
    now: datetime,
) -> list[int]:
    """One round: the serials of its double-use candidates."""
    arrays = ColumnArrays()
    columns = {name: [r[column] for r in rows] for name, column in _PAIR_COLUMNS.items()}
    columns["fare"] = [fare_of(r["product"], e) for r, e in zip(rows, events, strict=True)]
    columns["flags"] = [flag_set(f) for f in columns["flags"]]
    uses = ", ".join(arrays.add(name, _PAIR_TYPES.get(name, "text"), columns[name]) for name in _PAIR_ORDER)
    by_serial, by_pass = first_uses.by_serial, first_uses.by_pass
    firsts = {
        "first_serial": arrays.add("first_serial", "bigint", list(by_serial)),
        "first_serial_at": arrays.add("first_serial_at", "timestamp", list(by_serial.values())),
        "first_pass": arrays.add("first_pass", "text", list(by_pass)),
        "first_pass_at": arrays.add("first_pass_at", "timestamp", list(by_pass.values())),
    }
    params = arrays.params
    params["window"], params["open"], params["now"] = PAIRING_WINDOW, open_entry, naive_utc(now)
    statement = _PAIR_STATEMENT.format(uses=uses, **firsts)
    return list(connection.exec_driver_sql(statement, params).scalars())


_FIRST_ARRAYS = ("first_serial", "first_serial_at", "first_pass", "first_pass_at")  # FirstUses, in _pair
# _PAIR_SQL with the trip columns and the ticket statuses written in; the arrays' SQL is filled in per round.
_PAIR_STATEMENT = _PAIR_SQL.format(
    columns=", ".join(COLUMNS),
    new_columns=", ".join(f"t.{c}" for c in COLUMNS),
    old_columns=", ".join(f"o.{c} AS o_{c}" for c in COLUMNS),
    new_kind=trip_kind_sql(""), old_kind=trip_kind_sql("o_"),
    noted=", ".join(NOTED_COLUMNS),
    noted_update=", ".join(f"{c} = excluded.{c}" for c in ("kind", *NOTED_COLUMNS)),
    held=f"(tickets.status = '{TicketStatus.REFUNDED.value}' AND tickets.refund_final_at > %(now)s)",
    revoked=TicketStatus.REVOKED.value,
    **{name: f"{{{name}}}" for name in ("uses", *_FIRST_ARRAYS)},
)  # fmt: skip

# candidates.keep_pass_moves in one statement, after the rounds, pass by pass: its uses (its trips' entries
# and exits) from NEIGHBOUR_LOOKBACK before its first use paired to NEIGHBOUR_LOOKBACK after its last, each
# with the one before it in the pass query's order; those at another station sooner than hops x per_hop
# (candidates.too_fast, the hops from the network as a table) replace the rows from its first use paired on.
# The INSERT reads the DELETE's count, so that the rows it replaces are gone before it inserts.
_MOVES_SQL = """
WITH p AS (
  SELECT * FROM unnest({passes}, {since}, {until}) AS p(credential, since, until)
), uses AS (
  SELECT p.credential, p.since, p.until, s.station, s.gate, s.seq, s.at
  FROM p CROSS JOIN LATERAL (
    SELECT * FROM trips t WHERE t.credential = p.credential
      AND t.started_at BETWEEN p.since - %(reach)s::interval AND p.until OFFSET 0
  ) t CROSS JOIN LATERAL (VALUES (t.entry_station, t.entry_gate, t.entry_seq, t.entry_at),
    (t.exit_station, t.exit_gate, t.exit_seq, t.exit_at)) AS s(station, gate, seq, at)
  WHERE s.at BETWEEN p.since - %(lookback)s::interval AND p.until
), ordered AS (
  SELECT *, lag(station) OVER w AS previous_station, lag(at) OVER w AS previous_at FROM uses
  WINDOW w AS (PARTITION BY credential ORDER BY at, gate COLLATE "C", seq)
), gone AS (
  DELETE FROM pass_moves m USING p
  WHERE m.credential = p.credential AND m.credential = ANY({passes}) AND m.at BETWEEN p.since AND p.until
  RETURNING 1
)
INSERT INTO pass_moves (credential, at, gate_id, seq, station, previous_station, previous_at, at_least_s)
SELECT o.credential, o.at, o.gate, o.seq, o.station, o.previous_station, o.previous_at,
  trunc(extract(epoch FROM h.hops * %(per_hop)s::interval))::integer
FROM ordered o JOIN unnest({hop_from}, {hop_to}, {hops}) AS h(origin, destination, hops)
  ON h.origin = o.previous_station AND h.destination = o.station
WHERE o.at BETWEEN o.since AND o.until AND o.station <> o.previous_station
  AND o.at - o.previous_at < h.hops * %(per_hop)s::interval
  AND (SELECT count(*) FROM gone) >= 0
"""


def _keep_pass_moves(connection: Connection, rows: Sequence[Mapping[str, Any]], rule: DoubleUseRule) -> None:
    """Make the pass moves of the passes used in `rows` again, from each one's first use there."""
    spans: dict[str, tuple[datetime, datetime]] = {}
    for r in rows:
        if r["credential"].startswith("p:") and r["at"] is not None:
            first, last = spans.get(r["credential"], (r["at"], r["at"]))
            spans[r["credential"]] = (min(first, r["at"]), max(last, r["at"]))
    if not spans:
        return
    arrays = ColumnArrays()
    origins, destinations, hops = _hops(rule.network)
    sql = {
        "passes": arrays.add("passes", "text", list(spans)),
        "since": arrays.add("since", "timestamp", [first for first, _ in spans.values()]),
        "until": arrays.add("until", "timestamp", [last + NEIGHBOUR_LOOKBACK for _, last in spans.values()]),
        "hop_from": arrays.add("hop_from", "text", origins),
        "hop_to": arrays.add("hop_to", "text", destinations),
        "hops": arrays.add("hops", "integer", hops),
    }
    params = arrays.params
    params["lookback"], params["per_hop"] = NEIGHBOUR_LOOKBACK, rule.per_hop
    # The trips whose entry or exit can lie in a span: a trip's exit is within PAIRING_WINDOW of its start.
    params["reach"] = NEIGHBOUR_LOOKBACK + PAIRING_WINDOW
    # Planned at each call, not prepared: psycopg prepares a statement run five times, and PostgreSQL keeps
    # the plan it then makes for a small trips table (a scan that grows with the table) until it analyses.
    driver: Any = connection.connection.driver_connection
    driver.execute(_MOVES_SQL.format(**sql), params, prepare=False)


@functools.lru_cache(maxsize=4)
def _hops(network: Network) -> tuple[list[str], list[str], list[int]]:
    """Every ordered pair of the network's stations that hops apply to, and the hops between them."""
    origins, destinations, hops = [], [], []
    codes = [s.code for s in network.stations]
    for origin, destination in itertools.product(codes, codes):
        try:
            between = network.hops(origin, destination)
        except FareRulesError:
            continue
        origins.append(origin)
        destinations.append(destination)
        hops.append(between)
    return origins, destinations, hops


# _PAIR_SQL's arrays in the order of its `u` columns, their types, and the scan_events column of each.
_PAIR_ORDER = [
    "credential",
    "gate",
    "seq",
    "station",
    "at",
    "direction",
    "product",
    "serial",
    "pass_id",
    "fare",
    "owed",
    "flags",
]
_PAIR_TYPES = {"seq": "bigint", "at": "timestamp", "serial": "bigint", "fare": "integer", "owed": "integer"}
_PAIR_COLUMNS = {
    "credential": "credential", "gate": "gate_id", "seq": "seq", "station": "station", "at": "at",
    "direction": "direction", "product": "product", "serial": "ticket_serial", "pass_id": "pass_id",
    "owed": "owed_vnd", "flags": "flags",
}  # fmt: skip
