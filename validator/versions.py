"""The tariff and policy versions a gate holds, and the ones it decides a scan with.

The service announces versions ahead (`GET /v1/gate/tariffs`, signed like every list; offline bundles carry
them too). The gate keeps each one it is given and decides every scan with the version in force at the scan
instant (fare_rules.versions), so a version announced for tomorrow lands tomorrow on a gate that is offline
by then. The packaged tariff and policy always count, at the lowest rank: a gate that never synced decides
with them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fare_rules.errors import DataFileError
from fare_rules.network import Network
from fare_rules.policy import Policy, policy_to_json
from fare_rules.tariff import Tariff, tariff_to_json
from fare_rules.versions import (
    PACKAGED_SEQ,
    SINCE_ALWAYS,
    Announcement,
    RulesKind,
    Version,
    in_force,
    parse_document,
    policy_version_id,
    tariff_start,
    upcoming,
)
from validator import records
from validator.store import from_micros, to_micros
from validator.wire import iso, parse_iso

__all__ = [
    "GateVersions",
    "VersionRecord",
    "describe_versions",
    "load_versions",
    "parse_version_item",
    "store_versions",
    "version_to_json",
]

_REV = "versions_rev"


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """One announced version as the list delivers it; `document` is the file's JSON text."""

    seq: int
    kind: RulesKind
    version: str
    effective_from: datetime
    document: str


def parse_version_item(item: object, network: Network) -> VersionRecord:
    """A list item `{seq, kind, version, effective_from, document}`; ValueError (DataFileError included) if
    any field is wrong or the document is not a tariff or policy this gate can apply."""
    if not isinstance(item, dict):
        raise ValueError("a version is a JSON object")
    try:
        kind, seq = RulesKind(item["kind"]), item["seq"]
        version, document = item["version"], item["document"]
        effective_from = parse_iso(item["effective_from"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"a version needs seq, kind, version, effective_from, document: {exc}") from exc
    if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(version, str):
        raise ValueError("a version's seq is an integer and its version a string")
    if not isinstance(document, dict):
        raise ValueError("a version's document is a JSON object")
    text = json.dumps(document, ensure_ascii=False)
    parse_document(kind, text, network)  # refused here, at sync, rather than at a scan
    return VersionRecord(seq, kind, version, effective_from, text)


def version_to_json(record: VersionRecord) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "kind": record.kind.value,
        "version": record.version,
        "effective_from": iso(record.effective_from),
        "document": json.loads(record.document),
    }


def store_versions(conn: sqlite3.Connection, items: Iterable[VersionRecord]) -> int:
    """Keep these versions (caller's transaction); one already held (same kind and id) is left as it is."""
    stored = 0
    for r in items:
        cursor = conn.execute(
            "INSERT INTO rule_versions (kind, version, seq, effective_from, document) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (kind, version) DO NOTHING",
            (r.kind.value, r.version, r.seq, to_micros(r.effective_from), r.document),
        )
        stored += cursor.rowcount
    if stored:
        # Scans reload the versions only when this moves (another process of the station may sync).
        records.set_state(conn, _REV, str(int(records.get_state(conn, _REV) or "0") + 1))
    return stored


def load_versions(conn: sqlite3.Connection) -> list[VersionRecord]:
    rows = conn.execute(
        "SELECT seq, kind, version, effective_from, document FROM rule_versions ORDER BY kind, seq"
    ).fetchall()
    return [VersionRecord(s, RulesKind(k), v, from_micros(e), d) for s, k, v, e, d in rows]


def _version(record: VersionRecord, network: Network) -> Version[Any]:
    announced = Announcement(record.kind, record.version, record.effective_from, record.seq)
    document, text = parse_document(record.kind, record.document, network)
    return Version(announced, document, text)


class GateVersions:
    """The versions a gate decides with: the packaged tariff and policy, and every version it was given."""

    def __init__(self, network: Network, tariff: Tariff, policy: Policy) -> None:
        self.network = network
        packaged_tariff = Announcement(
            RulesKind.TARIFF, tariff.version, tariff_start(tariff.effective_from, policy), PACKAGED_SEQ
        )
        packaged_policy = Announcement(
            RulesKind.POLICY, policy_version_id(policy), SINCE_ALWAYS, PACKAGED_SEQ
        )
        self._packaged_tariff = Version(packaged_tariff, tariff, tariff_to_json(tariff))
        self._packaged_policy = Version(packaged_policy, policy, policy_to_json(policy))
        self._rev: str | None = "unloaded"
        self.tariffs: list[Version[Tariff]] = [self._packaged_tariff]
        self.policies: list[Version[Policy]] = [self._packaged_policy]

    def refresh(self, conn: sqlite3.Connection) -> None:
        """Reload the stored versions if a sync stored new ones since the last look."""
        rev = records.get_state(conn, _REV)
        if rev == self._rev:
            return
        tariffs, policies = [self._packaged_tariff], [self._packaged_policy]
        for record in load_versions(conn):
            try:
                version = _version(record, self.network)
            except DataFileError:  # checked at sync; a store edited by hand must not stop the gate
                continue
            (tariffs if record.kind is RulesKind.TARIFF else policies).append(version)
        self.tariffs, self.policies, self._rev = tariffs, policies, rev

    def at(self, conn: sqlite3.Connection, now: datetime) -> tuple[Tariff, Policy]:
        """The tariff and the policy in force at `now`."""
        self.refresh(conn)
        tariff = in_force(self.tariffs, now) or self._packaged_tariff
        policy = in_force(self.policies, now) or self._packaged_policy
        return tariff.document, policy.document

    def summary(self, conn: sqlite3.Connection, now: datetime) -> dict[str, Any]:
        """What `status` shows per kind: the versions held, the one in force, the next and its date."""
        self.refresh(conn)
        return {
            RulesKind.TARIFF.value: _kind_summary(self.tariffs, now),
            RulesKind.POLICY.value: _kind_summary(self.policies, now),
        }


def _kind_summary(versions: list[Version[Any]], now: datetime) -> dict[str, Any]:
    current, following = in_force(versions, now), upcoming(versions, now)
    return {
        "held": [
            {
                "version": v.version,
                "effective_from": iso(v.effective_from),
                "packaged": v.announcement.seq < 0,
            }
            for v in versions
        ],
        "in_force": current.version if current else None,
        "next": {"version": following.version, "effective_from": iso(following.effective_from)}
        if following
        else None,
    }


def describe_versions(summary: dict[str, Any]) -> str:
    """One kind's `status` summary in one line: the version in force, the next and its date, how many."""
    upcoming_one = summary.get("next")
    ahead = (
        f"next {upcoming_one['version']} from {upcoming_one['effective_from']}"
        if upcoming_one
        else "none next"
    )
    held = summary.get("held", [])
    return f"{summary.get('in_force')} in force · {ahead} · {len(held)} held"
