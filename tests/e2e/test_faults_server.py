"""Faults on the issuing side, with real processes and real databases.

- The server SIGKILLed at random points while riders create and pay for orders (Idempotency-Key, retries)
  and a gate uploads its journal, then restarted on the same database (SQLite and PostgreSQL): no
  half-issued order, no second order or issue for one key, every scan event stored exactly once.
- A private PostgreSQL restarted under the same load: requests fail cleanly (503 with a code, never a 500)
  and succeed again; the books balance.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from support.fault import Load, private_postgres, read_books, stored_order_key
from support.server import ServerProcess, running, wait_until

pytestmark = pytest.mark.e2e
KILLS = 2


def _check_books(load: Load, database_url: str, server: ServerProcess) -> None:
    books = read_books(database_url, load.gate_id)
    assert books.half_issued == []
    # One order per key: a retry never made a second. The database holds a keyed hash of each key.
    assert books.keyed_orders == {stored_order_key(server.data_dir, key) for key in load.keys}
    assert books.orders == len(load.keys)
    for order_id, shown in load.paid.items():
        assert (books.status_of[order_id], books.tickets_of[order_id]) == ("paid", shown)
    assert books.journal_seqs == list(range(1, load.journal_batches * load.batch_size + 1))
    assert load.server_errors == []


def _kill_and_restart(server: ServerProcess, seed: int) -> None:
    rng = random.Random(seed)  # fixed per run: a failure can be replayed
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.1, 0.6))
        server.kill()
        server.start()


@pytest.fixture
def shared_postgres_url() -> Iterator[str]:
    """A fresh database on the shared server (never restarted here), dropped afterwards."""
    admin_dsn = "host=127.0.0.1 port=5432 user=postgres dbname=test"
    name = f"metro_faults_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=3) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL unreachable: {error}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.parametrize("seed", [1])
def test_a_server_killed_mid_order_payment_and_ingest_leaves_no_half_issue_and_no_double_on_sqlite(
    tmp_path: Path, seed: int
) -> None:
    server = ServerProcess(tmp_path / "server")
    with running(server):
        load = Load(server.url, server.admin_token, seed=seed)
        load.run(lambda: _kill_and_restart(server, seed))

    _check_books(load, f"sqlite:///{tmp_path / 'server' / 'metro.db'}", server)


@pytest.mark.postgres
@pytest.mark.parametrize("seed", [2])
def test_a_server_killed_mid_order_payment_and_ingest_leaves_no_half_issue_and_no_double_on_postgresql(
    tmp_path: Path, shared_postgres_url: str, seed: int
) -> None:
    server = ServerProcess(tmp_path / "server", shared_postgres_url)
    with running(server):
        load = Load(server.url, server.admin_token, seed=seed)
        load.run(lambda: _kill_and_restart(server, seed))

    _check_books(load, shared_postgres_url, server)


@pytest.mark.postgres
def test_postgresql_restarted_under_load_answers_503_with_a_code_then_serves_again(tmp_path: Path) -> None:
    with private_postgres() as pg:
        server = ServerProcess(tmp_path / "server", pg.url)
        with running(server):
            load = Load(server.url, server.admin_token, seed=3)

            def restart() -> None:
                wait_until(lambda: len(load.statuses) >= load.riders, timeout=30, what="the load under way")
                pg.stop("immediate")  # a crash: connections drop mid-transaction, recovery on start
                wait_until(lambda: 503 in load.statuses, timeout=30, what="requests to find it gone")
                pg.start()

            load.run(restart)

        _check_books(load, pg.url, server)
    assert 503 in load.statuses  # the outage was seen, and answered cleanly
    assert "Traceback" not in server.log
