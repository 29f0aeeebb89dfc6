"""Fault-test support: a private throwaway PostgreSQL, riders and a gate driving load with retries, and the
books read straight from the database. The real server as a killable process: server_support.ServerProcess."""

from __future__ import annotations

import json
import os
import pwd
import random
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from support.gate_sync import fake_events
from support.server import free_port
from ticketing.db import make_engine
from ticketing.services.idempotency import record_key
from ticketing.services.order_books import order_books
from ticketing.settings import DEV_SECRETS_FILE
from validator.device import public_key_text
from validator.journal import build_batch
from validator.sync import enroll

__all__ = [
    "Books",
    "Load",
    "PrivatePostgres",
    "private_postgres",
    "read_books",
    "stored_order_key",
]

# --- a private PostgreSQL, so restarting it never touches the shared server ------------------------------


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


@dataclass
class PrivatePostgres:
    bin: Path
    data: Path
    port: int
    user: str

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/metro"

    def run(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", self.user, "--", str(self.bin / args[0]), *args[1:]],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "log"), "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """initdb + pg_ctl on a free port in a temp folder, as the `postgres` user (initdb refuses root)."""
    bin_dir = _pg_bin()
    if bin_dir is None or os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("a private PostgreSQL needs /usr/lib/postgresql/*/bin, root and runuser")
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres system user to run a private PostgreSQL")
    # Not under pytest's tmp_path: that is private to root, and the postgres user must reach its data.
    folder = Path(tempfile.mkdtemp(prefix="metro-pg-"))
    folder.chmod(0o755)
    data = folder / "pgdata"
    data.mkdir()
    os.chown(data, user.pw_uid, user.pw_gid)
    pg = PrivatePostgres(bin_dir, data, free_port(), "postgres")
    pg.run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(f"port = {pg.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n")
        conf.write("fsync = off\nmax_connections = 60\n")  # a throwaway instance: speed over durability
    pg.start()
    try:
        engine = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/postgres")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("CREATE DATABASE metro")
        engine.dispose()
        yield pg
    finally:
        with suppress(subprocess.CalledProcessError):  # already stopped
            pg.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


# --- load: riders buying and paying, a gate uploading, all retrying through the fault -------------------


@dataclass
class Load:
    """Riders (create + pay, each with its own Idempotency-Key) and one gate's journal, against `url`,
    retrying transport errors and 503s until `deadline`. Every other answer is recorded."""

    url: str
    admin_token: str
    riders: int = 4
    orders_per_rider: int = 6
    journal_batches: int = 8
    batch_size: int = 50
    seed: int = 0
    deadline: float = field(default_factory=lambda: time.monotonic() + 60)
    paid: dict[str, int] = field(default_factory=dict)  # order id -> tickets the rider was shown
    keys: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # every answer, 503s included
    server_errors: list[str] = field(default_factory=list)  # 5xx other than a clean 503 with a code
    gate_id: str = ""
    journal_sent: int = 0
    _token: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _call(self, client: httpx.Client, url: str, **kwargs: Any) -> httpx.Response:
        """POST until an answer that is not a transport error or a 5xx; records every status on the way."""
        while True:
            if time.monotonic() > self.deadline:  # the load runs for a fixed time; no speed check
                raise TimeoutError("the service did not come back in time")
            try:
                response = client.post(url, **kwargs)
            except httpx.TransportError:
                time.sleep(0.05)  # the server is down or restarting: retry, as a rider's app would
                continue
            with self._lock:
                self.statuses.append(response.status_code)
            if response.status_code >= 500:
                body = _json_or_none(response)
                clean = response.status_code == 503 and isinstance(body, dict) and "code" in body
                if not clean:
                    with self._lock:
                        self.server_errors.append(f"{response.status_code} {response.text[:300]}")
                time.sleep(0.05)
                continue
            return response

    def _rider(self, number: int) -> None:
        rng = random.Random(self.seed * 1000 + number)
        with httpx.Client(base_url=self.url, timeout=10) as client:
            for n in range(self.orders_per_rider):
                key = f"rider{number:04d}-order{n:04d}-seed{self.seed:012d}"  # long enough to be a key
                with self._lock:
                    self.keys.append(key)
                item: dict[str, Any] = {"product": "single", "origin": "L1-01", "destination": "L1-05"}
                item["quantity"] = rng.randint(1, 3)
                created = self._call(
                    client, "/v1/orders", json={"items": [item]}, headers={"Idempotency-Key": key}
                )
                assert created.status_code in (200, 201), created.text
                order = created.json()
                if rng.random() < 0.25:
                    continue  # some riders never pay: their orders must hold no tickets
                auth = {"Authorization": f"Bearer {order['access_token']}", "Idempotency-Key": f"pay-{key}"}
                paid = self._call(client, f"/v1/sandbox/orders/{order['id']}/pay", headers=auth)
                assert paid.status_code == 200, paid.text
                with self._lock:
                    self.paid[order["id"]] = len(paid.json()["tickets"])

    def enrol_gate(self) -> Ed25519PrivateKey:
        self.gate_id = f"L1-01-F{self.seed}"
        key = Ed25519PrivateKey.generate()
        with httpx.Client(base_url=self.url, timeout=10) as client:
            created = client.post(
                "/v1/admin/gates",
                json={"station": "L1-01", "gate_id": self.gate_id},
                headers={"Authorization": f"Bearer {self.admin_token}"},
            )
            assert created.status_code == 201, created.text
            self._token = enroll(client, created.json()["code"], public_key_text(key)).token
        return key

    def _gate(self, key: Ed25519PrivateKey) -> None:
        events = fake_events(self.gate_id, self.journal_batches * self.batch_size)
        headers = {"Authorization": f"Bearer {self._token}"}
        with httpx.Client(base_url=self.url, timeout=10, headers=headers) as client:
            for start in range(0, len(events), self.batch_size):
                batch = build_batch(self.gate_id, events[start : start + self.batch_size], key)
                # The same batch again after a failure: what a gate's re-sync sends.
                answer = self._call(client, "/v1/gate/journal", json=batch)
                assert answer.status_code == 200, answer.text
                with self._lock:
                    self.journal_sent = start + self.batch_size

    def run(self, fault: Callable[[], None]) -> None:
        """Run the load on threads, call `fault` from this one meanwhile, wait for the load to finish."""
        key = self.enrol_gate()
        errors: list[BaseException] = []

        def guarded(target: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                try:
                    target()
                except BaseException as exc:  # re-raised below, in the test's thread
                    errors.append(exc)

            return run

        threads = [threading.Thread(target=guarded(partial(self._rider, n))) for n in range(self.riders)]
        threads.append(threading.Thread(target=guarded(partial(self._gate, key))))
        for thread in threads:
            thread.start()
        try:
            fault()
        finally:
            for thread in threads:
                thread.join(timeout=max(1.0, self.deadline - time.monotonic()))
        if errors:
            raise errors[0]


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


@dataclass
class Books:
    orders: int
    keyed_orders: set[str]
    half_issued: list[str]  # paid with the wrong number of tickets, or unpaid with any
    tickets_of: dict[str, int]
    status_of: dict[str, str]
    journal_seqs: list[int]


def stored_order_key(data_dir: Path, key: str) -> str:
    """What the server in `data_dir` (dev secrets) stores in orders.idempotency_key for `key`."""
    secret = json.loads((data_dir / DEV_SECRETS_FILE).read_text(encoding="utf-8"))["token_secret"]
    return record_key(secret.encode(), "order", key) or ""


def read_books(database_url: str, gate_id: str) -> Books:
    """Straight from the database: orders, tickets per order, and the gate's stored journal."""
    engine = make_engine(database_url)
    with engine.connect() as connection:
        rows = order_books(connection)
        seqs = connection.execute(
            sa.text("SELECT seq FROM scan_events WHERE gate_id = :g ORDER BY seq"), {"g": gate_id}
        ).scalars()
        journal = [int(s) for s in seqs]
    engine.dispose()
    half = [
        r.id
        for r in rows
        if (r.status == "paid" and r.tickets != r.quantity) or (r.status != "paid" and r.tickets != 0)
    ]
    return Books(
        orders=len(rows),
        keyed_orders={r.idempotency_key for r in rows if r.idempotency_key},
        half_issued=half,
        tickets_of={r.id: r.tickets for r in rows},
        status_of={r.id: r.status for r in rows},
        journal_seqs=journal,
    )
