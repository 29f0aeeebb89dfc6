"""The rules of ingest, pure: how accepted uses pair into trips and when a ticket has entered twice.

Trips: an accepted entry paired with the accepted exit of the same credential. Order of arrival does not
matter: gates upload when they can, so an exit may arrive before its entry. It is then kept as an orphan exit,
and the entry, when it arrives, fills it in. An exit after a trip that already has its exit, with no entry
between and within `open_entry` of that trip's entry, is a repeated exit (two exit gates that did not know of
each other let the same ride out twice): a trip of its own, never paired, so it is neither an orphan nor a
second trip. Whichever of the two exits arrives second is the repeat; when both arrive before their entry,
the entry completes the first and the other stays an orphan exit (an `entry_unseen` anomaly): the order of
arrival decides that one case.

Double use: one ticket let in at two gates with no exit between (each gate offline, neither knowing of the
other: a shared screenshot). "No exit between" is the gates' own anti-passback rule: an entry open for longer
than `passback_reset_minutes` no longer counts (its exit was likely lost at an offline gate). An exit can
also be missing only because its gate has not uploaded yet. For a single ticket that changes nothing: it pays
for one ride, so a second entry is a misuse either way. A day or 3-day ticket rides many times: a second
entry counts only if no rider could have made it, exit unseen or not: at another station sooner than the
train takes to get there (hops x `min_seconds_per_hop`), at the same station sooner than
`reentry_same_station_minutes`. The numbers come from the operator's policy.

Each engine applies these rules its own way (`ticketing.ingest.sqlite`, `ticketing.ingest.postgres`); the
conformance test holds both to `pair` below.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from fare_rules import FareRulesError
from fare_rules.network import Network
from fare_rules.policy import Policy

__all__ = [
    "PAIRING_WINDOW",
    "DoubleUseRule",
    "FirstUses",
    "StoredUse",
    "TripDraft",
    "TripStatus",
    "entered_twice",
    "entry_match",
    "exit_match",
    "fare_of",
    "first_uses",
    "flag_set",
    "is_double_use_candidate",
    "pair",
    "repeats_exit",
    "use_of",
]

# An exit pairs with an entry at most this much earlier (a service day and more: overstays stay paired, so
# auditors see them as long trips); beyond it both stay visible, as an open trip and an orphan exit.
PAIRING_WINDOW = timedelta(hours=26)
FLAGS_MAX = 200  # characters a trip keeps of its merged flags


class TripStatus(StrEnum):
    OPEN = "open"  # an entry, no exit yet
    COMPLETE = "complete"  # entry paired with its exit
    ORPHAN_EXIT = "orphan_exit"  # an exit whose entry never reached the server
    REPEATED_EXIT = "repeated_exit"  # a second exit of a complete trip, no entry between


@dataclass(frozen=True, slots=True)
class StoredUse:
    """One accepted entry or exit, as scan_events holds it."""

    credential: str
    gate: str
    seq: int
    station: str | None
    at: datetime
    direction: str
    product: str | None = None
    ticket_serial: int | None = None
    pass_id: str | None = None
    fare_vnd: int = 0
    owed_vnd: int = 0
    flags: str = ""


def fare_of(product: str | None, event: Mapping[str, Any]) -> int:
    """The fare a use's journal event says its ticket paid: a single ticket's fare is the trip's; day and
    3-day tickets and monthly passes cover many rides, so their trips carry none."""
    ticket = event.get("ticket")
    fare = ticket.get("fare_vnd") if isinstance(ticket, dict) else None
    return fare if product == "single" and isinstance(fare, int) and fare >= 0 else 0


def use_of(row: Mapping[str, Any], event: Mapping[str, Any]) -> StoredUse:
    """The use a stored scan_events row stands for (`event`, its journal event, adds the fare)."""
    return StoredUse(
        credential=row["credential"],
        gate=row["gate_id"],
        seq=row["seq"],
        station=row["station"],
        at=row["at"],
        direction=row["direction"],
        product=row["product"],
        ticket_serial=row["ticket_serial"],
        pass_id=row["pass_id"],
        fare_vnd=fare_of(row["product"], event),
        owed_vnd=row["owed_vnd"],
        flags=row["flags"],
    )


@dataclass(frozen=True, slots=True)
class FirstUses:
    """Each ticket's earliest accepted use among some uses, entry or exit: what tickets.first_used_at is set
    from unless it is earlier already (refunds, the revenue books and the rider's ticket state read it). A
    pass used with the holder's card names the pass, not its ticket: those are kept by pass id, for the
    engine to find the ticket."""

    by_serial: dict[int, datetime]
    by_pass: dict[str, datetime]

    def by_ticket(self, pass_serials: Mapping[str, int]) -> dict[int, datetime]:
        """Every ticket's earliest use by serial, the passes' found by `pass_serials` (pass id: serial)."""
        found = dict(self.by_serial)
        for pass_id, at in self.by_pass.items():
            if pass_id in pass_serials:
                _earliest(found, pass_serials[pass_id], at)
        return found


def first_uses(rows: Iterable[Mapping[str, Any]]) -> FirstUses:
    """The FirstUses of these stored scan_events rows (accepted uses)."""
    by_serial: dict[int, datetime] = {}
    by_pass: dict[str, datetime] = {}
    for r in rows:
        at = r["at"]
        if at is None:
            continue
        if r["ticket_serial"] is not None:
            _earliest(by_serial, r["ticket_serial"], at)
        elif r["pass_id"]:
            _earliest(by_pass, r["pass_id"], at)
    return FirstUses(by_serial, by_pass)


def _earliest(found: dict[Any, datetime], key: Any, at: datetime) -> None:
    was = found.get(key)
    if was is None or at < was:
        found[key] = at


def flag_set(flags: str) -> str:
    """Flags as a trip keeps them: sorted, each once, at most FLAGS_MAX characters."""
    if "," not in flags:
        return flags[:FLAGS_MAX]
    return ",".join(sorted({f for f in flags.split(",") if f}))[:FLAGS_MAX]


@dataclass(slots=True)
class TripDraft:
    """A trip as pairing builds it: its columns by name, `id` once stored, `dirty` once changed."""

    credential: str
    id: int | None = None
    values: dict[str, Any] = field(default_factory=dict)
    dirty: bool = False

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def add(self, use: StoredUse) -> None:
        side = "entry" if use.direction == "entry" else "exit"
        v = self.values
        v.update({f"{side}_gate": use.gate, f"{side}_seq": use.seq, f"{side}_station": use.station})
        v[f"{side}_at"] = use.at
        v["product"] = v.get("product") or use.product
        v["ticket_serial"] = v.get("ticket_serial") or use.ticket_serial
        v["pass_id"] = v.get("pass_id") or use.pass_id
        v["fare_vnd"] = max(v.get("fare_vnd") or 0, use.fare_vnd)
        v["owed_vnd"] = (v.get("owed_vnd") or 0) + use.owed_vnd
        v["flags"] = flag_set(f"{v.get('flags') or ''},{use.flags}")
        entry, exit_ = v.get("entry_at"), v.get("exit_at")
        v["started_at"] = entry or exit_
        v["duration_s"] = int((exit_ - entry).total_seconds()) if entry and exit_ else None
        v["status"] = _status(entry, exit_, v.get("status")).value
        self.dirty = True


def _status(entry: datetime | None, exit_: datetime | None, was: str | None) -> TripStatus:
    if entry and exit_:
        return TripStatus.COMPLETE
    if entry:
        return TripStatus.OPEN
    return TripStatus.REPEATED_EXIT if was == TripStatus.REPEATED_EXIT else TripStatus.ORPHAN_EXIT


def pair(
    known: dict[str, list[TripDraft]], uses: Iterable[StoredUse], open_entry: timedelta
) -> tuple[list[TripDraft], set[int]]:
    """Pair `uses` in time order with the trips `known` (by credential, within PAIRING_WINDOW of the uses),
    which they update in place (`dirty`). Returns the new trips and the double-use candidates (serials)."""
    ordered = sorted(uses, key=lambda u: (u.at, u.gate, u.seq))
    fresh: list[TripDraft] = []
    for use in ordered:
        trips = known.setdefault(use.credential, [])
        trip = entry_match(trips, use) if use.direction == "entry" else exit_match(trips, use)
        if trip is None:
            repeat = use.direction == "exit" and repeats_exit(trips, use, open_entry)
            trip = TripDraft(
                use.credential, values={"status": TripStatus.REPEATED_EXIT.value} if repeat else {}
            )
            trips.append(trip)
            fresh.append(trip)
        trip.add(use)
    candidates = {
        u.ticket_serial
        for u in ordered
        if u.ticket_serial is not None and is_double_use_candidate(u, known[u.credential], open_entry)
    }
    return fresh, candidates


def entry_match(trips: list[TripDraft], use: StoredUse) -> TripDraft | None:
    """The orphan exit this late-arriving entry belongs to: the first one after it, unless another entry
    came between them (then that entry was this exit's)."""
    orphans = [
        t
        for t in trips
        if t.get("entry_at") is None
        and t.get("status") != TripStatus.REPEATED_EXIT
        and use.at <= t.get("exit_at") <= use.at + PAIRING_WINDOW
    ]
    if not orphans:
        return None
    first = min(orphans, key=lambda t: t.get("exit_at"))
    between = any(
        t.get("entry_at") is not None and use.at < t.get("entry_at") < first.get("exit_at") for t in trips
    )
    return None if between else first


def _last_entered(trips: list[TripDraft], use: StoredUse) -> TripDraft | None:
    entered = [t for t in trips if t.get("entry_at") is not None and t.get("entry_at") <= use.at]
    return max(entered, key=lambda t: t.get("entry_at")) if entered else None


def exit_match(trips: list[TripDraft], use: StoredUse) -> TripDraft | None:
    """The latest entry before this exit, if it has no exit yet: otherwise the exit is an orphan."""
    last = _last_entered(trips, use)
    if last is None:
        return None
    return last if last.get("exit_at") is None and use.at - last.get("entry_at") <= PAIRING_WINDOW else None


def repeats_exit(trips: list[TripDraft], use: StoredUse, open_entry: timedelta) -> bool:
    """Whether this unmatched exit is a second exit of the latest trip entered before it (module doc)."""
    last = _last_entered(trips, use)
    return (
        last is not None and last.get("exit_at") is not None and use.at - last.get("entry_at") <= open_entry
    )


def is_double_use_candidate(use: StoredUse, trips: Iterable[TripDraft], open_entry: timedelta) -> bool:
    """A ticket's entry with another entry at another gate within `open_entry`: only such a ticket can have
    entered twice, so only its uses go through `entered_twice`."""
    if use.direction != "entry" or not use.credential.startswith("t:"):
        return False
    return any(
        t.get("entry_gate") not in (None, use.gate) and abs(t.get("entry_at") - use.at) <= open_entry
        for t in trips
    )


@dataclass(frozen=True, slots=True)
class DoubleUseRule:
    """The policy numbers (and the line, for the hops) the double-use rule reads."""

    open_entry: timedelta  # passback_reset_minutes
    per_hop: timedelta  # min_seconds_per_hop
    same_station: timedelta  # reentry_same_station_minutes
    network: Network

    @classmethod
    def of(cls, network: Network, policy: Policy) -> DoubleUseRule:
        return cls(
            open_entry=timedelta(minutes=policy.passback_reset_minutes),
            per_hop=timedelta(seconds=policy.min_seconds_per_hop),
            same_station=timedelta(minutes=policy.reentry_same_station_minutes),
            network=network,
        )

    def soonest_second_entry(self, first: str | None, second: str | None) -> timedelta:
        """How soon after entering at `first` one rider can enter at `second`, having left in between."""
        if first is None or second is None:
            return timedelta(0)
        if first == second:
            return self.same_station
        try:
            return self.network.hops(first, second) * self.per_hop
        except FareRulesError:  # a station this network does not know: no bound
            return timedelta(0)


def entered_twice(uses: Iterable[StoredUse], rule: DoubleUseRule, *, single: bool) -> bool:
    """Whether these accepted uses of one ticket hold two entries at different gates with no exit between
    them and the second within `open_entry` of the first (in time order, whatever order they arrived in);
    for a ticket that is not `single`, also sooner than one rider could have made it (module doc)."""
    inside: StoredUse | None = None
    for use in sorted(uses, key=lambda u: (u.at, u.gate)):
        if use.direction == "exit":
            inside = None
            continue
        if inside is not None and use.gate != inside.gate and use.at - inside.at < rule.open_entry:
            gap = use.at - inside.at
            if single or gap < rule.soonest_second_entry(inside.station, use.station):
                return True
        inside = use
    return False
