"""Every audit answer as a type: what `GET /v1/audit/...` sends, what the CLI prints and what the CSVs hold.

The shapes are a wire contract (add a field, never rename one). Times are text already (ISO 8601 in UTC,
`2025-03-03T00:20:00Z`, made by `ticketing.audit.query.iso`; report buckets carry their local offset), and a
ticket serial is text too: a uint63 does not survive a JavaScript number. A field that can be null is always
sent, null included; the anomalies' map holds only the kinds asked for.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

__all__ = [
    "AdjustmentRow",
    "Anomalies",
    "AnomaliesAnswer",
    "AnomalyRow",
    "ChainAnswer",
    "ChainBreak",
    "DenialsReport",
    "DenialsRow",
    "DoubleUseEntry",
    "DoubleUseFindings",
    "DoubleUseItem",
    "EntryUnseenFindings",
    "Findings",
    "FreeRidesReport",
    "FreeRidesRow",
    "GateChain",
    "JournalBatchItem",
    "JournalEntry",
    "JournalGapFindings",
    "JournalGapItem",
    "JournalPage",
    "OdReport",
    "OdRow",
    "OverridesReport",
    "OverridesRow",
    "OverstayFindings",
    "OverstayItem",
    "OverstayTrip",
    "PassTooFastFindings",
    "PassTooFastItem",
    "PassbackFindings",
    "RefundSummary",
    "RefusedScan",
    "RepeatedExitFindings",
    "RepeatedExitItem",
    "Report",
    "RevenueReport",
    "RevenueRow",
    "Revoked",
    "RiddenTrip",
    "RidershipByDay",
    "RidershipByHour",
    "RidershipReport",
    "ScanItem",
    "ScansPage",
    "TripItem",
    "TripSummary",
    "TripsPage",
    "UsedAfterRefundFindings",
    "UsedAfterRefundItem",
]


class _Answer(BaseModel):
    # by alias: the envelopes' `from` and `to` are Python keywords
    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)


# --- scans and trips ------------------------------------------------------------------------------------


class ScanItem(_Answer):
    """One journal event as the gate recorded it, refused ones too. `cccd` is the number masked, from the
    pass (never the number); `corrected_at` dates a scan by the issuer's clock when the gate's was off.
    `kind` says whether a rider's scan, a staff settlement or a staff override made it; the staff fields
    are null on a plain scan (docs/audit.md, "Who went through gate ...")."""

    at: str
    station: str | None
    gate: str
    seq: int
    direction: str | None
    verdict: str | None
    reason: str | None
    flags: list[str]
    owed_vnd: int
    input: str | None
    credential: str | None
    ticket_serial: str | None
    product: str | None
    pass_id: str | None
    cccd: str | None
    received_at: str
    problem: str | None
    hash: str
    clock_suspect: bool
    clock_offset_s: int | None
    corrected_at: str | None
    kind: Literal["scan", "settlement", "override"] = "scan"
    agent: str | None = None  # the staff id of an override, a settlement, or the settlement that let it out
    override_reason: str | None = None  # an override's reason code (broken_phone, evacuation, ...)
    gate_reason: str | None = None  # an override: what the gate itself said (null: no refusal, or no code)
    method: str | None = None  # a settlement, or an exit one let out: cash, vietqr
    collected_vnd: int | None = None  # ... and the amount collected
    settlement_seq: int | None = None  # an exit a settlement let out: that settlement's seq (same gate)
    exit_seq: int | None = None  # an accepted settlement: the seq of the exit it let out


class ScansPage(_Answer):
    """A page of scans, oldest first; `next` is the cursor of the following page, null on the last."""

    items: list[ScanItem]
    next: str | None


class TripItem(_Answer):
    """A trip: complete, open (no exit yet), an orphan exit (its entry never arrived) or a repeated exit."""

    id: int
    status: str
    started_at: str
    credential: str
    product: str | None
    ticket_serial: str | None
    pass_id: str | None
    cccd: str | None
    origin: str | None
    entry_gate: str | None
    entry_at: str | None
    destination: str | None
    exit_gate: str | None
    exit_at: str | None
    duration_s: int | None
    fare_vnd: int
    owed_vnd: int  # a fare owed settled at the exit: the amount collected
    flags: list[str]
    adjustment_method: str | None = None  # how that amount was collected (cash, vietqr), at exit_gate
    adjustment_agent: str | None = None  # by which staff id


class TripsPage(_Answer):
    """A page of trips by start time; `next` as for scans."""

    items: list[TripItem]
    next: str | None


# --- reports --------------------------------------------------------------------------------------------


class RidershipByHour(_Answer):
    """Accepted entries and exits at a station in a local hour (`2025-03-03T07:00+07:00`), and the scans
    refused there (as the denials report counts them)."""

    station: str | None
    hour: str
    entries: int
    exits: int
    denials: int


class RidershipByDay(_Answer):
    """Accepted entries and exits at a station on a local day (`2025-03-03`), and the scans refused there."""

    station: str | None
    day: str
    entries: int
    exits: int
    denials: int


class OdRow(_Answer):
    """Complete trips from an origin to a destination: how many, their fares, their mean duration."""

    origin: str
    destination: str
    trips: int
    fare_vnd: int
    avg_duration_s: int


class RevenueRow(_Answer):
    """What was sold at a product and origin next to what was ridden from that station (docs/audit.md
    defines each amount; `station` is "" where a product has none)."""

    product: str
    station: str
    tickets_sold: int
    sold_vnd: int
    used_vnd: int
    unused_vnd: int
    tickets_refunded: int
    refunded_vnd: int
    refund_fees_vnd: int
    ridden_after_refund_vnd: int
    trips: int
    fares_ridden_vnd: int
    owed_vnd: int


class DenialsRow(_Answer):
    """Refused scans with one reason at one gate."""

    reason: str | None
    station: str | None
    gate: str
    denials: int


class RidershipReport(_Answer):
    report: Literal["ridership"]
    since: str = Field(alias="from")
    until: str = Field(alias="to")
    rows: list[RidershipByHour] | list[RidershipByDay]


class OdReport(_Answer):
    report: Literal["od"]
    since: str = Field(alias="from")
    until: str = Field(alias="to")
    rows: list[OdRow]


class AdjustmentRow(_Answer):
    """Fares owed that station staff settled at one gate by one method, the settlement events of the range:
    each trip's first accepted settlement counts (`settlements`, `collected_vnd`); a later one of the same
    trip, at any gate, is a double settlement, flagged here and not counted; refused attempts are counted
    apart (over- or under-collection, a trip already settled, nothing owed)."""

    station: str
    gate: str
    method: str
    settlements: int
    collected_vnd: int
    double_settlements: int
    double_collected_vnd: int
    refused_settlements: int


class RevenueReport(_Answer):
    report: Literal["revenue"]
    since: str = Field(alias="from")
    until: str = Field(alias="to")
    rows: list[RevenueRow]
    adjustments: list[AdjustmentRow] = []  # fares owed collected at the gates, by station, gate and method


class DenialsReport(_Answer):
    report: Literal["denials"]
    since: str = Field(alias="from")
    until: str = Field(alias="to")
    rows: list[DenialsRow]


class OverridesRow(_Answer):
    """Staff overrides at one gate by one agent, one action and reason code (fare_rules.overrides)."""

    station: str
    gate: str
    agent: str
    action: str
    reason: str
    overrides: int


class OverridesReport(_Answer):
    report: Literal["overrides"]
    since: str = Field(alias="from")
    until: str = Field(alias="to")
    rows: list[OverridesRow]


class FreeRidesRow(_Answer):
    """Free riders' scans of one category at one station (fare_rules.free): let in, let out, refused."""

    category: str
    station: str | None
    entries: int
    exits: int
    refused: int


class FreeRidesReport(_Answer):
    report: Literal["free_rides"]
    since: str = Field(alias="from")
    until: str = Field(alias="to")
    rows: list[FreeRidesRow]


Report = Annotated[
    RidershipReport | OdReport | RevenueReport | DenialsReport | OverridesReport | FreeRidesReport,
    Field(discriminator="report"),
]


# --- anomalies: what several kinds list -----------------------------------------------------------------


class RefusedScan(_Answer):
    """A scan a gate refused for a reason that is the anomaly (passback, overstay)."""

    at: str
    station: str | None
    gate: str
    credential: str | None
    reason: str
    source: Literal["refused"]


class TripSummary(_Answer):
    """A trip an anomaly points at. `flags` is the trip's comma-separated text, as stored."""

    at: str
    credential: str
    origin: str | None
    entry_at: str | None
    destination: str | None
    exit_gate: str | None
    exit_at: str | None
    duration_s: int | None
    flags: str


class OverstayTrip(TripSummary):
    source: Literal["trip"]


class RiddenTrip(TripSummary):
    status: str


# --- anomalies: one item model per kind -----------------------------------------------------------------


class DoubleUseEntry(_Answer):
    at: str
    station: str | None
    gate: str
    flags: str


class Revoked(_Answer):
    reason: str
    at: str


class DoubleUseItem(_Answer):
    """A ticket let in twice with no exit between; `revoked` is the revocation ingest made of it."""

    credential: str
    at: str
    entries: list[DoubleUseEntry]
    revoked: Revoked | None


OverstayItem = Annotated[OverstayTrip | RefusedScan, Field(discriminator="source")]


class RepeatedExitItem(_Answer):
    """A second exit of a trip already complete, with the trip it repeats."""

    at: str
    credential: str
    station: str | None
    gate: str | None
    flags: str
    repeats: TripSummary | None


class RefundSummary(_Answer):
    at: str
    amount_vnd: int
    fee_vnd: int
    final_at: str | None
    state: Literal["withdrawn", "final"]


class UsedAfterRefundItem(_Answer):
    """A ticket refunded that an upload later showed used, with its refund and its trips."""

    at: str
    credential: str
    refund: RefundSummary
    trips: list[RiddenTrip]


class JournalGapItem(_Answer):
    """Events missing from a gate's journal; `since` is when its record stopped being whole."""

    gate: str
    station: str
    from_seq: int
    to_seq: int
    missing: int
    since: str
    detected_at: str
    accepted_as_lost: bool


class PassTooFastItem(_Answer):
    """A pass seen at two stations closer in time than a train takes between them."""

    credential: str
    at: str
    station: str | None
    gate: str
    previous_station: str
    previous_at: str
    seconds: int
    at_least_s: int


Item = TypeVar("Item")


class Findings(_Answer, Generic[Item]):
    """One kind's answer: `count` is how many there are, `items` the first of them (at most `limit`)."""

    count: int
    items: list[Item]


class DoubleUseFindings(Findings[DoubleUseItem]):
    """Tickets let in at two gates with no exit between (each gate offline, neither knowing the other)."""


class PassbackFindings(Findings[RefusedScan]):
    """Entries refused as passback: already inside, or back in too soon."""


class OverstayFindings(Findings[OverstayItem]):
    """Single-ticket trips longer than the policy allows, and exits refused for time."""


class EntryUnseenFindings(Findings[TripSummary]):
    """Exits whose entry never reached the server (orphan exits)."""


class RepeatedExitFindings(Findings[RepeatedExitItem]):
    """Second exits of a trip already complete: paid once, let out twice."""


class UsedAfterRefundFindings(Findings[UsedAfterRefundItem]):
    """Tickets refunded in the range that an upload later showed used."""


class JournalGapFindings(Findings[JournalGapItem]):
    """Every gate whose journal still has a hole, whatever the range."""


class PassTooFastFindings(Findings[PassTooFastItem]):
    """A pass seen at two stations closer in time than the train takes."""


def _not_asked(value: object) -> bool:
    return value is None


def _if_asked() -> Any:
    # A kind that was not asked for is left out of the answer, not sent as null (SkipJsonSchema keeps null
    # out of the schema too).
    return Field(default=None, exclude_if=_not_asked)


class Anomalies(_Answer):
    """Each kind asked for (all of them unless `kind` was given), in this order."""

    double_use: DoubleUseFindings | SkipJsonSchema[None] = _if_asked()
    passback: PassbackFindings | SkipJsonSchema[None] = _if_asked()
    overstay: OverstayFindings | SkipJsonSchema[None] = _if_asked()
    entry_unseen: EntryUnseenFindings | SkipJsonSchema[None] = _if_asked()
    repeated_exit: RepeatedExitFindings | SkipJsonSchema[None] = _if_asked()
    used_after_refund: UsedAfterRefundFindings | SkipJsonSchema[None] = _if_asked()
    journal_gap: JournalGapFindings | SkipJsonSchema[None] = _if_asked()
    pass_too_fast: PassTooFastFindings | SkipJsonSchema[None] = _if_asked()

    def asked(self) -> list[tuple[str, Findings[Any]]]:
        """(kind, its findings) of each kind asked for, in order."""
        return [(kind, found) for kind, found in self if found is not None]


class AnomaliesAnswer(_Answer):
    since: str = Field(alias="from")
    until: str = Field(alias="to")
    anomalies: Anomalies


class AnomalyRow(_Answer):
    """One anomaly as a CSV or table row: the columns every kind has, the rest of the item as `detail`, a
    JSON object (the item's other fields as the JSON answer has them)."""

    kind: str
    at: str | None
    station: str | None
    gate: str | None
    credential: str | None
    detail: str


# --- the journal as the gates signed it -------------------------------------------------------------------


class JournalEntry(_Answer):
    """One stored event as its gate chained it: `hash` is sha256(bytes.fromhex(prev_hash) + event), over
    `event` exactly as given (UTF-8 canonical JSON: sorted keys, no spaces)."""

    seq: int
    at: str | None
    prev_hash: str
    hash: str
    event: str


class JournalBatchItem(_Answer):
    """A stored upload: the gate's device signature (base64url Ed25519) over its events `first_seq` to
    `last_seq`, and the device key it verified against."""

    first_seq: int
    last_seq: int
    signature: str
    device_public_key: str
    received_at: str


class JournalPage(_Answer):
    """A gate's events in seq order after a seq, and the uploads that signed them; `next` is the seq to ask
    after for the following page, null on the last."""

    gate: str
    items: list[JournalEntry]
    batches: list[JournalBatchItem]
    next: int | None


class ChainBreak(_Answer):
    """Where a gate's stored journal first fails (the chain's first break; when the chain holds, the first
    upload whose signature fails): `problem` is hash_mismatch (an event's hash
    is not its content's), broken_link (prev_hash is not the previous event's hash), missing (seqs absent
    and no journal gap accepted for them) or bad_signature (an upload's signature does not cover the
    stored events)."""

    seq: int
    problem: Literal["hash_mismatch", "broken_link", "missing", "bad_signature"]
    detail: str


class GateChain(_Answer):
    """One gate's journal checked over `from_seq` to `to_seq`: events and upload signatures checked,
    events no kept signature covers, journal gaps the gate declared (accepted), and the first break."""

    gate: str
    from_seq: int | None
    to_seq: int | None
    events: int
    signatures: int
    unsigned_events: int
    accepted_gaps: int
    first_break: ChainBreak | None


class ChainAnswer(_Answer):
    """`verify-chain`: every gate asked for, `ok` when none has a break."""

    since: str | None = Field(alias="from")
    until: str | None = Field(alias="to")
    ok: bool
    gates: list[GateChain]
