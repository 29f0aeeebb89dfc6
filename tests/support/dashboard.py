"""A morning of Line 1 for the dashboard's tests and benchmark, put into a real server the way gates put it:
tickets bought over HTTP, gates enrolled with `gates add` and the real enrolment, their lists fetched by the
real sync, journals chained, signed and uploaded to `POST /v1/gate/journal`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

from support.audit import journal_event, ticket_use
from support.server import ServerProcess
from validator.device import load_or_create_device_key, load_token
from validator.journal import GENESIS_HASH, ChainedEvent, build_batch, chain_next
from validator.operations import enroll_gate, sync_gate
from validator.station import open_gate

__all__ = ["LOCAL", "RemoteGate", "Seeded", "auditor_token", "buy", "seed_morning"]

LOCAL = timezone(timedelta(hours=7))  # Ho Chi Minh City, the bundled policy's utc_offset_hours
_SINGLE = {"product": "single", "origin": "L1-01", "destination": "L1-05"}


def auditor_token(server: ServerProcess) -> str:
    """`python -m ticketing tokens create --role auditor`: the token, printed once."""
    return server.cli("tokens", "create", "--role", "auditor").strip().splitlines()[-1]


def buy(server: ServerProcess, item: dict[str, Any]) -> list[dict[str, Any]]:
    """The tickets of a paid order (sandbox payment)."""
    order = httpx.post(f"{server.url}/v1/orders", json={"items": [item]}).json()
    auth = {"Authorization": f"Bearer {order['access_token']}"}
    paid = httpx.post(f"{server.url}/v1/sandbox/orders/{order['id']}/pay", headers=auth)
    assert paid.status_code == 200, paid.text
    tickets: list[dict[str, Any]] = paid.json()["tickets"]
    return tickets


@dataclass
class RemoteGate:
    """A gate enrolled with the running server, whose journal the test writes and uploads over HTTP."""

    server: ServerProcess
    gate_id: str
    station: str
    folder: Path
    pending: list[ChainedEvent] = field(default_factory=list)
    seq: int = 0
    prev: str = GENESIS_HASH

    @classmethod
    def enrolled(cls, server: ServerProcess, folder: Path, station: str, gate_id: str) -> RemoteGate:
        code = server.cli("gates", "add", "--station", station, "--gate", gate_id).strip().splitlines()[-1]
        enroll_gate(folder, None, server.url, code)
        return cls(server, gate_id, station, folder)

    def sync(self) -> None:
        """The gate's own sync (`scanner_cli.py sync`): it fetches its lists; its own journal is empty."""
        gate = open_gate(self.folder)
        try:
            sync_gate(self.folder, gate)
        finally:
            gate.conn.close()

    def add(
        self, direction: str, when: datetime, ticket: dict[str, Any] | None = None, **fields: Any
    ) -> None:
        self.seq += 1
        uses = ticket_use(ticket) if ticket else {}
        body = journal_event(self.gate_id, self.seq, self.station, direction, when, **uses, **fields)
        event = chain_next(self.gate_id, self.seq, self.prev, body)
        self.prev = event.hash
        self.pending.append(event)

    def upload(self, events: list[ChainedEvent] | None = None) -> httpx.Response:
        sent = self.pending if events is None else events
        batch = build_batch(self.gate_id, sent, load_or_create_device_key(self.folder))
        token = load_token(self.folder) or ""
        answer = httpx.post(
            f"{self.server.url}/v1/gate/journal", json=batch, headers={"Authorization": f"Bearer {token}"}
        )
        if events is None:
            self.pending = []
        return answer


@dataclass(frozen=True)
class Seeded:
    """What seed_morning put in: the local day of the rides (yesterday: in the past whenever the test runs;
    the tickets were sold today), the tickets, and the gates whose lists were fetched."""

    day: date
    singles: list[dict[str, Any]]
    doubled: dict[str, Any]
    far: dict[str, Any]  # rode past its paid station and settled the fare owed with an agent
    synced: tuple[str, ...]

    def days(self, count: int = 1) -> dict[str, str]:
        """`from` and `to` filters: the ride day and the `count` - 1 days after it."""
        return {"from": self.day.isoformat(), "to": (self.day + timedelta(days=count)).isoformat()}


def seed_morning(server: ServerProcess, folder: Path, riders: int = 6) -> Seeded:
    """Yesterday morning: riders from Bến Thành and Thảo Điền, a senior riding free, a refused code, a ticket
    used twice while gates were offline (its second rider refused at the exit by an agent's override), a rider
    who rode past her paid station and settled the difference with an agent, an overstay, and a gate whose
    journal lost two events and which never fetched its lists (the others have)."""
    day = datetime.now(LOCAL).date() - timedelta(days=1)
    morning = datetime.combine(day, time(7, 30), LOCAL)

    def _at(minutes: float) -> datetime:
        return morning + timedelta(minutes=minutes)

    g1 = RemoteGate.enrolled(server, folder / "g1", "L1-01", "L1-01-G1")
    g6 = RemoteGate.enrolled(server, folder / "g6", "L1-06", "L1-06-G1")
    x5 = RemoteGate.enrolled(server, folder / "x5", "L1-05", "L1-05-X1")
    gappy = RemoteGate.enrolled(server, folder / "gap", "L1-09", "L1-09-G1")
    singles = buy(server, {**_SINGLE, "quantity": riders})
    back = buy(server, {"product": "single", "origin": "L1-06", "destination": "L1-01", "quantity": 2})
    doubled = buy(server, _SINGLE)[0]
    far = buy(server, _SINGLE)[0]
    for i, ticket in enumerate(singles):
        g1.add("entry", _at(i * 7), ticket)
        x5.add("exit", _at(i * 7 + 14 + (150 if i == 0 else 0)), ticket)
    for i, ticket in enumerate(back):
        g6.add("entry", _at(40 + i), ticket)
        g1.add("exit", _at(52 + i), ticket)
    senior: dict[str, Any] = {  # a rider of 60 or more on her CCCD card: a free ride (fare_rules.free)
        "input": "cccd",
        "credential": "p:free-senior-1",
        "holder_hash": "5e" * 16,
        "pass": {"pass_id": "free-senior-1", "product": "free_priority", "category": "senior"},
    }
    g1.add("entry", _at(30), **senior)
    x5.add("exit", _at(49), **senior)
    g1.add("entry", _at(20), input="other", verdict="deny", reason="not_our_code")
    g1.add("entry", _at(21), singles[1], verdict="deny", reason="already_inside")
    g1.add("entry", _at(70), doubled)
    g6.add("entry", _at(75), doubled)  # the same ticket at another station, five minutes later
    # The exit gate would let the copy out (it had not heard of the first use); agent A17 refuses it by hand.
    override = {"action": "refuse", "reason": "staff_judgement", "agent": "A17", "gate_reason": None}
    x5.add(
        "exit", _at(96), doubled, verdict="deny", reason="staff_refused", kind="override", override=override
    )
    _settled_past_her_station(server, g1, g6, far, _at(55))
    for gate in (g1, g6, x5):
        gate.sync()
        answer = gate.upload()
        assert answer.status_code == 200, answer.text
    for minute in range(5):
        gappy.add("entry", _at(80 + minute), input="other", verdict="deny", reason="bad_signature")
    events = gappy.pending
    assert gappy.upload(events[:2]).status_code == 200
    assert gappy.upload(events[4:]).status_code == 409  # events 3 and 4 never arrive
    assert gappy.upload(events[4:]).status_code == 200  # sent again: accepted, the hole kept
    return Seeded(day, singles, doubled, far, synced=(g1.gate_id, g6.gate_id, x5.gate_id))


def _settled_past_her_station(
    server: ServerProcess, entry: RemoteGate, exit_gate: RemoteGate, ticket: dict[str, Any], when: datetime
) -> None:
    """A ticket to L1-05 that rides on to the exit gate's station: refused there with the difference owed
    (fare_exceeded), agent B02 collects it by VietQR, and the gate lets the rider out with the adjustment (the
    three events validator.gate.Gate.settle journals)."""
    fare = httpx.get(
        f"{server.url}/v1/fares/quote", params={"origin": ticket["origin"], "destination": exit_gate.station}
    )
    owed = int(fare.json()["amount_vnd"]) - int(ticket["fare_vnd"])
    entry.add("entry", when - timedelta(minutes=20), ticket)
    exit_gate.add("exit", when, ticket, verdict="deny", reason="fare_exceeded", owed_vnd=owed)
    paid = {"method": "vietqr", "collected_vnd": owed, "agent": "B02", "gate_reason": "fare_exceeded"}
    settled = {"verdict": "settle", "owed_vnd": owed, "settlement": {**paid, "accepted": True}}
    exit_gate.add("exit", when + timedelta(minutes=1), ticket, kind="settlement", **settled)
    adjustment = {"amount_vnd": owed, "method": "vietqr", "agent": "B02", "settlement_seq": exit_gate.seq}
    exit_gate.add("exit", when + timedelta(minutes=1), ticket, owed_vnd=owed, adjustment=adjustment)
