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
import os
import random
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._support import (
    CpuMeter,
    HttpError,
    Server,
    baseline,
    closed_loop,
    ms,
    pct,
    postgres_database,
    serve,
    visit,
)

__all__ = ["main"]

TARGET_ORDERS_PER_S = 500
TARGET_P99_MS = 50.0
TARGET_CPU_MS_PER_ORDER = 4.0
STATIONS = [f"L1-{n:02d}" for n in range(1, 15)]


@dataclass
class Results:
    orders: list[float] = field(default_factory=list)  # create + pay, seconds
    create: list[float] = field(default_factory=list)
    pay: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def fail(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


# --- the load --------------------------------------------------------------------------------------


async def _order(
    server: Server, results: Results, rng: random.Random, scheduled: float | None = None
) -> None:
    """Create and pay one order. `scheduled`: when it should have started (the order's latency counts from
    there, so a load generator that falls behind cannot hide the server's delay)."""
    origin, destination = rng.sample(STATIONS, 2)
    item = {"product": "single", "origin": origin, "destination": destination, "quantity": 1}
    started = time.perf_counter()
    try:
        async with visit(server) as connection:
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


# --- one engine -------------------------------------------------------------------------------------


def _report(title: str, results: Results, seconds: float, cpu: CpuMeter, note: str = "") -> None:
    rate = len(results.orders) / seconds
    print(f"  {title:<32}{rate:7.0f} paid orders/s ({2 * rate:.0f} req/s){note}")
    print(f"    order (create + pay)          {ms(results.orders)}  ({len(results.orders)} orders)")
    print(f"    create                        {ms(results.create)}")
    print(f"    pay                           {ms(results.pay)}")
    if results.errors:
        print(f"    FAILED: {results.errors}")
    print(f"    {cpu.summary()}")


async def _run_engine(port: int, pgid: int, args: argparse.Namespace) -> None:
    rng = random.Random(1)
    server = Server("127.0.0.1", port)
    warm = Results()  # connections, the signing key's decryption, caches, on both workers
    await closed_loop(lambda: _order(server, warm, rng), args.concurrency * 4, args.concurrency, 20)

    with CpuMeter(pgid) as cpu:
        line, requests = await baseline(server, args.orders * 2, args.concurrency, args.max_seconds)
    per_request = cpu.worker_cpu_ms_per(requests)
    print(f"  baseline GET /v1/network, {args.concurrency:>3} clients {line}")
    print(f"    {cpu.summary()}")

    results = Results()
    with CpuMeter(pgid) as cpu:
        seconds = await closed_loop(
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
    p99 = pct(fixed.orders, 0.99) * 1000
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
    database = postgres_database() if engine == "postgresql" else contextlib.nullcontext(None)
    with database as database_url, serve(database_url, args.workers, "bench-issuing-") as running:
        asyncio.run(_run_engine(running.port, running.pgid, args))


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
