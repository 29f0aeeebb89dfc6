"""Faults on the gate, with the real scanner_cli process: SIGKILLed mid-scan and mid-sync, its disk full, its
database file system read-only. Clear error and exit code (never a traceback), no accepted scan lost, the
journal chain intact, and sync resumes where it stopped."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.server import ServerProcess, running

import scanner_cli
from fare_rules.model import Direction
from validator.journal import GENESIS_HASH, chain_hash
from validator.station import open_gate
from validator.testing import TestIssuer

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
GATE = "L1-01-G1"


def _cli(data_dir: Path, *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "scanner_cli.py", "--data-dir", str(data_dir), *args]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _run(data_dir: Path, *args: str) -> tuple[int, str, str]:
    process = _cli(data_dir, *args)
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err


def _journal(data_dir: Path) -> list[tuple[int, dict[str, object], str, str]]:
    with sqlite3.connect(data_dir / "gate.db") as conn:
        rows = conn.execute("SELECT seq, event, prev_hash, hash FROM journal ORDER BY seq").fetchall()
    return [(int(seq), json.loads(event), prev, digest) for seq, event, prev, digest in rows]


def _assert_chain_intact(data_dir: Path) -> None:
    journal = _journal(data_dir)
    assert [seq for seq, *_ in journal] == list(range(1, len(journal) + 1))
    prev = GENESIS_HASH
    for _seq, event, prev_hash, digest in journal:
        assert (prev_hash, digest) == (prev, chain_hash(prev, event))
        prev = digest


def _serials_accepted(data_dir: Path) -> set[str]:
    return {
        str(event["credential"])
        for _seq, event, _p, _h in _journal(data_dir)
        if event.get("verdict") == "accept" and event.get("credential")
    }


@pytest.fixture
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture
def offline_gate(tmp_path: Path, issuer: TestIssuer) -> Path:
    return _provision(tmp_path / "gate", tmp_path, issuer)


def _provision(data_dir: Path, tmp_path: Path, issuer: TestIssuer) -> Path:
    bundle = tmp_path / "bundle.json"
    bundle.write_text(issuer.bundle(server_time=datetime.now(UTC)), encoding="utf-8")
    argv = [
        "--data-dir",
        str(data_dir),
        "init",
        "--station",
        "L1-01",
        "--gate",
        GATE,
        "--bundle",
        str(bundle),
    ]
    assert scanner_cli.main(argv) == scanner_cli.EXIT_OK
    return data_dir


def _ticket(issuer: TestIssuer) -> str:
    payload: str = issuer.ticket(issued_at=datetime.now(UTC) - timedelta(minutes=5))[1]
    return payload


def test_a_gate_killed_mid_scan_keeps_every_scan_it_answered_accept(
    offline_gate: Path, issuer: TestIssuer
) -> None:
    tickets = [_ticket(issuer) for _ in range(60)]
    stop_after = random.Random(4).randint(5, 40)  # answers seen before the kill; fixed so a failure replays
    gate = _cli(offline_gate, "listen", "--direction", "entry", "--json", "--sync-interval", "0")
    answered: list[dict[str, object]] = []
    assert gate.stdin is not None
    assert gate.stdout is not None

    def feed() -> None:
        for ticket in tickets:
            try:
                gate.stdin.write(ticket + "\n")  # type: ignore[union-attr]
                gate.stdin.flush()  # type: ignore[union-attr]
            except (BrokenPipeError, ValueError):
                return

    feeder = threading.Thread(target=feed)
    feeder.start()
    for line in gate.stdout:
        answered.append(json.loads(line))
        if len(answered) >= stop_after:
            os.killpg(gate.pid, signal.SIGKILL)  # the barrier opened for these; the next may be mid-commit
            break
    gate.wait(timeout=10)
    feeder.join(timeout=10)
    for stream in (gate.stdin, gate.stdout, gate.stderr):
        with suppress(OSError):  # the reader is gone: closing stdin may report the broken pipe
            stream.close()  # type: ignore[union-attr]

    assert all(a["verdict"] == "accept" for a in answered)
    _assert_chain_intact(offline_gate)
    journal = _journal(offline_gate)
    assert len(journal) >= len(answered)  # a scan committed just before the kill may be unanswered
    assert len(_serials_accepted(offline_gate)) == len(journal)
    again = _run(offline_gate, "scan", "--direction", "entry", "--json", tickets[0])
    assert (again[0], json.loads(again[1])["reason"]) == (scanner_cli.EXIT_DENIED, "already_inside")


def test_a_gate_killed_mid_sync_resumes_and_the_server_stores_every_event_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = ServerProcess(tmp_path / "server")
    with running(server):
        code = server.cli("gates", "add", "--station", "L1-01", "--gate", GATE).strip().splitlines()[-1]
        folder = tmp_path / "gate"
        assert (
            scanner_cli.main(["--data-dir", str(folder), "enroll", "--server", server.url, "--code", code])
            == 0
        )
        gate = open_gate(folder)
        gate.conn.execute("PRAGMA synchronous = OFF")  # only to build the backlog fast; not what is tested
        for _ in range(1500):  # three journal batches of 500
            gate.scan("not a ticket", Direction.ENTRY, datetime.now(UTC))
        gate.conn.close()
        sync = _cli(folder, "sync")
        time.sleep(random.Random(5).uniform(0.2, 0.8))
        os.killpg(sync.pid, signal.SIGKILL)
        sync.communicate(timeout=10)
        capsys.readouterr()
        resumed = scanner_cli.main(["--data-dir", str(folder), "sync"])
        status = scanner_cli.main(["--data-dir", str(folder), "status", "--json"])
        backlog = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["journal_backlog"]

        with sqlite3.connect(tmp_path / "server" / "metro.db") as conn:
            stored = [
                s
                for (s,) in conn.execute(
                    "SELECT seq FROM scan_events WHERE gate_id = ? ORDER BY seq", (GATE,)
                )
            ]

    assert (resumed, status, backlog) == (scanner_cli.EXIT_OK, scanner_cli.EXIT_OK, 0)
    assert stored == list(range(1, 1501))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs: a real ENOSPC and a real read-only remount (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as handle, suppress(OSError):  # until ENOSPC: the disk is full
        while True:
            handle.write(b"\0" * 4096)
    return filler


def _assert_clean_store_error(result: tuple[int, str, str], problem: str) -> None:
    code, _out, err = result
    assert code == scanner_cli.EXIT_STORE_FAILED
    assert problem in err
    assert "nothing was recorded" in err
    assert "Traceback" not in err


def test_a_full_disk_refuses_the_scan_with_exit_4_keeps_what_was_recorded_and_recovers(
    small_disk: Path, tmp_path: Path, issuer: TestIssuer
) -> None:
    gate = _provision(small_disk / "gate", tmp_path, issuer)
    first, second = _ticket(issuer), _ticket(issuer)
    assert _run(gate, "scan", "--direction", "entry", "--json", first)[0] == scanner_cli.EXIT_OK
    filler = _fill(small_disk)

    full = _run(gate, "scan", "--direction", "entry", "--json", second)
    filler.unlink()
    recovered = _run(gate, "scan", "--direction", "entry", "--json", second)

    _assert_clean_store_error(full, "disk full")
    assert recovered[0] == scanner_cli.EXIT_OK
    _assert_chain_intact(gate)
    assert len(_serials_accepted(gate)) == 2
    assert len(_journal(gate)) == 2  # the refused attempt left nothing behind


def test_a_read_only_store_refuses_the_scan_with_exit_4_and_scans_again_once_writable(
    small_disk: Path, tmp_path: Path, issuer: TestIssuer
) -> None:
    gate = _provision(small_disk / "gate", tmp_path, issuer)
    first, second = _ticket(issuer), _ticket(issuer)
    assert _run(gate, "scan", "--direction", "entry", "--json", first)[0] == scanner_cli.EXIT_OK
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)

    read_only = _run(gate, "scan", "--direction", "entry", "--json", second)
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    writable = _run(gate, "scan", "--direction", "entry", "--json", second)

    _assert_clean_store_error(read_only, "")
    assert writable[0] == scanner_cli.EXIT_OK
    _assert_chain_intact(gate)
    assert len(_journal(gate)) == 2


def _crashed_copy(gate: Path, tmp_path: Path, issuer: TestIssuer) -> Path:
    """A copy of the gate's folder taken while its last scan lived only in gate.db-wal (as after a power cut
    before any checkpoint): a connection held open stops the CLI's own close from checkpointing."""
    holder = sqlite3.connect(gate / "gate.db")
    holder.execute("SELECT count(*) FROM journal").fetchone()
    assert _run(gate, "scan", "--direction", "entry", _ticket(issuer))[0] == scanner_cli.EXIT_OK
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    for file in gate.iterdir():
        (crashed / file.name).write_bytes(file.read_bytes())
        (crashed / file.name).chmod(0o600)
    holder.close()
    return crashed


def _folder(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["status", "--json"],
        ["scan", "--direction", "entry", "junk"],
        ["listen", "--direction", "entry"],
        ["sync"],
        ["inspect", "junk"],
    ],
    ids=" ".join,
)
def test_a_zero_length_store_is_refused_with_exit_4_by_every_command_and_its_wal_is_kept(
    offline_gate: Path, tmp_path: Path, issuer: TestIssuer, command: list[str]
) -> None:
    crashed = _crashed_copy(offline_gate, tmp_path, issuer)
    (crashed / "gate.db").write_bytes(b"")
    before = _folder(crashed)
    assert before["gate.db-wal"]  # the committed scan is in there

    code, _out, err = _run(crashed, *command)

    assert code == scanner_cli.EXIT_STORE_FAILED
    assert _folder(crashed) == before
    assert "empty" in err  # says what is wrong
    assert "cannot be written" not in err
    assert "Traceback" not in err


@pytest.mark.parametrize("size", [100, 4096], ids=["half-written header", "first page only"])
def test_a_half_written_store_is_refused_with_exit_4_and_left_as_it_is(offline_gate: Path, size: int) -> None:
    store = offline_gate / "gate.db"
    store.write_bytes(store.read_bytes()[:size])
    before = _folder(offline_gate)

    code, _out, err = _run(offline_gate, "status")

    assert code == scanner_cli.EXIT_STORE_FAILED
    assert _folder(offline_gate) == before
    assert "damaged" in err
    assert "cannot be written" not in err
