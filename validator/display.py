"""The station display `listen` shows full screen on a terminal: what a station agent reads from two metres.

Pure: a typed view (the last outcome, the shift's counts, the gate's sync state, the time) in, a rich
renderable out, drawn to whatever size the terminal has when it is drawn. The verdict comes first and in
words as well as colour (a colour-blind agent and a monochrome screen read the letters); what does not fit a
small terminal is cut from the bottom, never the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.layout import Layout
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from fare_rules.model import Direction, Flag
from fare_rules.reasons import Reason
from validator.core import ScanOutcome
from validator.screen import card_to_compare, clock_warning, describe_outcome, money_lines, override_lines

__all__ = [
    "VERDICT_HOLD",
    "ShiftCounts",
    "StationView",
    "SyncProblem",
    "SyncState",
    "banner_lines",
    "render_station",
]

# After this long without a scan the big verdict gives way to "ready": an agent glancing up must not take
# the last rider's ACCEPT for the next one's.
VERDICT_HOLD = timedelta(seconds=20)

_ACCEPT_STYLE = "bold bright_white on green4"
_DENY_STYLE = "bold bright_white on red3"
_READY_STYLE = "bold bright_white on grey30"
_WARN_STYLE = "bold black on yellow"
_ACCEPT_CAPTION = "✔ ACCEPT · MỜI QUA"
_DENY_CAPTION = "✖ DENY · TỪ CHỐI"
_READY_CAPTION = "SẴN SÀNG — MỜI QUÉT VÉ · READY — SCAN"
_COMPARE_CARD = " ĐỐI CHIẾU THẺ VỚI NGƯỜI ĐI / COMPARE THE CARD WITH THE RIDER "
_STALE_LISTS = " ⚠ Danh sách đã cũ — đồng bộ cổng / Lists out of date — sync the gate "
_DIRECTIONS = {Direction.ENTRY: "VÀO / ENTRY", Direction.EXIT: "RA / EXIT"}

# Block letters, five rows each: only the two words the display draws big.
_GLYPHS = {
    "A": (" ███ ", "█   █", "█████", "█   █", "█   █"),
    "C": (" ████", "█    ", "█    ", "█    ", " ████"),
    "D": ("████ ", "█   █", "█   █", "█   █", "████ "),
    "E": ("█████", "█    ", "████ ", "█    ", "█████"),
    "N": ("█   █", "██  █", "█ █ █", "█  ██", "█   █"),
    "P": ("████ ", "█   █", "████ ", "█    ", "█    "),
    "T": ("█████", "  █  ", "  █  ", "  █  ", "  █  "),
    "Y": ("█   █", " █ █ ", "  █  ", "  █  ", "  █  "),
}
_GLYPH_ROWS = 5
# Letter scales (columns per dot, rows per dot), largest first; a terminal cell is about twice as tall as
# it is wide, so two columns per row keep the letters square.
_SCALES = ((4, 2), (3, 2), (2, 2), (2, 1), (1, 1))


@dataclass(frozen=True, slots=True)
class ShiftCounts:
    """Scans since this `listen` session (the agent's shift at this gate) began, by direction and verdict."""

    entry_accepted: int = 0
    entry_denied: int = 0
    exit_accepted: int = 0
    exit_denied: int = 0

    def add(self, outcome: ScanOutcome) -> ShiftCounts:
        name = f"{outcome.direction.value}_{'accepted' if outcome.accepted else 'denied'}"
        return replace(self, **{name: getattr(self, name) + 1})

    def summary(self) -> str:
        """One line, for the terminal after the display closes."""
        return (
            f"entry: {self.entry_accepted} accepted, {self.entry_denied} denied; "
            f"exit: {self.exit_accepted} accepted, {self.exit_denied} denied"
        )


@dataclass(frozen=True, slots=True)
class SyncProblem:
    """The last failed sync, as the store keeps it for `status`."""

    code: str
    server_code: str | None
    at: datetime | None
    detail: str


@dataclass(frozen=True, slots=True)
class SyncState:
    """What the gate's store says about its sync: read by the shell, drawn here."""

    online: bool  # enrolled with a server (so `listen` syncs in the background)
    last_success: datetime | None  # gate clock
    last_error: SyncProblem | None
    lists: tuple[tuple[str, datetime | None], ...]  # each list and when it was last synced (issuer clock)
    lists_as_of: datetime | None  # the older of revocations and passes: what staleness is judged on
    clock_offset_seconds: float | None  # server minus gate clock, as last measured
    backlog: int = 0  # journal events not uploaded yet
    uploads_stopped: SyncProblem | None = None  # the server refused a batch for good (sync --retry-journal)


@dataclass(frozen=True, slots=True)
class StationView:
    """Everything the station display shows at one instant."""

    gate: str
    station: str  # code and name, e.g. "L1-01 Bến Thành"
    direction: Direction
    now: datetime
    tz: tzinfo  # the network's local time, for the clock the agent reads
    sync: SyncState
    gate_flags: frozenset[Flag] = field(default_factory=frozenset)  # stale lists, clock suspect, now
    counts: ShiftCounts = field(default_factory=ShiftCounts)
    outcome: ScanOutcome | None = None
    notice: str | None = None  # a scan that failed, a sync problem the store could not record


def render_station(view: StationView) -> RenderableType:
    """The whole screen for `view`, laid out when drawn, at the console's width and height."""
    return _Station(view)


class _Station:
    def __init__(self, view: StationView) -> None:
        self.view = view

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width, height = options.max_width, options.height or console.height
        footer = _footer(self.view)
        footer_rows = 1 + len(footer) if height >= 16 else 0
        body_rows = max(1, height - 1 - footer_rows)
        layout = Layout()
        parts = [Layout(_header(self.view), size=1), Layout(_body(self.view, width, body_rows))]
        if footer_rows:
            parts.append(Layout(Group(Rule(style="dim"), *footer), size=footer_rows))
        layout.split_column(*parts)
        yield layout


def _header(view: StationView) -> Table:
    grid = Table.grid(expand=True)
    grid.add_column(justify="left", no_wrap=True, overflow="ellipsis")
    grid.add_column(justify="right", no_wrap=True, min_width=10)
    local = view.now.astimezone(view.tz)
    grid.add_row(
        Text(f" {view.gate} · {view.station} · {_DIRECTIONS[view.direction]}", style="bold"),
        Text(f"{local:%H:%M:%S} ", style="bold"),
        style="reverse",
    )
    return grid


def _shown(view: StationView) -> ScanOutcome | None:
    """The outcome still held on screen, or None when the gate waits for the next scan."""
    outcome = view.outcome
    if outcome is None or view.now - outcome.at > VERDICT_HOLD:
        return None
    return outcome


def _body(view: StationView, width: int, rows: int) -> Group:
    outcome = _shown(view)
    lines = _detail_lines(view, outcome, width)
    if outcome is None:
        word, caption, style = None, _READY_CAPTION, _READY_STYLE
    elif outcome.accepted:
        word, caption, style = "ACCEPT", _ACCEPT_CAPTION, _ACCEPT_STYLE
    else:
        word, caption, style = "DENY", _DENY_CAPTION, _DENY_STYLE
    if outcome is not None:
        caption = f"{caption}   {outcome.at.astimezone(view.tz):%H:%M:%S} · #{outcome.seq}"
    room = rows - len(lines)
    verdict = banner_lines(word, caption, width, room)
    return Group(*(Text(line, style=style, no_wrap=True, overflow="crop") for line in verdict), *lines)


def banner_lines(word: str | None, caption: str, width: int, rows: int) -> list[str]:
    """The verdict block, each line `width` wide: `word` in block letters as large as `width` x `rows`
    allows, then the caption; just the caption when the letters do not fit (the caption is the verdict in
    words, always shown)."""
    lines = [caption]
    if word is None:
        lines = ["", caption, ""] if rows >= 3 else lines
    else:
        for sx, sy in _SCALES:
            art = _block_letters(word, sx, sy)
            if len(art[0]) > width - 2 or len(art) + 1 > rows:
                continue
            left = (width - len(art[0])) // 2
            lines = [*(" " * left + row for row in art), caption]
            if len(lines) + 2 <= rows:  # a margin above and below when there is room
                lines = ["", *lines[:-1], "", caption]
            break
    return [line.center(width) if line is caption else line.ljust(width) for line in lines]


def _block_letters(word: str, sx: int, sy: int) -> list[str]:
    rows = []
    for r in range(_GLYPH_ROWS):
        line = (" " * sx).join("".join(ch * sx for ch in _GLYPHS[letter][r]) for letter in word)
        rows.extend([line] * sy)
    return rows


def _detail_lines(view: StationView, outcome: ScanOutcome | None, width: int) -> list[Text]:
    lines = _outcome_lines(outcome) if outcome is not None else []
    lines += _warnings(view)
    if view.notice:
        lines.append(Text(f" {view.notice}", style="bold red"))
    if outcome is None and view.outcome is not None:
        last = view.outcome
        verdict = _ACCEPT_CAPTION if last.accepted else _DENY_CAPTION
        lines.append(
            Text(f" Lần trước / Last scan: {verdict} {last.at.astimezone(view.tz):%H:%M:%S}", style="dim")
        )
    return [_fit(line, width) for line in lines]


def _outcome_lines(outcome: ScanOutcome) -> list[Text]:
    """The reason in both languages, then what the agent acts on: the fare owed, the card to compare."""
    message = outcome.message
    lines = [Text(f" {message.vi}", style="bold"), Text(f" {message.en}")]
    lines += [Text(f" {line} ", style=_WARN_STYLE) for line in money_lines(outcome) + override_lines(outcome)]
    if outcome.reason is Reason.FARE_EXCEEDED and outcome.owed_vnd and outcome.adjustment is None:
        # How the agent lets the rider out once the difference is paid (docs/gate.md, settle).
        settle = f"settle --last --collected {outcome.owed_vnd} --method cash|vietqr --agent ID"
        lines.append(Text(f"  → {settle}"))
    if Flag.COMPARE_CARD in outcome.flags:
        lines.append(Text(_COMPARE_CARD, style=_WARN_STYLE))
    lines += [Text(line) for line in describe_outcome(outcome, with_card=False)]
    who = card_to_compare(outcome)
    if who:
        lines += [Text("  Đối chiếu thẻ / Compare with the card:"), Text(f"    {who}", style="bold")]
    # These have lines of their own (the gate's warnings, the card to compare).
    shown_flags = sorted(
        f.value for f in outcome.flags - {Flag.CLOCK_SUSPECT, Flag.STALE_LISTS, Flag.COMPARE_CARD}
    )
    if shown_flags:
        lines.append(Text(f"  flags: {', '.join(shown_flags)}", style="dim"))
    return lines


def _fit(line: Text, width: int) -> Text:
    line.no_wrap = True
    line.overflow = "ellipsis"
    line.truncate(width, overflow="ellipsis")
    return line


def _warnings(view: StationView) -> list[Text]:
    """The gate-wide faults an agent must call in, whatever the last scan was."""
    lines = []
    if Flag.CLOCK_SUSPECT in view.gate_flags:
        warning = clock_warning(view.sync.clock_offset_seconds)
        lines += [Text(f" ⚠ {warning.vi} ", style=_WARN_STYLE), Text(f" ⚠ {warning.en} ", style=_WARN_STYLE)]
    if Flag.STALE_LISTS in view.gate_flags:
        lines.append(Text(_STALE_LISTS, style=_WARN_STYLE))
    return lines


def _footer(view: StationView) -> list[Text]:
    counts = view.counts
    rows = [
        (
            "Ca / Shift",
            f"vào/entry ✔ {counts.entry_accepted} ✖ {counts.entry_denied}    "
            f"ra/exit ✔ {counts.exit_accepted} ✖ {counts.exit_denied}",
        ),
        ("Đồng bộ / Sync", _sync_text(view)),
        ("Nhật ký / Journal", _journal_text(view)),
        ("Danh sách / Lists", " · ".join(f"{name} {_ago(view.now, at)}" for name, at in view.sync.lists)),
    ]
    lines = []
    for label, value in rows:
        line = Text.assemble((f" {label:<18}", "bold"), value)
        line.no_wrap, line.overflow = True, "ellipsis"
        lines.append(line)
    return lines


def _sync_text(view: StationView) -> str:
    sync = view.sync
    last = f"last sync {_ago(view.now, sync.last_success)}"
    if not sync.online:
        last = "offline gate (provisioned from a bundle)" if sync.last_success is None else last
    error = sync.last_error
    if error is None:
        return f"{last} · OK" if sync.last_success else last
    return f"{last} · ✖ FAILED {_ago(view.now, error.at)}: {_codes(error)} — {error.detail}"


def _journal_text(view: StationView) -> str:
    sync = view.sync
    waiting = f"{sync.backlog} to upload" if sync.backlog else "all uploaded"
    stopped = sync.uploads_stopped
    if stopped is not None:
        since = _ago(view.now, stopped.at)
        return f"{waiting} · ✖ UPLOADS STOPPED {since}: {_codes(stopped)} — {stopped.detail}"
    return waiting


def _codes(problem: SyncProblem) -> str:
    if not problem.server_code or problem.server_code == problem.code:
        return problem.code
    return f"{problem.code} (server: {problem.server_code})"


def _ago(now: datetime, at: datetime | None) -> str:
    """`12 s ago`, `5 min ago`, `3.2 h ago`, `2 d ago`; `never` when it never happened."""
    if at is None:
        return "never"
    seconds = max(0.0, (now - at).total_seconds())
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.0f} d ago"
