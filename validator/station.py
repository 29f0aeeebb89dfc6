"""Assemble a gate from its data folder: device key, store, bundled network data; provision it.

Layout of a data folder: `device-key.pem` (0600), `gate-token` (0600, online gates), `gate.db` unless the
station shares one database file between its gates (`db` argument).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path

from fare_rules.network import Network, load_network
from fare_rules.policy import Policy, load_policy
from fare_rules.tariff import Tariff, load_tariff
from validator import records
from validator.bundle import Bundle
from validator.codec import Keyset
from validator.device import DEVICE_KEY_FILE, load_or_create_device_key, public_key_text
from validator.gate import Gate
from validator.records import FreeRiderRecord, GateConfig, PassRecord, RevocationRecord
from validator.store import open_store, transaction
from validator.versions import parse_version_item, store_versions
from validator.wire import iso, parse_iso

__all__ = [
    "DB_FILE",
    "GateNotProvisioned",
    "ProvisionError",
    "Rules",
    "apply_lists",
    "db_path",
    "gate_id_names_station",
    "load_rules",
    "open_gate",
    "provision",
    "provision_from_bundle",
]

DB_FILE = "gate.db"


class GateNotProvisioned(RuntimeError):
    """The data folder has no provisioned gate yet (run `init` or `enroll`)."""


class ProvisionError(ValueError):
    """A bundle or enrolment that does not fit this gate or this station database."""


@dataclass(frozen=True, slots=True)
class Rules:
    network: Network
    tariff: Tariff
    policy: Policy


@lru_cache(maxsize=1)
def load_rules() -> Rules:
    """The network, tariff and policy shipped in fare_rules/data (a gate runs with what it was built with)."""
    data = resources.files("fare_rules.data")
    network = load_network(data.joinpath("hcmc-line1.json").read_text(encoding="utf-8"))
    tariff = load_tariff(data.joinpath("hcmc-line1-tariff.json").read_text(encoding="utf-8"), network)
    policy = load_policy(data.joinpath("policy.json").read_text(encoding="utf-8"))
    return Rules(network, tariff, policy)


def gate_id_names_station(gate_id: str, station: str) -> bool:
    """Whether a gate id starts with its station code (`L1-01-G1` at L1-01). Gate ids are unique on the
    whole network (the service refuses a duplicate, 409 gate_exists), and a bare `G1` is bound to clash."""
    return gate_id.startswith(f"{station}-")


def db_path(data_dir: Path, db: Path | None = None) -> Path:
    return db if db is not None else data_dir / DB_FILE


def open_gate(data_dir: Path, db: Path | None = None, rules: Rules | None = None) -> Gate:
    """The provisioned gate of this data folder; GateNotProvisioned if there is none."""
    if not (data_dir / DEVICE_KEY_FILE).exists() or not db_path(data_dir, db).exists():
        raise GateNotProvisioned(f"no gate provisioned in {data_dir}: run `init` or `enroll` first")
    key = load_or_create_device_key(data_dir)
    rules = rules or load_rules()  # before the store opens: a bad rules file must not leak a connection
    conn = open_store(db_path(data_dir, db))
    config = records.load_gate_by_key(conn, public_key_text(key))
    if config is None:
        conn.close()
        raise GateNotProvisioned(f"the database does not know this gate's device key ({data_dir})")
    return Gate(conn, config, rules.network, rules.tariff, rules.policy)


def apply_lists(
    conn: sqlite3.Connection,
    revocations: tuple[RevocationRecord, ...] | list[RevocationRecord],
    passes: tuple[PassRecord, ...] | list[PassRecord],
    cursors: dict[str, int],
    free_riders: tuple[FreeRiderRecord, ...] = (),
) -> None:
    """Store list items and advance cursors (caller's transaction).

    Items at or below a cursor the store already passed are skipped, so an older bundle can never roll
    back a newer status.
    """
    rev_cursor = int(records.get_state(conn, "cursor_revocations") or "0")
    pass_cursor = int(records.get_state(conn, "cursor_passes") or "0")
    records.upsert_revocations(conn, [r for r in revocations if r.seq > rev_cursor])
    records.upsert_passes(conn, [p for p in passes if p.seq > pass_cursor])
    free_cursor = int(records.get_state(conn, "cursor_free_riders") or "0")
    records.upsert_free_riders(conn, [f for f in free_riders if f.seq > free_cursor])
    for name, value in cursors.items():
        current = int(records.get_state(conn, f"cursor_{name}") or "0")
        records.set_state(conn, f"cursor_{name}", str(max(current, value)))


def provision(
    conn: sqlite3.Connection,
    config: GateConfig,
    *,
    network_id: str,
    keyset: Keyset,
    cccd_hash_key: bytes,
    now: datetime,
) -> None:
    """Register this gate in the station database (caller's transaction). One database, one station."""
    existing = records.get_state(conn, "station")
    if existing is not None and existing != config.station:
        raise ProvisionError(f"this database belongs to station {existing}, not {config.station}")
    known_network = records.get_state(conn, "network_id")
    if known_network is not None and known_network != network_id:
        raise ProvisionError(f"this database belongs to network {known_network}, not {network_id}")
    records.add_gate(conn, config, now)
    records.set_state(conn, "station", config.station)
    records.set_state(conn, "network_id", network_id)
    records.set_state(conn, "cccd_hash_key", cccd_hash_key.hex())
    if keyset:
        records.replace_keys(conn, records.records_from_keyset(keyset))


def provision_from_bundle(
    data_dir: Path, db: Path | None, bundle: Bundle, *, station: str, gate_id: str, now: datetime
) -> GateConfig:
    """`init`: make the device key if needed and load a verified bundle into the (possibly shared) store."""
    if bundle.station != station:
        raise ProvisionError(f"the bundle is for station {bundle.station}, not {station}")
    if bundle.gate is not None and bundle.gate != gate_id:
        raise ProvisionError(f"the bundle is for gate {bundle.gate}, not {gate_id}")
    rules = load_rules()
    if bundle.network_id != rules.network.id:
        raise ProvisionError(
            f"the bundle is for network {bundle.network_id}, this gate runs {rules.network.id}"
        )
    rules.network.station(station)  # UnknownStation (a ValueError) for a station not on the line
    key = load_or_create_device_key(data_dir)
    conn = open_store(db_path(data_dir, db))
    try:
        with transaction(conn):
            config = _bundle_config(conn, data_dir, public_key_text(key), station, gate_id)
            provision(
                conn,
                config,
                network_id=bundle.network_id,
                keyset=_merged_keyset(conn, bundle.keyset),
                cccd_hash_key=bundle.cccd_hash_key,
                now=now,
            )
            apply_lists(conn, bundle.revocations, bundle.passes, bundle.cursors, bundle.free_riders)
            store_versions(conn, [parse_version_item(v, rules.network) for v in bundle.tariffs])
            for name in (f"{listed}_synced_at" for listed in records.DECIDING_LISTS):
                # The lists are as old as the bundle, not as old as this init; and a bundle older than the
                # last sync must not make them look older (apply_lists kept the newer contents).
                known = records.get_state(conn, name)
                if known is None or parse_iso(known) < bundle.server_time:
                    records.set_state(conn, name, iso(bundle.server_time))
    finally:
        conn.close()
    return config


def _bundle_config(
    conn: sqlite3.Connection, data_dir: Path, device_key: str, station: str, gate_id: str
) -> GateConfig:
    """This gate's config for `init`. Re-provisioning an existing gate keeps its online enrolment."""
    mine = records.load_gate_by_key(conn, device_key)
    if mine is not None and mine.gate_id != gate_id:
        raise ProvisionError(f"this device is gate {mine.gate_id} in this database, not {gate_id}")
    other = conn.execute(
        "SELECT 1 FROM gate_config WHERE gate_id = ? AND device_public_key != ?", (gate_id, device_key)
    ).fetchone()
    if other is not None:
        raise ProvisionError(f"another device is already gate {gate_id}: gate ids are unique")
    server_url = mine.server_url if mine is not None else None
    return GateConfig(gate_id, station, device_key, str((data_dir / DEVICE_KEY_FILE).resolve()), server_url)


def _merged_keyset(conn: sqlite3.Connection, incoming: Keyset) -> Keyset:
    # A bundle may be older than the last sync: a key revoked since stays revoked, a key learned since stays.
    stored = records.keyset_from_records(records.load_keys(conn))
    merged = {**stored, **incoming}
    return {
        kid: replace(entry, revoked=True) if kid in stored and stored[kid].revoked else entry
        for kid, entry in merged.items()
    }
