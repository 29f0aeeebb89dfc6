"""Real processes on one station database: concurrent gates, and a scanner killed mid-stream."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fare_rules.model import Direction
from fare_rules.reasons import Reason
from validator.bundle import load_bundle
from validator.journal import GENESIS_HASH, chain_hash
from validator.station import open_gate, provision_from_bundle
from validator.testing import TestIssuer

ROOT = Path(__file__).resolve().parents[3]
PYTHON = sys.executable

# Each worker opens its gate, then meets the other gate at a barrier before every ticket (it marks its arrival
# with a file and spins until the other's appears), so the two scans of each ticket start together however
# loaded the machine is. The deadline only keeps a worker whose partner died from spinning forever.
_WORKER = """
import json, sys, time
from datetime import UTC, datetime
from pathlib import Path
from fare_rules.model import Direction
from validator.station import open_gate
data_dir, db, meeting = (Path(arg) for arg in sys.argv[1:4])
me, other = sys.argv[4:6]
tickets = json.loads(Path(sys.argv[6]).read_text())
gate = open_gate(data_dir, db)
out = []
for i, ticket in enumerate(tickets):
    (meeting / f"{me}.{i}").touch()
    deadline = time.monotonic() + 60
    while not (meeting / f"{other}.{i}").exists():
        if time.monotonic() > deadline:  # a bound on waiting, not a speed check
            sys.exit(f"{me}: {other} never reached ticket {i}")
    outcome = gate.scan(ticket, Direction.ENTRY, datetime.now(UTC))
    out.append([i, outcome.verdict.value, outcome.reason.value if outcome.reason else None])
print(json.dumps(out))
"""


def _provision_station(tmp_path: Path, issuer: TestIssuer, gates: list[str]) -> Path:
    db = tmp_path / "station.db"
    bundle = load_bundle(issuer.bundle(server_time=datetime.now(UTC)))
    for gate in gates:
        provision_from_bundle(
            tmp_path / gate, db, bundle, station="L1-01", gate_id=gate, now=datetime.now(UTC)
        )
    return db


def test_two_gate_processes_scanning_the_same_ticket_at_the_same_instant_accept_it_once(
    tmp_path: Path,
) -> None:
    issuer = TestIssuer()
    tickets = [issuer.ticket(issued_at=datetime.now(UTC) - timedelta(minutes=5))[1] for _ in range(30)]
    db = _provision_station(tmp_path, issuer, ["G1", "G2"])
    (tmp_path / "tickets.json").write_text(json.dumps(tickets))
    meeting = tmp_path / "barrier"
    meeting.mkdir()
    procs = [
        subprocess.Popen(
            [
                PYTHON,
                "-c",
                _WORKER,
                str(tmp_path / g),
                str(db),
                str(meeting),
                g,
                other,
                str(tmp_path / "tickets.json"),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for g, other in (("G1", "G2"), ("G2", "G1"))
    ]
    results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]

    for i in range(len(tickets)):
        verdicts = sorted((results[0][i][1], results[1][i][1]))
        assert verdicts == ["accept", "deny"], f"ticket {i}: {verdicts}"
        assert {results[0][i][2], results[1][i][2]} == {None, Reason.ALREADY_INSIDE.value}
    gate = open_gate(tmp_path / "G1", db)
    per_ticket = gate.conn.execute("SELECT count(*) FROM uses GROUP BY credential").fetchall()
    gate.conn.close()
    assert len(per_ticket) == len(tickets)
    assert {n for (n,) in per_ticket} == {1}


def test_a_scanner_killed_mid_stream_loses_no_accepted_scan_and_no_ticket_works_twice(tmp_path: Path) -> None:
    issuer = TestIssuer()
    tickets = [issuer.ticket(issued_at=datetime.now(UTC) - timedelta(minutes=5))[1] for _ in range(400)]
    _provision_station(tmp_path, issuer, ["G1"])
    # Tickets with garbage between them, then a long tail so the kill surely lands mid-stream.
    lines = [t if i % 5 else "garbage line" for i, t in enumerate(tickets)] + ["junk"] * 5000
    env = {**os.environ, "METRO_GATE_DB": str(tmp_path / "station.db")}
    proc = subprocess.Popen(
        [
            PYTHON,
            "scanner_cli.py",
            "--data-dir",
            str(tmp_path / "G1"),
            "listen",
            "--direction",
            "entry",
            "--json",
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write("\n".join(lines) + "\n")
    proc.stdin.flush()
    printed = [json.loads(proc.stdout.readline()) for _ in range(40)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    for pipe in (proc.stdin, proc.stdout):
        # The buffered rest of our input has nowhere to go: the reader is dead.
        with contextlib.suppress(BrokenPipeError):
            pipe.close()

    gate = open_gate(tmp_path / "G1", tmp_path / "station.db")
    rows = gate.conn.execute("SELECT seq, event, prev_hash, hash FROM journal ORDER BY seq").fetchall()
    prev = GENESIS_HASH
    for _, event, prev_hash, digest in rows:
        assert prev_hash == prev
        assert chain_hash(prev_hash, json.loads(event)) == digest
        prev = digest
    journal_accepts = {
        json.loads(e)["credential"] for _, e, _, _ in rows if json.loads(e)["verdict"] == "accept"
    }
    uses = [c for (c,) in gate.conn.execute("SELECT credential FROM uses")]
    printed_accepts = {
        f"t:{p['recognised']['ticket']['serial']}" for p in printed if p["verdict"] == "accept"
    }
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert len(printed) <= len(rows) < len(lines)  # killed mid-stream; all that was shown was durable
    assert printed_accepts <= journal_accepts == set(uses)
    assert len(uses) == len(set(uses))
    again = [gate.scan(t, Direction.ENTRY, datetime.now(UTC)) for t in tickets]
    used_serials = {int(c[2:]) for c in uses}
    for outcome in again:
        if outcome.ticket and outcome.ticket.serial in used_serials:
            assert outcome.reason is Reason.ALREADY_INSIDE
    gate.conn.close()
