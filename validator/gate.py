"""The gate: one scan is one SQLite transaction (read state → decide → record the use and the journal event).

`Gate.scan` never raises on bad input: every input, garbage included, ends as an ACCEPT or a DENY with a
reason, recorded in the journal, committed durably before the answer returns (the barrier opens only then).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from fare_rules.cccd import CccdCard, CccdError, holder_hash, mask, parse_card_qr
from fare_rules.errors import FareRulesError, UnknownStation
from fare_rules.free import FreeCategory, FreeRide, decide_free, free_ride
from fare_rules.model import Accepted, Credential, Denied, Direction, History, Scan
from fare_rules.network import Network
from fare_rules.overrides import OverrideAction, OverrideReason
from fare_rules.policy import Policy
from fare_rules.products import Product
from fare_rules.reasons import Reason, revocation_reason
from fare_rules.rules import decide, gate_flags
from fare_rules.settlement import PaymentMethod, Settled, settle
from fare_rules.tariff import Tariff
from validator import records, staff
from validator.codec import DecodeFailure, Keyset, TicketBody, decode, peek
from validator.core import (
    Adjustment,
    InputKind,
    Override,
    PassSeen,
    ScanOutcome,
    TicketSeen,
    Verdict,
    classify,
    event_for,
    free_entry,
    normalise,
    pass_credential,
    pass_is_current,
    pass_is_revoked,
    pick_pass,
    ticket_credential,
    ticket_seen,
)
from validator.journal import chain_next
from validator.records import GateConfig, PassRecord
from validator.staff import NoCredential, Settlement, Shown, Subject
from validator.store import transaction
from validator.versions import GateVersions
from validator.wire import parse_iso

__all__ = ["Gate", "Inspection", "StationState"]


@dataclass(frozen=True, slots=True)
class StationState:
    """The station-wide values a scan needs, read once per transaction."""

    keyset_rev: str | None
    last_sync: datetime | None
    clock_offset_seconds: float | None
    cccd_hash_key: bytes | None

    @classmethod
    def read(cls, conn: sqlite3.Connection) -> StationState:
        values = dict(conn.execute("SELECT key, value FROM station_state").fetchall())
        lists_at = [values.get(f"{name}_synced_at") for name in records.DECIDING_LISTS]
        known = [parse_iso(v) for v in lists_at if v]
        offset = values.get("clock_offset_seconds")
        key = values.get("cccd_hash_key")
        return cls(
            keyset_rev=values.get("keyset_rev"),
            # The older list decides staleness; a list never synced means no sync at all.
            last_sync=min(known) if len(known) == len(lists_at) else None,
            clock_offset_seconds=float(offset) if offset is not None else None,
            cccd_hash_key=bytes.fromhex(key) if key else None,
        )


@dataclass(frozen=True, slots=True)
class _Evaluated:
    """What a scan resolved to before the rules: a credential to decide on, or an early refusal."""

    kind: InputKind
    credential: Credential | None = None
    credential_key: str | None = None  # key of its uses in the store
    revoked: Reason | None = None  # why it is revoked
    refusal: Reason | None = None
    ticket: TicketSeen | None = None
    pass_seen: PassSeen | None = None
    holder_hash: bytes | None = None
    free: FreeRide | None = None  # decided by the free-ride rules


@dataclass(frozen=True, slots=True)
class Inspection:
    """What `inspect` shows: the code's content and whether it verifies, without using it."""

    kind: InputKind
    reason: Reason | None
    ticket: TicketSeen | None
    pass_seen: PassSeen | None
    revoked: bool
    detail: str = ""


class Gate:
    """One gate process over a (possibly shared) store. Not thread-safe: one Gate per thread."""

    def __init__(
        self, conn: sqlite3.Connection, config: GateConfig, network: Network, tariff: Tariff, policy: Policy
    ) -> None:
        self.conn = conn
        self.config = config
        self.network = network
        self.tariff = tariff  # the version in force at the scan being decided (_read_state)
        self.policy = policy
        self.versions = GateVersions(network, tariff, policy)
        self._keyset: Keyset = {}
        self._keyset_rev: str | None = "unloaded"

    def _read_state(self, now: datetime) -> StationState:
        """The station's state, and the tariff and policy in force at `now` for the scan being decided."""
        self.tariff, self.policy = self.versions.at(self.conn, now)
        return StationState.read(self.conn)

    def scan(self, raw: str, direction: Direction, now: datetime) -> ScanOutcome:
        """Decide one scanned text and record it durably. Never raises on bad input."""
        with transaction(self.conn):
            state = self._read_state(now)
            self._refresh_keyset(state)
            evaluated = self._evaluate(raw, state, now)
            return self._decide_and_record(evaluated, state, direction, now)

    def refuse(
        self, reason: Reason, direction: Direction, now: datetime, kind: InputKind = InputKind.IMAGE
    ) -> ScanOutcome:
        """Record a scan that yielded no payload at all (an image without a single readable code, a line of
        bytes that is not text)."""
        with transaction(self.conn):
            state = self._read_state(now)
            return self._decide_and_record(_Evaluated(kind, refusal=reason), state, direction, now)

    def inspect(self, raw: str, now: datetime) -> Inspection:
        """Show what a code holds and whether it verifies; writes nothing."""
        state = self._read_state(now)
        self._refresh_keyset(state)
        ev = self._evaluate(raw, state, now)
        detail = ""
        if ev.kind is InputKind.TICKET:
            result = decode(normalise(raw), self._keyset)
            detail = result.detail if isinstance(result, DecodeFailure) else "signature verified"
        return Inspection(ev.kind, ev.refusal, ev.ticket, ev.pass_seen, ev.revoked is not None, detail)

    def settle(
        self, subject: Subject, collected_vnd: int, method: PaymentMethod, agent: str, now: datetime
    ) -> Settlement:
        """Settle the fare owed at this exit (fare_rules.settlement): journal the settlement and, once it is
        accepted, the exit it lets out with its adjustment, in one transaction. A refused settlement is
        journaled too, and lets no one out."""
        with transaction(self.conn):
            state = self._read_state(now)
            self._refresh_keyset(state)
            ev = self._subject(subject, state, Direction.EXIT, now)
            seq, prev_hash = records.journal_head(self.conn, self.config.gate_id)
            judged = self._judged(ev, state, Direction.EXIT, now, seq + 2)
            decision = (
                Accepted(judged.flags)
                if judged.accepted
                else Denied(judged.reason or Reason.MALFORMED, judged.owed_vnd, judged.flags)
            )
            twice = staff.settled_before(self.conn, ev.credential_key)
            decided = settle(decision, collected_vnd, method, already_settled=twice)
            event = staff.settlement_event(
                judged, seq=seq + 1, decided=decided, collected_vnd=collected_vnd, method=method, agent=agent,
                credential=ev.credential_key, holder_hash=ev.holder_hash,
            )  # fmt: skip
            prev_hash = self._append(seq + 1, prev_hash, event, now)
            accepted = isinstance(decided, Settled)
            staff.record_action(self.conn, event, accepted=accepted, collected_vnd=collected_vnd)
            exited = None
            if isinstance(decided, Settled):
                adjustment = Adjustment(decided.collected_vnd, method, agent, seq + 1)
                exited = replace(
                    judged, verdict=Verdict.ACCEPT, reason=None, owed_vnd=decided.collected_vnd,
                    adjustment=adjustment,
                )  # fmt: skip
                self._record(exited, ev, prev_hash)
        return Settlement(
            None if isinstance(decided, Settled) else decided.reason, decided.owed_vnd, collected_vnd, method,
            agent, self.config.gate_id, self.config.station, now, seq + 1, judged.ticket, exited,
        )  # fmt: skip

    def fare_owed(self, subject: Subject, now: datetime) -> int:
        """The fare owed to let `subject` out here now, 0 when none is (what a VietQR asks for); writes
        nothing."""
        state = self._read_state(now)
        self._refresh_keyset(state)
        ev = self._subject(subject, state, Direction.EXIT, now)
        judged = self._judged(ev, state, Direction.EXIT, now, 0)
        owed = judged.owed_vnd if judged.reason is Reason.FARE_EXCEEDED else 0
        return 0 if staff.settled_before(self.conn, ev.credential_key) else owed

    def override(
        self,
        subject: Subject,
        action: OverrideAction,
        reason: OverrideReason,
        agent: str,
        *,
        direction: Direction,
        now: datetime,
    ) -> ScanOutcome:
        """An agent admits or refuses by hand, with a reason: journaled as an override event, never silent.
        An admitted credential counts as used in `direction`, as a scan's would."""
        with transaction(self.conn):
            state = self._read_state(now)
            self._refresh_keyset(state)
            ev = self._subject(subject, state, direction, now)
            seq, prev_hash = records.journal_head(self.conn, self.config.gate_id)
            judged = self._judged(ev, state, direction, now, seq + 1)
            admit = action is OverrideAction.ADMIT
            outcome = replace(
                judged,
                verdict=Verdict.ACCEPT if admit else Verdict.DENY,
                reason=None if admit else Reason.STAFF_REFUSED,
                owed_vnd=0,
                override=Override(action, reason, agent, None if judged.accepted else judged.reason),
            )
            event = self._record(outcome, ev, prev_hash)
            staff.record_action(self.conn, event, accepted=admit)
            return outcome

    # --- shell steps ---

    def _refresh_keyset(self, state: StationState) -> None:
        # The keyset changes only at sync; reload it only when its revision moved (another process may sync).
        if state.keyset_rev != self._keyset_rev:
            self._keyset = records.keyset_from_records(records.load_keys(self.conn))
            self._keyset_rev = state.keyset_rev

    def _evaluate(self, raw: str, state: StationState, now: datetime) -> _Evaluated:
        kind = classify(raw)
        if kind is InputKind.TICKET:
            return self._evaluate_ticket(normalise(raw), now)
        if kind is InputKind.CCCD:
            return self._evaluate_cccd(normalise(raw), state, now)
        if kind is InputKind.EMPTY:
            return _Evaluated(kind, refusal=Reason.MALFORMED)
        return _Evaluated(kind, refusal=Reason.NOT_OUR_CODE)

    def _evaluate_ticket(self, text: str, now: datetime) -> _Evaluated:
        result = decode(text, self._keyset)
        if isinstance(result, DecodeFailure):
            peeked = peek(text)
            seen = (
                ticket_seen(peeked, self.network, verified=False) if isinstance(peeked, TicketBody) else None
            )
            return _Evaluated(InputKind.TICKET, refusal=result.reason, ticket=seen)
        seen = ticket_seen(result, self.network, verified=True)
        credential = ticket_credential(result, self.network)
        if isinstance(credential, Reason):
            return _Evaluated(InputKind.TICKET, refusal=credential, ticket=seen)
        cause = records.revocation_cause(self.conn, result.serial)
        revoked = None if cause is None else revocation_reason(cause)
        if result.holder_hash is not None:
            # A pass QR: judge it by the registry entry when we have one, so riding with the QR and with the
            # card share one history (anti-passback) and a registry revocation or pending check applies.
            record = pick_pass(records.passes_for_holder(self.conn, result.holder_hash), now)
            if record is not None and record.product == result.product:
                return self._pass_evaluated(InputKind.TICKET, record, None, revoked, seen)
        return _Evaluated(InputKind.TICKET, credential, f"t:{result.serial}", revoked=revoked, ticket=seen)

    def _evaluate_cccd(self, text: str, state: StationState, now: datetime) -> _Evaluated:
        try:
            card = parse_card_qr(text)
        except CccdError:
            return _Evaluated(InputKind.CCCD, refusal=Reason.CCCD_INVALID)
        masked = mask(card.number)
        if state.cccd_hash_key is None:  # never provisioned with the key: no pass can be found
            return _Evaluated(InputKind.CCCD, refusal=Reason.CCCD_NO_PASS, pass_seen=_no_pass(masked))
        digest = holder_hash(card.number, state.cccd_hash_key)
        record = pick_pass(records.passes_for_holder(self.conn, digest), now)
        # A pass that rides now decides; else a free-ride claim (fare_rules.free); else the pass as it is.
        if record is not None and pass_is_current(record, now):
            return self._pass_evaluated(InputKind.CCCD, record, masked, None, None)
        entries = [free_entry(r) for r in records.free_riders_for_holder(self.conn, digest)]
        ride = free_ride(entries, card.birth_date, digest, now, self.policy)
        if ride is not None:
            return _free_evaluated(ride, card, digest)
        if record is None:
            return _Evaluated(
                InputKind.CCCD, refusal=Reason.CCCD_NO_PASS, pass_seen=_no_pass(masked), holder_hash=digest
            )
        return self._pass_evaluated(InputKind.CCCD, record, masked, None, None)

    def _pass_evaluated(
        self,
        kind: InputKind,
        record: PassRecord,
        masked: str | None,
        revoked: Reason | None,
        ticket: TicketSeen | None,
    ) -> _Evaluated:
        seen = PassSeen(
            record.pass_id,
            record.product,
            masked,
            record.initials,
            record.birth_year,
            record.valid_from,
            record.valid_until,
            record.status,
        )
        return _Evaluated(
            kind,
            pass_credential(record),
            f"p:{record.pass_id}",
            revoked=revoked or (Reason.REVOKED if pass_is_revoked(record) else None),
            ticket=ticket,
            pass_seen=seen,
            holder_hash=record.holder_hash,
        )

    def _decide_and_record(
        self, ev: _Evaluated, state: StationState, direction: Direction, now: datetime
    ) -> ScanOutcome:
        seq, prev_hash = records.journal_head(self.conn, self.config.gate_id)
        outcome = self._judged(ev, state, direction, now, seq + 1)
        self._record(outcome, ev, prev_hash)
        return outcome

    def _apply_rules(
        self,
        outcome: ScanOutcome,
        credential: Credential,
        key: str,
        revoked: Reason | None,
        free: FreeRide | None = None,
    ) -> ScanOutcome:
        history = History(uses=records.uses_of(self.conn, key), revoked=revoked)
        scan = Scan(self.config.station, outcome.direction, self.config.gate_id)
        try:
            if free is not None:
                decision = decide_free(free, scan, history, self.policy, self.tariff, outcome.at)
            else:
                decision = decide(credential, scan, history, self.policy, self.tariff, outcome.at)
        except UnknownStation:
            decision = Denied(Reason.UNKNOWN_STATION)
        except FareRulesError:  # e.g. a ticket whose route the tariff cannot price: a bad ticket, not a crash
            decision = Denied(Reason.MALFORMED)
        if isinstance(decision, Denied):
            return replace(outcome, reason=decision.reason, owed_vnd=decision.owed_vnd, flags=decision.flags)
        return replace(outcome, verdict=Verdict.ACCEPT, reason=None, flags=decision.flags)

    # --- the steps a scan and a staff action share ---

    def _subject(
        self, subject: Subject, state: StationState, direction: Direction, now: datetime
    ) -> _Evaluated:
        if isinstance(subject, Shown):
            return self._evaluate(subject.text, state, now)
        if isinstance(subject, NoCredential):
            return _Evaluated(InputKind.EMPTY, refusal=Reason.MALFORMED)
        return self._recalled(staff.last_refused_event(self.conn, self.config.gate_id, direction.value))

    def _recalled(self, event: dict[str, Any]) -> _Evaluated:
        """A refused scan as this gate journaled it, evaluated again: the payload is not kept (a card's would
        be personal data), but its ticket, pass and keys are."""
        kind = InputKind(event.get("input") or InputKind.OTHER)
        key, hh_text = event.get("credential"), event.get("holder_hash")
        digest = bytes.fromhex(hh_text) if hh_text else None
        ticket = staff.ticket_from_json(event.get("ticket"))
        if isinstance(key, str) and key.startswith("p:") and digest is not None:
            found = [p for p in records.passes_for_holder(self.conn, digest) if p.pass_id == key[2:]]
            if found:
                masked = (event.get("pass") or {}).get("cccd")
                return self._pass_evaluated(kind, found[0], masked, None, ticket)
        credential = staff.credential_of(ticket) if ticket and key == f"t:{ticket.serial}" else None
        if credential is None or ticket is None:
            refusal = Reason(event["reason"]) if event.get("reason") else Reason.MALFORMED
            return _Evaluated(kind, refusal=refusal, ticket=ticket, holder_hash=digest)
        cause = records.revocation_cause(self.conn, ticket.serial)
        revoked = None if cause is None else revocation_reason(cause)
        return _Evaluated(kind, credential, key, revoked=revoked, ticket=ticket, holder_hash=digest)

    def _judged(
        self, ev: _Evaluated, state: StationState, direction: Direction, now: datetime, seq: int
    ) -> ScanOutcome:
        """What the gate decides of `ev` now, as event `seq` would record it; writes nothing."""
        outcome = ScanOutcome(
            verdict=Verdict.DENY,
            reason=ev.refusal,
            gate=self.config.gate_id,
            station=self.config.station,
            direction=direction,
            at=now,
            seq=seq,
            input_kind=ev.kind,
            recognised=ev.pass_seen or ev.ticket,
            ticket=ev.ticket,
            clock_offset_seconds=state.clock_offset_seconds,
        )
        if ev.credential is not None and ev.credential_key is not None:
            outcome = self._apply_rules(outcome, ev.credential, ev.credential_key, ev.revoked, ev.free)
        flags = gate_flags(now, state.last_sync, state.clock_offset_seconds, self.policy)
        return replace(outcome, flags=outcome.flags | flags)

    def _append(self, seq: int, prev_hash: str, event: dict[str, Any], at: datetime) -> str:
        chained = chain_next(self.config.gate_id, seq, prev_hash, event)
        records.append_journal(self.conn, chained, at)
        return chained.hash

    def _record(self, outcome: ScanOutcome, ev: _Evaluated, prev_hash: str) -> dict[str, Any]:
        """Journal `outcome` after `prev_hash`, and an admitted credential's use with it; the event."""
        event = event_for(outcome, ev.credential_key, ev.holder_hash)
        self._append(outcome.seq, prev_hash, event, outcome.at)
        if outcome.accepted and ev.credential_key is not None:
            records.record_use(
                self.conn,
                ev.credential_key,
                station=outcome.station,
                direction=outcome.direction,
                at=outcome.at,
                gate=outcome.gate,
                seq=outcome.seq,
            )
        return event


def _no_pass(masked: str) -> PassSeen:
    return PassSeen(None, None, masked, None, None)


def _free_evaluated(ride: FreeRide, card: CccdCard, digest: bytes) -> _Evaluated:
    """A free ride, shown with what to compare with the rider: masked number, initials and birth year read
    from the card itself (the registry holds only the keyed hash)."""
    credential = ride.credential
    senior = ride.category is FreeCategory.SENIOR
    seen = PassSeen(
        credential.id,
        Product.FREE_PRIORITY,
        mask(card.number),
        "".join(word[0] for word in card.full_name.split()).upper()[:16],
        card.birth_date.year,
        None if senior else credential.valid_from,
        None if senior else credential.valid_until,
        "ended" if ride.ended else "active",
        ride.category,
    )
    return _Evaluated(
        InputKind.CCCD, credential, f"p:{credential.id}", pass_seen=seen, holder_hash=digest, free=ride
    )
