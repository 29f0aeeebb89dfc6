"""Gate CLI for station staff: `python scanner_cli.py [--data-dir DIR] COMMAND` (docs/gate.md).

A thin shell over the `validator` package's public API: parse arguments, call one operation, print the
answer, return an exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from validator import (
    DECODERS,
    BackgroundSync,
    BundleError,
    Connect,
    Direction,
    FareRulesError,
    Gate,
    GateNotProvisioned,
    NoPayee,
    NothingToRecall,
    OverrideAction,
    OverrideReason,
    PaymentMethod,
    ProvisionError,
    Reason,
    ScanOutcome,
    Settlement,
    SettlementQr,
    StationScreen,
    StoreError,
    StoreUnusable,
    SyncError,
    describe_store_failure,
    describe_sync,
    describe_sync_problem,
    describe_unusable_store,
    describe_versions,
    enroll_gate,
    format_vnd,
    gate_id_names_station,
    gate_status,
    get_decoder,
    http_client,
    init_gate,
    inspect_item,
    inspection_json,
    is_agent_id,
    is_terminal,
    item_label,
    key_fingerprint,
    listen_line,
    lost_warnings,
    message_for,
    normalise_fingerprint,
    open_gate,
    override_item,
    render_outcome,
    scan_item,
    settle_item,
    settlement_qr,
    subject_of,
    sync_gate,
    unechoed,
)

__all__ = ["EXIT_DENIED", "EXIT_OK", "EXIT_STORE_FAILED", "EXIT_SYNC_FAILED", "EXIT_USAGE", "main"]

EXIT_OK = 0  # every scan accepted (or the command succeeded)
EXIT_DENIED = 1  # at least one scan denied
EXIT_USAGE = 2  # bad arguments, unprovisioned gate, bad bundle
EXIT_SYNC_FAILED = 3  # sync or enrolment with the server failed
EXIT_STORE_FAILED = 4  # the gate's database cannot be written (disk full, read-only) or is damaged (empty,
# half-written, corrupt, unreadable): nothing was recorded and nothing was overwritten

DEFAULT_DATA_DIR = Path("var/gate")
_UNIQUE_IDS = "gate ids are unique on the whole network: name gates after their station, e.g. L1-01-G1"
_PIN_HELP = (
    "accept only an issuer key with this fingerprint (16 hex digits, as the service prints it):"
    " also how a gate whose trusted keys were all revoked is recovered (docs/gate.md)"
)


def _fingerprint(text: str) -> str:
    try:
        return normalise_fingerprint(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scanner_cli.py", description="Metro QR gate (HCMC Metro Line 1)")
    parser.add_argument(
        "--data-dir", type=Path, help="gate data folder (env METRO_GATE_DIR, default ./var/gate)"
    )
    parser.add_argument(
        "--db", type=Path, help="station database shared by several gates (env METRO_GATE_DB)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _setup_commands(sub)
    _gate_commands(sub)
    _staff_commands(sub)
    return parser


def _setup_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "enroll",
        help="enrol this gate online",
        description=f"Enrol online with a one-time code; the gate id is the one the administrator created"
        f" ({_UNIQUE_IDS}).",
    )
    p.add_argument("--server", required=True)
    p.add_argument("--code", required=True)
    p.add_argument("--trust-fingerprint", type=_fingerprint, metavar="FP", help=_PIN_HELP)
    p = sub.add_parser(
        "init",
        help="provision offline from an exported bundle",
        description=f"Provision offline from a bundle that `python -m ticketing gates bundle` exported"
        f" ({_UNIQUE_IDS}).",
    )
    p.add_argument("--station", required=True)
    p.add_argument("--gate", required=True, help=f"this gate's id; {_UNIQUE_IDS}")
    p.add_argument("--bundle", required=True, type=Path)
    p.add_argument("--trust-fingerprint", type=_fingerprint, metavar="FP", help=_PIN_HELP)


def _gate_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sync", help="pull keyset and lists, push the journal")
    p.add_argument(
        "--retry-journal",
        action="store_true",
        help="upload the journal again after the server refused it for good (once the cause is fixed)",
    )
    for name, text in (
        ("scan", "scan image files or payload texts"),
        ("listen", "one payload per line on stdin; on a terminal, the full-screen station display"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--direction", required=True, choices=[d.value for d in Direction])
        p.add_argument("--json", action="store_true", help="one JSON object per scan")
        p.add_argument("--decoder", choices=sorted(DECODERS), default="zxing")
        if name == "scan":
            p.add_argument("items", nargs="+", metavar="ITEM")
        else:
            p.add_argument(
                "--sync-interval", type=float, default=5.0, help="seconds between background syncs"
            )
            p.add_argument(
                "--plain",
                action="store_true",
                help="plain lines as for a pipe, even on a terminal (instead of the full-screen display)",
            )
    p = sub.add_parser("inspect", help="show what a code holds, without using it")
    p.add_argument("item", metavar="ITEM")
    p.add_argument("--json", action="store_true")
    p.add_argument("--decoder", choices=sorted(DECODERS), default="zxing")
    p = sub.add_parser(
        "status", help="gate, station, last sync, list ages, clock offset, journal backlog, tariff and policy"
    )
    p.add_argument("--json", action="store_true")


@dataclass(frozen=True, slots=True)
class _Context:
    """Where this gate's files are, and how it reaches the issuing service."""

    data_dir: Path
    db: Path | None
    connect: Connect


def _paths(args: argparse.Namespace) -> tuple[Path, Path | None]:
    data_dir = args.data_dir or Path(os.environ.get("METRO_GATE_DIR") or DEFAULT_DATA_DIR)
    db = args.db or (Path(os.environ["METRO_GATE_DB"]) if os.environ.get("METRO_GATE_DB") else None)
    return data_dir, db


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _emit(outcome: ScanOutcome, as_json: bool, label: str | None, out: TextIO) -> None:
    if as_json:
        body = outcome.to_json()
        if label is not None:
            body["item"] = label
        print(json.dumps(body, ensure_ascii=False), file=out, flush=True)
    else:
        print(render_outcome(outcome, colour=out.isatty(), label=label) + "\n", file=out, flush=True)


def _cmd_scan(args: argparse.Namespace, gate: Gate) -> int:
    decoder = get_decoder(args.decoder)
    direction = Direction(args.direction)
    worst = EXIT_OK
    for item in args.items:
        outcome = scan_item(gate, item, direction, decoder)
        _emit(outcome, args.json, item_label(item), sys.stdout)
        worst = worst if outcome.accepted else EXIT_DENIED
    return worst


def _cmd_listen(args: argparse.Namespace, gate: Gate, ctx: _Context) -> int:
    """Lines or JSON for a pipe, `--plain` or `--json`; on a terminal, the full-screen station display."""
    # A scanner types a CCCD card's QR, number and name in full: a terminal must not echo it.
    with unechoed(sys.stdin):
        if args.json or args.plain or not StationScreen.fits(sys.stdout):
            return _listen_in_lines(args, gate, ctx)
        return _listen_on_screen(args, gate, ctx)


def _listen_in_lines(args: argparse.Namespace, gate: Gate, ctx: _Context) -> int:
    if is_terminal(sys.stdin):
        _err(f"listening at gate {gate.config.gate_id} ({args.direction}): one code per line, Ctrl-D to stop")
    lines = _ListenOutput(
        show=lambda outcome, _gate: _emit(outcome, args.json, None, sys.stdout),
        report=_err,
        sync_failed=lambda e: _err(f"sync failed (scanning goes on): {e}"),
    )
    return _listen(args, gate, ctx, lines)


def _listen_on_screen(args: argparse.Namespace, gate: Gate, ctx: _Context) -> int:
    with StationScreen(gate, ctx.data_dir, Direction(args.direction), sys.stdout) as screen:
        shown = _ListenOutput(
            show=screen.show,
            report=screen.report,
            # A failed sync is recorded in the store and shown from there; anything else is shown here.
            sync_failed=lambda e: None if isinstance(e, SyncError) else screen.report(f"sync failed: {e}"),
            synced=screen.synced,
        )
        worst = _listen(args, gate, ctx, shown)
    print(f"listen stopped ({gate.config.gate_id}): {screen.counts.summary()}")
    return worst


@dataclass(frozen=True, slots=True)
class _ListenOutput:
    """Where `listen` shows each outcome and problem, and who hears of each background sync round."""

    show: Callable[[ScanOutcome, Gate], None]
    report: Callable[[str], None]
    sync_failed: Callable[[Exception], None]
    synced: Callable[[Gate], None] | None = None


def _listen(args: argparse.Namespace, gate: Gate, ctx: _Context, out: _ListenOutput) -> int:
    background = None
    if gate.config.server_url and args.sync_interval > 0:
        background = BackgroundSync(
            ctx.data_dir,
            ctx.db,
            args.sync_interval,
            out.sync_failed,
            connect=ctx.connect,
            on_round=out.synced,
        )
        background.start()
    try:
        return _scan_lines(args, gate, out)
    finally:
        if background is not None:
            background.stop()


def _scan_lines(args: argparse.Namespace, gate: Gate, out: _ListenOutput) -> int:
    decoder = get_decoder(args.decoder)
    direction = Direction(args.direction)
    worst = EXIT_OK
    try:
        # Bytes, decoded line by line inside the guard: a stray byte must not end the loop (text mode
        # decodes ahead of the loop and raises out of it).
        for line in getattr(sys.stdin, "buffer", sys.stdin):
            try:
                outcome = listen_line(gate, line, direction, decoder)
            except Exception as exc:
                out.report(f"error on one scan, gate keeps running: {type(exc).__name__}: {exc}")
                worst = EXIT_DENIED
                continue
            if outcome is None:
                continue
            out.show(outcome, gate)
            worst = worst if outcome.accepted else EXIT_DENIED
    except KeyboardInterrupt:
        pass  # Ctrl-C ends the shift as the end of input does
    return worst


def _cmd_inspect(args: argparse.Namespace, gate: Gate) -> int:
    body = inspection_json(inspect_item(gate, args.item, get_decoder(args.decoder)))
    if args.json:
        print(json.dumps(body, ensure_ascii=False))
    else:
        for key, value in body.items():
            if value not in (None, ""):
                print(
                    f"{key:>9}: {json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value}"
                )
        if body["reason"]:
            msg = message_for(Reason(body["reason"]))
            print(f"{'':>9}  {msg.vi} / {msg.en}")
    return EXIT_OK if body["verifies"] else EXIT_DENIED


def _cmd_status(args: argparse.Namespace, gate: Gate, data_dir: Path) -> int:
    status = gate_status(gate, data_dir)
    if args.json:
        print(json.dumps(status, ensure_ascii=False))
        return EXIT_OK
    for key, value in status.items():
        if key in ("last_sync_error", "journal_stopped"):
            shown = describe_sync_problem(value)
        elif key in ("tariff", "policy"):
            shown = describe_versions(value)
        elif isinstance(value, dict):
            shown = ", ".join(f"{k} {_seconds(v)}" for k, v in value.items())
        else:
            shown = value
        print(f"{key:>22}: {shown}")
    return EXIT_OK


def _seconds(value: float | None) -> str:
    if value is None:
        return "never"
    return f"{value / 3600:.1f} h" if abs(value) >= 3600 else f"{value:.0f} s"


def _agent(text: str) -> str:
    if not is_agent_id(text):
        raise argparse.ArgumentTypeError("a staff id: 1 to 32 letters, digits, '.', '_' or '-'")
    return text


def _dong(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise argparse.ArgumentTypeError("a whole number of dong, e.g. 4000")
    return int(text)


def _staff_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agent_help = "the agent's staff id, journaled with the action (docs/gate.md)"
    p = sub.add_parser(
        "settle",
        help="collect the fare owed at this exit and let the rider out",
        description="Settle the fare owed (fare_exceeded) at this exit: exactly the amount owed, once a trip."
        " With --method vietqr the gate first shows a VietQR for that amount, payable to the policy's payee.",
    )
    _subject_arguments(p, "the gate's last refused exit")
    p.add_argument("--method", required=True, choices=[m.value for m in PaymentMethod])
    p.add_argument("--collected", required=True, type=_dong, metavar="VND", help="the amount collected")
    p.add_argument("--agent", required=True, type=_agent, help=agent_help)
    p.add_argument("--qr-out", type=Path, metavar="PNG", help="vietqr: also write the QR as a PNG image")
    p.add_argument(
        "--confirmed", action="store_true", help="vietqr: the transfer is already seen on the rider's phone"
    )
    p = sub.add_parser(
        "override",
        help="admit or refuse by hand, with a reason code (journaled, counted)",
        description="Admit or refuse by hand. ITEM or --last names the code shown; neither: no code at all"
        " (an evacuation, a child under 6).",
    )
    # One subcommand per action, so that ITEM may follow the options (argparse gives an optional positional
    # after another positional nothing that comes later).
    actions = p.add_subparsers(dest="action", required=True, metavar="admit|refuse")
    for action in OverrideAction:
        q = actions.add_parser(action.value, help=f"{action.value} by hand")
        q.add_argument("--reason", required=True, choices=[r.value for r in OverrideReason])
        q.add_argument("--agent", required=True, type=_agent, help=agent_help)
        q.add_argument("--direction", required=True, choices=[d.value for d in Direction])
        _subject_arguments(q, "the gate's last refused scan in --direction")


def _subject_arguments(p: argparse.ArgumentParser, last_help: str) -> None:
    p.add_argument("item", nargs="?", metavar="ITEM", help="the code shown: an image file or payload text")
    p.add_argument("--last", action="store_true", help=last_help)
    p.add_argument("--json", action="store_true")
    p.add_argument("--decoder", choices=sorted(DECODERS), default="zxing")


def _cmd_settle(args: argparse.Namespace, gate: Gate) -> int:
    if (args.item is None) == (not args.last):
        _err("settle: name the code, ITEM or --last (one of them)")
        return EXIT_USAGE
    subject = subject_of(args.item, args.last, get_decoder(args.decoder))
    if isinstance(subject, Reason):
        _err(f"settle: {subject.value}: {message_for(subject).en}; nothing was recorded")
        return EXIT_DENIED
    method = PaymentMethod(args.method)
    if method is PaymentMethod.VIETQR:
        qr = settlement_qr(gate, subject)
        if qr is not None and not _transfer_seen(qr, args):
            _err("not settled: the transfer was not confirmed; nothing was recorded")
            return EXIT_DENIED
    settled = settle_item(gate, subject, args.collected, method, args.agent)
    if args.json:
        print(json.dumps(settled.to_json(), ensure_ascii=False))
    else:
        print(_settlement_lines(settled, sys.stdout.isatty()))
    return EXIT_OK if settled.accepted else EXIT_DENIED


def _transfer_seen(qr: SettlementQr, args: argparse.Namespace) -> bool:
    """Show the VietQR (stderr under --json), and whether the agent saw the transfer on the rider's phone."""
    out = sys.stderr if args.json else sys.stdout
    print(f"{qr.text}VietQR {format_vnd(qr.owed_vnd)}, reference {qr.reference}", file=out, flush=True)
    if qr.placeholder_payee:
        _err("warning: the policy's settlement payee is the shipped placeholder account, not the operator's")
    if args.qr_out is not None:
        qr.write_png(args.qr_out)
    if args.confirmed:
        return True
    try:
        answer = input(f"{format_vnd(qr.owed_vnd)} received on the rider's phone? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes", "c", "có")


def _settlement_lines(settled: Settlement, colour: bool) -> str:
    message = f"{settled.message.vi} / {settled.message.en}"
    if not settled.accepted or settled.exit is None:
        owed = f"; owed {format_vnd(settled.owed_vnd)}" if settled.owed_vnd else ""
        reason = settled.reason.value if settled.reason else "refused"
        return f"NOT SETTLED ({reason}): {message}{owed}"
    head = (
        f"SETTLED {format_vnd(settled.collected_vnd)} {settled.method.value} by {settled.agent}"
        f" (event {settled.seq}): {message}"
    )
    return head + "\n" + render_outcome(settled.exit, colour=colour) + "\n"


def _cmd_override(args: argparse.Namespace, gate: Gate) -> int:
    if args.item is not None and args.last:
        _err("override: ITEM or --last, not both")
        return EXIT_USAGE
    subject = subject_of(args.item, args.last, get_decoder(args.decoder))
    if isinstance(subject, Reason):
        _err(f"override: {subject.value}: {message_for(subject).en}; give no ITEM to act without a code")
        return EXIT_DENIED
    outcome = override_item(
        gate, subject, OverrideAction(args.action), OverrideReason(args.reason), args.agent,
        direction=Direction(args.direction),
    )  # fmt: skip
    if args.json:
        print(json.dumps(outcome.to_json(), ensure_ascii=False))
    else:  # the screen says it was by hand, by whom, why, and what the gate itself said
        print(render_outcome(outcome, colour=sys.stdout.isatty()) + "\n")
    return EXIT_OK if outcome.accepted else EXIT_DENIED


def _cmd_init(args: argparse.Namespace, ctx: _Context) -> int:
    if not gate_id_names_station(args.gate, args.station):
        _err(f"warning: gate id {args.gate!r} does not start with {args.station}-; {_UNIQUE_IDS}")
    bundle = init_gate(
        ctx.data_dir,
        ctx.db,
        args.bundle.read_text(encoding="utf-8"),
        args.station,
        args.gate,
        trust_fingerprint=args.trust_fingerprint,
    )
    signer = bundle.keyset[bundle.signer_kid]
    print(
        f"gate {args.gate} at {args.station} provisioned: {len(bundle.revocations)} revocations,"
        f" {len(bundle.passes)} passes, {len(bundle.free_riders)} free riders; issuer key {bundle.signer_kid}"
        f" fingerprint {key_fingerprint(signer)}"
    )
    return EXIT_OK


def _cmd_enroll(args: argparse.Namespace, ctx: _Context) -> int:
    """Enrol, then sync at once (keyset, lists, other gates' uses), so the gate is ready to scan."""
    try:
        config = enroll_gate(
            ctx.data_dir,
            ctx.db,
            args.server,
            args.code,
            trust_fingerprint=args.trust_fingerprint,
            connect=ctx.connect,
        )
    except SyncError as exc:
        _err(f"enrolment failed: {exc}")
        return EXIT_SYNC_FAILED
    print(f"enrolled as gate {config.gate_id} at {config.station}")
    return _with_gate(_cmd_sync, args, ctx)


def _cmd_sync(args: argparse.Namespace, gate: Gate, ctx: _Context) -> int:
    try:
        report = sync_gate(
            ctx.data_dir, gate, retry_journal=getattr(args, "retry_journal", False), connect=ctx.connect
        )
    except SyncError as exc:
        _err(f"sync failed: {exc}")
        return EXIT_SYNC_FAILED
    print(describe_sync(report))
    for warning in lost_warnings(report):
        _err(warning)
    return EXIT_OK


def _with_gate(
    command: Callable[[argparse.Namespace, Gate, _Context], int], args: argparse.Namespace, ctx: _Context
) -> int:
    gate = open_gate(ctx.data_dir, ctx.db)
    try:
        return command(args, gate, ctx)
    finally:
        gate.conn.close()


# The commands that work on a provisioned gate's store, and the two that make one.
_GATE_COMMANDS: dict[str, Callable[[argparse.Namespace, Gate, _Context], int]] = {
    "sync": _cmd_sync,
    "scan": lambda args, gate, _ctx: _cmd_scan(args, gate),
    "listen": _cmd_listen,
    "inspect": lambda args, gate, _ctx: _cmd_inspect(args, gate),
    "status": lambda args, gate, ctx: _cmd_status(args, gate, ctx.data_dir),
    "settle": lambda args, gate, _ctx: _cmd_settle(args, gate),
    "override": lambda args, gate, _ctx: _cmd_override(args, gate),
}
_SETUP_COMMANDS: dict[str, Callable[[argparse.Namespace, _Context], int]] = {
    "init": _cmd_init,
    "enroll": _cmd_enroll,
}


def _run(args: argparse.Namespace, connect: Connect) -> int:
    ctx = _Context(*_paths(args), connect)
    if args.command in _SETUP_COMMANDS:
        return _SETUP_COMMANDS[args.command](args, ctx)
    return _with_gate(_GATE_COMMANDS[args.command], args, ctx)


def main(argv: Sequence[str] | None = None, *, connect: Connect = http_client) -> int:
    """Run one gate command; returns the exit status (see the EXIT_* constants). `connect` opens the
    connection to the issuing service (for enroll, sync and listen's background sync)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on bad usage (2)
        return int(exc.code or 0)
    try:
        return _run(args, connect)
    except StoreUnusable as exc:
        _err(f"error: {describe_unusable_store(exc)}")
        return EXIT_STORE_FAILED
    except (NothingToRecall, NoPayee) as exc:
        _err(f"error: {exc}; nothing was recorded")
        return EXIT_USAGE
    except (GateNotProvisioned, ProvisionError, BundleError, StoreError, FareRulesError, OSError) as exc:
        _err(f"error: {exc}")
        return EXIT_USAGE
    except sqlite3.Error as exc:
        # Every write is one transaction, rolled back here: the scan in hand was NOT recorded, so the barrier
        # must stay shut; scans recorded before are intact and sync resumes once the store is writable.
        _err(f"error: {describe_store_failure(exc, _paths(args)[0])}: {exc}; nothing was recorded")
        return EXIT_STORE_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
