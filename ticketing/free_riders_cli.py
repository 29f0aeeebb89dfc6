"""`python -m ticketing free-riders add|list|end`: the station office's free-rider registry. Staff enter a
person with a disability or with revolutionary merit after checking the document, list the entries, end one.

The CCCD number is never an option's value (`ps` and the shell's history would keep it): `add` reads it at
a hidden prompt, or as the first line of standard input when that is not a terminal. It is never printed.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import date

from pydantic import ValidationError
from sqlmodel import Session

from fare_rules.cccd import CccdError
from fare_rules.free import REGISTRY_CATEGORIES
from fare_rules.policy import Policy, service_date, service_dates
from ticketing.context import build_context
from ticketing.db import make_engine, utcnow
from ticketing.models import FreeRiderEnd, FreeRiderPublic, FreeRiderStatus
from ticketing.schemas import FreeRiderCreate, HolderCreate
from ticketing.services import free_riders
from ticketing.settings import Settings

__all__ = ["add_parser", "run"]

_EXIT_ERROR = 1
_EXIT_USAGE = 2


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "free-riders", help="the free-rider registry: add after a document check, list, end"
    )
    sub = parser.add_subparsers(dest="free_riders_command", required=True)
    add = sub.add_parser("add", help="enter a free rider (the CCCD number is asked for, never an option)")
    add.add_argument("--category", required=True, choices=sorted(c.value for c in REGISTRY_CATEGORIES))
    add.add_argument("--name", required=True, help="full name as on the card")
    add.add_argument("--birth-date", required=True, type=date.fromisoformat, metavar="YYYY-MM-DD")
    add.add_argument(
        "--first-day", type=date.fromisoformat, metavar="YYYY-MM-DD", help="default: today's service day"
    )
    add.add_argument("--last-day", required=True, type=date.fromisoformat, metavar="YYYY-MM-DD")
    add.add_argument("--document", required=True, help="the certificate checked: its number or reference")
    add.add_argument("--staff-id", required=True, help="who checked the document")
    listing = sub.add_parser(
        "list",
        help="entries oldest first (default: the active ones); their first and last days are local service"
        " days (Ho Chi Minh City)",
    )
    listing.add_argument("--status", choices=[*(s.value for s in FreeRiderStatus), "all"], default="active")
    end = sub.add_parser("end", help="end an entry: every gate refuses it after its next sync")
    end.add_argument("entry_id")
    end.add_argument("--reason", required=True, choices=[r.value for r in FreeRiderEnd])


def _line(e: FreeRiderPublic, policy: Policy) -> str:
    """What staff compare with the card: never the number, only its mask, the initials and the birth year.
    The entry's first and last service days, as staff entered them."""
    why = f" ({e.ended_reason})" if e.ended_reason else ""
    first, last = service_dates(e.valid_from, e.valid_until, policy)
    return (
        f"{e.id}  {e.category:<20} {e.status}{why:<20}  {e.holder_masked}  {e.holder_initials:<6}"
        f" born {e.holder_birth_year}  {first} to {last}"
        f"  document {e.document_ref}  staff {e.staff_id}"
    )


def _read_number() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("CCCD number (not shown): ")
    return sys.stdin.readline().strip()


def _wanted(args: argparse.Namespace, today: date) -> FreeRiderCreate | None:
    try:
        holder = HolderCreate(cccd=_read_number(), full_name=args.name, birth_date=args.birth_date)
        return FreeRiderCreate(
            holder=holder,
            category=args.category,
            first_day=args.first_day or today,
            last_day=args.last_day,
            document_ref=args.document,
            staff_id=args.staff_id,
        )
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in error["loc"]) for error in exc.errors()})
        print(f"error: check {', '.join(fields)}", file=sys.stderr)  # never the values: one is the number
        return None


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run one free-riders command; TicketingError goes to the caller (one line, its code)."""
    ctx = build_context(settings)
    engine = make_engine(settings.effective_database_url)
    try:
        with Session(engine) as session:
            if args.free_riders_command == "list":
                status = None if args.status == "all" else FreeRiderStatus(args.status)
                found = free_riders.list_free_riders(session, status)
                for entry in found:
                    print(_line(entry, ctx.catalog.policy))
                print(f"{len(found)} entr{'y' if len(found) == 1 else 'ies'}")
                return 0
            if args.free_riders_command == "end":
                ended = free_riders.end_free_rider(
                    session, args.entry_id, FreeRiderEnd(args.reason), utcnow()
                )
                print(_line(ended, ctx.catalog.policy))
                return 0
            now = utcnow()
            # Today's service day, as the gates ride it: before 04:00 it is still yesterday's.
            wanted = _wanted(args, service_date(now, ctx.catalog.policy))
            if wanted is None:
                return _EXIT_USAGE
            try:
                added = free_riders.add_free_rider(session, ctx, wanted, "cli", now)
            except CccdError as error:  # its detail shows the number masked only
                print(f"error: cccd_{error.code}: {error.detail}", file=sys.stderr)
                return _EXIT_ERROR
            print(_line(added, ctx.catalog.policy))
            return 0
    finally:
        engine.dispose()
