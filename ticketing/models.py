"""Tables and API shapes: `XBase` (shared fields) / `X` (table) / `XPublic` (what the API returns).

Sync cursors: `revocations.seq` and `passes.seq` are drawn from `change_counters` by an UPDATE in the
writer's own transaction. The counter row stays locked until that transaction commits, so sequence numbers
become visible in commit order and a gate that asks for `seq > cursor` never skips a row that commits late
(a plain PostgreSQL sequence would allow exactly that). Writers of those lists are rare: refunds, passes.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from fare_rules.products import Product
from ticketing.db import UTCDateTime
from ticketing.ingest.rules import TripStatus
from ticketing.issuing.lifecycle import OrderStatus

__all__ = [
    "ApiToken",
    "ApiTokenBase",
    "ApiTokenPublic",
    "ChangeCounter",
    "FreeRider",
    "FreeRiderBase",
    "FreeRiderEnd",
    "FreeRiderPublic",
    "FreeRiderStatus",
    "Gate",
    "GateCreated",
    "GateListFetch",
    "GatePublic",
    "GateStatus",
    "HolderPublic",
    "IdempotencyRecord",
    "JournalBatch",
    "JournalGap",
    "KeyPublic",
    "KeyRevocationPublic",
    "KeysetPublic",
    "Order",
    "OrderBase",
    "OrderItem",
    "OrderItemBase",
    "OrderItemPublic",
    "OrderPublic",
    "OrderStatus",
    "Pass",
    "PassBase",
    "PassPublic",
    "PassRevocation",
    "PassStatus",
    "PaymentPublic",
    "RefundPublic",
    "Revocation",
    "Role",
    "SQLModel",
    "ScanEvent",
    "SigningKey",
    "Ticket",
    "TicketBase",
    "TicketPublic",
    "TicketState",
    "TicketStatus",
    "Trip",
    "TripAnomaly",
    "TripCount",
    "TripStatus",
    "UseAnomaly",
    "table_of",
]


class TicketStatus(StrEnum):
    ISSUED = "issued"
    REFUNDED = "refunded"
    REVOKED = "revoked"


class TicketState(StrEnum):
    """A ticket's state as far as the service knows (uploads from offline gates arrive late)."""

    UNUSED = "unused"
    IN_USE = "in_use"  # a single ticket inside (entered, no exit yet); a pass being ridden
    USED = "used"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    REVOKED = "revoked"


class PassStatus(StrEnum):
    PENDING_VERIFICATION = "pending_verification"
    ACTIVE = "active"
    REVOKED = "revoked"


class PassRevocation(StrEnum):
    """Why staff stopped a pass; the reason its ticket goes on the revocation list with."""

    LOST_CARD = "lost_card"
    CARD_REPLACED = "card_replaced"
    REFUNDED = "refunded"
    FRAUD = "fraud"
    NOT_ELIGIBLE = "not_eligible"  # a student pass whose student card did not check out


class FreeRiderStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class FreeRiderEnd(StrEnum):
    """Why staff ended a free-rider registry entry before its last day."""

    ENTERED_IN_ERROR = "entered_in_error"
    NO_LONGER_ELIGIBLE = "no_longer_eligible"
    CARD_REPLACED = "card_replaced"  # a new card number: enter the holder again
    FRAUD = "fraud"


class GateStatus(StrEnum):
    PENDING = "pending"  # created, waiting for its one-time code
    ACTIVE = "active"
    REVOKED = "revoked"


class Role(StrEnum):
    ADMIN = "admin"
    AUDITOR = "auditor"


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table behind a `table=True` model."""
    # SQLModel does not type `__table__`, so it is read (and checked) here once instead of behind an ignore.
    table = getattr(model, "__table__", None)
    if not isinstance(table, sa.Table):
        raise TypeError(f"{model.__name__} is not a table=True model")
    return table


def _utc(nullable: bool = False, index: bool = False) -> sa.Column[datetime]:
    return sa.Column(UTCDateTime(), nullable=nullable, index=index)


# --- counters -----------------------------------------------------------------------------------------------


class ChangeCounter(SQLModel, table=True):
    __tablename__ = "change_counters"

    name: str = Field(primary_key=True, max_length=32)
    value: int = Field(default=0, sa_type=sa.BigInteger)


# --- orders -------------------------------------------------------------------------------------------------


class OrderBase(SQLModel):
    status: OrderStatus = Field(sa_type=sa.String(24))
    amount_vnd: int


class Order(OrderBase, table=True):
    __tablename__ = "orders"

    id: str = Field(primary_key=True, max_length=32)
    created_at: datetime = Field(sa_column=_utc())
    expires_at: datetime = Field(sa_column=_utc(index=True))
    paid_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    access_token_hash: str = Field(max_length=64)  # sha256 hex; the token itself is never stored
    # Raised when a rider recovers the order: a new token, and the old one (its link) stops working.
    access_token_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    payment_provider: str = Field(max_length=16)
    payment_reference: str = Field(max_length=25, unique=True)
    payment_transaction_id: str | None = Field(default=None, max_length=64, unique=True)
    idempotency_key: str | None = Field(default=None, max_length=128, unique=True)
    request_hash: str | None = Field(default=None, max_length=64)


class OrderItemBase(SQLModel):
    product: Product = Field(sa_type=sa.String(24))
    origin: str | None = Field(default=None, max_length=16)
    destination: str | None = Field(default=None, max_length=16)
    quantity: int = 1
    unit_price_vnd: int
    start_date: date | None = None


class OrderItem(OrderItemBase, table=True):
    __tablename__ = "order_items"

    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(foreign_key="orders.id", index=True, max_length=32)
    position: int
    # Holder of a CCCD-linked pass, kept from order to issue: never the number itself. Indexed: an order for a
    # pass looks up the holder's orders awaiting payment (one pass per holder at a time).
    holder_hash: str | None = Field(default=None, max_length=32, index=True)
    holder_masked: str | None = Field(default=None, max_length=12)
    holder_initials: str | None = Field(default=None, max_length=16)
    holder_birth_year: int | None = None


class HolderPublic(SQLModel):
    cccd_masked: str
    initials: str
    birth_year: int


class OrderItemPublic(OrderItemBase):
    holder: HolderPublic | None = None


class PaymentPublic(SQLModel):
    provider: str
    reference: str  # the transfer's purpose ("nội dung"): how the bank's confirmation finds the order
    amount_vnd: int
    vietqr_payload: str | None = None  # EMVCo merchant-presented QR a banking app scans
    bank_bin: str | None = None  # NAPAS BIN of the beneficiary's bank
    account: str | None = None
    account_name: str | None = None
    sandbox: bool = (
        False  # no money moves: the sandbox account, confirmed by POST /v1/sandbox/orders/{id}/pay
    )


# --- tickets and passes -------------------------------------------------------------------------------------


class TicketBase(SQLModel):
    product: Product = Field(sa_type=sa.String(24))
    origin: str | None = Field(default=None, max_length=16)
    destination: str | None = Field(default=None, max_length=16)
    fare_vnd: int
    key_id: int
    qr_payload: str = Field(sa_type=sa.Text)
    status: TicketStatus = Field(sa_type=sa.String(16))


class Ticket(TicketBase, table=True):
    __tablename__ = "tickets"
    __table_args__ = (
        # Every upload asks which of its tickets are refunded, to withdraw a refund still in its hold: the
        # few refunded tickets have an index of their own (services.tickets.withdraw_held_refunds, on SQLite).
        sa.Index(
            "ix_tickets_refunded_serial",
            "serial",
            postgresql_where=sa.text("status = 'refunded'"),
            sqlite_where=sa.text("status = 'refunded'"),
        ),
    )

    id: str = Field(primary_key=True, max_length=32)
    serial: int = Field(sa_type=sa.BigInteger, unique=True)  # uint63: fits a signed BIGINT
    order_id: str = Field(foreign_key="orders.id", index=True, max_length=32)
    order_item_id: int = Field(foreign_key="order_items.id")
    issued_at: datetime = Field(sa_column=_utc(index=True))
    valid_from: datetime = Field(sa_column=_utc())
    valid_until: datetime = Field(sa_column=_utc())
    first_used_at: datetime | None = Field(
        default=None, sa_column=_utc(nullable=True)
    )  # set by journal ingest
    refunded_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True, index=True))
    refund_fee_vnd: int | None = None  # kept by the operator (policy at the time of the refund)
    refund_final_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))  # end of the hold
    refund_withdrawn_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # Signed again, same fields and serial, under the key in force after its key was revoked.
    reissued_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class PassBase(SQLModel):
    product: Product = Field(sa_type=sa.String(24))
    holder_masked: str = Field(max_length=12)
    holder_initials: str = Field(max_length=16)
    holder_birth_year: int
    status: PassStatus = Field(sa_type=sa.String(24))


class Pass(PassBase, table=True):
    """A CCCD-linked pass. Stores the keyed hash (gates), the masked number, initials and birth year (staff):
    not the number. Data minimisation (Decree 13/2023) over encryption: nothing here needs the number back."""

    __tablename__ = "passes"

    id: str = Field(primary_key=True, max_length=32)
    ticket_id: str = Field(foreign_key="tickets.id", unique=True, max_length=32)
    holder_hash: str = Field(max_length=32, index=True)  # hex of fare_rules.cccd.holder_hash
    valid_from: datetime = Field(sa_column=_utc())
    valid_until: datetime = Field(sa_column=_utc())
    seq: int = Field(sa_type=sa.BigInteger, unique=True)  # bumped on every change: the gate sync cursor
    updated_at: datetime = Field(sa_column=_utc())
    verified_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    revoked_reason: str | None = Field(default=None, max_length=24)  # a PassRevocation value


class RefundPublic(SQLModel):
    """A ticket's refund: what goes back to the rider, the fee kept, and when it is final. A use of the
    ticket uploaded before `final_at` withdraws it (`withdrawn_at`): nothing goes back."""

    amount_vnd: int
    fee_vnd: int
    refunded_at: datetime
    final_at: datetime
    withdrawn_at: datetime | None = None


class PassPublic(PassBase):
    id: str
    valid_from: datetime
    valid_until: datetime
    verified_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_reason: str | None = None


class FreeRiderBase(SQLModel):
    category: str = Field(max_length=24)  # a fare_rules.free.FreeCategory of the registry
    holder_masked: str = Field(max_length=12)
    holder_initials: str = Field(max_length=16)
    holder_birth_year: int
    document_ref: str = Field(max_length=64)  # the certificate staff checked (its number, not a scan)
    staff_id: str = Field(max_length=32)  # who checked it
    status: FreeRiderStatus = Field(sa_type=sa.String(16))


class FreeRider(FreeRiderBase, table=True):
    """A free-rider registry entry, the issuance of a 0 VND free_priority entitlement after a document check.
    Holds the keyed hash (gates), the masked number, initials and birth year (staff): not the number."""

    __tablename__ = "free_riders"

    id: str = Field(primary_key=True, max_length=32)
    holder_hash: str = Field(max_length=32, index=True)  # hex of fare_rules.cccd.holder_hash
    valid_from: datetime = Field(sa_column=_utc())
    valid_until: datetime = Field(sa_column=_utc())
    seq: int = Field(sa_type=sa.BigInteger, unique=True)  # bumped on every change: the gate sync cursor
    entered_by: str = Field(max_length=32)  # the admin token's id, or "cli"
    created_at: datetime = Field(sa_column=_utc())
    updated_at: datetime = Field(sa_column=_utc())
    ended_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    ended_reason: str | None = Field(default=None, max_length=24)  # a FreeRiderEnd value


class FreeRiderPublic(FreeRiderBase):
    id: str
    product: Product = Product.FREE_PRIORITY
    valid_from: datetime
    valid_until: datetime
    entered_by: str
    created_at: datetime
    ended_at: datetime | None = None
    ended_reason: str | None = None


class TicketPublic(TicketBase):
    id: str
    serial: str  # text: a uint63 does not survive a JavaScript number
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime
    holder_pass: PassPublic | None = Field(default=None, alias="pass")
    refund: RefundPublic | None = None
    state: TicketState = TicketState.UNUSED
    reissued_at: datetime | None = None  # its QR replaced: the one signed before is refused (key_revoked)


class OrderPublic(OrderBase):
    id: str
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None = None
    items: list[OrderItemPublic]
    payment: PaymentPublic
    tickets: list[TicketPublic] = []
    access_token: str | None = None  # only in the answer that creates the order (and its idempotent replays)


# --- lists the gates sync -----------------------------------------------------------------------------------


class Revocation(SQLModel, table=True):
    __tablename__ = "revocations"

    seq: int = Field(sa_type=sa.BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    ticket_serial: int = Field(sa_type=sa.BigInteger, index=True)
    ticket_id: str = Field(foreign_key="tickets.id", max_length=32)
    reason: str = Field(max_length=24)  # refunded | cancelled | reissued | blocked | double_use
    at: datetime = Field(sa_column=_utc())


# --- operator state -----------------------------------------------------------------------------------------


class SigningKey(SQLModel, table=True):
    __tablename__ = "signing_keys"

    kid: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})  # uint16 on the wire
    public_key: bytes = Field(sa_type=sa.LargeBinary)  # raw 32 bytes
    private_key_pem: bytes = Field(sa_type=sa.LargeBinary)  # PKCS#8, encrypted with the key passphrase
    created_at: datetime = Field(sa_column=_utc())
    # Its term (ticketing.issuing.key_terms): it signs from not_before until retired_at, published ahead.
    not_before: datetime = Field(sa_column=_utc())
    retired_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    not_after: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    revoked: bool = False


class KeyPublic(SQLModel):
    """One published issuer key (validator.codec.keyset_to_json): the key published ahead signs from
    `not_before`; a retired one is listed until `not_after`."""

    kid: int
    alg: str
    public_key: str  # base64url of the raw 32 bytes
    not_before: datetime | None = None
    not_after: datetime | None = None
    revoked: bool = False


class KeysetPublic(SQLModel):
    keys: list[KeyPublic]


class KeyRevocationPublic(KeysetPublic):
    """The keyset after a revocation, the key in force and how many tickets it signed again."""

    signing_kid: int | None
    # No key was published ahead, so the key in force was made now: gates trust it only once recovered.
    signing_key_new: bool = False
    reissued: int


class ApiTokenBase(SQLModel):
    id: str = Field(primary_key=True, max_length=32)
    role: Role = Field(sa_type=sa.String(16))
    label: str = Field(default="", max_length=100)
    revoked: bool = False


class ApiToken(ApiTokenBase, table=True):
    """An operator's token (admin, auditor). Only its hash is kept: the token itself is shown once."""

    __tablename__ = "api_tokens"

    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_column=_utc())


class ApiTokenPublic(ApiTokenBase):
    created_at: datetime


class IdempotencyRecord(SQLModel, table=True):
    """First answer to a keyed request (payments); order creation keeps its key on the order itself."""

    __tablename__ = "idempotency_records"

    key: str = Field(primary_key=True, max_length=160)  # scope + ":" + client key
    request_hash: str = Field(max_length=64)
    status_code: int
    response_body: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(sa_column=_utc())


# --- gates and what they upload -----------------------------------------------------------------------------


class GateBase(SQLModel):
    # Gate ids are unique on the whole network and never reused: journal events, uses and (gate, seq)
    # idempotency all name a gate by this id alone.
    gate_id: str = Field(primary_key=True, max_length=32)
    station: str = Field(max_length=16)
    status: GateStatus = Field(sa_type=sa.String(16))


class Gate(GateBase, table=True):
    """An enrolled (or enrolling) gate device. Only hashes of its one-time code and its token are kept."""

    __tablename__ = "gates"

    created_at: datetime = Field(sa_column=_utc())
    code_hash: str | None = Field(default=None, max_length=64, unique=True)
    code_expires_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    enrolled_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    device_public_key: str | None = Field(default=None, max_length=64, unique=True)  # base64url raw Ed25519
    token_hash: str | None = Field(default=None, max_length=64, unique=True)
    revoked_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    journal_head: int = Field(default=0, sa_type=sa.BigInteger)  # highest seq stored
    last_upload_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class GatePublic(GateBase):
    created_at: datetime
    enrolled_at: datetime | None = None
    revoked_at: datetime | None = None
    journal_head: int = 0
    last_upload_at: datetime | None = None


class GateCreated(GatePublic):
    code: str  # shown once: the one-time enrolment code
    code_expires_at: datetime


_BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only


_UNRECOGNISED_TICKET = sa.text("credential IS NULL AND ticket_serial IS NOT NULL")
_FREE_RIDES = sa.text("free_category IS NOT NULL")


class ScanEvent(SQLModel, table=True):
    """One journal event as a gate signed it: every field in a column for the audits, plus the canonical
    JSON the chain hash covers, so an auditor can re-verify the chain from this table alone.

    Columns a malformed event lacks stay NULL and `problem` says why it was refused (it is kept anyway: the
    next event chains onto its hash). `feed_seq` numbers accepted uses for `GET /v1/gate/events`, drawn from
    `change_counters` like the list cursors, so they become visible in commit order.
    """

    __tablename__ = "scan_events"
    __table_args__ = (
        # SQLite shape. On PostgreSQL the table is partitioned by month on `at` (ticketing.partitions), so the
        # unique key must hold `at`: (gate_id, seq, at) NULLS NOT DISTINCT, and ingest dedups by (gate, seq).
        sa.UniqueConstraint("gate_id", "seq", name="uq_scan_events_gate_seq"),
        sa.Index("ix_scan_events_station_at", "station", "at"),
        sa.Index("ix_scan_events_at", "at"),
        sa.Index("ix_scan_events_credential_at", "credential", "at"),
        sa.Index("ix_scan_events_holder_hash_at", "holder_hash", "at"),
        # Codes refused before a credential was known only: the rest are found by (credential, at).
        sa.Index(
            "ix_scan_events_ticket_serial_at",
            "ticket_serial",
            "at",
            sqlite_where=_UNRECOGNISED_TICKET,
            postgresql_where=_UNRECOGNISED_TICKET,
        ),
        sa.Index("ix_scan_events_reason_at", "reason", "at"),
        sa.Index(
            "ix_scan_events_free_category_at",
            "free_category",
            "at",
            sqlite_where=_FREE_RIDES,
            postgresql_where=_FREE_RIDES,
        ),
    )

    id: int | None = Field(
        default=None, sa_column=sa.Column(_BIGINT_ID, primary_key=True, autoincrement=True)
    )
    # No foreign key to gates: ingest writes only the gate whose row it holds locked, and a
    # key checked per event cost a trigger call and a row lock on `gates` each time.
    gate_id: str = Field(max_length=32)
    seq: int = Field(sa_type=sa.BigInteger)
    hash: str = Field(max_length=64)
    prev_hash: str = Field(max_length=64)
    station: str | None = Field(default=None, max_length=16)
    at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    direction: str | None = Field(default=None, max_length=8)
    input_kind: str | None = Field(default=None, max_length=16)
    verdict: str | None = Field(default=None, max_length=8)
    reason: str | None = Field(default=None, max_length=40)
    flags: str = Field(default="", max_length=200)  # sorted, comma-separated
    owed_vnd: int = 0
    credential: str | None = Field(default=None, max_length=48)  # t:<serial> | p:<pass id>
    ticket_serial: int | None = Field(default=None, sa_type=sa.BigInteger)
    product: str | None = Field(default=None, max_length=24)
    pass_id: str | None = Field(default=None, max_length=32)
    holder_hash: str | None = Field(default=None, max_length=32)
    free_category: str | None = Field(default=None, max_length=24)  # a free ride's fare_rules.free category
    event: str = Field(sa_type=sa.Text)  # canonical JSON, exactly the bytes the chain hash covers
    received_at: datetime = Field(sa_column=_utc())
    feed_seq: int | None = Field(default=None, sa_type=sa.BigInteger, unique=True)
    problem: str | None = Field(default=None, max_length=200)
    # The offset (server minus gate clock, s) the gate measured when it uploaded this event's batch.
    clock_offset_s: int | None = None


class ScanCount(SQLModel, table=True):
    """Scans counted per hour (UTC), gate and outcome, kept by journal ingest in the transaction that stores
    them: the ridership and denials reports add up these hours instead of reading a day's
    scans one by one. '' stands for a missing station, direction, verdict or reason (a key holds no NULL)."""

    __tablename__ = "scan_counts"

    hour: datetime = Field(sa_column=sa.Column(UTCDateTime(), primary_key=True))
    gate_id: str = Field(primary_key=True, max_length=32)
    station: str = Field(primary_key=True, max_length=16)
    direction: str = Field(primary_key=True, max_length=8)
    verdict: str = Field(primary_key=True, max_length=8)
    reason: str = Field(primary_key=True, max_length=40)
    problem: bool = Field(primary_key=True)  # the event did not read cleanly (scan_events.problem)
    n: int = Field(sa_type=sa.BigInteger)


class TripCount(SQLModel, table=True):
    """Entered trips counted per hour (UTC) of their start, product, origin, destination and whether they are
    complete, kept by journal ingest as it pairs (ticketing.ingest.rollups): the od and revenue reports add up
    these hours instead of reading a day's trips. '' stands for a missing product or destination."""

    __tablename__ = "trip_counts"

    hour: datetime = Field(sa_column=sa.Column(UTCDateTime(), primary_key=True))
    product: str = Field(primary_key=True, max_length=24)
    origin: str = Field(primary_key=True, max_length=16)
    destination: str = Field(primary_key=True, max_length=16)
    complete: bool = Field(primary_key=True)
    n: int = Field(sa_type=sa.BigInteger)
    fare_vnd: int = Field(sa_type=sa.BigInteger)  # the trips' fares
    ridden_vnd: int = Field(sa_type=sa.BigInteger)  # a single ticket's fare on its first trip only
    owed_vnd: int = Field(sa_type=sa.BigInteger)
    duration_s: int = Field(sa_type=sa.BigInteger)


class TripAnomaly(SQLModel, table=True):
    """A trip that an anomaly kind lists, kept by journal ingest as it pairs (ticketing.ingest.candidates):
    an orphan exit (entry_unseen), a repeated exit, or a complete single-ticket trip long enough to be an
    overstay (duration_s kept, the policy's limit is applied when asked). The row goes when the trip no longer
    is one (an orphan exit whose entry arrives). It keeps what an anomaly shows of the trip, so that a page of
    them reads these rows alone, not a trip at random in a month of them."""

    __tablename__ = "trip_anomalies"
    __table_args__ = (sa.Index("ix_trip_anomalies_kind_started_at", "kind", "started_at"),)

    trip_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    kind: str = Field(max_length=24)
    started_at: datetime = Field(sa_column=_utc())
    duration_s: int | None = None
    credential: str | None = Field(default=None, max_length=48)
    entry_station: str | None = Field(default=None, max_length=16)
    entry_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    exit_station: str | None = Field(default=None, max_length=16)
    exit_gate: str | None = Field(default=None, max_length=32)
    exit_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    flags: str | None = Field(default=None, max_length=200)


class UseAnomaly(SQLModel, table=True):
    """A credential's accepted use that may be part of an anomaly, noted by journal ingest as it pairs
    (ticketing.ingest.candidates): a ticket's entry with another entry at another gate close by (double_use).
    The anomaly query checks only these credentials' uses, by the same rule as ever."""

    __tablename__ = "use_anomalies"

    kind: str = Field(primary_key=True, max_length=24)
    at: datetime = Field(sa_column=sa.Column(UTCDateTime(), primary_key=True))
    credential: str = Field(primary_key=True, max_length=48)


class PassMove(SQLModel, table=True):
    """A pass use at another station than the same pass's use just before it, sooner than the train gets
    there (hops x min_seconds_per_hop): the pass_too_fast anomaly, kept exactly by journal ingest as it
    pairs (ticketing.ingest.candidates), under the policy then in force. A use's row is made again when a
    use of the same pass arrives just before it."""

    __tablename__ = "pass_moves"
    __table_args__ = (sa.Index("ix_pass_moves_at", "at", "credential"),)

    credential: str = Field(primary_key=True, max_length=48)
    at: datetime = Field(sa_column=sa.Column(UTCDateTime(), primary_key=True))
    gate_id: str = Field(primary_key=True, max_length=32)
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    station: str = Field(max_length=16)
    previous_station: str = Field(max_length=16)
    previous_at: datetime = Field(sa_column=_utc())
    at_least_s: int  # what the train takes between the two stations


class GateListFetch(SQLModel, table=True):
    """The last time the service served a gate one of the lists it syncs to its end (the page the gate stops
    at), and the cursor the gate then held: what gate health dates a gate's lists by. One row per gate and
    list, moved on by each fetch; never back, when two workers answer the same gate."""

    __tablename__ = "gate_list_fetches"

    gate_id: str = Field(primary_key=True, max_length=32)
    name: str = Field(primary_key=True, max_length=16)  # the list: revocations, passes, free_riders, ...
    fetched_at: datetime = Field(sa_column=_utc())  # the server_time of the page, as the gate dates the list
    seq: int = Field(sa_type=sa.BigInteger)  # the cursor (`next`) of that page


class JournalBatch(SQLModel, table=True):
    """A gate's signed upload that stored events: its seq range, the device signature and the key it verified
    against (a gate may be enrolled again with another), so that an auditor can check the signature later
    from the stored events alone (`ticketing.audit.chain`)."""

    __tablename__ = "journal_batches"
    __table_args__ = (sa.Index("ix_journal_batches_gate_first", "gate_id", "first_seq"),)

    id: int | None = Field(
        default=None, sa_column=sa.Column(_BIGINT_ID, primary_key=True, autoincrement=True)
    )
    gate_id: str = Field(max_length=32)
    first_seq: int = Field(sa_type=sa.BigInteger)
    last_seq: int = Field(sa_type=sa.BigInteger)
    signature: str = Field(max_length=100)  # base64url Ed25519, as the gate sent it
    device_public_key: str = Field(max_length=64)
    received_at: datetime = Field(sa_column=_utc())


class JournalGap(SQLModel, table=True):
    """Events a gate's upload skipped. Reported to the gate (409) first; if it then sends the same batch
    again it has lost them, and the gap is accepted and kept here for the auditors."""

    __tablename__ = "journal_gaps"
    __table_args__ = (sa.UniqueConstraint("gate_id", "from_seq", name="uq_journal_gaps_gate_from"),)

    id: int | None = Field(default=None, primary_key=True)
    gate_id: str = Field(foreign_key="gates.gate_id", max_length=32)
    from_seq: int = Field(sa_type=sa.BigInteger)  # first missing seq
    to_seq: int = Field(sa_type=sa.BigInteger)  # last missing seq
    detected_at: datetime = Field(sa_column=_utc())
    accepted_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class Trip(SQLModel, table=True):
    """An accepted entry paired with the accepted exit of the same credential, kept up to date by journal
    ingest in the transaction that stores the events. `started_at` is the entry time, or the exit time of
    an orphan exit (whose entry may still arrive from an offline gate and is then filled in)."""

    __tablename__ = "trips"
    __table_args__ = (
        # Three indexes (PostgreSQL also gets fillfactor 70): the exit that completes an open
        # trip changes no indexed column, so PostgreSQL updates the row in place (HOT) and writes no index
        # entry. Origin, destination, station and gate filters walk (started_at).
        sa.Index("ix_trips_credential_started_at", "credential", "started_at"),
        sa.Index("ix_trips_started_at", "started_at"),
    )

    id: int | None = Field(
        default=None, sa_column=sa.Column(_BIGINT_ID, primary_key=True, autoincrement=True)
    )
    credential: str = Field(max_length=48)  # t:<serial> | p:<pass id>
    status: TripStatus = Field(sa_type=sa.String(16))
    started_at: datetime = Field(sa_column=_utc())
    product: str | None = Field(default=None, max_length=24)
    ticket_serial: int | None = Field(default=None, sa_type=sa.BigInteger)
    pass_id: str | None = Field(default=None, max_length=32)
    entry_gate: str | None = Field(default=None, max_length=32)
    entry_seq: int | None = Field(default=None, sa_type=sa.BigInteger)
    entry_station: str | None = Field(default=None, max_length=16)
    entry_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    exit_gate: str | None = Field(default=None, max_length=32)
    exit_seq: int | None = Field(default=None, sa_type=sa.BigInteger)
    exit_station: str | None = Field(default=None, max_length=16)
    exit_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    duration_s: int | None = None
    fare_vnd: int = 0  # charged: what the single ticket paid; 0 for a ride on a pass
    owed_vnd: int = 0  # fare adjustment collected at the exit
    flags: str = Field(default="", max_length=200)  # entry and exit flags, sorted, comma-separated
