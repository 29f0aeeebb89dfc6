"""The gate's scan journal: a per-gate hash chain of events, uploaded in batches signed by the device key.

Pure functions only, so the issuing service can import `verify_batch` to check what a gate uploads.

Each event's hash is ``sha256(bytes.fromhex(prev_hash) || canonical_json(event))``; the first event of a gate
chains onto `GENESIS_HASH`. A batch is::

    {"format": 1, "gate": "G1", "events": [{"seq": 1, "event": {...}, "prev_hash": "..", "hash": ".."}, ...],
     "signature": "<base64url Ed25519 over BATCH_DOMAIN || canonical_json({format, gate, events})>"}
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from validator.wire import b64url_decode, b64url_encode, canonical_json

__all__ = [
    "BATCH_DOMAIN",
    "BATCH_FORMAT",
    "GENESIS_HASH",
    "ChainedEvent",
    "JournalError",
    "build_batch",
    "chain_hash",
    "chain_next",
    "signature_holds",
    "verify_batch",
    "verify_batch_canonical",
]

GENESIS_HASH = "00" * 32
BATCH_FORMAT = 1
# Domain separation: a batch signature can never be replayed as a signature over anything else.
BATCH_DOMAIN = b"metro-qr journal batch v1\x00"


class JournalError(ValueError):
    """A batch or chain that does not verify.

    `code` is stable: bad_format, bad_signature, wrong_gate, broken_chain, bad_sequence.
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ChainedEvent:
    gate: str
    seq: int
    event: Mapping[str, Any]
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "event": dict(self.event), "prev_hash": self.prev_hash, "hash": self.hash}


def chain_hash(prev_hash: str, event: Mapping[str, Any]) -> str:
    """The hex hash of an event chained onto `prev_hash` (hex)."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical_json(event)).hexdigest()


def chain_next(gate: str, seq: int, prev_hash: str, event: Mapping[str, Any]) -> ChainedEvent:
    """Link `event` as number `seq` of `gate`'s chain. The event must itself name the gate and seq."""
    if event.get("gate") != gate or event.get("seq") != seq:
        raise ValueError("an event must carry its own gate and seq, so the hash binds them")
    return ChainedEvent(gate, seq, event, prev_hash, chain_hash(prev_hash, event))


def _signed_part(gate: str, events: Sequence[Mapping[str, Any]]) -> bytes:
    return BATCH_DOMAIN + canonical_json({"format": BATCH_FORMAT, "gate": gate, "events": list(events)})


def signature_holds(
    gate: str, events: Sequence[ChainedEvent], signature: bytes, device_public_key: Ed25519PublicKey
) -> bool:
    """Whether `signature` is `gate`'s device signature over a batch of exactly `events`, in order: what an
    auditor checks on stored events, where the batch as sent is gone."""
    try:
        device_public_key.verify(signature, _signed_part(gate, [e.to_json() for e in events]))
    except InvalidSignature:
        return False
    return True


def build_batch(
    gate: str,
    events: Sequence[ChainedEvent],
    device_key: Ed25519PrivateKey,
    clock_offset_seconds: float | None = None,
) -> dict[str, Any]:
    """A batch of consecutive events of one gate, signed with its device key. `clock_offset_seconds` (the
    gate's last measured offset, server minus gate clock) rides beside the events, outside the signature:
    the auditors date the events the gate flagged clock_suspect by it."""
    items = [e.to_json() for e in events]
    signature = device_key.sign(_signed_part(gate, items))
    batch = {"format": BATCH_FORMAT, "gate": gate, "events": items, "signature": b64url_encode(signature)}
    if clock_offset_seconds is not None:
        batch["clock_offset_seconds"] = clock_offset_seconds
    return batch


def verify_batch(
    batch: Mapping[str, Any], device_public_key: Ed25519PublicKey, expected_prev_hash: str | None
) -> list[ChainedEvent]:
    """Check a batch: device signature, one gate, consecutive seqs, every hash and the chain's link.

    `expected_prev_hash` is the hash the server holds for seq `first - 1` (GENESIS_HASH when the batch
    starts at seq 1); pass None to skip only that outer link (e.g. the server lost its copy and will
    report a gap).
    Returns the events; raises JournalError otherwise.
    """
    return [event for event, _ in verify_batch_canonical(batch, device_public_key, expected_prev_hash)]


def verify_batch_canonical(
    batch: Mapping[str, Any], device_public_key: Ed25519PublicKey, expected_prev_hash: str | None
) -> list[tuple[ChainedEvent, bytes]]:
    """`verify_batch`, each event with the canonical JSON its hash covers (`canonical_json(event)`, computed
    once here for the signature and the chain alike): a server storing that text need not encode again."""
    try:
        gate = batch["gate"]
        items = batch["events"]
        signature = b64url_decode(batch["signature"])
        fmt = batch.get("format")
    except (KeyError, TypeError, ValueError) as exc:
        raise JournalError("bad_format", f"batch is missing or has a bad field: {exc}") from exc
    # `type(...) is int`: JSON true and 1.0 compare equal to 1 in Python, and are not format 1.
    well_formed = type(fmt) is int and fmt == BATCH_FORMAT and isinstance(gate, str)
    if not well_formed or not isinstance(items, list) or not items:
        raise JournalError("bad_format", "format 1 batch with a gate and at least one event expected")
    try:
        device_public_key.verify(signature, _signed_part(gate, items))
    except InvalidSignature as exc:
        raise JournalError("bad_signature", "batch not signed by this gate's device key") from exc
    except (TypeError, ValueError) as exc:  # not encodable: lone surrogates, integers json cannot write
        raise JournalError("bad_format", f"batch cannot be encoded: {exc}") from exc
    return _verify_chain(gate, items, expected_prev_hash)


def _verify_chain(
    gate: str, items: list[Any], expected_prev_hash: str | None
) -> list[tuple[ChainedEvent, bytes]]:
    out: list[ChainedEvent] = []
    canonical: list[bytes] = []
    prev = expected_prev_hash
    for item in items:
        try:
            seq, event, prev_hash, digest = item["seq"], item["event"], item["prev_hash"], item["hash"]
            body = canonical_json(event)
            recomputed = hashlib.sha256(bytes.fromhex(prev_hash) + body).hexdigest()
        except (KeyError, TypeError, ValueError) as exc:
            raise JournalError("bad_format", f"bad event entry: {exc}") from exc
        if not isinstance(event, dict) or event.get("gate") != gate:
            raise JournalError("wrong_gate", f"event {seq} does not belong to gate {gate}")
        if type(seq) is not int or event.get("seq") != seq or (out and seq != out[-1].seq + 1) or seq < 1:
            raise JournalError("bad_sequence", f"event {seq} out of sequence")
        if prev is not None and prev_hash != prev:
            raise JournalError("broken_chain", f"event {seq} does not chain onto the previous hash")
        if recomputed != digest:
            raise JournalError("broken_chain", f"event {seq} hash does not match its content")
        out.append(ChainedEvent(gate, seq, event, prev_hash, digest))
        canonical.append(body)
        prev = digest
    return list(zip(out, canonical, strict=True))
