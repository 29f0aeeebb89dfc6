"""Issuing over HTTP: the real server (`python -m ticketing serve --workers 2`) on PostgreSQL and SQLite.

Each engine gets a fresh data folder (and, for PostgreSQL, a fresh database, dropped at the end). Concurrent
clients create an order and pay it in the sandbox, both with an Idempotency-Key; the output gives paid
orders/s and latency percentiles next to the same server's plain `GET /v1/network` rate from the same run,
then a fixed-rate run at 200 orders/s. Loopback only, bounded in requests and time; it stops by itself.

Run: `.venv/bin/python benchmarks/bench_issuing.py [--orders N] [--concurrency C]
[--engine sqlite|postgresql|both]`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_DSN = os.environ.get("METRO_BENCH_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
TARGET_ORDERS_PER_S = 500
TARGET_P99_MS = 50.0
TARGET_CPU_MS_PER_ORDER = 4.0
STATIONS = [f"L1-{n:02d}" for n in range(1, 15)]
CLK_TCK = os.sysconf("SC_CLK_TCK")
TIMEOUT_S = 10.0


# --- measuring -------------------------------------------------------------------------------------


def _pct(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(samples: list[float]) -> str:
    return "  ".join(f"p{int(q * 100)} {_pct(samples, q) * 1000:6.1f} ms" for q in (0.5, 0.95, 0.99))


def _group_cpu_seconds(pgid: int, *, workers_only: bool = False) -> float:
    """CPU time (user + system) of every live process in a process group: the server and its workers.
    `workers_only`: leave out the group's leader (uvicorn's supervisor), keep the workers that serve."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or (workers_only and int(entry.name) == pgid):
            continue
        with contextlib.suppress(OSError):
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            if (
                int(fields[2]) == pgid
            ):  # fields after the name: state, ppid, pgrp, ..., utime (11), stime (12)
                total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def _machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy (every core), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuMeter:
    """Where the CPU went during a phase: load generator (this process), server, everything else."""

    pgid: int
    start: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)

    def __enter__(self) -> CpuMeter:
        self.start = self._read()
        return self

    def __exit__(self, *_: object) -> None:
        self.end = self._read()

    def _read(self) -> tuple[float, float, float, float, float]:
        return (
            time.perf_counter(),
            _own_cpu_seconds(),
            _group_cpu_seconds(self.pgid),
            _machine_busy_seconds(),
            _group_cpu_seconds(self.pgid, workers_only=True),
        )

    def worker_cpu_ms_per(self, count: int) -> float:
        """Server CPU (the workers' user + system time) per unit of work, in ms: the figure that does not
        depend on what else the machine is doing, unlike a rate. /proc counts in clock ticks (10 ms), so
        runs of a few thousand requests are needed for two significant digits."""
        return (self.end[4] - self.start[4]) * 1000 / count if count else float("nan")

    def summary(self) -> str:
        wall, own, server, busy, _ = (b - a for a, b in zip(self.start, self.end, strict=True))
        other = max(0.0, busy - own - server)
        return (
            f"CPU cores busy: server {server / wall:.2f}, load generator {own / wall:.2f}, "
            f"rest of machine (database, ...) {other / wall:.2f} of {os.cpu_count()}"
        )


@dataclass
class Results:
    orders: list[float] = field(default_factory=list)  # create + pay, seconds
    create: list[float] = field(default_factory=list)
    pay: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def fail(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


# --- the load ---------------------------------------------------------------------------------------


class HttpError(Exception):
    """A request that got no well-formed answer."""


class Connection:
    """One keep-alive HTTP/1.1 connection. Hand-rolled on purpose: on a small machine the load generator
    shares the cores with the server, and this costs a fraction of the CPU an httpx request does."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    async def request(
        self, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        payload = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"host: {self.host}", f"content-length: {len(payload)}"]
        if body is not None:
            lines.append("content-type: application/json")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), TIMEOUT_S)
        status = int(head[9:12])
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise HttpError("response without content-length")
        data = await self.reader.readexactly(length)
        return status, json.loads(data) if data else None

    def close(self) -> None:
        self.writer.close()


@dataclass(frozen=True)
class Server:
    host: str
    port: int

    async def connect(self) -> Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return Connection(reader, writer, f"{self.host}:{self.port}")


@contextlib.asynccontextmanager
async def _visit(server: Server) -> AsyncIterator[Connection]:
    """One rider's connection, for one order's requests. A connection per rider, as on the street; it also
    spreads the load over the workers, which share one listening socket and split connections, not
    requests."""
    connection = await server.connect()
    try:
        yield connection
    finally:
        connection.close()


async def _order(
    server: Server, results: Results, rng: random.Random, scheduled: float | None = None
) -> None:
    """Create and pay one order. `scheduled`: when it should have started (the order's latency counts from
    there, so a load generator that falls behind cannot hide the server's delay)."""
    origin, destination = rng.sample(STATIONS, 2)
    item = {"product": "single", "origin": origin, "destination": destination, "quantity": 1}
    started = time.perf_counter()
    try:
        async with _visit(server) as connection:
            status, order = await connection.request(
                "POST", "/v1/orders", {"items": [item]}, {"idempotency-key": uuid.uuid4().hex}
            )
            made = time.perf_counter()
            if status != 201:
                results.fail(f"create {status}")
                return
            headers = {
                "authorization": f"Bearer {order['access_token']}",
                "idempotency-key": uuid.uuid4().hex,
            }
            status, paid = await connection.request(
                "POST", f"/v1/sandbox/orders/{order['id']}/pay", None, headers
            )
    except (TimeoutError, OSError, asyncio.IncompleteReadError, HttpError, ValueError) as error:
        results.fail(type(error).__name__)
        return
    done = time.perf_counter()
    if status != 200 or paid.get("status") != "paid" or len(paid.get("tickets", ())) != 1:
        results.fail(f"pay {status}")
        return
    results.create.append(made - started)
    results.pay.append(done - made)
    results.orders.append(done - (started if scheduled is None else scheduled))


async def _closed_loop(
    work: Callable[[], Awaitable[None]], total: int, concurrency: int, max_seconds: float
) -> float:
    """Run `work` `total` times from `concurrency` clients; stop early at `max_seconds`. Returns seconds."""
    remaining = total
    deadline = time.perf_counter() + max_seconds

    async def client_loop() -> None:
        nonlocal remaining
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            await work()

    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    return time.perf_counter() - started


async def _baseline(server: Server, total: int, concurrency: int, max_seconds: float) -> tuple[str, int]:
    """GET /v1/network twice per connection: the orders' pattern (one connection, two requests), no work.
    Returns the report line and the number of requests answered."""
    latencies: list[float] = []
    failures = 0

    async def get() -> None:
        nonlocal failures
        try:
            async with _visit(server) as connection:
                for _ in range(2):
                    started = time.perf_counter()
                    status, _ = await connection.request("GET", "/v1/network")
                    latencies.append(time.perf_counter() - started)
                    failures += status != 200
        except (TimeoutError, OSError, asyncio.IncompleteReadError, HttpError, ValueError):
            failures += 1

    seconds = await _closed_loop(get, total // 2, concurrency, max_seconds)
    rate = len(latencies) / seconds
    return f"{rate:7.0f} req/s  {_ms(latencies)}  ({len(latencies)} requests, {failures} failed)", len(
        latencies
    )


async def _fixed_rate(
    server: Server, rate: float, seconds: float, max_in_flight: int, rng: random.Random
) -> tuple[Results, int, float]:
    """Open loop: order i is due at t0 + i/rate whatever happened to the others. An order that finds
    `max_in_flight` orders unanswered is not sent but counted (`skipped`): the server is not keeping up.
    Returns results, skipped, seconds."""
    results = Results()
    skipped = 0
    tasks: set[asyncio.Task[None]] = set()
    started = time.perf_counter()
    for i in range(int(rate * seconds)):
        at = started + i / rate
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(tasks) >= max_in_flight:
            skipped += 1
            continue
        task = asyncio.create_task(_order(server, results, rng, scheduled=at))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        _, pending = await asyncio.wait(set(tasks), timeout=15)
        for task in pending:
            task.cancel()
            results.fail("unfinished")
    return results, skipped, time.perf_counter() - started


# --- the server -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _postgres_database() -> Iterator[str]:
    name = f"metro_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = psycopg.conninfo.conninfo_to_dict(PG_ADMIN_DSN)
    try:
        yield f"postgresql://{params.get('user', 'postgres')}@{params['host']}:{params['port']}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def _server(database_url: str | None, workers: int) -> Iterator[tuple[int, int]]:
    """A fresh data folder, `init`, then `serve`; yields (port, process group id). Always stopped."""
    with tempfile.TemporaryDirectory(prefix="bench-issuing-") as data_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("METRO_")}
        if database_url:
            env["METRO_DATABASE_URL"] = database_url
        command = [sys.executable, "-m", "ticketing", "--data-dir", data_dir]
        subprocess.run([*command, "init"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)
        port = _free_port()
        log = Path(data_dir, "server.log").open("wb")  # noqa: SIM115 (closed below, after the server)
        process = subprocess.Popen(
            [*command, "serve", "--port", str(port), "--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the workers are stopped with it
        )
        try:
            _wait_until_up(f"http://127.0.0.1:{port}", process, Path(data_dir, "server.log"))
            yield port, process.pid
        finally:
            _stop(process)
            log.close()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=url, timeout=2) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if client.get("/v1/network").status_code == 200:
                    return
            if process.poll() is not None:
                break
            time.sleep(0.1)
    raise RuntimeError(f"the server did not start:\n{log.read_text(errors='replace')}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    # uvicorn's workers die with their supervisor; make sure none outlives it
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


# --- one engine -------------------------------------------------------------------------------------


def _report(title: str, results: Results, seconds: float, cpu: CpuMeter, note: str = "") -> None:
    rate = len(results.orders) / seconds
    print(f"  {title:<32}{rate:7.0f} paid orders/s ({2 * rate:.0f} req/s){note}")
    print(f"    order (create + pay)          {_ms(results.orders)}  ({len(results.orders)} orders)")
    print(f"    create                        {_ms(results.create)}")
    print(f"    pay                           {_ms(results.pay)}")
    if results.errors:
        print(f"    FAILED: {results.errors}")
    print(f"    {cpu.summary()}")


async def _run_engine(port: int, pgid: int, args: argparse.Namespace) -> None:
    rng = random.Random(1)
    server = Server("127.0.0.1", port)
    warm = Results()  # connections, the signing key's decryption, caches, on both workers
    await _closed_loop(lambda: _order(server, warm, rng), args.concurrency * 4, args.concurrency, 20)

    with CpuMeter(pgid) as cpu:
        baseline, requests = await _baseline(server, args.orders * 2, args.concurrency, args.max_seconds)
    per_request = cpu.worker_cpu_ms_per(requests)
    print(f"  baseline GET /v1/network, {args.concurrency:>3} clients {baseline}")
    print(f"    {cpu.summary()}")

    results = Results()
    with CpuMeter(pgid) as cpu:
        seconds = await _closed_loop(
            lambda: _order(server, results, rng), args.orders, args.concurrency, args.max_seconds
        )
    rate = len(results.orders) / seconds
    verdict = "meets" if rate >= TARGET_ORDERS_PER_S else "below"
    per_order = cpu.worker_cpu_ms_per(len(results.orders))
    print(
        f"  server CPU (workers' user + system time): {per_order:.2f} ms per paid order, "
        f"{per_request:.2f} ms per GET /v1/network (baseline, so {2 * per_request:.2f} ms for two requests)"
        f"  [≤ {TARGET_CPU_MS_PER_ORDER:.0f} ms per order allows {TARGET_ORDERS_PER_S}/s on {args.workers} "
        "dedicated cores]"
    )
    _report(
        f"create + pay, {args.concurrency:>3} clients",
        results,
        seconds,
        cpu,
        f"  [target ≥ {TARGET_ORDERS_PER_S} on PostgreSQL: {verdict}]",
    )

    fixed = Results()
    with CpuMeter(pgid) as cpu:
        fixed, skipped, seconds = await _fixed_rate(
            server, args.rate, args.rate_seconds, args.concurrency * 4, rng
        )
    p99 = _pct(fixed.orders, 0.99) * 1000
    verdict = "meets" if p99 <= TARGET_P99_MS and not skipped and not fixed.errors else "misses"
    _report(
        f"fixed rate {args.rate:.0f}/s for {args.rate_seconds:.0f} s",
        fixed,
        seconds,
        cpu,
        f"  [target p99 ≤ {TARGET_P99_MS:.0f} ms: {verdict}; {skipped} not sent: too many in flight]",
    )


def _bench(engine: str, args: argparse.Namespace) -> None:
    print(f"\n{engine} (`python -m ticketing serve --workers {args.workers}`, fresh data folder)")
    database = _postgres_database() if engine == "postgresql" else contextlib.nullcontext(None)
    with database as database_url, _server(database_url, args.workers) as (port, pgid):
        asyncio.run(_run_engine(port, pgid, args))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=2000, help="orders in the throughput run")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients")
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--rate", type=float, default=200.0, help="orders/s of the fixed-rate run")
    parser.add_argument("--rate-seconds", type=float, default=5.0, help="length of the fixed-rate run")
    parser.add_argument("--max-seconds", type=float, default=30.0, help="time limit of each closed-loop run")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the server is stopped and the database dropped either way.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(
        f"Issuing over HTTP on loopback, {os.cpu_count()} CPU cores. The load generator (this process) and "
        "the database run on the same cores as the server and take CPU from it: on a small machine the "
        "figures are a floor, not the server's ceiling."
    )
    for engine in ("postgresql", "sqlite") if args.engine == "both" else (args.engine,):
        _bench(engine, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
