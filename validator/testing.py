"""Builders for tests and benchmarks: an issuer with a generated key, tickets, passes, signed bundles, and
`FakeServer`, the in-process reference of the gate sync protocol.

Test support, shipped in the package only because the tests and benchmarks/bench_gate.py share it. No module
on a gate's runtime path (the rest of `validator`, scanner_cli.py) imports it; tests/unit/test_architecture.py
checks that. It generates keys and accepts any enrolment code a test registers: never run it as a service.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fare_rules.cccd import holder_hash
from fare_rules.products import Product
from fare_rules.versions import RulesKind
from validator.bundle import build_bundle
from validator.codec import KeyEntry, TicketBody, derive_key_id, encode, keyset_to_json
from validator.items import free_rider_to_json, pass_to_json, revocation_to_json
from validator.journal import GENESIS_HASH, ChainedEvent, JournalError, verify_batch
from validator.records import FreeRiderRecord, PassRecord, RevocationRecord
from validator.signing import SIGNATURE_HEADER, sign_response
from validator.versions import VersionRecord, version_to_json
from validator.wire import b64url_decode, iso

__all__ = ["CCCD_EXAMPLE", "CCCD_NUMBER", "TEST_NOW", "FakeServer", "TestIssuer", "cccd_qr"]

# A fixed "now" for tests: 10:00 in Ho Chi Minh City, two hours after TestIssuer.ticket()'s default issue.
TEST_NOW = datetime(2025, 3, 1, 3, 0, tzinfo=UTC)

# Fabricated (domain.md): no real person.
CCCD_NUMBER = "079303001234"
CCCD_EXAMPLE = (
    "079303001234|025123456|Nguyễn Thị Mẫu|15062003|Nữ"
    "|12 Đường Số 1, Phường Bến Thành, Quận 1, TP. Hồ Chí Minh|20042021"
)


def cccd_qr(
    number: str = CCCD_NUMBER, birth: str = "15062003", sex: str = "Nữ", name: str = "Nguyễn Thị Mẫu"
) -> str:
    """A CCCD 2021 front-QR text for a fabricated card."""
    return f"{number}||{name}|{birth}|{sex}|1 Đường Số 1, Quận 1, TP. Hồ Chí Minh|20042021"


@dataclass
class TestIssuer:
    """A stand-in for the issuing service: a signing key, serials, lists, a CCCD hash key."""

    __test__ = False  # not a pytest test class despite the name

    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    cccd_hash_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    revoked_keys: list[KeyEntry] = field(default_factory=list)
    revocations: list[RevocationRecord] = field(default_factory=list)
    passes: list[PassRecord] = field(default_factory=list)
    free_riders: list[FreeRiderRecord] = field(default_factory=list)
    versions: list[VersionRecord] = field(default_factory=list)  # tariff and policy versions announced
    next_serial: int = 1000
    list_seq: int = 0

    @property
    def kid(self) -> int:
        return derive_key_id(self.key.public_key())

    def keyset(self) -> dict[int, KeyEntry]:
        entries = {self.kid: KeyEntry(self.kid, self.key.public_key())}
        entries.update({k.key_id: k for k in self.revoked_keys})
        return entries

    def keyset_json(self) -> dict[str, object]:
        return dict(keyset_to_json(self.keyset()))

    def ticket(
        self,
        *,
        origin: int = 101,
        destination: int = 105,
        product: Product = Product.SINGLE,
        issued_at: datetime | None = None,
        valid_days: int = 30,
        fare_vnd: int = 10_000,
        holder: bytes | None = None,
        key: Ed25519PrivateKey | None = None,
        kid: int | None = None,
    ) -> tuple[int, str]:
        """(serial, payload text) of a freshly signed ticket. Stations are wire numbers (101 = L1-01)."""
        issued = (issued_at or datetime(2025, 3, 1, 1, 0, tzinfo=UTC)).replace(microsecond=0)
        self.next_serial += 1
        single = product is Product.SINGLE
        body = TicketBody(
            key_id=kid if kid is not None else self.kid,
            serial=self.next_serial,
            product=product,
            origin=origin if single else 0,
            destination=destination if single else 0,
            issued_at=issued,
            valid_from=issued,
            valid_until=issued + timedelta(days=valid_days),
            fare_vnd=fare_vnd if single else 0,
            holder_hash=holder,
        )
        return self.next_serial, encode(body, key or self.key)

    def revoke(self, serial: int, reason: str = "refunded") -> None:
        self.list_seq += 1
        self.revocations.append(RevocationRecord(self.list_seq, serial, reason))

    def add_pass(
        self,
        number: str = CCCD_NUMBER,
        *,
        product: Product = Product.MONTHLY,
        valid_from: datetime | None = None,
        days: int = 30,
        status: str = "active",
        initials: str = "NTM",
        birth_year: int | None = 2003,
        pass_id: str | None = None,
    ) -> PassRecord:
        self.list_seq += 1
        start = valid_from or datetime(2025, 2, 28, 21, 0, tzinfo=UTC)
        record = PassRecord(
            seq=self.list_seq,
            pass_id=pass_id or f"P{self.list_seq:05d}",
            holder_hash=holder_hash(number, self.cccd_hash_key),
            product=product,
            valid_from=start,
            valid_until=start + timedelta(days=days),
            status=status,
            initials=initials,
            birth_year=birth_year,
        )
        self.passes.append(record)
        return record

    def add_free_rider(
        self,
        number: str = CCCD_NUMBER,
        *,
        category: str = "disability",
        valid_from: datetime | None = None,
        days: int = 365,
        status: str = "active",
        entry_id: str | None = None,
    ) -> FreeRiderRecord:
        self.list_seq += 1
        start = valid_from or datetime(2025, 2, 28, 21, 0, tzinfo=UTC)
        record = FreeRiderRecord(
            seq=self.list_seq,
            entry_id=entry_id or f"F{self.list_seq:05d}",
            holder_hash=holder_hash(number, self.cccd_hash_key),
            category=category,
            valid_from=start,
            valid_until=start + timedelta(days=days),
            status=status,
        )
        self.free_riders.append(record)
        return record

    def announce(
        self, kind: RulesKind, document: Mapping[str, object], effective_from: datetime, version: str
    ) -> VersionRecord:
        """A tariff or policy version announced for `effective_from`, on the list gates sync."""
        self.list_seq += 1
        record = VersionRecord(self.list_seq, kind, version, effective_from, json.dumps(document))
        self.versions.append(record)
        return record

    def bundle(
        self, station: str = "L1-01", gate: str | None = None, server_time: datetime | None = None
    ) -> str:
        """A signed provisioning bundle of everything issued so far."""
        return build_bundle(
            network_id="hcmc",
            station=station,
            gate=gate,
            keyset_json=self.keyset_json(),
            revocations=self.revocations,
            passes=self.passes,
            cccd_hash_key=self.cccd_hash_key,
            server_time=server_time or datetime(2025, 3, 1, 0, 0, tzinfo=UTC),
            signer_kid=self.kid,
            signer_key=self.key,
            free_riders=self.free_riders,
            versions=[version_to_json(v) for v in self.versions],
        )

    def write_bundle(self, path: Path, station: str = "L1-01", gate: str | None = None) -> Path:
        path.write_text(self.bundle(station, gate), encoding="utf-8")
        return path

    def sign(self, target: str, body: bytes) -> str:
        """The X-Signature header the service would send for a response."""
        return sign_response(target, body, self.kid, self.key)


@dataclass
class FakeServer:
    """An in-process issuing service speaking the gate sync protocol (docs/gate.md), for httpx.MockTransport.

    It is also the executable reference of the contract for whoever builds the real endpoints.
    """

    issuer: TestIssuer = field(default_factory=TestIssuer)
    page_size: int = 1000
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # one-time code -> (gate, station)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> gate
    devices: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    events: list[dict[str, object]] = field(default_factory=list)  # other gates' uses, cursor = index + 1
    journal: dict[tuple[str, int], ChainedEvent] = field(default_factory=dict)
    batch_offsets: list[object] = field(default_factory=list)  # each journal batch's clock_offset_seconds
    fail_requests: set[int] = field(default_factory=set)  # request numbers that raise a connection error
    requests: list[str] = field(default_factory=list)
    sign: bool = True

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(
            transport=httpx.MockTransport(self.handle), base_url="http://server.test", headers=headers
        )

    def add_code(self, code: str, gate: str, station: str) -> None:
        self.codes[code] = (gate, station)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.raw_path.decode()}")
        if len(self.requests) in self.fail_requests:
            raise httpx.ConnectError("simulated outage", request=request)
        path = request.url.path
        if path == "/v1/keys":
            return self._signed(request, {**self.issuer.keyset_json(), "server_time": iso(self.clock())})
        if path == "/v1/gate/enroll":
            return self._enroll(request)
        gate = self.tokens.get(request.headers.get("Authorization", "").removeprefix("Bearer "))
        if gate is None:
            return httpx.Response(401, json={"code": "unauthorized", "detail": "unknown gate token"})
        after = int(request.url.params.get("after", "0"))
        if path == "/v1/gate/revocations":
            rows = [revocation_to_json(r) for r in self.issuer.revocations if r.seq > after]
            return self._page(request, rows, after)
        if path == "/v1/gate/passes":
            return self._page(request, [pass_to_json(p) for p in self.issuer.passes if p.seq > after], after)
        if path == "/v1/gate/free_riders":
            rows = [free_rider_to_json(f) for f in self.issuer.free_riders if f.seq > after]
            return self._page(request, rows, after)
        if path == "/v1/gate/tariffs":
            rows = [version_to_json(v) for v in self.issuer.versions if v.seq > after]
            return self._page(request, rows, after)
        if path == "/v1/gate/events":
            rows = [
                {**e, "seq": i + 1} for i, e in enumerate(self.events) if i + 1 > after and e["gate"] != gate
            ]
            return self._page(request, rows, after)
        if path == "/v1/gate/journal":
            return self._journal(request, gate)
        return httpx.Response(404, json={"code": "not_found", "detail": path})

    def _signed(
        self, request: httpx.Request, body: Mapping[str, object], status: int = 200
    ) -> httpx.Response:
        content = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.sign:
            headers[SIGNATURE_HEADER] = self.issuer.sign(request.url.raw_path.decode(), content)
        return httpx.Response(status, content=content, headers=headers)

    def _page(self, request: httpx.Request, rows: list[dict[str, object]], after: int) -> httpx.Response:
        page = rows[: self.page_size]
        nxt = int(str(page[-1]["seq"])) if page else after
        return self._signed(request, {"items": page, "next": nxt, "server_time": iso(self.clock())})

    def _enroll(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        found = self.codes.pop(body.get("code", ""), None)
        if found is None:
            return httpx.Response(403, json={"code": "bad_code", "detail": "unknown or used enrolment code"})
        gate, station = found
        self.devices[gate] = Ed25519PublicKey.from_public_bytes(b64url_decode(body["device_public_key"]))
        token = secrets.token_urlsafe(16)
        self.tokens[token] = gate
        answer = {
            "gate_id": gate,
            "station": station,
            "network_id": "hcmc",
            "token": token,
            "cccd_hash_key": self.issuer.cccd_hash_key.hex(),
            "server_time": iso(self.clock()),
        }
        return self._signed(request, answer)

    def _journal(self, request: httpx.Request, gate: str) -> httpx.Response:
        batch = json.loads(request.content)
        self.batch_offsets.append(batch.get("clock_offset_seconds"))
        first = batch["events"][0]["seq"] if batch.get("events") else 1
        stored_max = max((s for g, s in self.journal if g == gate), default=0)
        if first > stored_max + 1:
            gap = {"code": "journal_gap", "detail": "events missing", "expected_seq": stored_max + 1}
            return httpx.Response(409, json=gap)
        prev = GENESIS_HASH if first == 1 else self.journal[(gate, first - 1)].hash
        if batch.get("gate") != gate:
            return httpx.Response(403, json={"code": "wrong_gate", "detail": "batch for another gate"})
        try:
            events = verify_batch(batch, self.devices[gate], prev)
        except JournalError as exc:
            return httpx.Response(400, json={"code": exc.code, "detail": exc.detail})
        results = []
        for event in events:
            status = "duplicate" if (gate, event.seq) in self.journal else "stored"
            self.journal.setdefault((gate, event.seq), event)
            results.append({"seq": event.seq, "status": status})
        return self._signed(request, {"results": results, "server_time": iso(self.clock())})
