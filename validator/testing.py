"""Builders for tests and benchmarks: an issuer with a generated key, tickets, passes, signed bundles.

Nothing here is used by a running gate. It lets the gate's tests run without the issuing service.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fare_rules.cccd import holder_hash
from fare_rules.products import Product
from validator.bundle import build_bundle
from validator.codec import KeyEntry, TicketBody, derive_key_id, encode, keyset_to_json
from validator.records import PassRecord, RevocationRecord
from validator.signing import sign_response

__all__ = ["CCCD_EXAMPLE", "CCCD_NUMBER", "TestIssuer", "cccd_qr"]

# Fabricated (domain.md): no real person.
CCCD_NUMBER = "079303001234"
CCCD_EXAMPLE = (
    "079303001234|025123456|Nguyễn Thị Mẫu|15062003|Nữ|12 Đường Số 1, Phường Bến Thành, Quận 1, TP. Hồ Chí Minh"
    "|20042021"
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
        """(serial, payload text) of a freshly signed ticket. Station numbers are wire numbers (101 = L1-01)."""
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
        initials: str = "N.T.M.",
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
        )

    def write_bundle(self, path: Path, station: str = "L1-01", gate: str | None = None) -> Path:
        path.write_text(self.bundle(station, gate), encoding="utf-8")
        return path

    def sign(self, target: str, body: bytes) -> str:
        """The X-Signature header the service would send for a response."""
        return sign_response(target, body, self.kid, self.key)
