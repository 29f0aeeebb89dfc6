"""`listen` on a terminal: the station display, full screen (rich Live), redrawn twice a second so the clock
and the ages move, while the scanner's lines are read as before; and input that is not echoed, since a
scanner types a CCCD card's QR, number and name in full, into the same terminal.

The display reads only its own copy of the view: each thread that holds a gate (the scan loop, the
background sync) reads the store with its own connection and hands the display what it read. A thread of
the display's own watches this gate's journal for what staff do from another terminal while `listen` holds
this one (a settled exit, an override), and shows it as it shows a scan.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from rich.console import Console, RenderableType
from rich.live import Live

from fare_rules.errors import FareRulesError
from fare_rules.free import FreeCategory
from fare_rules.model import Direction, Flag
from fare_rules.overrides import OverrideAction, OverrideReason
from fare_rules.products import Product
from fare_rules.reasons import Reason
from fare_rules.rules import gate_flags
from fare_rules.settlement import PaymentMethod
from validator import records
from validator.core import Adjustment, InputKind, Override, PassSeen, ScanOutcome, Verdict
from validator.device import load_token
from validator.display import ShiftCounts, StationView, SyncProblem, SyncState, render_station
from validator.gate import Gate, StationState
from validator.staff import ticket_from_json
from validator.store import open_store
from validator.sync import journal_stopped, last_sync_error
from validator.wire import parse_iso

if sys.platform != "win32":
    import termios

__all__ = ["StationScreen", "is_terminal", "read_sync_state", "staff_action_outcome", "unechoed"]

REFRESH_PER_SECOND = 2
WATCH_INTERVAL = 0.5  # seconds between looks at the journal for staff actions from another terminal
_TtyAttrs = list[Any]  # what termios.tcgetattr answers
_FIRST_LISTS = ("revocations", "passes")


def read_sync_state(gate: Gate, data_dir: Path) -> SyncState:
    """The gate's sync state as its store holds it (the same values `status` shows)."""
    conn = gate.conn
    synced = {
        str(key).removesuffix("_synced_at"): _time(value)
        for key, value in conn.execute(
            "SELECT key, value FROM station_state WHERE key LIKE '%\\_synced\\_at' ESCAPE '\\'"
        )
    }
    names = [*_FIRST_LISTS, *sorted(set(synced) - set(_FIRST_LISTS))]
    gate_id = gate.config.gate_id
    offset = records.get_state(conn, "clock_offset_seconds")
    return SyncState(
        online=bool(gate.config.server_url and load_token(data_dir)),
        last_success=_time(records.get_state(conn, "last_sync")),
        last_error=_problem(last_sync_error(conn, gate_id)),
        lists=tuple((name, synced.get(name)) for name in names),
        lists_as_of=StationState.read(conn).last_sync,
        clock_offset_seconds=float(offset) if offset is not None else None,
        backlog=records.journal_backlog(conn, gate_id),
        uploads_stopped=_problem(journal_stopped(conn, gate_id)),
    )


def _problem(record: dict[str, Any] | None) -> SyncProblem | None:
    if record is None:
        return None
    return SyncProblem(
        code=str(record.get("code")),
        server_code=record.get("server_code"),
        at=_time(record.get("at")),
        detail=str(record.get("detail") or ""),
    )


def _time(text: object) -> datetime | None:
    try:
        return parse_iso(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _station_name(gate: Gate) -> str:
    code = gate.config.station
    try:
        return f"{code} {gate.network.station(code).name_vi}"
    except FareRulesError:
        return code


class StationScreen:
    """The full-screen display of one `listen` session; a context manager around the terminal it takes."""

    def __init__(self, gate: Gate, data_dir: Path, direction: Direction, out: TextIO) -> None:
        self._data_dir = data_dir
        self._policy = gate.policy
        self._lock = threading.Lock()
        self._gate_id = gate.config.gate_id
        self._store = Path(gate.conn.execute("PRAGMA database_list").fetchone()[2])
        self._watched = records.journal_head(gate.conn, self._gate_id)[0]  # earlier events: another shift's
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="display-journal", daemon=True)
        self._view = StationView(
            gate=gate.config.gate_id,
            station=_station_name(gate),
            direction=direction,
            now=datetime.now(UTC),
            tz=gate.policy.local_tz,
            sync=read_sync_state(gate, data_dir),
        )
        self._live = Live(
            console=Console(file=out),
            screen=True,
            refresh_per_second=REFRESH_PER_SECOND,
            redirect_stdout=False,
            redirect_stderr=False,
            get_renderable=self._render,
        )

    @staticmethod
    def fits(out: TextIO) -> bool:
        """Whether `out` is a terminal that can show the display (not a pipe, a file or a dumb terminal)."""
        console = Console(file=out)
        return console.is_terminal and not console.is_dumb_terminal

    @property
    def counts(self) -> ShiftCounts:
        with self._lock:
            return self._view.counts

    def show(self, outcome: ScanOutcome, gate: Gate) -> None:
        """A scan's outcome, big, at once; `gate` is the scanning thread's, to read the sync state with."""
        sync = read_sync_state(gate, self._data_dir)
        with self._lock:
            self._policy = gate.policy  # the version the scan was decided with: its clock and list limits
            view = self._view
            self._view = replace(
                view, outcome=outcome, counts=view.counts.add(outcome), sync=sync, notice=None
            )
        self._live.refresh()

    def synced(self, gate: Gate) -> None:
        """After a background sync round, on its thread and with its gate: the new sync state."""
        sync = read_sync_state(gate, self._data_dir)
        with self._lock:
            self._view = replace(self._view, sync=sync)

    def report(self, notice: str) -> None:
        """A line the agent must see (a scan that failed), until the next scan."""
        with self._lock:
            self._view = replace(self._view, notice=notice)
        self._live.refresh()

    def _render(self) -> RenderableType:
        now = datetime.now(UTC)
        with self._lock:
            view, policy = self._view, self._policy
        flags = gate_flags(now, view.sync.lists_as_of, view.sync.clock_offset_seconds, policy)
        return render_station(replace(view, now=now, gate_flags=flags))

    def _watch(self) -> None:
        """Staff actions at this gate from another process (`settle`, `override`), shown as they land."""
        conn: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(WATCH_INTERVAL):
                try:
                    conn = conn or open_store(self._store)
                    for outcome in self._staff_actions(conn):
                        self._add(outcome)
                except Exception as exc:  # reported and retried: the display must not stop the gate
                    self.report(f"the display cannot read the journal: {exc}")
        finally:
            if conn is not None:
                conn.close()

    def _staff_actions(self, conn: sqlite3.Connection) -> list[ScanOutcome]:
        rows = conn.execute(
            "SELECT seq, event FROM journal WHERE gate = ? AND seq > ? ORDER BY seq",
            (self._gate_id, self._watched),
        ).fetchall()
        if rows:
            self._watched = int(rows[-1][0])
        found = (staff_action_outcome(json.loads(event)) for _, event in rows)
        return [outcome for outcome in found if outcome is not None]

    def _add(self, outcome: ScanOutcome) -> None:
        with self._lock:
            view = self._view
            self._view = replace(view, outcome=outcome, counts=view.counts.add(outcome), notice=None)
        self._live.refresh()

    def __enter__(self) -> StationScreen:
        self._live.start()
        self._watcher.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._watcher.join(timeout=5)
        self._live.stop()


def staff_action_outcome(event: dict[str, Any]) -> ScanOutcome | None:
    """A settled exit or an override, from its journal event; None for anything else (this gate's own
    scans are shown as they are made) and for an event this version cannot read."""
    if "adjustment" not in event and "override" not in event:
        return None
    try:
        return ScanOutcome(
            verdict=Verdict(event["verdict"]),
            reason=Reason(event["reason"]) if event.get("reason") else None,
            gate=str(event["gate"]),
            station=str(event["station"]),
            direction=Direction(event["direction"]),
            at=parse_iso(event["at"]),
            seq=int(event["seq"]),
            input_kind=InputKind(event["input"]),
            owed_vnd=int(event.get("owed_vnd") or 0),
            flags=frozenset(Flag(f) for f in event.get("flags", ())),
            recognised=_pass_of(event.get("pass")) or ticket_from_json(event.get("ticket")),
            ticket=ticket_from_json(event.get("ticket")),
            adjustment=_adjustment_of(event.get("adjustment")),
            override=_override_of(event.get("override")),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _pass_of(data: object) -> PassSeen | None:
    if not isinstance(data, dict):
        return None
    birth, product, category = data.get("birth_year"), data.get("product"), data.get("category")
    return PassSeen(
        pass_id=data.get("pass_id"),
        product=Product(product) if product else None,
        cccd_masked=data.get("cccd"),
        initials=data.get("initials"),
        birth_year=int(birth) if birth is not None else None,
        category=FreeCategory(category) if category else None,
    )


def _adjustment_of(data: object) -> Adjustment | None:
    if not isinstance(data, dict):
        return None
    method = PaymentMethod(data["method"])
    return Adjustment(int(data["amount_vnd"]), method, str(data["agent"]), int(data["settlement_seq"]))


def _override_of(data: object) -> Override | None:
    if not isinstance(data, dict):
        return None
    said = data.get("gate_reason")
    return Override(
        OverrideAction(data["action"]),
        OverrideReason(data["reason"]),
        str(data["agent"]),
        Reason(said) if said else None,
    )


@contextmanager
def unechoed(stream: TextIO) -> Iterator[None]:
    """While in the block, a terminal `stream` does not echo what is typed into it (lines still arrive
    whole); a stream that is not a terminal is left as it is."""
    saved = _echo_off(stream)
    try:
        yield
    finally:
        _restore(stream, saved)


def is_terminal(stream: object) -> bool:
    """Whether `stream` is a terminal (a stand-in for stdin without `isatty` is not)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty()) if callable(isatty) else False


def _echo_off(stream: TextIO) -> _TtyAttrs | None:
    """Stop the terminal echoing what is typed (the line discipline still hands over whole lines)."""
    if sys.platform == "win32" or not is_terminal(stream):
        return None
    fd = stream.fileno()
    saved: _TtyAttrs = termios.tcgetattr(fd)
    quiet = termios.tcgetattr(fd)
    quiet[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSADRAIN, quiet)
    return saved


def _restore(stream: TextIO, saved: _TtyAttrs | None) -> None:
    if saved is not None and sys.platform != "win32":
        termios.tcsetattr(stream.fileno(), termios.TCSADRAIN, saved)
