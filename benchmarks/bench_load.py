"""Load: riders, gates and auditors all at once against the real server, then the books are checked.

The real server (`python -m ticketing serve --workers 2`) runs on a fresh data folder and a fresh PostgreSQL
database (`--engine sqlite`: the data folder's SQLite file), both removed at the end. For a fixed time
(`--seconds`, default 60; `--quick`: 15):

- riders buy single tickets, day passes and CCCD-linked monthly passes and pay in the sandbox, every request
  with an Idempotency-Key; a share of requests is deliberately sent twice with the same key (one after the
  other, or two at once on two connections) and must get the same answer; a share is abandoned within 20 ms
  of sending (the app stopped waiting: the server may have done the work or not), and on that, a timeout, a
  dropped connection, a 5xx or a 429 the rider retries with the same key; some riders never pay;
- gates, enrolled through the admin API with their own device keys, are the real gate (`validator`: its
  SQLite store, `Gate.scan`, `SyncClient`): they scan the tickets and CCCD cards the riders bought (entry at
  the ticket's origin, exit at its destination, some garbage), sync every second or two, and now and then
  mark already uploaded events as pending again, so those batches go up twice and must come back
  `duplicate`;
- auditors, with a token from `python -m ticketing tokens create --role auditor`, query scans, trips, the four
  reports and anomalies.

Then the books, read straight from the database and through the API: every paid order issued exactly once,
nothing issued on an unpaid order, one order per Idempotency-Key, every journal event stored exactly once
(count per gate = the gate's journal length, same hashes, no gaps), money in = fares and pass prices out
(per the tariff). Printed: throughput per actor, latency p50/p95/p99 per request kind, the `GET /v1/network`
baseline from the same run, and PASS/FAIL per check. Exit status 1 if the books do not balance. Loopback
only, bounded in requests and time; it stops by itself and removes its processes, folders and database.

Run: `.venv/bin/python benchmarks/bench_load.py [--seconds S] [--quick] [--riders N] [--gates N]
[--auditors N] [--engine postgresql|sqlite]`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import queue
import random
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._support import (
    Connection,
    CpuMeter,
    HttpError,
    RunningServer,
    Server,
    baseline,
    ms,
    postgres_database,
    serve,
)
from fare_rules.cccd import validate_number
from fare_rules.model import Direction
from fare_rules.products import Product
from fare_rules.tariff import quote
from ticketing.catalog import load_catalog
from ticketing.db import make_engine
from ticketing.services.idempotency import record_key
from ticketing.services.order_books import order_books
from ticketing.settings import DEV_SECRETS_FILE
from validator.core import Verdict
from validator.device import load_or_create_device_key, load_token
from validator.gate import Gate
from validator.operations import enroll_gate, sync_gate
from validator.records import journal_backlog
from validator.station import open_gate
from validator.store import transaction
from validator.sync import SyncClient, SyncError
from validator.testing import cccd_qr
from validator.wire import iso

__all__ = ["main"]

CATALOG = load_catalog()
# Gates at the two terminals, Bến Thành's neighbour and the university: riders travel between them.
GATE_STATIONS = ["L1-01", "L1-14", "L1-06", "L1-11", "L1-03", "L1-09", "L1-12", "L1-07"]
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 6
LOCAL = timedelta(hours=7)
TRANSPORT_ERRORS = (TimeoutError, OSError, asyncio.IncompleteReadError, HttpError, ValueError)


# --- what every actor records ---------------------------------------------------------------------------


@dataclass
class Stats:
    """Latencies per request kind, counters, and every unexpected answer. Gates write from their threads."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)  # a 5xx that is not a clean 503 with a code
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counts[name] += n

    def answer(self, kind: str, status: int, body: Any) -> None:
        if status >= 500 and not (status == 503 and isinstance(body, dict) and "code" in body):
            with self.lock:
                self.server_errors.append(f"{kind}: {status} {str(body)[:200]}")


@dataclass
class Paid:
    token: str
    amount_vnd: int
    quantity: int
    ticket_ids: list[str]


@dataclass
class Ledger:
    """What the riders sent and were told: the books the database must agree with."""

    keys_sent: set[str] = field(default_factory=set)
    order_of_key: dict[str, str] = field(default_factory=dict)
    paid: dict[str, Paid] = field(default_factory=dict)
    unpaid: dict[str, str] = field(default_factory=dict)  # order id -> access token
    replays: int = 0
    replay_mismatches: list[str] = field(default_factory=list)
    gave_up: int = 0  # requests still failing after every retry
    refused: Counter[str] = field(default_factory=Counter)  # 4xx answers by kind and code
    serials: list[str] = field(default_factory=list)


# --- riders ------------------------------------------------------------------------------------------------


class Rider:
    """One rider's app: a keep-alive connection per order, retries with the same Idempotency-Key."""

    def __init__(self, number: int, run: Run) -> None:
        self.run = run
        self.rng = random.Random(run.args.seed * 10_000 + number)
        self.conn: Connection | None = None

    async def call(
        self, kind: str, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """Send until an answer that is not a transport failure, a 5xx or a 429 (then status 0)."""
        stats = self.run.stats
        for attempt in range(ATTEMPTS):
            if attempt:
                await asyncio.sleep(min(0.05 * 2**attempt, 1.0) * (0.5 + self.rng.random()))
            # A phone losing the signal: the request goes out, the app stops waiting within 20 ms, and the
            # server may or may not have done the work. The retry must find it done, never do it twice.
            drop = attempt == 0 and self.rng.random() < self.run.args.drop_share
            started = time.perf_counter()
            try:
                if self.conn is None:
                    self.conn = await self.run.server.connect()
                sent = self.conn.request(method, path, body, headers)
                if drop:
                    status, answer = await asyncio.wait_for(sent, self.rng.uniform(0.001, 0.02))
                else:
                    status, answer = await sent
            except TRANSPORT_ERRORS as error:
                self.close()  # the connection's state is unknown: a new one for the retry
                why = "dropped by the client" if drop else type(error).__name__
                stats.count(f"retry {kind}: {why}")
                continue
            stats.record(kind, time.perf_counter() - started)
            stats.answer(kind, status, answer)
            if status in RETRY_STATUSES:
                stats.count(f"retry {kind}: {status}")
                self.close()
                continue
            return status, answer
        self.run.ledger.gave_up += 1
        return 0, None

    async def twice_at_once(
        self, kind: str, method: str, path: str, body: object, headers: dict[str, str]
    ) -> tuple[tuple[int, Any], tuple[int, Any]]:
        """The same request on two connections at the same moment (a double tap; an app retrying early)."""
        other = Rider(self.rng.randrange(10**9), self.run)
        try:
            first, second = await asyncio.gather(
                self.call(kind, method, path, body, headers), other.call(kind, method, path, body, headers)
            )
        finally:
            other.close()
        return first, second

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def items(self) -> list[dict[str, Any]]:
        r = self.rng.random()
        if r < 0.15:
            return [self.holder_item()]
        if r < 0.25:
            return [{"product": self.rng.choice(["day", "three_day"]), "quantity": 1}]
        origin, destination = self.rng.sample(self.run.gate_stations, 2)
        single = {"product": "single", "origin": origin, "destination": destination}
        items = [{**single, "quantity": self.rng.randint(1, 3)}]
        if r > 0.95:  # a family: singles and a day pass in one order
            items.append({"product": "day", "quantity": self.rng.randint(1, 2)})
        return items

    def holder_item(self) -> dict[str, Any]:
        # Fabricated numbers (domain.md): HCMC (079), male born 2000-2005, a random tail.
        year = self.rng.randint(2000, 2005)
        born = date(year, self.rng.randint(1, 12), self.rng.randint(1, 28))
        number = validate_number(f"0792{year % 100:02d}{self.rng.randrange(10**6):06d}", born)
        today = (datetime.now(UTC) + LOCAL).date()
        return {
            "product": "monthly",
            "quantity": 1,
            "holder": {"cccd": number, "full_name": "Nguyễn Văn Tải", "birth_date": born.isoformat()},
            "start_date": today.isoformat(),
        }

    async def loop(self) -> None:
        run = self.run
        while time.monotonic() < run.deadline and run.orders_started < run.args.max_orders:
            run.orders_started += 1
            try:
                await self.order()
            finally:
                self.close()  # a new connection per order, as on the street

    def mode(self) -> str:
        r = self.rng.random()
        share = self.run.args.retry_share
        return "together" if r < share / 3 else "again" if r < share else "once"

    async def send(
        self, kind: str, method: str, path: str, body: object, headers: dict[str, str], same: str
    ) -> tuple[int, Any]:
        """Send once, or deliberately twice with the same key; the two answers must agree on `same`."""
        mode = self.mode()
        if mode == "together":
            first, second = await self.twice_at_once(kind, method, path, body, headers)
        else:
            first = await self.call(kind, method, path, body, headers)
            if mode == "once" or first[0] not in (200, 201):
                return first
            second = await self.call(f"{kind} (replay)", method, path, body, headers)
        self.run.ledger.replays += 1
        if (
            second[0] not in (200, 201)
            or first[0] not in (200, 201)
            or _pick(first, same) != _pick(second, same)
        ):
            self.run.ledger.replay_mismatches.append(f"{kind} {mode}: {first[0]} vs {second[0]}")
        return first if first[0] in (200, 201) else second

    async def order(self) -> None:
        run, ledger = self.run, self.run.ledger
        key = uuid.uuid4().hex
        items = self.items()
        ledger.keys_sent.add(key)
        status, order = await self.send(
            "create order", "POST", "/v1/orders", {"items": items}, {"idempotency-key": key}, "id"
        )
        if status not in (200, 201):
            ledger.refused[f"create {status} {_code(order)}"] += 1
            return
        ledger.order_of_key[key] = order["id"]
        run.stats.count("orders created")
        headers = {"authorization": f"Bearer {order['access_token']}"}
        if self.rng.random() < run.args.unpaid_share:
            ledger.unpaid[order["id"]] = order["access_token"]
            return
        path = f"/v1/sandbox/orders/{order['id']}/pay"
        pay_headers = {**headers, "idempotency-key": uuid.uuid4().hex}
        status, paid = await self.send("pay", "POST", path, None, pay_headers, "tickets")
        if status != 200 or paid.get("status") != "paid":
            ledger.refused[f"pay {status} {_code(paid)}"] += 1
            ledger.unpaid[order["id"]] = order["access_token"]  # not paid as far as the rider knows
            return
        tickets = paid["tickets"]
        quantity = sum(item["quantity"] for item in items)
        ledger.paid[order["id"]] = Paid(
            order["access_token"], order["amount_vnd"], quantity, [t["id"] for t in tickets]
        )
        run.stats.count("orders paid")
        if self.rng.random() < 0.2:
            await self.call("read order", "GET", f"/v1/orders/{order['id']}", None, headers)
        holder = next((item["holder"] for item in items if "holder" in item), None)
        for ticket in tickets:
            ledger.serials.append(ticket["serial"])
            run.hand_to_gate(ticket, holder, self.rng)


def _pick(answer: tuple[int, Any], same: str) -> Any:
    body = answer[1]
    if not isinstance(body, dict):
        return None
    value = body.get(same)
    return [t.get("id") for t in value] if same == "tickets" and isinstance(value, list) else value


def _code(body: Any) -> str:
    return str(body.get("code")) if isinstance(body, dict) else ""


# --- gates ---------------------------------------------------------------------------------------------


class TimedTransport(httpx.HTTPTransport):
    """The gate's HTTP transport, timing each request (to the end of its body) by method and path."""

    def __init__(self, stats: Stats) -> None:
        super().__init__()
        self.stats = stats

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = super().handle_request(request)
        response.read()
        kind = f"gate {request.method} {request.url.path}"
        self.stats.record(kind, time.perf_counter() - started)
        if response.status_code >= 500:
            body = (
                response.json()
                if response.headers.get("content-type", "").startswith("application/json")
                else None
            )
            self.stats.answer(kind, response.status_code, body)
        return response


class GateActor:
    """A real gate in its own thread: its store, `Gate.scan`, and `SyncClient` every `sync_every` seconds."""

    def __init__(self, run: Run, station: str, gate_id: str, data_dir: Path, token: str) -> None:
        self.run, self.station, self.gate_id, self.data_dir = run, station, gate_id, data_dir
        self.token = token
        self.inbox: queue.Queue[tuple[str, Direction, str | None]] = queue.Queue(maxsize=5000)
        self.rng = random.Random(hash(gate_id) ^ run.args.seed)
        self.scans: Counter[str] = Counter()
        self.stored = self.duplicates = self.refused = self.rewound = 0
        self.stored_during_load = 0
        self.backlog = -1  # events left to upload at the end (-1: the gate never finished)
        self.sync_failures: Counter[str] = Counter()
        self.error: BaseException | None = None

    def offer(self, text: str, direction: Direction, exit_station: str | None) -> None:
        with contextlib.suppress(queue.Full):  # a gate that cannot keep up lets riders through elsewhere
            self.inbox.put_nowait((text, direction, exit_station))

    def thread(self) -> None:
        try:
            self.loop()
        except BaseException as error:  # reported by main, which fails the run
            self.error = error

    def loop(self) -> None:
        run = self.run
        gate = open_gate(self.data_dir)
        key = load_or_create_device_key(self.data_dir)
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(
            base_url=run.url, headers=headers, timeout=10, transport=TimedTransport(run.stats)
        ) as http:
            client = SyncClient(http, gate.conn, self.gate_id, key)
            next_sync = time.monotonic()
            while time.monotonic() < run.deadline:
                busy = self.scan_some(gate)
                if time.monotonic() >= next_sync:
                    self.sync(client, gate, rewind=self.rng.random() < run.args.resend_share)
                    next_sync = time.monotonic() + run.args.sync_every
                if not busy:
                    time.sleep(0.02)
            self.stored_during_load = self.stored
            for _ in range(10):  # the backlog, until it is all up (a failed sync is retried)
                self.sync(client, gate, rewind=False)
                if not journal_backlog(gate.conn, self.gate_id):
                    break
                time.sleep(0.2)
            self.backlog = journal_backlog(gate.conn, self.gate_id)
        gate.conn.close()

    def scan_some(self, gate: Gate) -> bool:
        scanned = 0
        while scanned < 20:
            try:
                text, direction, exit_station = self.inbox.get_nowait()
            except queue.Empty:
                break
            self.scan(gate, text, direction, exit_station)
            scanned += 1
        if scanned and self.rng.random() < 0.05:  # a bank card, a crumpled screenshot: refused, journaled
            self.scan(gate, "not a ticket " + uuid.uuid4().hex[:6], Direction.ENTRY, None)
        return bool(scanned)

    def scan(self, gate: Gate, text: str, direction: Direction, exit_station: str | None) -> None:
        started = time.perf_counter()
        outcome = gate.scan(text, direction, datetime.now(UTC))
        self.run.stats.record("gate scan (local, durable)", time.perf_counter() - started)
        verdict = outcome.verdict.value
        self.scans[
            f"{direction.value} {verdict}" + (f" {outcome.reason.value}" if outcome.reason else "")
        ] += 1
        if outcome.verdict is Verdict.ACCEPT and direction is Direction.ENTRY and exit_station:
            self.run.gates_at[exit_station].offer(text, Direction.EXIT, None)

    def sync(self, client: SyncClient, gate: Gate, *, rewind: bool) -> None:
        if rewind:
            self.rewound += self.mark_resend(gate)
        started = time.perf_counter()
        try:
            report = client.sync()
        except SyncError as error:
            self.sync_failures[error.server_code or error.code] += 1
            return
        finally:
            self.run.stats.record("gate sync (keys, 3 lists, journal)", time.perf_counter() - started)
        self.stored += report.journal["stored"]
        self.duplicates += report.journal["duplicate"]
        self.refused += report.journal["refused"]

    def mark_resend(self, gate: Gate) -> int:
        """Mark the last few uploaded events pending again: the next sync sends them a second time."""
        count = self.rng.randint(1, 30)
        with transaction(gate.conn):
            done = gate.conn.execute(
                "UPDATE journal SET uploaded = 'no' WHERE gate = ? AND uploaded = 'stored' AND seq >"
                " (SELECT coalesce(max(seq), 0) FROM journal WHERE gate = ? AND uploaded = 'stored') - ?",
                (self.gate_id, self.gate_id, count),
            )
        return int(done.rowcount)

    def journal(self) -> dict[int, str]:
        gate = open_gate(self.data_dir)
        try:
            rows = gate.conn.execute("SELECT seq, hash FROM journal WHERE gate = ?", (self.gate_id,))
            return {int(seq): str(digest) for seq, digest in rows}
        finally:
            gate.conn.close()


# --- auditors --------------------------------------------------------------------------------------------


async def auditor(run: Run, number: int) -> None:
    rng = random.Random(run.args.seed * 7 + number)
    caller = Rider(10**6 + number, run)
    headers = {"authorization": f"Bearer {run.auditor_token}"}
    reports = ("ridership", "od", "revenue", "denials")
    try:
        while time.monotonic() < run.deadline and run.audit_queries < run.args.max_audit_queries:
            span = run.span()
            station, gate = rng.choice(run.gate_stations), rng.choice(list(run.gates))
            serial = rng.choice(run.ledger.serials) if run.ledger.serials else "1"
            kind, path = rng.choice(
                [
                    ("audit scans: station", f"/v1/audit/scans?station={station}&{span}"),
                    ("audit scans: gate", f"/v1/audit/scans?gate={gate}&{span}"),
                    ("audit scans: ticket", f"/v1/audit/scans?ticket={serial}"),
                    ("audit trips: station", f"/v1/audit/trips?station={station}&{span}"),
                    ("audit trips: ticket", f"/v1/audit/trips?ticket={serial}"),
                    ("audit report", f"/v1/audit/reports/{rng.choice(reports)}?{span}"),
                    ("audit anomalies", f"/v1/audit/anomalies?{span}"),
                ]
            )
            run.audit_queries += 1
            status, body = await caller.call(kind, "GET", path, None, headers)
            if status != 200:
                run.ledger.refused[f"{kind} {status} {_code(body)}"] += 1
            caller.close()
    finally:
        caller.close()


# --- the run -------------------------------------------------------------------------------------------


@dataclass
class Run:
    args: argparse.Namespace
    server: Server
    url: str
    auditor_token: str
    gate_stations: list[str]
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    deadline: float = 0.0
    stats: Stats = field(default_factory=Stats)
    ledger: Ledger = field(default_factory=Ledger)
    gates: dict[str, GateActor] = field(default_factory=dict)  # by gate id
    gates_at: dict[str, GateActor] = field(default_factory=dict)  # by station
    orders_started: int = 0
    audit_queries: int = 0

    def span(self) -> str:
        since, until = self.started_at - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)
        return f"from={iso(since)}&to={iso(until)}"

    def hand_to_gate(self, ticket: dict[str, Any], holder: dict[str, str] | None, rng: random.Random) -> None:
        """The rider walks to a gate: a single ticket to its origin (and on to its destination), a pass to
        any gate; a monthly pass shown as the CCCD card half of the time."""
        if ticket["product"] == "single":
            self.gates_at[ticket["origin"]].offer(
                ticket["qr_payload"], Direction.ENTRY, ticket["destination"]
            )
            return
        entry, leave = rng.sample(self.gate_stations, 2)
        text = ticket["qr_payload"]
        if holder and ticket["product"] == "monthly" and rng.random() < 0.5:
            born = date.fromisoformat(holder["birth_date"])
            text = cccd_qr(holder["cccd"], born.strftime("%d%m%Y"), "Nam", holder["full_name"])
        self.gates_at[entry].offer(text, Direction.ENTRY, leave)


def enrol_gates(run: Run, running: RunningServer, folder: Path) -> None:
    admin = {"Authorization": f"Bearer {running.admin_token}"}
    with httpx.Client(base_url=running.url, headers=admin, timeout=10) as http:
        for station in run.gate_stations:
            gate_id = f"{station}-G1"
            created = http.post("/v1/admin/gates", json={"station": station, "gate_id": gate_id})
            created.raise_for_status()
            data_dir = folder / gate_id
            config = enroll_gate(data_dir, None, running.url, created.json()["code"])
            gate = open_gate(data_dir)
            sync_gate(data_dir, gate)  # as `scanner_cli.py enroll` does: keys and lists before the first scan
            gate.conn.close()
            actor = GateActor(run, station, config.gate_id, data_dir, load_token(data_dir) or "")
            run.gates[gate_id] = actor
            run.gates_at[station] = actor


async def load(run: Run) -> float:
    """Riders and auditors on this loop, gates on their threads, until the deadline. Returns seconds."""
    threads = [threading.Thread(target=actor.thread, name=actor.gate_id) for actor in run.gates.values()]
    started = time.perf_counter()
    run.deadline = time.monotonic() + run.args.seconds
    for thread in threads:
        thread.start()
    riders = [Rider(n, run) for n in range(run.args.riders)]
    await asyncio.gather(
        *(rider.loop() for rider in riders), *(auditor(run, n) for n in range(run.args.auditors))
    )
    seconds = time.perf_counter() - started
    await asyncio.to_thread(_join, threads)
    return seconds


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=120)


# --- the books -----------------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def check_books(run: Run, database_url: str, token_secret: bytes) -> list[Check]:
    checks: list[Check] = []
    engine = make_engine(database_url)
    try:
        with engine.connect() as db:
            checks += _orders_checks(run, db, token_secret)
            checks += _money_checks(run, db)
            checks += _scan_checks(run, db)
    finally:
        engine.dispose()
    return checks


def _orders_checks(run: Run, db: sa.Connection, token_secret: bytes) -> list[Check]:
    ledger = run.ledger
    # The database holds a keyed hash of each key: map the hashes of the keys sent back to them.
    sent_as = {record_key(token_secret, "order", key): key for key in ledger.keys_sent}
    rows = [
        (r.id, r.status, sent_as.get(r.idempotency_key, r.idempotency_key), r.quantity, r.tickets)
        for r in order_books(db)
    ]
    paid = [r for r in rows if r[1] == "paid"]
    wrong_paid = [r[0] for r in paid if r[4] != r[3]]
    unpaid_with = [r[0] for r in rows if r[1] != "paid" and r[4] != 0]
    items_wrong = db.execute(
        sa.text(
            "SELECT count(*) FROM order_items i JOIN orders o ON o.id = i.order_id"
            " WHERE (SELECT count(*) FROM tickets t WHERE t.order_item_id = i.id)"
            " <> CASE WHEN o.status = 'paid' THEN i.quantity ELSE 0 END"
        )
    ).scalar_one()
    passes_wrong = db.execute(
        sa.text(
            "SELECT count(*) FROM tickets t WHERE t.product IN ('monthly', 'monthly_student')"
            " AND (SELECT count(*) FROM passes p WHERE p.ticket_id = t.id) <> 1"
        )
    ).scalar_one()
    tickets = sum(int(r[4]) for r in rows)
    keys = Counter(r[2] for r in rows)
    twice = [k for k, n in keys.items() if n > 1]
    unkeyed = keys.get(None, 0)
    unknown = [k for k in keys if k is not None and k not in ledger.keys_sent]
    answered = set(ledger.order_of_key)
    missing = [k for k in answered if k not in keys]
    stray = [
        k for k, order_id in ledger.order_of_key.items() if k in keys and _order_id_of(rows, k) != order_id
    ]
    by_id = {r[0]: r for r in rows}
    told_paid_wrong = [
        i
        for i, p in ledger.paid.items()
        if i not in by_id or by_id[i][1] != "paid" or by_id[i][4] != p.quantity
    ]
    return [
        Check(
            "every paid order issued exactly once",
            not wrong_paid and not items_wrong and not passes_wrong and not told_paid_wrong,
            f"{len(paid)} paid orders, {tickets} tickets; {len(wrong_paid)} orders and {items_wrong} items"
            f" with tickets != quantity, {passes_wrong} pass tickets without exactly one pass,"
            f" {len(told_paid_wrong)} orders a rider saw paid that differ",
        ),
        Check(
            "no tickets on unpaid orders",
            not unpaid_with,
            f"{len(rows) - len(paid)} unpaid orders ({len(ledger.unpaid)} left unpaid on purpose),"
            f" {len(unpaid_with)} with tickets",
        ),
        Check(
            "one order per Idempotency-Key",
            not twice and not unkeyed and not unknown and not missing and not stray,
            f"{len(rows)} orders for {len(keys)} keys ({len(ledger.keys_sent)} sent,"
            f" {len(answered)} answered); {len(twice)} keys with two orders, {unkeyed} orders without a key,"
            f" {len(unknown)} unknown keys, {len(missing)} answered keys without an order,"
            f" {len(stray)} answered with another order",
        ),
        Check(
            "deliberate replays got the first answer",
            not ledger.replay_mismatches,
            f"{ledger.replays} requests sent twice with one key, {len(ledger.replay_mismatches)} mismatches"
            + (f": {ledger.replay_mismatches[:3]}" if ledger.replay_mismatches else ""),
        ),
    ]


def _order_id_of(rows: Sequence[Any], key: str) -> str | None:
    return next((r[0] for r in rows if r[2] == key), None)


def _money_checks(run: Run, db: sa.Connection) -> list[Check]:
    money_in = int(
        db.execute(
            sa.text("SELECT coalesce(sum(amount_vnd), 0) FROM orders WHERE status = 'paid'")
        ).scalar_one()
    )
    tickets = db.execute(
        sa.text(
            "SELECT t.product, t.origin, t.destination, t.fare_vnd, i.unit_price_vnd FROM tickets t"
            " JOIN order_items i ON i.id = t.order_item_id JOIN orders o ON o.id = t.order_id"
            " WHERE o.status = 'paid'"
        )
    ).all()
    fares_out = sum(int(t[3]) for t in tickets)
    tariff = CATALOG.tariff
    off_tariff = [
        t for t in tickets if quote(tariff, Product(t[0]), t[1], t[2]).amount_vnd != t[3] or t[3] != t[4]
    ]
    told = sum(p.amount_vnd for p in run.ledger.paid.values())
    told_ids = set(run.ledger.paid)
    told_db = int(
        sum(
            r[1]
            for r in db.execute(sa.text("SELECT id, amount_vnd FROM orders WHERE status = 'paid'")).all()
            if r[0] in told_ids
        )
    )
    return [
        Check(
            "money in = tickets out (tariff)",
            money_in == fares_out and not off_tariff and told == told_db,
            f"paid orders {money_in:,} VND; fares and pass prices of their {len(tickets)} tickets"
            f" {fares_out:,} VND; {len(off_tariff)} tickets off the tariff {tariff.version};"
            f" riders were charged {told:,} VND for the {len(told_ids)} orders they saw paid"
            f" (database: {told_db:,})",
        )
    ]


def _scan_checks(run: Run, db: sa.Connection) -> list[Check]:
    rows = db.execute(sa.text("SELECT gate_id, seq, hash FROM scan_events")).all()
    stored: dict[str, dict[int, str]] = {}
    duplicates = 0
    for gate_id, seq, digest in rows:
        held = stored.setdefault(gate_id, {})
        duplicates += seq in held
        held[int(seq)] = digest
    gaps = db.execute(sa.text("SELECT count(*) FROM journal_gaps")).scalar_one()
    problems = db.execute(sa.text("SELECT count(*) FROM scan_events WHERE problem IS NOT NULL")).scalar_one()
    lines, ok = [], duplicates == 0 and gaps == 0
    total_journal = 0
    for gate_id, actor in run.gates.items():
        journal = actor.journal()
        total_journal += len(journal)
        held = stored.get(gate_id, {})
        same = held == journal
        contiguous = sorted(held) == list(range(1, len(held) + 1))
        ok = ok and same and contiguous
        lines.append(f"{gate_id} {len(held)}/{len(journal)}" + ("" if same and contiguous else " MISMATCH"))
    foreign = set(stored) - set(run.gates)
    resent = sum(a.rewound for a in run.gates.values())
    answered_dup = sum(a.duplicates for a in run.gates.values())
    refused = sum(a.refused for a in run.gates.values())
    backlog = sum(abs(a.backlog) for a in run.gates.values())  # -1: a gate that never finished
    return [
        Check(
            "every uploaded scan stored exactly once",
            ok and not foreign and refused == 0 and backlog == 0,
            f"{len(rows)} events stored for {total_journal} journaled ({', '.join(lines)});"
            f" {duplicates} duplicate rows, {gaps} gaps, {len(foreign)} unknown gates, {refused} refused,"
            f" {backlog} never uploaded,"
            f" {problems} with a problem flag",
        ),
        Check(
            "batches sent twice stored once",
            answered_dup >= resent,
            f"{resent} events deliberately sent again, {answered_dup} answered 'duplicate'",
        ),
    ]


async def api_checks(run: Run, database_url: str) -> list[Check]:
    """The same books through the API: riders' orders, the auditors' revenue report and scans per gate."""
    caller = Rider(10**7, run)
    try:
        sample = list(run.ledger.paid.items())[: run.args.api_sample]
        wrong = 0
        for order_id, paid in sample:
            status, body = await caller.call(
                "check: read order",
                "GET",
                f"/v1/orders/{order_id}",
                None,
                {"authorization": f"Bearer {paid.token}"},
            )
            ids = [t["id"] for t in body.get("tickets", [])] if isinstance(body, dict) else []
            wrong += status != 200 or body.get("status") != "paid" or sorted(ids) != sorted(paid.ticket_ids)
        unpaid_wrong = 0
        for order_id, token in list(run.ledger.unpaid.items())[: run.args.api_sample]:
            status, body = await caller.call(
                "check: read order",
                "GET",
                f"/v1/orders/{order_id}",
                None,
                {"authorization": f"Bearer {token}"},
            )
            unpaid_wrong += status != 200 or bool(body.get("tickets")) or body.get("status") == "paid"
        headers = {"authorization": f"Bearer {run.auditor_token}"}
        status, revenue = await caller.call(
            "check: revenue report", "GET", f"/v1/audit/reports/revenue?{run.span()}", None, headers
        )
        rows = revenue.get("rows", []) if isinstance(revenue, dict) else []
        sold = sum(int(r.get("tickets_sold", 0)) for r in rows)
        sold_vnd = sum(int(r.get("sold_vnd", 0)) for r in rows)
        engine = make_engine(database_url)
        with engine.connect() as db:
            tickets, money = db.execute(
                sa.text(
                    "SELECT count(*), coalesce(sum(t.fare_vnd), 0) FROM tickets t JOIN orders o ON"
                    " o.id = t.order_id WHERE o.status = 'paid'"
                )
            ).one()
        engine.dispose()
        per_gate = []
        scans_ok = True
        for gate_id, actor in run.gates.items():
            count, cursor = 0, ""
            for _ in range(1000):
                status, page = await caller.call(
                    "check: scans of a gate",
                    "GET",
                    f"/v1/audit/scans?gate={gate_id}&limit=1000{cursor}",
                    None,
                    headers,
                )
                if status != 200:
                    scans_ok = False
                    break
                count += len(page["items"])
                if not page.get("next"):
                    break
                cursor = f"&cursor={page['next']}"
            length = len(actor.journal())
            scans_ok = scans_ok and count == length
            per_gate.append(f"{gate_id} {count}/{length}")
    finally:
        caller.close()
    return [
        Check(
            "API: riders see their orders as the books say",
            wrong == 0 and unpaid_wrong == 0,
            f"{len(sample)} paid orders read back, {wrong} differ; "
            f"{min(len(run.ledger.unpaid), run.args.api_sample)} unpaid, {unpaid_wrong} with tickets",
        ),
        Check(
            "API: revenue report = the books",
            status == 200 and sold == tickets and sold_vnd == money,
            f"report: {sold} tickets sold, {sold_vnd:,} VND; database: {tickets} tickets, {int(money):,} VND",
        ),
        Check(
            "API: audit scans per gate = journal length",
            scans_ok,
            ", ".join(per_gate),
        ),
    ]


# --- report --------------------------------------------------------------------------------------------


def report(run: Run, seconds: float, baseline_line: str, cpu: CpuMeter, baseline_cpu: float) -> None:
    stats, ledger = run.stats, run.ledger
    requests = sum(len(v) for k, v in stats.latencies.items() if not k.startswith("gate scan"))
    requests -= len(stats.latencies.get("gate sync (keys, 3 lists, journal)", []))
    stored = sum(a.stored_during_load for a in run.gates.values())
    scans = sum(sum(a.scans.values()) for a in run.gates.values())
    print(f"\nmixed load for {seconds:.1f} s: {args_line(run.args)}")
    print(
        f"  riders    {stats.counts['orders paid'] / seconds:7.1f} paid orders/s"
        f" ({stats.counts['orders created'] / seconds:.1f} created/s; {len(ledger.paid)} paid,"
        f" {len(ledger.unpaid)} unpaid, {ledger.replays} deliberate replays)"
    )
    print(
        f"  gates     {stored / seconds:7.1f} scan events uploaded/s ({scans / seconds:.1f} scans/s at"
        f" {len(run.gates)} gates; {sum(a.rewound for a in run.gates.values())} events sent twice)"
    )
    print(f"  auditors  {run.audit_queries / seconds:7.1f} audit queries/s ({run.audit_queries} queries)")
    print(
        f"  all HTTP  {requests / seconds:7.1f} req/s;"
        f" server CPU {cpu.worker_cpu_ms_per(requests):.2f} ms per request"
        f" (baseline GET /v1/network: {baseline_cpu:.2f} ms)"
    )
    print(f"  {cpu.summary()}")
    print(f"  baseline GET /v1/network before the load, {run.args.riders} clients: {baseline_line}")
    print("\nlatency per request kind (under the mixed load):")
    for kind in sorted(stats.latencies):
        samples = stats.latencies[kind]
        print(f"  {kind:<40} {ms(samples)}  ({len(samples)})")
    retries = {k: v for k, v in stats.counts.items() if k.startswith("retry")}
    print(f"\nretries: {dict(sorted(retries.items())) or 'none'}; gave up: {ledger.gave_up}")
    if ledger.refused:
        print(f"refused (4xx): {dict(ledger.refused)}")
    outcomes: Counter[str] = Counter()
    for actor in run.gates.values():
        outcomes.update(actor.scans)
    print(f"gate verdicts: {dict(outcomes.most_common())}")
    failures = {g: dict(a.sync_failures) for g, a in run.gates.items() if a.sync_failures}
    if failures:
        print(f"failed syncs (retried): {failures}")


def args_line(args: argparse.Namespace) -> str:
    return (
        f"{args.riders} riders, {args.gates} gates, {args.auditors} auditors, {args.engine},"
        f" serve --workers {args.workers}"
    )


async def bench(args: argparse.Namespace, running: RunningServer, folder: Path) -> int:
    auditor_token = (
        running.cli("tokens", "create", "--role", "auditor", "--label", "bench-load").strip().splitlines()[-1]
    )
    server = Server("127.0.0.1", running.port)
    run = Run(args, server, running.url, auditor_token, GATE_STATIONS[: args.gates])
    enrol_gates(run, running, folder)

    with CpuMeter(running.pgid) as base_cpu:
        line, answered = await baseline(server, 20_000, args.riders, args.baseline_seconds)
    baseline_cpu = base_cpu.worker_cpu_ms_per(answered)

    with CpuMeter(running.pgid) as cpu:
        seconds = await load(run)
    for actor in run.gates.values():
        if actor.error is not None:
            raise RuntimeError(f"gate {actor.gate_id} failed") from actor.error
    report(run, seconds, line, cpu, baseline_cpu)

    dev_secrets = json.loads((running.data_dir / DEV_SECRETS_FILE).read_text(encoding="utf-8"))
    checks = check_books(run, running.database_url, dev_secrets["token_secret"].encode())
    checks += await api_checks(run, running.database_url)
    checks.append(
        Check(
            "no server errors (5xx other than a clean 503)",
            not run.stats.server_errors,
            f"{len(run.stats.server_errors)}"
            + (f": {run.stats.server_errors[:3]}" if run.stats.server_errors else ""),
        )
    )
    print("\nreconciliation (database and API):")
    for check in checks:
        print(f"  {'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
    balanced = all(check.ok for check in checks)
    print(f"\nbooks {'BALANCE' if balanced else 'DO NOT BALANCE'}")
    return 0 if balanced else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, help="length of the mixed load (default 60; --quick: 15)")
    parser.add_argument("--quick", action="store_true", help="15 s, fewer actors: a smoke run")
    parser.add_argument("--riders", type=int, help="concurrent riders (default 16; --quick: 8)")
    parser.add_argument("--gates", type=int, help=f"gates, 2-{len(GATE_STATIONS)} (default 4)")
    parser.add_argument("--auditors", type=int, default=2, help="concurrent auditors")
    parser.add_argument("--engine", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--retry-share", type=float, default=0.15, help="requests deliberately sent twice")
    parser.add_argument(
        "--drop-share", type=float, default=0.03, help="requests the client stops waiting for, then retries"
    )
    parser.add_argument("--unpaid-share", type=float, default=0.1, help="orders never paid")
    parser.add_argument("--resend-share", type=float, default=0.3, help="syncs that resend uploaded events")
    parser.add_argument(
        "--sync-every", type=float, help="seconds between a gate's syncs (default 2; quick 1)"
    )
    parser.add_argument("--baseline-seconds", type=float, help="GET /v1/network baseline (default 5)")
    parser.add_argument("--max-orders", type=int, default=100_000, help="bound on orders")
    parser.add_argument("--max-audit-queries", type=int, default=100_000, help="bound on audit queries")
    parser.add_argument("--api-sample", type=int, default=2000, help="orders read back through the API")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    quick = args.quick
    args.seconds = args.seconds or (15.0 if quick else 60.0)
    args.riders = args.riders or (8 if quick else 16)
    args.gates = max(2, min(len(GATE_STATIONS), args.gates or 4))
    args.sync_every = args.sync_every or (1.0 if quick else 2.0)
    args.baseline_seconds = args.baseline_seconds or (2.0 if quick else 5.0)
    # SIGTERM unwinds like Ctrl-C, so the server is stopped and the database dropped either way.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(
        f"Load on loopback, {os.cpu_count()} CPU cores shared by the server, PostgreSQL, the gates and the"
        " load generator: the figures are a floor, not the server's ceiling."
    )
    database = (
        postgres_database("metro_bench_load") if args.engine == "postgresql" else contextlib.nullcontext(None)
    )
    with (
        database as database_url,
        serve(database_url, args.workers, "bench-load-") as running,
        tempfile.TemporaryDirectory(prefix="bench-load-gates-") as folder,
    ):
        return asyncio.run(bench(args, running, Path(folder)))


if __name__ == "__main__":
    raise SystemExit(main())
