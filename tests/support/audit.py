"""Helpers for the audit tests: an auditor token, and gates whose journals the test writes event by event."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from support.gate_sync import EnrolledGate, enrolled_gate, post_batch
from support.issuing import NOW, Api, bearer
from ticketing.db import make_engine
from ticketing.models import Role
from ticketing.services.api_tokens import create_token
from validator.journal import GENESIS_HASH, ChainedEvent, chain_next
from validator.wire import iso


def auditor_token(api: Api) -> str:
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        token = create_token(session, Role.AUDITOR, "tests", NOW).token
    engine.dispose()
    return token


def at(minutes: float) -> datetime:
    """NOW (09:00 in Ho Chi Minh City, 3 March 2025) plus `minutes`."""
    return NOW + timedelta(minutes=minutes)


def ticket_use(ticket: dict[str, Any]) -> dict[str, Any]:
    """The journal fields a gate records for a single ticket (validator.core.event_for)."""
    body = {
        "serial": ticket["serial"],
        "product": ticket["product"],
        "origin": ticket["origin"],
        "destination": ticket["destination"],
        "fare_vnd": ticket["fare_vnd"],
    }
    return {"credential": f"t:{ticket['serial']}", "ticket": body}


def pass_use(ticket: dict[str, Any], holder_hash: str) -> dict[str, Any]:
    """What a gate records when a CCCD card of this pass is scanned."""
    held = ticket["pass"]
    body = {"pass_id": held["id"], "product": held["product"], "cccd": held["holder_masked"]}
    return {"credential": f"p:{held['id']}", "input": "cccd", "holder_hash": holder_hash, "pass": body}


def journal_event(
    gate_id: str, seq: int, station: str, direction: str, when: datetime, **fields: Any
) -> dict[str, Any]:
    """A gate's journal event as validator.core.event_for writes it: an accepted ticket scan unless
    `fields` say otherwise."""
    return {
        "v": 1,
        "gate": gate_id,
        "seq": seq,
        "station": station,
        "direction": direction,
        "at": iso(when),
        "input": "ticket",
        "verdict": "accept",
        "reason": None,
        "owed_vnd": 0,
        "flags": [],
        "credential": None,
        "holder_hash": None,
        **fields,
    }


@dataclass
class Journal:
    """A real enrolled gate whose journal events the test writes, then uploads (signed, chained)."""

    gate: EnrolledGate
    station: str
    pending: list[ChainedEvent] = field(default_factory=list)
    seq: int = 0
    prev: str = GENESIS_HASH

    def add(self, direction: str, when: datetime, **fields: Any) -> None:
        self.seq += 1
        body = journal_event(self.gate.gate_id, self.seq, self.station, direction, when, **fields)
        event = chain_next(self.gate.gate_id, self.seq, self.prev, body)
        self.prev = event.hash
        self.pending.append(event)

    def upload(self) -> Any:
        answer = post_batch(self.gate, self.pending)
        assert answer.status_code == 200, answer.text
        self.pending = []
        return answer


def journal(api: Api, tmp_path: Path, station: str, gate_id: str) -> Journal:
    return Journal(enrolled_gate(api, tmp_path, station=station, gate_id=gate_id), station)


def get(api: Api, path: str, token: str, cccd_header: str | None = None, **params: Any) -> Any:
    """GET /v1/audit/<path>; a CCCD number goes in the X-Audit-CCCD header (never in a URL)."""
    headers = {**bearer(token), **({"X-Audit-CCCD": cccd_header} if cccd_header else {})}
    return api.client.get(f"/v1/audit/{path}", params=params, headers=headers)
