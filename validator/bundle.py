"""The offline provisioning bundle: everything a gate needs to start scanning without a network.

JSON, signed by an issuer key of the keyset it carries (format in docs/gate.md, "Provisioning bundle").
Because the bundle carries its own keyset, its signature proves integrity, not origin: pin the issuer with
`trusted` (e.g. the fingerprint printed by the service) to prove origin too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from validator.codec import KeyEntry, load_keyset, public_key_to_bytes
from validator.items import (
    free_rider_to_json,
    parse_free_rider,
    parse_pass,
    parse_revocation,
    pass_to_json,
    revocation_to_json,
)
from validator.records import FreeRiderRecord, PassRecord, RevocationRecord
from validator.signing import SignatureError, verify_with_keyset
from validator.wire import b64url_decode, b64url_encode, canonical_json, iso, parse_iso

__all__ = [
    "BUNDLE_DOMAIN",
    "BUNDLE_FORMAT",
    "Bundle",
    "BundleError",
    "build_bundle",
    "key_fingerprint",
    "load_bundle",
    "normalise_fingerprint",
    "pinned_keys",
]

BUNDLE_FORMAT = 1
BUNDLE_DOMAIN = b"metro-qr gate bundle v1\x00"


class BundleError(ValueError):
    """A bundle that does not parse, verify or fit this gate. `code`: bad_format, bad_signature, untrusted."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Bundle:
    network_id: str
    station: str
    gate: str | None  # None: any gate of the station may be provisioned from it
    keyset_json: dict[str, Any]
    keyset: dict[int, KeyEntry]
    revocations: tuple[RevocationRecord, ...]
    passes: tuple[PassRecord, ...]
    cursors: dict[str, int]  # revocations, passes, events (free_riders): where online sync resumes
    cccd_hash_key: bytes
    server_time: datetime
    signer_kid: int
    free_riders: tuple[FreeRiderRecord, ...] = ()  # absent from bundles made before the registry
    # Tariff and policy versions as the gates' list items (validator/versions.py parses them).
    tariffs: tuple[dict[str, Any], ...] = ()


def key_fingerprint(entry: KeyEntry) -> str:
    """sha256 of the raw public key, first 16 hex digits in groups: what an operator compares by eye."""
    digest = hashlib.sha256(public_key_to_bytes(entry.public_key)).hexdigest()[:16]
    return " ".join(digest[i : i + 4] for i in range(0, 16, 4))


def normalise_fingerprint(text: str) -> str:
    """An operator-typed fingerprint (`61d1 2956 d635 c0ff`, `61D12956D635C0FF`, `61d1-2956-…`) in the form
    `key_fingerprint` prints; ValueError unless it is 16 hex digits."""
    digits = "".join(c for c in text.lower() if c not in " -:")
    if len(digits) != 16 or any(c not in "0123456789abcdef" for c in digits):
        raise ValueError(f"a key fingerprint is 16 hex digits, not {text!r}")
    return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


def pinned_keys(keyset: Mapping[int, KeyEntry], fingerprint: str) -> dict[int, KeyEntry]:
    """The unrevoked keys of `keyset` with this fingerprint: what `load_bundle(trusted=…)` and the first
    keyset sync of a pinned gate accept a signature from."""
    wanted = normalise_fingerprint(fingerprint)
    return {
        kid: entry for kid, entry in keyset.items() if not entry.revoked and key_fingerprint(entry) == wanted
    }


def build_bundle(
    *,
    network_id: str,
    station: str,
    gate: str | None,
    keyset_json: Mapping[str, Any],
    revocations: Sequence[RevocationRecord],
    passes: Sequence[PassRecord],
    cccd_hash_key: bytes,
    server_time: datetime,
    signer_kid: int,
    signer_key: Ed25519PrivateKey,
    events_cursor: int = 0,
    free_riders: Sequence[FreeRiderRecord] = (),
    versions: Sequence[Mapping[str, Any]] = (),
) -> str:
    """Serialise and sign a bundle (the issuing service's export and the tests use this)."""
    content: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "network_id": network_id,
        "station": station,
        "gate": gate,
        "server_time": iso(server_time),
        "keyset": dict(keyset_json),
        "revocations": [revocation_to_json(r) for r in revocations],
        "passes": [pass_to_json(p) for p in passes],
        "free_riders": [free_rider_to_json(f) for f in free_riders],
        "tariffs": [dict(v) for v in versions],
        "cursors": {
            "revocations": max((r.seq for r in revocations), default=0),
            "passes": max((p.seq for p in passes), default=0),
            "events": events_cursor,
            "free_riders": max((f.seq for f in free_riders), default=0),
            "tariffs": max((int(v["seq"]) for v in versions), default=0),
        },
        "cccd_hash_key": cccd_hash_key.hex(),
    }
    signature = signer_key.sign(BUNDLE_DOMAIN + canonical_json(content))
    content["signature"] = {"kid": signer_kid, "alg": "Ed25519", "value": b64url_encode(signature)}
    return json.dumps(content, ensure_ascii=False, indent=1)


def load_bundle(text: str, *, trusted: Mapping[int, KeyEntry] | None = None) -> Bundle:
    """Parse and verify a bundle. With `trusted`, the signer must also be one of those keys (pinning).

    Raises BundleError; never returns an unverified bundle.
    """
    try:
        content = json.loads(text)
        signature = content.pop("signature")
        kid, value = signature["kid"], b64url_decode(signature["value"])
        keyset = load_keyset(content["keyset"])
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise BundleError("bad_format", f"not a gate bundle: {exc}") from exc
    if content.get("format") != BUNDLE_FORMAT:
        raise BundleError("bad_format", f"unsupported bundle format {content.get('format')!r}")
    if trusted is not None and kid not in trusted:
        raise BundleError("untrusted", f"bundle signed by key {kid}, which is not a pinned issuer key")
    try:
        # With pinning, verify against the pinned key, never the one the bundle brought along.
        verify_with_keyset(
            BUNDLE_DOMAIN + canonical_json(content), kid, value, trusted if trusted else keyset
        )
    except SignatureError as exc:
        raise BundleError("bad_signature", str(exc)) from exc
    return _parse_content(content, keyset, kid)


def _parse_content(content: dict[str, Any], keyset: dict[int, KeyEntry], kid: int) -> Bundle:
    try:
        cursors = {k: int(content["cursors"][k]) for k in ("revocations", "passes", "events")}
        for optional in ("free_riders", "tariffs"):  # absent from bundles made before them
            if optional in content["cursors"]:
                cursors[optional] = int(content["cursors"][optional])
        tariffs = content.get("tariffs", [])
        if not isinstance(tariffs, list) or not all(isinstance(v, dict) for v in tariffs):
            raise ValueError("tariffs: a list of version objects expected")
        gate = content.get("gate")
        return Bundle(
            network_id=str(content["network_id"]),
            station=str(content["station"]),
            gate=str(gate) if gate is not None else None,
            keyset_json=content["keyset"],
            keyset=keyset,
            revocations=tuple(parse_revocation(r) for r in content["revocations"]),
            passes=tuple(parse_pass(p) for p in content["passes"]),
            cursors=cursors,
            cccd_hash_key=bytes.fromhex(content["cccd_hash_key"]),
            server_time=parse_iso(content["server_time"]),
            signer_kid=kid,
            free_riders=tuple(parse_free_rider(f) for f in content.get("free_riders", ())),
            tariffs=tuple(tariffs),
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise BundleError("bad_format", f"bad bundle field: {exc}") from exc
