"""What a gate does, one call each: provision from a bundle, enrol, sync, scan an item, inspect it, report its
status, and sync in the background while `listen` scans.

Whatever reaches the issuing service takes a `connect` (server URL, token → an open httpx client); the default
is the real HTTP client, and a test passes its fake service in its place.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from fare_rules.model import Direction, Flag
from fare_rules.reasons import Reason
from fare_rules.rules import gate_flags
from validator import records
from validator.bundle import Bundle, BundleError, load_bundle, normalise_fingerprint, pinned_keys
from validator.codec import KeyEntry, load_keyset
from validator.core import InputKind, ScanOutcome, normalise
from validator.device import (
    DEVICE_KEY_FILE,
    load_or_create_device_key,
    load_token,
    public_key_text,
    save_token,
)
from validator.gate import Gate, Inspection, StationState
from validator.images import QrDecoder, decode_image_file, looks_like_image_path
from validator.records import GateConfig
from validator.screen import clock_warning, describe_offset
from validator.signing import SignatureError, verify_response
from validator.staff import staff_counts
from validator.station import ProvisionError, db_path, load_rules, open_gate, provision, provision_from_bundle
from validator.store import open_store, transaction
from validator.sync import (
    Enrolment,
    SyncClient,
    SyncError,
    SyncReport,
    enroll,
    journal_stopped,
    last_sync_error,
)
from validator.wire import parse_iso

__all__ = [
    "BackgroundSync",
    "Connect",
    "enroll_gate",
    "gate_status",
    "http_client",
    "init_gate",
    "inspect_item",
    "inspection_json",
    "listen_line",
    "read_item",
    "scan_item",
    "sync_gate",
]

HTTP_TIMEOUT = httpx.Timeout(10.0, connect=3.0)

# How a gate reaches the issuing service: (server URL, the gate's token or None) → an open client.
Connect = Callable[[str, str | None], httpx.Client]


def http_client(server_url: str, token: str | None = None) -> httpx.Client:
    """The HTTP client for the issuing service, with the gate's Bearer token when it has one."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server_url, headers=headers, timeout=HTTP_TIMEOUT)


def init_gate(
    data_dir: Path,
    db: Path | None,
    bundle_text: str,
    station: str,
    gate_id: str,
    *,
    trust_fingerprint: str | None = None,
) -> Bundle:
    """Provision from an exported bundle; returns it (for the fingerprint and counts).

    A bundle carries its own keyset, so its signature alone proves integrity, not origin. The signer must be
    the key with `trust_fingerprint` when given; otherwise, when the store already trusts issuer keys, one of
    those (a bundle must not hand a running gate a keyset that its keys did not sign). BundleError if not.
    """
    bundle = load_bundle(bundle_text)
    if trust_fingerprint is not None:
        bundle = load_bundle(bundle_text, trusted=pinned_keys(bundle.keyset, trust_fingerprint))
    elif (trusted := _trusted_keys(db_path(data_dir, db))) is not None:
        if bundle.signer_kid not in trusted:
            raise BundleError(
                "untrusted",
                f"bundle signed by key {bundle.signer_kid}, which this gate does not trust (new or revoked):"
                " compare its fingerprint with the service's and pass --trust-fingerprint",
            )
        # Verified again against the stored key: the bundle's own copy of that kid proves nothing.
        bundle = load_bundle(bundle_text, trusted=trusted)
    provision_from_bundle(data_dir, db, bundle, station=station, gate_id=gate_id, now=datetime.now(UTC))
    return bundle


def _trusted_keys(path: Path) -> dict[int, KeyEntry] | None:
    """The unrevoked issuer keys of an existing store; None for a store that trusts no key yet."""
    if not path.exists():
        return None
    conn = open_store(path)
    try:
        keyset = records.keyset_from_records(records.load_keys(conn))
    finally:
        conn.close()
    if not keyset:
        return None
    return {kid: entry for kid, entry in keyset.items() if not entry.revoked}


def _check_pin(http: httpx.Client, pin: str) -> None:
    """The service's keyset is signed by an unrevoked key with fingerprint `pin`, else SyncError untrusted."""
    try:
        response = http.get("/v1/keys")
        roots = pinned_keys(load_keyset(response.json()), pin)
        if roots:
            verify_response("/v1/keys", response.content, response.headers, roots)
    except httpx.HTTPError as exc:
        raise SyncError("unreachable", f"GET /v1/keys: {exc}") from exc
    except (ValueError, SignatureError):
        roots = {}
    if not roots:
        raise SyncError(
            "untrusted",
            f"the service's keyset is not signed by a key with fingerprint {pin}: check the fingerprint with"
            " the operations desk (`python -m ticketing keys list` shows it); the enrolment code is unused",
        )


def enroll_gate(
    data_dir: Path,
    db: Path | None,
    server_url: str,
    code: str,
    *,
    trust_fingerprint: str | None = None,
    connect: Connect = http_client,
) -> GateConfig:
    """Enrol online over `connect`: device key, one-time code, token saved 0600, gate registered in the store.

    With `trust_fingerprint`, the first keyset is accepted only if signed by the key with that fingerprint
    (the pin is kept, also for a gate whose trusted keys all get revoked later); without it, the first
    keyset is trusted on first use over TLS.
    """
    pin = normalise_fingerprint(trust_fingerprint) if trust_fingerprint is not None else None
    key = load_or_create_device_key(data_dir)
    with connect(server_url, None) as http:
        if pin is not None:
            _check_pin(http, pin)  # before the one-time code is spent: a typo must not use it up
        enrolment = enroll(http, code, public_key_text(key))
    rules = load_rules()
    if enrolment.network_id != rules.network.id:
        raise ProvisionError(f"the server runs network {enrolment.network_id}, this gate {rules.network.id}")
    save_token(data_dir, enrolment.token)
    config = GateConfig(
        enrolment.gate_id,
        enrolment.station,
        public_key_text(key),
        str((data_dir / DEVICE_KEY_FILE).resolve()),
        server_url,
    )
    _register(db_path(data_dir, db), config, enrolment, pin)
    return config


def _register(path: Path, config: GateConfig, enrolment: Enrolment, pin: str | None) -> None:
    """The enrolled gate in its store, with the pinned fingerprint if it has one; its keyset comes by sync."""
    conn = open_store(path)
    try:
        with transaction(conn):
            provision(
                conn,
                config,
                network_id=enrolment.network_id,
                keyset={},
                cccd_hash_key=enrolment.cccd_hash_key,
                now=datetime.now(UTC),
            )
            if pin is not None:
                records.set_state(conn, "trusted_fingerprint", pin)
    finally:
        conn.close()


def sync_gate(
    data_dir: Path, gate: Gate, *, retry_journal: bool = False, connect: Connect = http_client
) -> SyncReport:
    """One full sync of an enrolled gate over `connect`; SyncError if it is offline-only or the sync fails.
    `retry_journal` resumes uploads that stopped after the server refused a batch for good."""
    token = load_token(data_dir)
    if not gate.config.server_url or not token:
        raise SyncError("not_enrolled", "this gate was provisioned offline: run `enroll` to sync online")
    key = load_or_create_device_key(data_dir)
    with connect(gate.config.server_url, token) as http:
        client = SyncClient(http, gate.conn, gate.config.gate_id, key, policy=gate.policy)
        return client.sync(retry_journal=retry_journal)


def read_item(item: str, decoder: QrDecoder) -> str | Reason:
    """An ITEM is an image file (decoded to its one QR text, or a Reason) or the payload text itself."""
    if looks_like_image_path(item):
        return decode_image_file(item, decoder)
    return item


def scan_item(gate: Gate, item: str, direction: Direction, decoder: QrDecoder) -> ScanOutcome:
    """Scan one ITEM now; an image that yields no single code is recorded as a refusal too."""
    payload = read_item(item, decoder)
    now = datetime.now(UTC)
    if isinstance(payload, Reason):  # before the str check: a Reason is a StrEnum
        return gate.refuse(payload, direction, now)
    return gate.scan(payload, direction, now)


def listen_line(
    gate: Gate, line: bytes | str, direction: Direction, decoder: QrDecoder
) -> ScanOutcome | None:
    """Scan one line a scanner sent to `listen`; None for an empty line (scanners send stray newlines).

    Lines arrive as bytes and are decoded here, one at a time: a scanner glitch that sends a byte that is
    not UTF-8 is one refusal (`malformed`, recorded like any scan), never the end of the gate's input.
    """
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
    except UnicodeDecodeError:
        return gate.refuse(Reason.MALFORMED, direction, datetime.now(UTC), kind=InputKind.OTHER)
    if not normalise(text):
        return None
    return scan_item(gate, text, direction, decoder)


def inspect_item(gate: Gate, item: str, decoder: QrDecoder) -> Inspection | Reason:
    """What an ITEM holds and whether it verifies, without using it. A Reason if an image yields no code."""
    payload = read_item(item, decoder)
    if isinstance(payload, Reason):
        return payload
    return gate.inspect(payload, datetime.now(UTC))


def inspection_json(found: Inspection | Reason) -> dict[str, Any]:
    """What `inspect_item` found, as `inspect --json` prints it. `verifies`: the code is genuine and not
    refused; a Reason (an image that yields no single code) never verifies."""
    if isinstance(found, Reason):
        return {"kind": "image", "reason": found.value, "verifies": False}
    return {
        "kind": found.kind.value,
        "reason": found.reason.value if found.reason else None,
        "verifies": found.reason is None,
        "revoked": found.revoked,
        "detail": found.detail,
        "ticket": found.ticket.to_json() if found.ticket else None,
        "pass": found.pass_seen.to_json() if found.pass_seen else None,
    }


def _age(now: datetime, text: str | None) -> float | None:
    return (now - parse_iso(text)).total_seconds() if text else None


def gate_status(gate: Gate, data_dir: Path) -> dict[str, Any]:
    """Gate, station, last sync, list ages, clock offset, journal backlog, and the flags scans carry now."""
    now = datetime.now(UTC)
    conn = gate.conn
    state = StationState.read(conn)
    get = records.get_state

    policy = gate.versions.at(conn, now)[1]  # the staleness and clock limits in force now
    flags = gate_flags(now, state.last_sync, state.clock_offset_seconds, policy)

    def count(table: str) -> int:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 - fixed names

    return {
        "gate": gate.config.gate_id,
        "station": gate.config.station,
        "server": gate.config.server_url,
        "enrolled_online": bool(gate.config.server_url and load_token(data_dir)),
        "last_sync": get(conn, "last_sync"),
        "last_sync_error": last_sync_error(conn, gate.config.gate_id),
        "journal_stopped": journal_stopped(conn, gate.config.gate_id),
        "list_age_seconds": {
            name: _age(now, get(conn, f"{name}_synced_at"))
            for name in ("revocations", "passes", "free_riders", "events")
        },
        "clock_offset_seconds": state.clock_offset_seconds,
        "clock": clock_warning(state.clock_offset_seconds).en
        if Flag.CLOCK_SUSPECT in flags
        else describe_offset(state.clock_offset_seconds or 0.0),
        "keys": count("keyset"),
        "revocations": count("revocations"),
        "passes": count("passes"),
        "free_riders": count("free_riders"),
        "uses": count("uses"),
        "journal_backlog": records.journal_backlog(conn, gate.config.gate_id),
        "journal_events": records.journal_head(conn, gate.config.gate_id)[0],
        **_staff_status(conn, gate.config.gate_id),
        "flags": sorted(f.value for f in flags),
        **gate.versions.summary(conn, now),  # "tariff" and "policy": held, in force, next
    }


def _staff_status(conn: sqlite3.Connection, gate: str) -> dict[str, int]:
    """The staff actions in this gate's journal: overrides are never silent, settlements add up."""
    counts = staff_counts(conn, gate)
    return {
        "overrides_admitted": counts.overrides_admitted,
        "overrides_refused": counts.overrides_refused,
        "settlements": counts.settlements,
        "settled_vnd": counts.collected_vnd,
    }


class BackgroundSync:
    """`listen`'s sync every few seconds on its own thread and connection. A failure is reported through
    `on_error` and retried next round: it never blocks or breaks a scan (they share only the database).
    `on_round`, when given, is called after every round with this thread's gate (the station display reads
    the new sync state with it).
    """

    def __init__(
        self,
        data_dir: Path,
        db: Path | None,
        interval: float,
        on_error: Callable[[Exception], None],
        *,
        connect: Connect = http_client,
        on_round: Callable[[Gate], None] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.db = db
        self.interval = interval
        self.on_error = on_error
        self.connect = connect
        self.on_round = on_round
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gate-sync", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=HTTP_TIMEOUT.read or 10.0)

    def _run(self) -> None:
        gate: Gate | None = None
        try:
            while not self._stop.is_set():
                try:
                    # Opened inside the loop: a store that cannot be opened now is an error to report and
                    # retry, not a silent end of syncing.
                    gate = gate or open_gate(self.data_dir, self.db)
                    try:
                        sync_gate(self.data_dir, gate, connect=self.connect)
                    finally:
                        if self.on_round is not None:
                            self.on_round(gate)
                except Exception as exc:
                    self.on_error(exc)
                self._stop.wait(self.interval)
        finally:
            if gate is not None:
                gate.conn.close()
