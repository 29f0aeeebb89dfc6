"""`python -m ticketing tariff ...`: the operator announces a tariff or policy version ahead, and lists the
versions the service holds (which is in force, which is next)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sqlmodel import Session

from fare_rules.versions import RulesKind
from ticketing.context import build_context
from ticketing.db import make_engine, utcnow
from ticketing.errors import InvalidRequest
from ticketing.services import tariffs
from ticketing.settings import Settings
from ticketing.tariff_models import TariffVersionCreate, TariffVersionPublic

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("tariff", help="tariff and policy versions: announce one ahead, list them")
    sub = parser.add_subparsers(dest="tariff_command", required=True)
    publish = sub.add_parser("publish", help="announce a tariff (or --kind policy) file for a date ahead")
    publish.add_argument("file", type=Path, metavar="FILE")
    publish.add_argument("--kind", choices=[k.value for k in RulesKind], default=RulesKind.TARIFF.value)
    publish.add_argument(
        "--effective-from",
        metavar="WHEN",
        help="YYYY-MM-DD (from 04:00 local that day) or an ISO date and time with its offset;"
        " a tariff's default is its file's effective_from",
    )
    publish.add_argument("--version", help="the version id (default: a tariff file's own; a policy's digest)")
    sub.add_parser("list", help="every version, with the one in force now and the next")


def _line(v: TariffVersionPublic) -> str:
    published = f"published {v.published_at:%Y-%m-%d %H:%M} UTC" if v.published_at else v.source
    return (
        f"{v.kind.value:<7} {v.version:<24} from {v.effective_from:%Y-%m-%d %H:%M} UTC  {v.state.value:<8}"
        f" {published}"
    )


def _body(args: argparse.Namespace) -> TariffVersionCreate:
    text = args.file.read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"{args.file}: not valid JSON ({exc.msg} at line {exc.lineno})", "invalid_document"
        ) from None
    if not isinstance(document, dict):
        raise InvalidRequest(f"{args.file}: the top level must be a JSON object", "invalid_document")
    return TariffVersionCreate(
        kind=RulesKind(args.kind),
        document=document,
        effective_from=args.effective_from,
        version=args.version or None,
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run one tariff command; TicketingError goes to the caller (one line, its code)."""
    engine = make_engine(settings.effective_database_url)
    ctx = build_context(settings)
    try:
        with Session(engine) as session:
            now = utcnow()
            if args.tariff_command == "publish":
                published = tariffs.publish_version(session, ctx, _body(args), now)
                print(_line(published))
                print("announced: gates take it at their next sync and apply it from its effective_from")
                return 0
            for version in tariffs.list_versions(session, ctx, now):
                print(_line(version))
            return 0
    finally:
        engine.dispose()
