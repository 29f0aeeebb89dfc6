"""Helpers for the gate-sync tests: enrol a real validator gate against the issuing service's TestClient."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func
from sqlmodel import Session, select

from fare_rules.model import Direction
from support.issuing import Api, bearer
from ticketing.db import make_engine
from ticketing.models import ScanEvent
from validator.core import ScanOutcome
from validator.device import load_or_create_device_key, load_token
from validator.gate import Gate
from validator.journal import GENESIS_HASH, ChainedEvent, build_batch, chain_next
from validator.operations import enroll_gate
from validator.station import open_gate
from validator.sync import SyncClient, SyncReport


@dataclass
class EnrolledGate:
    """A real gate (validator) enrolled with the service, and a way to sync it."""

    api: Api
    gate: Gate
    token: str
    key: Ed25519PrivateKey

    @property
    def gate_id(self) -> str:
        return self.gate.config.gate_id

    def http(self) -> httpx.Client:
        return gate_client(self.api, self.token)

    def sync(self) -> SyncReport:
        with self.http() as http:
            return SyncClient(http, self.gate.conn, self.gate_id, self.key, clock=self.api.clock).sync()

    def scan(self, payload: str, direction: str = "entry", at: datetime | None = None) -> ScanOutcome:
        return self.gate.scan(payload, Direction(direction), at or self.api.clock())


def gate_client(api: Api, token: str | None = None) -> httpx.Client:
    """A client of the same app with the gate's Bearer token (the shared client keeps no gate headers)."""
    client_class = type(api.client)
    client: httpx.Client = client_class(api.client.app, headers=bearer(token) if token else {})
    return client


def add_gate(api: Api, station: str = "L1-01", gate_id: str = "G1") -> Any:
    return api.client.post(
        "/v1/admin/gates", json={"station": station, "gate_id": gate_id}, headers=bearer(api.admin_token)
    )


def enrolled_gate(api: Api, tmp_path: Path, station: str = "L1-01", gate_id: str = "G1") -> EnrolledGate:
    created = add_gate(api, station, gate_id)
    assert created.status_code == 201, created.text
    folder = tmp_path / f"gate-{gate_id}"
    # The gate's own enrolment, with the service's TestClient in place of the network.
    code = created.json()["code"]
    enroll_gate(folder, None, "http://testserver", code, connect=lambda _url, token: gate_client(api, token))
    return EnrolledGate(api, open_gate(folder), load_token(folder) or "", load_or_create_device_key(folder))


def fake_events(gate_id: str, count: int, start: int = 1, prev: str | None = None) -> list[ChainedEvent]:
    """`count` chained deny events of `gate_id` (what a gate journals for unreadable input)."""
    events: list[ChainedEvent] = []
    prev_hash = prev or GENESIS_HASH
    for seq in range(start, start + count):
        body = {
            "v": 1,
            "gate": gate_id,
            "seq": seq,
            "station": "L1-01",
            "direction": "entry",
            "at": f"2025-03-03T02:{seq % 60:02d}:00.000000Z",
            "input": "other",
            "verdict": "deny",
            "reason": "not_our_code",
            "owed_vnd": 0,
            "flags": [],
            "credential": None,
            "holder_hash": None,
        }
        event = chain_next(gate_id, seq, prev_hash, body)
        events.append(event)
        prev_hash = event.hash
    return events


def post_batch(
    gate: EnrolledGate,
    events: list[ChainedEvent],
    key: Ed25519PrivateKey | None = None,
    clock_offset_seconds: Any = None,
) -> Any:
    batch = build_batch(gate.gate_id, events, key or gate.key)
    if clock_offset_seconds is not None:  # anything, to see what the server makes of it
        batch["clock_offset_seconds"] = clock_offset_seconds
    with gate.http() as http:
        return http.post("/v1/gate/journal", json=batch)


def stored_events(api: Api, gate_id: str | None = None) -> list[ScanEvent]:
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        query = select(ScanEvent).order_by(ScanEvent.gate_id, ScanEvent.seq)  # type: ignore[arg-type]
        if gate_id is not None:
            query = query.where(ScanEvent.gate_id == gate_id)
        rows = list(session.exec(query).all())
    engine.dispose()
    return rows


def count_events(api: Api) -> int:
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        total = session.exec(select(func.count()).select_from(ScanEvent)).one()
    engine.dispose()
    return int(total)
