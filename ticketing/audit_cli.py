"""`python -m ticketing audit scans|trips|report KIND|anomalies|gates|verify-chain|partitions`:
the auditors' API from a shell.

The options are the API's filters (`--from`, `--to`, `--station`, ...) and go through the same parser and
service functions, so the CLI answers exactly what `GET /v1/audit/...` answers. Output is a table, or CSV
with `--csv` (all matching rows, streamed). The CCCD number is read from the METRO_AUDIT_CCCD environment
variable, or typed at a hidden prompt with `--ask-cccd`; never from an option's value, which `ps` and the
shell's history would keep. It is never printed.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session

from fare_rules.cccd import CccdError
from ticketing.audit import reports
from ticketing.audit.anomalies import anomalies_csv, anomaly_rows, find_anomalies
from ticketing.audit.chain import CHAIN_FILTERS, verify_chain
from ticketing.audit.gate_health import GATE_HEALTH_FILTERS, gate_health, gate_health_csv
from ticketing.audit.models import AnomalyRow
from ticketing.audit.query import (
    ANOMALY_FILTERS,
    ANOMALY_KINDS,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    REPORT_FILTERS,
    REPORT_KINDS,
    SCAN_FILTERS,
    TRIP_FILTERS,
    Query,
    parse_query,
)
from ticketing.audit.scans import scans_csv, scans_page
from ticketing.audit.trips import trips_csv, trips_page
from ticketing.catalog import Catalog, load_catalog
from ticketing.db import make_engine, utcnow
from ticketing.partitions import extend_ahead, is_partitioned
from ticketing.settings import Settings

__all__ = ["add_parser", "run"]

# What each filter means. A subcommand offers exactly the filters its endpoint accepts (the *_FILTERS of
# ticketing.audit.query), so an option that --help lists is never refused as unknown_filter.
_HELP: dict[str, str] = {
    "from": "start of the range, inclusive: an ISO 8601 time or date (no offset: Ho Chi Minh City time)",
    "to": "end of the range, exclusive: a time or date as for --from",
    "station": "station code, e.g. L1-01",
    "origin": "the trip's entry station",
    "destination": "the trip's exit station",
    "gate": "gate id, e.g. L1-01-G2",
    "ticket": "ticket serial (a pass's serial finds its CCCD card's scans too)",
    "order": "order id: the scans or trips of all its tickets",
    "product": "product: single, day, three_day, monthly, ...",
    "verdict": "accept or deny",
    "reason": "denial reason code, e.g. bad_signature",
    "status": "open, complete or orphan_exit",
    "bucket": "hour (default) or day",
    "kind": "one of " + ", ".join(ANOMALY_KINDS),
    "limit": f"rows per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}); --csv writes every row",
    "cursor": "the next page: the value after `more: --cursor` below the previous one",
}
_HELP_IN = {
    ("trips", "station"): "entry or exit station, e.g. L1-01",
    ("scans", "kind"): "scan (a rider's), settlement or override (station staff's)",
    ("anomalies", "limit"): f"at most this many listed per kind, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})",
}
_RANGE_REQUIRED = ("report", "anomalies")
_REPORT_HELP = {
    "ridership": "entries and exits per station and hour or day",
    "od": "trips, fares and durations per origin and destination",
    "revenue": "tickets sold and refunded next to fares ridden",
    "denials": "refused scans per station, gate and reason",
    "overrides": "staff overrides per gate, agent, action and reason",
    "free_rides": "free riders' entries, exits and refusals per category and station",
}
_SCAN_TABLE = ("at", "station", "gate", "seq", "direction", "verdict", "reason", "credential", "cccd")
_SCAN_TABLE_STAFF = ("kind", "agent", "override_reason", "gate_reason", "method", "collected_vnd")
_GATE_TABLE = (
    "gate",
    "station",
    "status",
    "last_upload_at",
    "journal_head",
    "missing_events",
    "clock_offset_s",
    "lists_age_s",
    "needs_visit",
)
_TRIP_TABLE = (
    "started_at",
    "status",
    "origin",
    "destination",
    "duration_s",
    "fare_vnd",
    "credential",
    "cccd",
)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("audit", help="auditors: scans, trips, reports, anomalies (table or CSV)")
    sub = parser.add_subparsers(dest="audit_command", required=True)
    _filters(sub.add_parser("scans", help="list scans, refused ones too"), "scans", SCAN_FILTERS)
    _filters(sub.add_parser("trips", help="list trips"), "trips", TRIP_FILTERS)
    report = sub.add_parser("report", help=" | ".join(REPORT_KINDS) + " over --from/--to")
    kinds = report.add_subparsers(dest="kind", required=True, metavar="KIND")
    for kind in REPORT_KINDS:
        _filters(kinds.add_parser(kind, help=_REPORT_HELP[kind]), "report", REPORT_FILTERS[kind])
    anomalies = sub.add_parser("anomalies", help="double use, passback, overstay, ... over --from/--to")
    _filters(anomalies, "anomalies", ANOMALY_FILTERS)
    gates = sub.add_parser("gates", help="gate health: last upload, journal holes, clock; visits first")
    _filters(gates, "gates", GATE_HEALTH_FILTERS)
    chain = sub.add_parser(
        "verify-chain", help="recompute gates' hash chains and upload signatures; report the first break"
    )
    for name in ("gate", "from", "to"):
        metavar = "TIME" if name in ("from", "to") else name.upper()
        chain.add_argument(f"--{name}", dest=f"f_{name}", metavar=metavar, help=_HELP[name])
    chain.add_argument("--json", action="store_true", help="the answer as JSON (GET /v1/audit/chain's)")
    partitions = sub.add_parser("partitions", help="PostgreSQL: create scan_events month partitions ahead")
    partitions.add_argument("--ahead", type=int, default=3, help="months after this one (default 3)")


def _filters(parser: argparse.ArgumentParser, command: str, allowed: frozenset[str]) -> None:
    for name in (n for n in _HELP if n in allowed):
        text = _HELP_IN.get((command, name), _HELP[name])
        if name in ("from", "to") and command in _RANGE_REQUIRED:
            text += " (required)"
        metavar = "TIME" if name in ("from", "to") else name.upper()
        parser.add_argument(f"--{name}", dest=f"f_{name}", metavar=metavar, help=text)
    if "cccd" in allowed:
        # No --cccd NUMBER: a command line is visible in `ps` and kept in shell history.
        parser.add_argument(
            "--ask-cccd",
            action="store_true",
            help="the holder's CCCD number, typed at a hidden prompt (or set METRO_AUDIT_CCCD)",
        )
    parser.add_argument("--csv", action="store_true", help="CSV on stdout: every matching row")


def _query(
    args: argparse.Namespace, catalog: Catalog, allowed: frozenset[str], require_range: bool = False
) -> Query:
    given = {name: value for name in _HELP if (value := getattr(args, f"f_{name}", None)) is not None}
    cccd = _asked_cccd() if getattr(args, "ask_cccd", False) else os.environ.get("METRO_AUDIT_CCCD")
    if args.csv:
        given["format"] = "csv"
    offset = catalog.policy.utc_offset_hours  # local time, as the service reads it
    return parse_query(
        given, allowed | {"format"}, require_range=require_range, cccd=cccd, utc_offset_hours=offset
    )


def _asked_cccd() -> str:
    if not sys.stdin.isatty():
        raise SystemExit("error: --ask-cccd needs a terminal; set METRO_AUDIT_CCCD instead")
    return getpass.getpass("holder's CCCD number: ").strip()


def _table(rows: Iterable[BaseModel], columns: Sequence[str]) -> None:
    materialised = [[_cell(getattr(r, c)) for c in columns] for r in rows]
    widths = [max([len(c), *(len(r[i]) for r in materialised)]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in materialised:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return ",".join(value) if isinstance(value, list) else str(value)


def _page(items: Sequence[BaseModel], columns: Sequence[str], cursor: str | None) -> int:
    _table(items, columns)
    if cursor:
        print(f"more: --cursor {cursor}")
    return 0


def _write(lines: Iterable[str]) -> None:
    for line in lines:
        sys.stdout.write(line)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run one audit command; returns the exit status. TicketingError / CccdError go to the caller."""
    engine = make_engine(settings.effective_database_url)
    key = settings.secret("cccd_hash_key")
    try:
        with Session(engine) as session:
            return _command(args, engine, session, key, settings)
    except CccdError as error:  # its detail shows the number masked only
        print(f"error: cccd_{error.code}: {error.detail}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()


def _command(args: argparse.Namespace, engine: Any, session: Session, key: bytes, settings: Settings) -> int:
    command = args.audit_command
    if command == "partitions":
        with engine.begin() as connection:
            if not is_partitioned(connection):
                print("scan_events is not partitioned here (SQLite): nothing to do")
                return 0
            created = extend_ahead(connection, utcnow(), args.ahead)
        print(f"partitions created: {', '.join(created) or 'none (all there)'}")
        return 0
    # Once: the local time of every query, the anomalies' rules.
    catalog = load_catalog(settings.policy_file, settings.tariff_file)
    if command in ("scans", "trips"):
        return _listing(args, catalog, engine, session, key)
    if command == "report":
        return _report(args, catalog, session)
    if command == "gates":
        return _gates(args, catalog, session)
    if command == "verify-chain":
        return _verify_chain(args, catalog, session)
    return _anomalies(args, catalog, session)


def _listing(args: argparse.Namespace, catalog: Catalog, engine: Any, session: Session, key: bytes) -> int:
    if args.audit_command == "scans":
        q = _query(args, catalog, SCAN_FILTERS)
        if q.csv:
            _write(scans_csv(engine, key, q))
            return 0
        scanned = scans_page(session, key, q)
        return _page(scanned.items, _SCAN_TABLE + _SCAN_TABLE_STAFF, scanned.next)
    q = _query(args, catalog, TRIP_FILTERS)
    if q.csv:
        _write(trips_csv(engine, key, q))
        return 0
    ridden = trips_page(session, key, q)
    return _page(ridden.items, _TRIP_TABLE, ridden.next)


def _report(args: argparse.Namespace, catalog: Catalog, session: Session) -> int:
    q = _query(args, catalog, REPORT_FILTERS[args.kind], require_range=True)
    answer = reports.report(session, args.kind, q)
    if q.csv:
        _write(reports.report_csv(answer, q))
    else:
        rows: Sequence[BaseModel] = answer.rows
        _table(rows, list(type(rows[0]).model_fields) if rows else ["(no rows)"])
        settled: Sequence[BaseModel] = getattr(answer, "adjustments", [])
        if settled:  # the revenue report's fares owed collected at the gates
            print("\nadjustments collected at the gates:")
            _table(settled, list(type(settled[0]).model_fields))
    return 0


def _anomalies(args: argparse.Namespace, catalog: Catalog, session: Session) -> int:
    q = _query(args, catalog, ANOMALY_FILTERS, require_range=True)
    answer = find_anomalies(session, catalog, q)
    if q.csv:
        _write(anomalies_csv(answer))
        return 0
    for kind, found in answer.anomalies.asked():
        print(f"{kind}: {found.count}")
    _table(anomaly_rows(answer), list(AnomalyRow.model_fields))
    return 0


def _gates(args: argparse.Namespace, catalog: Catalog, session: Session) -> int:
    answer = gate_health(session, _query(args, catalog, GATE_HEALTH_FILTERS), catalog, utcnow())
    if args.csv:
        _write(gate_health_csv(answer))
    else:
        _table(answer.gates, _GATE_TABLE)
    return 0


def _verify_chain(args: argparse.Namespace, catalog: Catalog, session: Session) -> int:
    """Exit status 0 when every chain holds, 1 at a break (so a script or a cron job can alarm)."""
    args.csv = False
    answer = verify_chain(session, _query(args, catalog, CHAIN_FILTERS))
    if args.json:
        print(answer.model_dump_json(indent=2))
        return 0 if answer.ok else 1
    for gate in answer.gates:
        found = gate.first_break
        verdict = "ok" if found is None else f"BREAK at seq {found.seq}: {found.problem}: {found.detail}"
        span = f"seq {gate.from_seq}-{gate.to_seq}" if gate.from_seq is not None else "no events"
        counts = (
            f"events {gate.events}, upload signatures {gate.signatures},"
            f" unsigned events {gate.unsigned_events}, declared gaps {gate.accepted_gaps}"
        )
        print(f"{gate.gate}: {span}: {counts}: {verdict}")
    print("all chains hold" if answer.ok else "a chain is broken: see above")
    return 0 if answer.ok else 1
