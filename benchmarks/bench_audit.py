"""Audits over a synthetic month of Line 1: ingest through the real path, then the auditors' queries.

A fresh PostgreSQL database (dropped at the end unless --keep) is migrated; 14 stations x 4 gates are
enrolled with their own device keys; orders, tickets and CCCD-linked passes are loaded; then a month of scan
events (10 million by default; `--events N`) is generated day by day — morning and evening peaks, an OD mix
weighted to the big stations, ~4% refusals, and anomalies: single tickets used twice at two stations,
overstays, exits whose entry never arrived, passes at two far stations minutes apart, a gate journal gap.
Each gate's events are chained and signed in batches of 500 (as gates do) and handed to
`ticketing.ingest.pipeline.ingest_batch`, the function behind `POST /v1/gate/journal`. Printed: ingest
events/s next to a raw COPY of the same rows into a table with the same indexes (the baseline), then p50/p95
of each query kind through the same service functions the API calls, against the 100 ms target.

Run: `.venv/bin/python benchmarks/bench_audit.py [--events N] [--queries Q] [--keep]`
(`--events 200000` takes a couple of minutes on 2 cores). `--database NAME [--query TEXT]` runs only the
queries (those whose name holds TEXT) on a database an earlier `--keep` run left, with the same `--events`.
"""

from __future__ import annotations

import argparse
import gc
import io
import multiprocessing
import os
import random
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg import sql
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._support import pct
from fare_rules.cccd import holder_hash, mask
from fare_rules.policy import DEFAULT_POLICY
from ticketing.audit import reports
from ticketing.audit.anomalies import find_anomalies
from ticketing.audit.query import ANOMALY_FILTERS, REPORT_FILTERS, SCAN_FILTERS, TRIP_FILTERS, parse_query
from ticketing.audit.scans import scans_csv, scans_page
from ticketing.audit.trips import trips_page
from ticketing.catalog import load_catalog
from ticketing.db import make_engine, migrate
from ticketing.errors import JournalGapFound
from ticketing.ingest.pg_arrays import naive_utc
from ticketing.ingest.pipeline import ingest_batch
from ticketing.ingest.postgres import SCAN_COLUMNS
from ticketing.ingest.rows import row_for
from ticketing.ingest.rules import DoubleUseRule
from ticketing.models import Gate
from validator.device import public_key_text
from validator.journal import GENESIS_HASH, ChainedEvent, build_batch, chain_next
from validator.wire import iso

__all__ = ["main"]

PG_ADMIN_DSN = os.environ.get("METRO_BENCH_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
CCCD_KEY = b"bench-cccd-key-0123456789abcdef"
HCMC = DEFAULT_POLICY.utc_offset_hours  # the bundled policy's local time, as the service reads it
TARGET_EVENTS_PER_S = 20_000
TARGET_P95_MS = 100.0
BATCH = 500
NULL = "\\N"  # COPY's text format
GATES_PER_STATION = 4
DAYS = 30
TZ = timedelta(hours=7)
MONTH_START = datetime(2025, 3, 1, tzinfo=UTC) - TZ  # 1 March 2025, 00:00 in Ho Chi Minh City
CATALOG = load_catalog()
STATIONS = [s.code for s in CATALOG.network.stations]
# Riders per station: the terminals, Bến Thành, Thủ Đức and the university draw the crowds.
WEIGHTS = [10, 3, 3, 3, 2, 5, 3, 3, 3, 2, 6, 4, 6, 8]
DENIALS = ["not_our_code", "expired", "already_used", "fare_exceeded", "already_inside", "reentry_too_soon"]


# --- the synthetic month ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Holder:
    pass_id: str
    ticket_id: str
    serial: int
    cccd: str
    hash_hex: str
    product: str


@dataclass
class World:
    rng: random.Random
    holders: list[Holder]
    singles: list[tuple[int, str, str, str, int]]  # serial, ticket id, origin, destination, fare
    next_serial: int = 10**12

    def new_single(self, origin: str, destination: str) -> tuple[int, int]:
        serial = self.next_serial
        self.next_serial += 1
        fare = CATALOG.tariff.single_fare(origin, destination)
        self.singles.append((serial, uuid.uuid4().hex, origin, destination, fare))
        return serial, fare


def _cccd(rng: random.Random) -> str:
    return f"0792{rng.randint(0, 5):02d}{rng.randint(0, 999_999):06d}"  # HCMC, male, born 2000-2005


def make_world(trips: int, seed: int) -> World:
    rng = random.Random(seed)
    holders = []
    for _ in range(max(20, trips // 40)):  # a monthly rider makes ~40 trips a month
        number = _cccd(rng)
        product = "monthly_student" if rng.random() < 0.3 else "monthly"
        pid, tid = uuid.uuid4().hex, uuid.uuid4().hex
        holders.append(Holder(pid, tid, 0, number, holder_hash(number, CCCD_KEY).hex(), product))
    world = World(rng, [], [])
    world.holders = [
        Holder(h.pass_id, h.ticket_id, world.next_serial + i, h.cccd, h.hash_hex, h.product)
        for i, h in enumerate(holders)
    ]
    world.next_serial += len(holders)
    return world


def _time_of_day(rng: random.Random) -> float:
    """Hours after midnight, local: a morning and an evening peak over a flat day, 05:00-22:00."""
    r = rng.random()
    hour = rng.gauss(7.5, 0.8) if r < 0.35 else rng.gauss(17.5, 1.0) if r < 0.7 else rng.uniform(5, 22)
    return min(max(hour, 5.0), 21.9)


def _event(gate: str, station: str, at: datetime, direction: str, **fields: Any) -> dict[str, Any]:
    event = {
        "v": 1,
        "gate": gate,
        "seq": 0,
        "station": station,
        "direction": direction,
        "at": iso(at),
        "input": fields.pop("input", "ticket"),
        "verdict": fields.pop("verdict", "accept"),
        "reason": fields.pop("reason", None),
        "owed_vnd": 0,
        "flags": fields.pop("flags", []),
        "credential": fields.pop("credential", None),
        "holder_hash": fields.pop("holder_hash", None),
    }
    event.update(fields)
    return event


def _single_body(serial: int, origin: str, destination: str, fare: int, at: datetime) -> dict[str, Any]:
    return {
        "serial": str(serial),
        "product": "single",
        "origin": origin,
        "destination": destination,
        "valid_from": iso(at - timedelta(hours=2)),
        "valid_until": iso(at + timedelta(days=29)),
        "fare_vnd": fare,
        "key_id": 1,
        "verified": True,
    }


def _pass_body(h: Holder) -> dict[str, Any]:
    return {
        "pass_id": h.pass_id,
        "product": h.product,
        "cccd": mask(h.cccd),
        "initials": "N.T.M",
        "birth_year": 2003,
        "valid_from": iso(MONTH_START),
        "valid_until": iso(MONTH_START + timedelta(days=31)),
        "status": "active",
    }


def _gate(rng: random.Random, station: str) -> str:
    return f"{station}-G{rng.randint(1, GATES_PER_STATION)}"


def day_events(world: World, day: int, count: int) -> list[dict[str, Any]]:
    """About `count` events of one day (trips are two events each, plus refusals and anomalies)."""
    rng, out = world.rng, list[dict[str, Any]]()
    start = MONTH_START + timedelta(days=day)
    while len(out) < count:
        origin, destination = rng.choices(STATIONS, WEIGHTS, k=2)
        if origin == destination:
            continue
        entry_at = start + timedelta(hours=_time_of_day(rng), seconds=rng.random())
        hops = CATALOG.network.hops(origin, destination)
        exit_at = entry_at + timedelta(minutes=hops * 2.4 + rng.uniform(3, 12))
        entry_flags: list[str] = []
        exit_flags: list[str] = []
        if rng.random() < 0.62:
            serial, fare = world.new_single(origin, destination)
            ticket = _single_body(serial, origin, destination, fare, entry_at)
            cred: dict[str, Any] = {"credential": f"t:{serial}", "ticket": ticket, "product": None}
            if rng.random() < 0.002:  # overstay, let out by a gate that never saw the entry
                exit_at = entry_at + timedelta(minutes=rng.uniform(125, 200))
                exit_flags = ["entry_unseen"]
            if rng.random() < 0.002:  # the same ticket entered again elsewhere while the gates were offline
                other = rng.choice([s for s in STATIONS if s != origin])
                again = entry_at + timedelta(minutes=rng.uniform(5, 40))
                out.append(_event(_gate(rng, other), other, again, "entry", **_clean(cred)))
        else:
            h = rng.choice(world.holders)
            cred = {"credential": f"p:{h.pass_id}", "input": "cccd", "holder_hash": h.hash_hex}
            cred["pass"] = _pass_body(h)
            if rng.random() < 0.004:  # the card shared: seen at a far station minutes later
                far = STATIONS[-1] if STATIONS.index(origin) < 7 else STATIONS[0]
                out.append(
                    _event(_gate(rng, far), far, entry_at + timedelta(minutes=3), "entry", **_clean(cred))
                )
        if rng.random() < 0.003:  # the entry gate's journal never arrives for this one
            exit_flags = ["entry_unseen"]
        else:
            out.append(
                _event(_gate(rng, origin), origin, entry_at, "entry", flags=entry_flags, **_clean(cred))
            )
        out.append(
            _event(_gate(rng, destination), destination, exit_at, "exit", flags=exit_flags, **_clean(cred))
        )
        if rng.random() < 0.08:  # refusals: ~4% of all scans
            station = rng.choice(STATIONS)
            reason = rng.choice(DENIALS)
            fields = {} if reason == "not_our_code" else _clean(cred)
            fields["input"] = "other" if reason == "not_our_code" else fields.get("input", "ticket")
            direction = "exit" if reason == "fare_exceeded" else "entry"
            denied_at = entry_at + timedelta(seconds=rng.uniform(-600, 600))
            out.append(
                _event(
                    _gate(rng, station),
                    station,
                    denied_at,
                    direction,
                    verdict="deny",
                    reason=reason,
                    **fields,
                )
            )
    return out


def _clean(cred: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cred.items() if v is not None}


# --- gates, chains, batches ----------------------------------------------------------------------------


@dataclass
class GateState:
    gate_id: str
    key: Ed25519PrivateKey
    seq: int = 0
    prev: str = GENESIS_HASH


def chain(gate: GateState, events: list[dict[str, Any]], skip: int = 0) -> list[ChainedEvent]:
    """Number and chain a gate's events; `skip` leaves a hole (events the gate lost) before them."""
    if skip:
        gate.seq += skip
        gate.prev = "ee" * 32  # what the lost events chained to: unknowable to the server
    chained = []
    for body in events:
        gate.seq += 1
        body["seq"] = gate.seq
        item = chain_next(gate.gate_id, gate.seq, gate.prev, body)
        gate.prev = item.hash
        chained.append(item)
    return chained


# --- the database --------------------------------------------------------------------------------------


def fresh_database() -> tuple[str, str]:
    name = f"metro_bench_audit_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name, url_of(name)


def url_of(name: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(PG_ADMIN_DSN)
    return f"postgresql+psycopg://{params.get('user', 'postgres')}@{params['host']}:{params['port']}/{name}"


def drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def dsn_of(name: str) -> str:
    return psycopg.conninfo.make_conninfo(PG_ADMIN_DSN, dbname=name)


def enrol_gates(dsn: str) -> dict[str, GateState]:
    gates = {}
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        for station in STATIONS:
            for k in range(1, GATES_PER_STATION + 1):
                gate_id, key = f"{station}-G{k}", Ed25519PrivateKey.generate()
                cur.execute(
                    "INSERT INTO gates (gate_id, station, status, created_at, device_public_key,"
                    " journal_head)"
                    " VALUES (%s, %s, 'active', now(), %s, 0)",
                    (gate_id, station, public_key_text(key)),
                )
                gates[gate_id] = GateState(gate_id, key)
    return gates


def load_sales(dsn: str, world: World) -> None:
    """What was sold, straight in by COPY (the issuing path has its own benchmark): one order per ticket."""
    t0 = MONTH_START - timedelta(days=1)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        orders, items, tickets, passes = io.StringIO(), io.StringIO(), io.StringIO(), io.StringIO()
        n = 0
        rows: list[tuple[int, str, str, str | None, str | None, int, Holder | None]] = [
            (s, tid, "single", o, d, fare, None) for s, tid, o, d, fare in world.singles
        ]
        prices = {"monthly": 300_000, "monthly_student": 150_000}
        rows += [(h.serial, h.ticket_id, h.product, None, None, prices[h.product], h) for h in world.holders]
        for serial, tid, product, origin, dest, fare, holder in rows:
            n = serial - 10**12 + 1  # unique across calls: order item id and payment reference
            oid = uuid.uuid4().hex
            orders.write(f"{oid}\tpaid\t{fare}\t{t0}\t{t0}\t{t0}\t{'0' * 64}\tsandbox\tB{n:020d}\n")
            items.write(f"{n}\t{oid}\t0\t{product}\t{origin or NULL}\t{dest or NULL}\t1\t{fare}\n")
            tickets.write(
                f"{tid}\t{serial}\t{oid}\t{n}\t{t0}\t{t0}\t{t0 + timedelta(days=60)}\t{product}\t"
                f"{origin or NULL}\t{dest or NULL}\t{fare}\t1\tx\tissued\n"
            )
            if holder is not None:
                passes.write(
                    f"{holder.pass_id}\t{tid}\t{holder.hash_hex}\t{MONTH_START}\t"
                    f"{MONTH_START + timedelta(days=31)}\t{n}\t{t0}\t{product}\t{mask(holder.cccd)}\tN.T.M\t"
                    f"2003\tactive\n"
                )
        for table, columns, data in (
            (
                "orders",
                "id, status, amount_vnd, created_at, expires_at, paid_at, access_token_hash,"
                " payment_provider, payment_reference",
                orders,
            ),
            (
                "order_items",
                "id, order_id, position, product, origin, destination, quantity, unit_price_vnd",
                items,
            ),
            (
                "tickets",
                "id, serial, order_id, order_item_id, issued_at, valid_from, valid_until, product,"
                " origin, destination, fare_vnd, key_id, qr_payload, status",
                tickets,
            ),
            (
                "passes",
                "id, ticket_id, holder_hash, valid_from, valid_until, seq, updated_at, product,"
                " holder_masked, holder_initials, holder_birth_year, status",
                passes,
            ),
        ):
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write(data.getvalue().replace("+00:00", ""))
        cur.execute("SELECT setval('order_items_id_seq', (SELECT max(id) FROM order_items))")


# --- ingest ---------------------------------------------------------------------------------------------


@dataclass
class IngestStats:
    events: int = 0
    seconds: float = 0.0
    client_cpu: float = 0.0  # the uploading processes (verification, columns, driver), time.process_time
    server_cpu: float = 0.0  # the PostgreSQL backend serving the ingest, from /proc/<pid>/stat
    gaps: int = 0
    sample_rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Uploaded:
    """What one gate's uploads took: events, and CPU of the uploading process and of its backend."""

    events: int = 0
    seconds: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    gaps: int = 0


def upload_batches(engine: Any, gate_id: str, batches: list[tuple[Any, int, datetime]]) -> Uploaded:
    """One gate's batches, in order, through ingest_batch on one connection (as one server worker
    handling that gate's uploads)."""
    rule = DoubleUseRule.of(CATALOG.network, CATALOG.policy)
    done = Uploaded()
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Gate, gate_id)
        assert row is not None
        backend = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        session.commit()
        server = backend_cpu_seconds(backend)
        for batch, count, now in batches:
            client, t = time.process_time(), time.perf_counter()
            try:
                ingest_batch(session, row, batch, now, engine=engine, rule=rule)
            except JournalGapFound:  # the gate lost events: it says so by sending the same batch again
                session.rollback()
                ingest_batch(session, row, batch, now, engine=engine, rule=rule)
                done.gaps += 1
            done.seconds += time.perf_counter() - t
            done.client_cpu += time.process_time() - client
            done.events += count
        done.server_cpu = backend_cpu_seconds(backend) - server
    return done


_PROCESS_ENGINE: list[Any] = []  # an uploading process's own engine (a forked pool must not be shared)


def _start_uploader_process(url: str) -> None:
    _PROCESS_ENGINE.append(make_engine(url))


def _upload_in_process(work: tuple[str, list[tuple[Any, int, datetime]]]) -> Uploaded:
    gc.freeze()  # what the fork inherited of this process's heap is not this upload's to collect
    return upload_batches(_PROCESS_ENGINE[0], *work)


class Uploader:
    """Each gate's backlog, uploaded in full batches of 500 as a gate catching up does (a gate online syncs
    every few seconds in smaller ones; the per-batch work is the same, only spread over fewer events).

    `uploaders` > 1: that many processes upload at once, each gate's batches in order on one connection, as
    the service's worker processes take concurrent uploads from different gates. Timed then as the wall
    time of each round of uploads; the CPU is the uploading processes' own. Batches are signed before it.
    """

    def __init__(
        self,
        engine: Any,
        gates: dict[str, GateState],
        stats: IngestStats,
        batch: int = BATCH,
        uploaders: int = 1,
    ) -> None:
        self.engine, self.gates, self.stats, self.batch = engine, gates, stats, batch
        self.pending: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.pool: ProcessPoolExecutor | None = None
        if uploaders > 1:  # started now, while this process's heap is small: the fork copies it
            url = engine.url.render_as_string(hide_password=False)
            context = multiprocessing.get_context("fork")
            self.pool = ProcessPoolExecutor(uploaders, context, _start_uploader_process, (url,))

    def add_day(self, events: list[dict[str, Any]], gap_gate: str | None) -> None:
        by_gate: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for event in events:
            by_gate[event["gate"]].append(event)
        for gate_id, own in by_gate.items():
            own.sort(key=lambda e: e["at"])
            if gate_id == gap_gate:
                self.flush([gate_id], everything=True)
                chain(self.gates[gate_id], [], skip=20)  # this gate loses 20 events
            self.pending[gate_id] += own
        self.flush(sorted(self.pending))

    def flush(self, gate_ids: list[str], everything: bool = False) -> None:
        work = [w for w in (self._prepare(g, everything) for g in gate_ids) if w[1]]
        # This process holds the whole synthetic month (millions of objects) that a server does not: left to
        # the garbage collector, each of its passes over them would be timed as ingest.
        gc.collect()
        gc.freeze()
        stats = self.stats
        if self.pool is None:
            for gate_id, batches in work:
                self._count(upload_batches(self.engine, gate_id, batches), timed=True)
            return
        t = time.perf_counter()
        done = list(self.pool.map(_upload_in_process, work))
        stats.seconds += time.perf_counter() - t
        for uploaded in done:
            self._count(uploaded, timed=False)

    def _count(self, uploaded: Uploaded, timed: bool) -> None:
        stats = self.stats
        stats.events += uploaded.events
        stats.client_cpu += uploaded.client_cpu
        stats.server_cpu += uploaded.server_cpu
        stats.gaps += uploaded.gaps
        if timed:
            stats.seconds += uploaded.seconds

    def _prepare(self, gate_id: str, everything: bool) -> tuple[str, list[tuple[Any, int, datetime]]]:
        """The gate's next batches, chained and signed (outside the timing)."""
        own, state, stats = self.pending[gate_id], self.gates[gate_id], self.stats
        cut = len(own) if everything else len(own) - len(own) % self.batch
        if not cut:
            return gate_id, []
        chained, self.pending[gate_id] = chain(state, own[:cut]), own[cut:]
        now = datetime.fromisoformat(chained[-1].event["at"].replace("Z", "+00:00")) + timedelta(minutes=5)
        batches = []
        for i in range(0, len(chained), self.batch):
            part = chained[i : i + self.batch]
            batches.append((build_batch(gate_id, part, state.key), len(part), now))
            if len(stats.sample_rows) < 300_000:
                stats.sample_rows += [row_for(gate_id, e, now) for e in part]
        return gate_id, batches

    def finish(self) -> None:
        self.flush(sorted(self.pending), everything=True)
        if self.pool is not None:
            self.pool.shutdown()


_TICK = os.sysconf("SC_CLK_TCK")


def backend_cpu_seconds(pid: int) -> float:
    """User + system CPU of a PostgreSQL backend on this machine (clock ticks of 10 ms: summed over many
    batches it is exact enough); 0 when the server runs elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def copy_baseline(dsn: str, rows: list[dict[str, Any]]) -> float:
    """events/s of a raw COPY of the same rows into a plain table with the same columns and indexes."""
    columns = list(SCAN_COLUMNS)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE copy_baseline (LIKE scan_events INCLUDING DEFAULTS)")
        for i, (_name, definition) in enumerate(_index_columns(cur)):
            cur.execute(f"CREATE INDEX copy_baseline_{i} ON copy_baseline {definition}")
        conn.commit()
        t = time.perf_counter()
        with cur.copy(f"COPY copy_baseline ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([naive_utc(row[c]) if c in ("at", "received_at") else row[c] for c in columns])
        conn.commit()
        seconds = time.perf_counter() - t
        cur.execute("DROP TABLE copy_baseline")
    return len(rows) / seconds


def _index_columns(cur: psycopg.Cursor[Any]) -> list[tuple[str, str]]:
    cur.execute(
        "SELECT indexname, substring(indexdef from ' USING btree (.*)$') FROM pg_indexes"
        " WHERE tablename = 'scan_events'"
    )
    return [(name, definition) for name, definition in cur.fetchall()]


# --- queries -----------------------------------------------------------------------------------------


def _timed(fn: Callable[[], object], runs: int) -> list[float]:
    fn()  # warm: plan cache, first page of the index
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def query_kinds(
    engine: Any, world: World, runs: int, only: str | None = None
) -> Iterator[tuple[str, list[float]]]:
    """Each query kind's timings; `only`: the kinds whose name holds it."""
    rng = random.Random(7)

    def day() -> dict[str, str]:
        d = MONTH_START + timedelta(days=rng.randrange(DAYS))
        return {"from": iso(d), "to": iso(d + timedelta(days=1))}

    def run(kind: str, make: Callable[[], Callable[[Session], object]]) -> tuple[str, list[float]]:
        samples: list[float] = []
        if only is not None and only not in kind:
            return kind, samples
        with Session(engine) as session:
            for _ in range(runs + 1):
                call = make()
                t = time.perf_counter()
                call(session)
                samples.append((time.perf_counter() - t) * 1000)
                session.rollback()
        return kind, samples[1:]  # the first warms the plan cache

    def scans(params: dict[str, str], cccd: str | None = None) -> Callable[[Session], object]:
        q = parse_query(params, SCAN_FILTERS, cccd=cccd, utc_offset_hours=HCMC)
        return lambda s: scans_page(s, CCCD_KEY, q)

    def trips(params: dict[str, str], cccd: str | None = None) -> Callable[[Session], object]:
        q = parse_query(params, TRIP_FILTERS, cccd=cccd, utc_offset_hours=HCMC)
        return lambda s: trips_page(s, CCCD_KEY, q)

    def report(kind: str) -> Callable[[Session], object]:
        q = parse_query(day(), REPORT_FILTERS[kind], require_range=True, utc_offset_hours=HCMC)
        return lambda s: reports.report(s, kind, q)

    def anomalies() -> Callable[[Session], object]:
        q = parse_query(day(), ANOMALY_FILTERS, require_range=True, utc_offset_hours=HCMC)
        return lambda s: find_anomalies(s, CATALOG, q)

    def station_day() -> dict[str, str]:
        return {"station": rng.choice(STATIONS), **day()}

    def gate_hour() -> dict[str, str]:
        d = MONTH_START + timedelta(days=rng.randrange(DAYS), hours=7)
        return {"gate": "L1-01-G2", "from": iso(d), "to": iso(d + timedelta(hours=1))}

    def serial() -> str:
        return str(rng.choice(world.singles)[0])

    def holder() -> str:
        return rng.choice(world.holders).cccd

    yield run("scans: station-day (first page)", lambda: scans(station_day()))
    yield run("scans: gate G2 at L1-01, 07:00-08:00", lambda: scans(gate_hour()))
    yield run("scans: ticket history", lambda: scans({"ticket": serial()}))
    yield run("scans: CCCD history (month)", lambda: scans({}, holder()))
    yield run("scans: denials of a day (first page)", lambda: scans({**day(), "verdict": "deny"}))
    yield run("trips: station-day (first page)", lambda: trips(station_day()))
    yield run("trips: ticket", lambda: trips({"ticket": serial()}))
    yield run("trips: CCCD (month)", lambda: trips({}, holder()))
    for kind in ("ridership", "od", "revenue", "denials"):
        yield run(f"report {kind}, a day", lambda kind=kind: report(kind))  # type: ignore[misc]
    yield run("anomalies, a day", anomalies)


def csv_day(engine: Any) -> tuple[int, float]:
    since = MONTH_START + timedelta(days=3)
    params = {"from": iso(since), "to": iso(since + timedelta(days=1))}
    t = time.perf_counter()
    rows = sum(
        1 for _ in scans_csv(engine, CCCD_KEY, parse_query(params, SCAN_FILTERS, utc_offset_hours=HCMC))
    )
    return rows - 1, time.perf_counter() - t


# --- main -------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=30, help="runs per query kind")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=BATCH, help="events per signed batch (gates send 500)")
    parser.add_argument(
        "--uploaders",
        type=int,
        default=2,
        help="processes uploading at once, as the service's workers (serve --workers 2)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    parser.add_argument("--ingest-only", action="store_true", help="skip the queries")
    parser.add_argument(
        "--database",
        metavar="NAME",
        help="only run the queries, on a database kept by an earlier run with the same --events and --seed",
    )
    parser.add_argument("--query", metavar="TEXT", help="only the query kinds whose name holds TEXT")
    args = parser.parse_args(argv)
    if args.database:
        return _query_kept(args)
    name, url = fresh_database()
    print(
        f"database {name}; {args.events:,} events over {DAYS} days,"
        f" {len(STATIONS) * GATES_PER_STATION} gates, batches of {args.batch},"
        f" {args.uploaders} uploading at once"
    )
    try:
        return _run(args, name, url)
    finally:
        if not args.keep:
            drop_database(name)


def _run(args: argparse.Namespace, name: str, url: str) -> int:
    migrate(url)
    dsn = dsn_of(name)
    gates = enrol_gates(dsn)
    world = make_world(args.events // 2, args.seed)
    engine = make_engine(url)
    stats = IngestStats()
    uploader = Uploader(engine, gates, stats, args.batch, args.uploaders)
    generated = 0.0
    per_day = args.events // DAYS
    first_singles = 0
    for day in range(DAYS):
        t = time.perf_counter()
        events = day_events(world, day, per_day)
        generated += time.perf_counter() - t
        if day == 0:  # tickets must exist before their uses arrive (first_used_at is set at ingest)
            load_sales(dsn, world)
            first_singles = len(world.singles)
        elif len(world.singles) > first_singles:
            load_sales(dsn, World(world.rng, [], world.singles[first_singles:]))
            first_singles = len(world.singles)
        uploader.add_day(events, gap_gate="L1-06-G3" if day == 9 else None)
        if day == DAYS - 1:
            uploader.finish()
        print(
            f"  day {day + 1:2d}: {stats.events:>10,} events stored,"
            f" ingest {stats.events / max(stats.seconds, 1e-9):,.0f}/s",
            flush=True,
        )
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    baseline = copy_baseline(dsn, stats.sample_rows)
    rate = stats.events / stats.seconds
    print(f"\ngeneration and signing (not timed as ingest): {generated:.0f} s")
    print(
        f"ingest through ingest_batch: {stats.events:,} events in {stats.seconds:.1f} s"
        f" = {rate:,.0f} events/s"
        f"  (target >= {TARGET_EVENTS_PER_S:,}: {'ok' if rate >= TARGET_EVENTS_PER_S else 'MISSED'})"
    )
    per_k = 1000 / stats.events
    print(
        f"CPU per 1,000 events (load-independent): uploaders {stats.client_cpu * per_k * 1000:.1f} ms"
        f" + PostgreSQL backend {stats.server_cpu * per_k * 1000:.1f} ms"
        f" = {(stats.client_cpu + stats.server_cpu) * per_k * 1000:.1f} ms"
    )
    print(
        f"baseline, raw COPY of {len(stats.sample_rows):,} of the same rows, same indexes: "
        f"{baseline:,.0f} events/s  (ingest = {rate / baseline:.0%} of it);"
        f" journal gaps recorded: {stats.gaps}"
    )
    if not args.ingest_only:
        _print_queries(engine, world, args)
    engine.dispose()
    if args.keep:
        print(f"kept database {name}")
    return 0


def _print_queries(engine: Any, world: World, args: argparse.Namespace) -> None:
    print(f"\nqueries ({args.queries} runs each, ms; target p95 <= {TARGET_P95_MS:.0f} ms):")
    for kind, samples in query_kinds(engine, world, args.queries, args.query):
        if not samples:
            continue
        p50, p95 = statistics.median(samples), pct(samples, 0.95)
        verdict = "ok" if p95 <= TARGET_P95_MS else "over"
        print(f"  {kind:<40} p50 {p50:7.1f}  p95 {p95:7.1f}  {verdict}")
    if args.query is None:
        rows, seconds = csv_day(engine)
        print(
            f"  CSV of a whole day of scans: {rows:,} rows in {seconds:.1f} s"
            f" ({rows / seconds:,.0f} rows/s, streamed)"
        )


def _query_kept(args: argparse.Namespace) -> int:
    """The queries on a kept database. The holders are made again from the seed (their CCCD numbers are
    not stored, only keyed hashes); the single tickets are read back."""
    world = make_world(args.events // 2, args.seed)
    with psycopg.connect(dsn_of(args.database)) as conn:  # the queries pick serials only
        rows = conn.execute("SELECT serial, id FROM tickets WHERE product = 'single'")
        world.singles = [(serial, ticket_id, "", "", 0) for serial, ticket_id in rows]
    engine = make_engine(url_of(args.database))
    kept = f"{len(world.singles):,} single tickets, {len(world.holders):,} passes"
    print(f"database {args.database} (kept): {kept}")
    _print_queries(engine, world, args)
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
