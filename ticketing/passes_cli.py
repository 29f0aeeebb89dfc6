"""`python -m ticketing passes ...`: the station office's pass desk. List the student passes waiting for a
look at the card, verify or refuse them, revoke a pass for a lost or replaced card, a refund or fraud."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from sqlmodel import Session

from fare_rules.policy import Policy, service_dates
from ticketing.context import build_context
from ticketing.db import make_engine, utcnow
from ticketing.models import PassPublic, PassRevocation, PassStatus
from ticketing.services import passes
from ticketing.settings import Settings

__all__ = ["add_parser", "run"]

_REVOKE_REASONS = [r.value for r in PassRevocation if r is not PassRevocation.NOT_ELIGIBLE]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "passes", help="CCCD-linked passes: the verification queue, verify, refuse, revoke"
    )
    sub = parser.add_subparsers(dest="passes_command", required=True)
    listing = sub.add_parser(
        "list",
        help="passes oldest first (default: those waiting for verification); their first and last days"
        " are local service days (Ho Chi Minh City)",
    )
    listing.add_argument(
        "--status", choices=[*(s.value for s in PassStatus), "all"], default="pending_verification"
    )
    verify = sub.add_parser("verify", help="the student card checks out: the pass rides")
    verify.add_argument("pass_id")
    refuse = sub.add_parser("refuse", help="the student card does not qualify: revoked, refunded in full")
    refuse.add_argument("pass_id")
    revoke = sub.add_parser("revoke", help="stop a pass at every gate (card and QR) after their next sync")
    revoke.add_argument("pass_id")
    revoke.add_argument("--reason", required=True, choices=_REVOKE_REASONS)


def _line(p: PassPublic, policy: Policy) -> str:
    """What staff compare with the card: never the number, only its mask, the initials and the birth year.
    The pass's first and last service days, as the rider named them when buying it."""
    why = f" ({p.revoked_reason})" if p.revoked_reason else ""
    first, last = service_dates(p.valid_from, p.valid_until, policy)
    return (
        f"{p.id}  {p.product:<16} {p.status}{why:<16}  {p.holder_masked}  {p.holder_initials:<6}"
        f" born {p.holder_birth_year}  {first} to {last}"
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run one passes command; TicketingError goes to the caller (one line, its code)."""
    policy = build_context(settings).catalog.policy
    engine = make_engine(settings.effective_database_url)
    try:
        with Session(engine) as session:
            if args.passes_command == "list":
                status = None if args.status == "all" else PassStatus(args.status)
                found = passes.list_passes(session, status)
                for holder_pass in found:
                    print(_line(holder_pass, policy))
                print(f"{len(found)} pass(es)")
                return 0
            change: dict[str, Callable[[], PassPublic]] = {
                "verify": lambda: passes.verify_pass(session, args.pass_id, utcnow()),
                "refuse": lambda: passes.refuse_pass(session, args.pass_id, utcnow()),
                "revoke": lambda: passes.revoke_pass(
                    session, args.pass_id, PassRevocation(args.reason), utcnow()
                ),
            }
            print(_line(change[args.passes_command](), policy))
            return 0
    finally:
        engine.dispose()
