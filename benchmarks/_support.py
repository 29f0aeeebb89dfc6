"""What the HTTP benchmarks share (bench_issuing.py, bench_load.py): the real server on a fresh data folder
and database, a light hand-written HTTP/1.1 client, latency percentiles and CPU accounting.

Not a benchmark itself (`make bench` runs `benchmarks/bench_*.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

__all__ = [
    "PG_ADMIN_DSN",
    "ROOT",
    "TIMEOUT_S",
    "Connection",
    "CpuMeter",
    "HttpError",
    "RunningServer",
    "Server",
    "baseline",
    "closed_loop",
    "free_port",
    "ms",
    "pct",
    "postgres_database",
    "serve",
    "visit",
]

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_DSN = os.environ.get("METRO_BENCH_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
CLK_TCK = os.sysconf("SC_CLK_TCK")
TIMEOUT_S = 10.0


# --- measuring -------------------------------------------------------------------------------------


def pct(samples: Sequence[float], q: float) -> float:
    """The q-quantile of `samples` (nearest rank), the one percentile every benchmark prints."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(samples: list[float]) -> str:
    return "  ".join(f"p{int(q * 100)} {pct(samples, q) * 1000:6.1f} ms" for q in (0.5, 0.95, 0.99))


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


# --- the client -------------------------------------------------------------------------------------


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
        data = await asyncio.wait_for(self.reader.readexactly(length), TIMEOUT_S)
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
async def visit(server: Server) -> AsyncIterator[Connection]:
    """One rider's connection, for one order's requests. A connection per rider, as on the street; it also
    spreads the load over the workers, which share one listening socket and split connections, not
    requests."""
    connection = await server.connect()
    try:
        yield connection
    finally:
        connection.close()


async def closed_loop(
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


async def baseline(server: Server, total: int, concurrency: int, max_seconds: float) -> tuple[str, int]:
    """GET /v1/network twice per connection: the orders' pattern (one connection, two requests), no work.
    Returns the report line and the number of requests answered."""
    latencies: list[float] = []
    failures = 0

    async def get() -> None:
        nonlocal failures
        try:
            async with visit(server) as connection:
                for _ in range(2):
                    started = time.perf_counter()
                    status, _ = await connection.request("GET", "/v1/network")
                    latencies.append(time.perf_counter() - started)
                    failures += status != 200
        except (TimeoutError, OSError, asyncio.IncompleteReadError, HttpError, ValueError):
            failures += 1

    seconds = await closed_loop(get, total // 2, concurrency, max_seconds)
    rate = len(latencies) / seconds
    return f"{rate:7.0f} req/s  {ms(latencies)}  ({len(latencies)} requests, {failures} failed)", len(
        latencies
    )


# --- the server -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def postgres_database(prefix: str = "metro_bench") -> Iterator[str]:
    """A fresh PostgreSQL database on the PG_ADMIN_DSN server, dropped at the end; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = psycopg.conninfo.conninfo_to_dict(PG_ADMIN_DSN)
    try:
        yield f"postgresql://{params.get('user', 'postgres')}@{params['host']}:{params['port']}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@dataclass(frozen=True)
class RunningServer:
    """`python -m ticketing serve` on a fresh data folder: its port, process group, folder and first admin
    token (from `init`), and the environment to run the service's CLI against the same database."""

    port: int
    pgid: int
    data_dir: Path
    env: dict[str, str]
    admin_token: str
    database_url: str  # as the service sees it: METRO_DATABASE_URL or the data folder's SQLite file

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> str:
        """`python -m ticketing --data-dir <folder> ARGS...`; its standard output."""
        command = [sys.executable, "-m", "ticketing", "--data-dir", str(self.data_dir), *args]
        done = subprocess.run(
            command, cwd=ROOT, env=self.env, check=True, capture_output=True, text=True, timeout=60
        )
        return done.stdout


@contextlib.contextmanager
def serve(database_url: str | None, workers: int, prefix: str = "bench-") -> Iterator[RunningServer]:
    """A fresh data folder, `init`, then `serve`; always stopped, folder removed."""
    with tempfile.TemporaryDirectory(prefix=prefix) as data_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("METRO_")}
        if database_url:
            env["METRO_DATABASE_URL"] = database_url
        command = [sys.executable, "-m", "ticketing", "--data-dir", data_dir]
        init = subprocess.run(
            [*command, "init"], cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=60
        )
        admin_token = next(
            (line.rsplit(" ", 1)[1] for line in init.stdout.splitlines() if line.startswith("admin token")),
            "",
        )
        port = free_port()
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
            url = database_url or f"sqlite:///{Path(data_dir, 'metro.db')}"
            yield RunningServer(port, process.pid, Path(data_dir), env, admin_token, url)
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
