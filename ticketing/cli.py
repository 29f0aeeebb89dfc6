"""The operator's commands: `python -m ticketing init | serve | keys rotate|list|revoke |
tokens create|list|revoke | gates add|list|revoke|bundle | gtfs-export | audit ...`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from fare_rules.errors import FareRulesError
from fare_rules.policy import service_day_of_date
from ticketing import audit_cli, free_riders_cli, passes_cli, tariff_cli
from ticketing.context import build_context
from ticketing.db import DatabaseState, database_state, make_engine, migrate, sqlite_path, utcnow
from ticketing.errors import ConfigurationError, TicketingError
from ticketing.keys import active_key, create_key, fingerprint_of, key_state
from ticketing.models import ApiToken, Role, SigningKey
from ticketing.schemas import GateCreate
from ticketing.services import gates, signing_keys, tariffs
from ticketing.services.api_tokens import create_token, list_tokens, revoke_token
from ticketing.services.gtfs_feed import feed_date, feed_zip
from ticketing.settings import Settings, load_settings, resolve_secrets

__all__ = ["EXIT_BROKEN_PIPE", "EXIT_ERROR", "EXIT_OK", "EXIT_USAGE", "initialise", "main"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 128 + 13  # 128 + SIGPIPE, as for any command whose reader stopped reading


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ticketing", description="metro-qr issuing service")
    parser.add_argument("--data-dir", type=Path, help="data folder (default: $METRO_DATA_DIR or ./var)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="migrate the database, make a first signing key and admin token")
    serve = commands.add_parser("serve", help="serve the API with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--data-dir", type=Path, dest="serve_data_dir")
    serve.add_argument("--init-if-missing", action="store_true", help="run init first (idempotent)")
    keys = commands.add_parser("keys", help="signing keys").add_subparsers(dest="keys_command", required=True)
    keys.add_parser(
        "rotate", help="publish the next signing key now; it signs after the policy's key_lead_hours"
    )
    keys.add_parser("list", help="list signing keys")
    revoke = keys.add_parser(
        "revoke", help="revoke a compromised key: gates refuse all it signed; its good tickets are reissued"
    )
    revoke.add_argument("kid", type=int)
    tokens = commands.add_parser("tokens", help="operator API tokens")
    token_commands = tokens.add_subparsers(dest="tokens_command", required=True)
    create = token_commands.add_parser("create", help="create a token (printed once)")
    create.add_argument("--role", choices=[r.value for r in Role], required=True)
    create.add_argument("--label", default="", help="who or what it is for, shown by `tokens list`")
    token_commands.add_parser("list", help="list tokens: id, role, state, created, label (never the token)")
    token_revoke = token_commands.add_parser("revoke", help="revoke a token: it stops working at once")
    token_revoke.add_argument("token_id", metavar="ID", help="the token's id, from `tokens list`")
    _gate_commands(commands)
    gtfs = commands.add_parser("gtfs-export", help="write the fares and the line as a GTFS (Fares v2) zip")
    gtfs.add_argument("out", type=Path, metavar="OUT.zip")
    gtfs.add_argument(
        "--date",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="first day of its calendar (default: today)",
    )
    audit_cli.add_parser(commands)
    passes_cli.add_parser(commands)
    free_riders_cli.add_parser(commands)
    tariff_cli.add_parser(commands)
    return parser


def _gate_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("gates", help="gate devices: enrolment codes, revocation, offline bundles")
    sub = parser.add_subparsers(dest="gates_command", required=True)
    add = sub.add_parser("add", help="create a gate; prints its one-time enrolment code")
    add.add_argument("--station", required=True)
    add.add_argument("--gate", required=True, help="gate id, unique on the network and never reused")
    sub.add_parser("list", help="list gates")
    revoke = sub.add_parser("revoke", help="revoke a gate: its token stops working at once")
    revoke.add_argument("gate")
    bundle = sub.add_parser("bundle", help="export a signed offline provisioning bundle")
    bundle.add_argument("--station", required=True)
    bundle.add_argument("--gate", help="the gate it is for (default: any gate of the station)")
    bundle.add_argument("--out", required=True, type=Path)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    data_dir = getattr(args, "serve_data_dir", None) or args.data_dir
    if data_dir is not None:
        os.environ["METRO_DATA_DIR"] = str(data_dir)  # serve's workers build their settings from the env
    try:
        settings = load_settings()
        if not _creates_database(args):
            _check_database(settings)  # before resolve_secrets, which would write dev secrets there
        code = _command(resolve_secrets(settings), args)
        sys.stdout.flush()  # what is still buffered for a pipe is written now, inside this try
        return code
    except BrokenPipeError:
        return _reader_gone()
    except TicketingError as error:
        print(f"error: {error.code}: {error.detail}", file=sys.stderr)
        return EXIT_ERROR
    # What an operator can fix (a bad policy file, a path, the database's address): one line, no traceback.
    except FareRulesError as error:  # DataFileError included
        print(f"error: invalid policy or data file: {error}", file=sys.stderr)
        return EXIT_ERROR
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else "unreachable"
        print(f"error: database unavailable: {reason}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        print(f"error: {error.strerror or error}{where}", file=sys.stderr)
        return EXIT_ERROR


def _creates_database(args: argparse.Namespace) -> bool:
    """`init` and `serve --init-if-missing` make the data folder and its database; every other command needs
    them made already, and refuses rather than leave an empty database in the wrong folder."""
    return args.command == "init" or (args.command == "serve" and bool(args.init_if_missing))


def _check_database(settings: Settings) -> None:
    url = settings.effective_database_url
    state = database_state(url)
    if state is DatabaseState.READY:
        return
    path = sqlite_path(url)
    where = str(path.resolve()) if path is not None else _redacted(url)
    if state is DatabaseState.MISSING:
        folder = "" if settings.database_url else f" (data folder {settings.data_dir.resolve()})"
        raise ConfigurationError(
            f"no database at {where}{folder}: point at the service's data folder with --data-dir DIR or"
            " METRO_DATA_DIR (or METRO_DATABASE_URL), or run from the project folder;"
            " `python -m ticketing init` makes a new one",
            code="no_database",
        )
    raise ConfigurationError(
        f"the database at {where} is not initialised (it has no tables): run `python -m ticketing"
        " [--data-dir DIR] init`, which runs the migrations",
        code="not_initialised",
    )


def _command(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "init":
        return initialise(settings)
    if args.command == "serve":
        return _serve(settings, args)
    if args.command == "keys":
        return _keys(settings, args)
    if args.command == "tokens":
        return _tokens(settings, args)
    if args.command == "audit":
        return audit_cli.run(settings, args)
    if args.command == "gates":
        return _gates(settings, args)
    if args.command == "gtfs-export":
        return _gtfs_export(settings, args)
    if args.command == "passes":
        return passes_cli.run(settings, args)
    if args.command == "free-riders":
        return free_riders_cli.run(settings, args)
    if args.command == "tariff":
        return tariff_cli.run(settings, args)
    _parser().print_usage(sys.stderr)
    return EXIT_USAGE


def _reader_gone() -> int:
    """Our standard output's reader went away (`audit scans --csv | head`): stop quietly, as `cat` does,
    with the status a shell shows for a command that SIGPIPE ended. Standard output now goes nowhere, so
    that the interpreter's last flush at exit finds no closed pipe to complain about."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE


def initialise(settings: Settings) -> int:
    """Migrate to head; make a signing key and an admin token if there are none. Safe to run again."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    with Session(engine) as session:
        now = utcnow()
        if active_key(session, now) is None:
            key = create_key(session, settings.secret("key_passphrase"), now)
            session.commit()
            print(f"signing key {key.kid} created")
        if session.exec(select(ApiToken).where(ApiToken.role == Role.ADMIN)).first() is None:
            token = create_token(session, Role.ADMIN, "created by init", now)
            print(f"admin token (shown once, keep it safe): {token.token}")
    engine.dispose()
    print(f"database ready: {_redacted(settings.effective_database_url)}")
    return EXIT_OK


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415  (only `serve` needs the server)

    from ticketing.serving import event_loop, http_protocol  # noqa: PLC0415

    if args.init_if_missing:
        initialise(settings)
    print(f"serving on http://{args.host}:{args.port} (API docs at /docs)", flush=True)
    uvicorn.run(
        "ticketing.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        http=http_protocol(),  # TCP_NODELAY, which --workers N otherwise loses (see ticketing.serving)
        loop=event_loop(),
        log_level="warning",
        access_log=False,
    )
    return EXIT_OK


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.effective_database_url)
    with Session(engine) as session:
        now = utcnow()
        if args.keys_command == "rotate":
            key, _ = signing_keys.rotate(session, build_context(settings), now)
            print(
                f"signing key {key.kid} published; it signs from {_when(key.not_before)}, older"
                " keys until then and stay published until their tickets expire"
            )
        elif args.keys_command == "revoke":
            done = signing_keys.revoke_and_reissue(session, build_context(settings), args.kid, now)
            print(f"key {args.kid} revoked; {done.reissued} tickets reissued under key {done.signing_kid}")
            if done.signing_key_new:
                print(
                    f"warning: no key was published ahead, so key {done.signing_kid} is new and no gate"
                    " trusts it yet: recover every gate with a fresh bundle (docs/gate.md)",
                    file=sys.stderr,
                )
        for row in session.exec(select(SigningKey).order_by(col(SigningKey.not_before))).all():
            print(
                f"{row.kid:>5}  {key_state(row, now):<8} signs from {_when(row.not_before)}"
                f"  not_after {_when(row.not_after)}  fingerprint {fingerprint_of(row)}"
            )
    engine.dispose()
    return EXIT_OK


def _when(at: datetime | None) -> str:
    """One way to print an instant in `keys`: ISO 8601 in UTC to the second, `-` for none."""
    return "-" if at is None else at.astimezone(UTC).isoformat(timespec="seconds")


def _tokens(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.effective_database_url)
    try:
        with Session(engine) as session:
            if args.tokens_command == "create":
                print(create_token(session, Role(args.role), args.label, utcnow()).token)
            elif args.tokens_command == "revoke":
                print(f"token {revoke_token(session, args.token_id).id} revoked")
            else:
                for row in list_tokens(session):
                    state = "revoked" if row.revoked else "active"
                    created = f"{row.created_at:%Y-%m-%d %H:%M}"
                    print(f"{row.id}  {row.role:<8} {state:<8} created {created}  {row.label}")
    finally:
        engine.dispose()
    return EXIT_OK


def _gates(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.effective_database_url)
    try:
        with Session(engine) as session:
            return _gate_command(settings, session, args)
    finally:
        engine.dispose()


def _gate_command(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    now = utcnow()
    if args.gates_command == "add":
        try:
            wanted = GateCreate(station=args.station, gate_id=args.gate)
        except ValidationError:
            print("error: a gate id is 1-32 letters, digits, '.', '_' or '-'", file=sys.stderr)
            return EXIT_USAGE
        created = gates.create_gate(session, build_context(settings), wanted.station, wanted.gate_id, now)
        until = f"{created.code_expires_at:%Y-%m-%d %H:%M} UTC"
        print(f"gate {created.gate_id} at {created.station}: one-time enrolment code, valid until {until}")
        signing = active_key(session, now)
        if signing is not None:
            print(f"issuer key fingerprint {fingerprint_of(signing)} (the gate's --trust-fingerprint)")
        print(created.code)
    elif args.gates_command == "revoke":
        revoked = gates.revoke_gate(session, args.gate, now)
        print(f"gate {revoked.gate_id} revoked")
    elif args.gates_command == "bundle":
        text, fingerprint = gates.export_bundle(
            session, build_context(settings), args.station, args.gate, now
        )
        args.out.write_text(text, encoding="utf-8")
        print(f"bundle for {args.station} written to {args.out}; issuer key fingerprint {fingerprint}")
    else:
        for gate in gates.list_gates(session):
            seen = f"{gate.last_upload_at:%Y-%m-%d %H:%M}" if gate.last_upload_at else "never"
            print(
                f"{gate.gate_id:<12} {gate.station:<6} {gate.status:<8}"
                f" journal {gate.journal_head:>8}  last upload {seen}"
            )
    return EXIT_OK


def _gtfs_export(settings: Settings, args: argparse.Namespace) -> int:
    """The feed `GET /v1/gtfs/feed.zip` serves, from the same catalog, written to a file."""
    ctx = build_context(settings)
    on = args.date or feed_date(ctx.catalog, utcnow())
    engine = make_engine(settings.effective_database_url)
    try:
        with Session(engine) as session:  # the tariff in force when that day's service starts
            catalog = tariffs.catalog_at(session, ctx, service_day_of_date(on, ctx.catalog.policy))
    finally:
        engine.dispose()
    args.out.write_bytes(feed_zip(catalog, on))
    print(f"GTFS feed (tariff {catalog.tariff.version}, calendar from {on}) written to {args.out}")
    return EXIT_OK


def _redacted(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest
