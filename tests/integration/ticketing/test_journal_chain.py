"""Auditors re-check the gates' journals: each stored event's hash and link, each upload's device signature,
from the API (`/v1/audit/journal`, `/v1/audit/chain`) and the CLI (`audit verify-chain`), on both engines."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from support.audit import at, auditor_token, get, journal, ticket_use
from support.gate_sync import EnrolledGate, enrolled_gate, fake_events, post_batch
from support.issuing import Api, single

from ticketing.db import make_engine
from validator.journal import chain_hash

DAY = {"from": "2025-03-03", "to": "2025-03-04"}


@pytest.fixture
def token(api: Api) -> str:
    return auditor_token(api)


@pytest.fixture
def uploaded(api: Api, tmp_path: Path) -> EnrolledGate:
    """Gate G1 at Bến Thành: six events in two signed uploads."""
    gate = enrolled_gate(api, tmp_path, station="L1-01", gate_id="G1")
    events = fake_events("G1", 6)
    for part in (events[:4], events[4:]):
        assert post_batch(gate, part).status_code == 200
    return gate


def _sql(api: Api, statement: str, **params: Any) -> None:
    engine = make_engine(api.database_url)
    with engine.begin() as connection:
        connection.execute(sa.text(statement), params)
    engine.dispose()


def _cli(api: Api, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m ticketing audit verify-chain ...` as an auditor runs it, in its own process."""
    env = {**os.environ, "METRO_DATA_DIR": str(tmp_path / "auditor"), "METRO_DATABASE_URL": api.database_url}
    command = [sys.executable, "-m", "ticketing", "audit", "verify-chain", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def _event_of(api: Api, gate: str, seq: int) -> dict[str, Any]:
    engine = make_engine(api.database_url)
    with engine.connect() as connection:
        text = connection.execute(
            sa.text("SELECT event FROM scan_events WHERE gate_id = :g AND seq = :s"), {"g": gate, "s": seq}
        ).scalar_one()
    engine.dispose()
    event: dict[str, Any] = json.loads(text)
    return event


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_the_chain_of_a_gate_that_uploaded_its_journal_holds_hashes_links_and_signatures(
    api: Api, token: str, uploaded: EnrolledGate
) -> None:
    answer = get(api, "chain", token, gate="G1").json()

    assert answer["ok"] is True
    assert [
        (g["gate"], g["from_seq"], g["to_seq"], g["events"], g["signatures"], g["unsigned_events"])
        for g in answer["gates"]
    ] == [("G1", 1, 6, 6, 2, 0)]
    assert answer["gates"][0]["first_break"] is None


def test_an_auditor_recomputes_every_hash_and_signature_from_the_journal_api_with_their_own_tools(
    api: Api, token: str, uploaded: EnrolledGate
) -> None:
    page = get(api, "journal", token, gate="G1", limit=100).json()
    prev = "00" * 32
    for entry in page["items"]:
        assert entry["prev_hash"] == prev
        assert hashlib.sha256(bytes.fromhex(prev) + entry["event"].encode()).hexdigest() == entry["hash"]
        prev = entry["hash"]
    by_seq = {e["seq"]: e for e in page["items"]}
    for batch in page["batches"]:
        items = [
            {"seq": s, "event": json.loads(by_seq[s]["event"]), "prev_hash": by_seq[s]["prev_hash"],
             "hash": by_seq[s]["hash"]}
            for s in range(batch["first_seq"], batch["last_seq"] + 1)
        ]  # fmt: skip
        signed = b"metro-qr journal batch v1\x00" + _canonical({"format": 1, "gate": "G1", "events": items})
        key = Ed25519PublicKey.from_public_bytes(_b64(batch["device_public_key"]))
        key.verify(_b64(batch["signature"]), signed)  # raises InvalidSignature otherwise
    assert [(b["first_seq"], b["last_seq"]) for b in page["batches"]] == [(1, 4), (5, 6)]
    assert page["next"] is None


def test_an_event_changed_in_the_database_is_the_first_break_the_api_and_the_cli_report(
    api: Api, tmp_path: Path, token: str, uploaded: EnrolledGate
) -> None:
    event = _event_of(api, "G1", 3)
    event["reason"] = "already_used"
    _sql(
        api,
        "UPDATE scan_events SET event = :e WHERE gate_id = 'G1' AND seq = 3",
        e=_canonical(event).decode(),
    )

    answer = get(api, "chain", token, gate="G1").json()
    cli = _cli(api, tmp_path, "--gate", "G1")

    assert answer["ok"] is False
    assert answer["gates"][0]["first_break"]["seq"] == 3
    assert answer["gates"][0]["first_break"]["problem"] == "hash_mismatch"
    assert cli.returncode == 1, cli.stderr
    assert "G1: seq 1-6: events 2," in cli.stdout  # the walk stopped at seq 3
    assert "BREAK at seq 3: hash_mismatch" in cli.stdout


def test_a_chain_rewritten_with_fresh_hashes_is_caught_by_the_gate_s_upload_signature(
    api: Api, token: str, uploaded: EnrolledGate
) -> None:
    engine = make_engine(api.database_url)
    with engine.connect() as connection:
        prev_hash = connection.execute(
            sa.text("SELECT hash FROM scan_events WHERE gate_id = 'G1' AND seq = 1")
        ).scalar_one()
    engine.dispose()
    for seq in range(2, 7):  # someone with write access rehashes the rest of the chain after a change
        event = _event_of(api, "G1", seq)
        if seq == 2:
            event["verdict"] = "accept"
        digest = chain_hash(prev_hash, event)
        _sql(
            api,
            "UPDATE scan_events SET event = :e, prev_hash = :p, hash = :h WHERE gate_id = 'G1' AND seq = :s",
            e=_canonical(event).decode(),
            p=prev_hash,
            h=digest,
            s=seq,
        )
        prev_hash = digest

    found = get(api, "chain", token, gate="G1").json()["gates"][0]["first_break"]

    assert (found["seq"], found["problem"]) == (1, "bad_signature")


def test_events_deleted_without_a_declared_gap_are_a_break_and_a_declared_gap_is_not(
    api: Api, tmp_path: Path, token: str, uploaded: EnrolledGate
) -> None:
    gappy = enrolled_gate(api, tmp_path, station="L1-06", gate_id="D6")
    events = fake_events("D6", 5)
    post_batch(gappy, events[:2])
    post_batch(gappy, events[4:])
    post_batch(gappy, events[4:])  # the same again: the gate no longer has 3 and 4, the gap is accepted
    _sql(api, "DELETE FROM scan_events WHERE gate_id = 'G1' AND seq = 4")

    answer = {g["gate"]: g for g in get(api, "chain", token, **DAY).json()["gates"]}

    assert (answer["G1"]["first_break"]["seq"], answer["G1"]["first_break"]["problem"]) == (4, "missing")
    assert answer["D6"]["first_break"] is None
    assert (answer["D6"]["accepted_gaps"], answer["D6"]["events"]) == (1, 3)


def test_verify_chain_over_a_time_range_checks_the_events_of_that_range_and_says_all_hold(
    api: Api, tmp_path: Path, uploaded: EnrolledGate
) -> None:
    # fake_events date seq n at 02:n UTC: 02:02-02:04 holds seqs 2 and 3.
    cli = _cli(
        api, tmp_path, "--gate", "G1", "--from", "2025-03-03T02:02:00Z", "--to", "2025-03-03T02:04:00Z"
    )
    as_json = _cli(api, tmp_path, "--json")

    assert cli.returncode == 0, cli.stderr
    assert "G1: seq 2-3: events 2, upload signatures 1, unsigned events 0, declared gaps 0: ok" in cli.stdout
    assert "all chains hold" in cli.stdout
    assert json.loads(as_json.stdout)["ok"] is True


def test_the_journal_api_pages_by_seq_and_refuses_a_request_without_a_gate(
    api: Api, token: str, uploaded: EnrolledGate
) -> None:
    first = get(api, "journal", token, gate="G1", limit=4).json()
    rest = get(api, "journal", token, gate="G1", limit=4, cursor=str(first["next"])).json()
    no_gate = get(api, "journal", token)
    bad_cursor = get(api, "journal", token, gate="G1", cursor="x")

    assert [e["seq"] for e in first["items"]] == [1, 2, 3, 4]
    assert [e["seq"] for e in rest["items"]] == [5, 6]
    assert rest["next"] is None
    assert [(b["first_seq"], b["last_seq"]) for b in rest["batches"]] == [(5, 6)]
    assert (no_gate.status_code, no_gate.json()["code"]) == (422, "bad_filter")
    assert (bad_cursor.status_code, bad_cursor.json()["code"]) == (422, "bad_cursor")


def test_an_anomaly_s_detail_in_csv_is_a_json_object(api: Api, tmp_path: Path, token: str) -> None:
    ticket = api.paid_order(single())["tickets"][0]
    gate = journal(api, tmp_path, "L1-01", "A1")
    gate.add("entry", at(0), **ticket_use(ticket))
    gate.add("entry", at(1), verdict="deny", reason="already_inside", **ticket_use(ticket))
    gate.upload()

    rows = list(csv.DictReader(io.StringIO(get(api, "anomalies", token, format="csv", **DAY).text)))

    passback = [r for r in rows if r["kind"] == "passback"]
    assert len(passback) == 1
    assert json.loads(passback[0]["detail"]) == {"reason": "already_inside", "source": "refused"}
