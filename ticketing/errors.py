"""Errors of the issuing service: each a stable `code` (wire contract: add, never rename) and an HTTP status.

Hierarchy::

    TicketingError(Exception)
    ├── ConfigurationError            (500; refuses to start)
    ├── InvalidRequest                (422 invalid_request; and subclasses with their own codes)
    │   ├── ProductNotSold            (422 product_not_sold)
    │   ├── HolderRequired            (422 holder_required)
    │   ├── InvalidStartDate          (422 invalid_start_date)
    │   ├── IdempotencyKeyReused      (422 idempotency_key_reused)
    │   └── BadEvent                  (422 bad_event: a journal event field no column can hold)
    ├── Unauthorized                  (401 unauthorized)
    │   ├── BadSignature              (401 bad_signature)
    │   └── StaleTimestamp            (401 stale_timestamp: a genuine webhook signature outside its window)
    ├── Forbidden                     (403 forbidden)
    │   ├── RefundsNotAllowed         (403 refunds_not_allowed)
    │   ├── BadEnrolmentCode          (403 bad_code; code_expired)
    │   └── WrongGate                 (403 wrong_gate)
    ├── InvalidCharacter              (400 invalid_character: U+0000 anywhere in a request)
    ├── JournalRejected               (400 bad_format, bad_signature, wrong_gate, broken_chain, bad_sequence)
    ├── NotFound                      (404 not_found; order_not_found, ticket_not_found, pass_not_found)
    ├── Conflict                      (409 conflict)
    │   ├── OrderExpired              (409 order_expired)
    │   ├── OrderNotPayable           (409 order_not_payable)
    │   ├── AmountMismatch            (409 amount_mismatch)
    │   ├── TicketNotRefundable       (409 ticket_not_refundable)
    │   ├── GateExists                (409 gate_exists)
    │   └── JournalGapFound           (409 journal_gap, with expected_seq)
    ├── PayloadTooLarge               (413 payload_too_large)
    └── NoSigningKey                  (503 no_signing_key; the service, not the request, is at fault)
"""

from __future__ import annotations

__all__ = [
    "AmountMismatch",
    "BadEnrolmentCode",
    "BadEvent",
    "BadSignature",
    "ConfigurationError",
    "Conflict",
    "Forbidden",
    "GateExists",
    "HolderRequired",
    "IdempotencyKeyReused",
    "InvalidCharacter",
    "InvalidRequest",
    "InvalidStartDate",
    "JournalGapFound",
    "JournalRejected",
    "NoSigningKey",
    "NotFound",
    "OrderExpired",
    "OrderNotPayable",
    "PayloadTooLarge",
    "ProductNotSold",
    "RefundsNotAllowed",
    "StaleTimestamp",
    "TicketNotRefundable",
    "TicketingError",
    "Unauthorized",
    "WrongGate",
]


class TicketingError(Exception):
    code = "ticketing_error"
    status = 500

    def __init__(self, detail: str, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code

    @property
    def extra(self) -> dict[str, object]:
        """Fields the error body carries besides code and detail (a machine-readable hint)."""
        return {}


class ConfigurationError(TicketingError):
    code = "configuration_error"


class InvalidRequest(TicketingError):
    code = "invalid_request"
    status = 422


class BadEvent(InvalidRequest):
    """A signed journal batch holding a field of the wrong type or beyond its column (an integer past its
    range, a NUL, a string too long): the whole batch is refused, so the gate's journal stops and says so."""

    code = "bad_event"


class InvalidCharacter(TicketingError):
    """A NUL character in a request (ticketing.text_guard): no text field accepts one, and PostgreSQL
    cannot store or compare one."""

    code = "invalid_character"
    status = 400


class ProductNotSold(InvalidRequest):
    code = "product_not_sold"


class HolderRequired(InvalidRequest):
    code = "holder_required"


class InvalidStartDate(InvalidRequest):
    code = "invalid_start_date"


class IdempotencyKeyReused(InvalidRequest):
    code = "idempotency_key_reused"


class Unauthorized(TicketingError):
    code = "unauthorized"
    status = 401


class BadSignature(Unauthorized):
    code = "bad_signature"


class StaleTimestamp(Unauthorized):
    """A bank notification signed with the right secret but too far from the service's clock: a replay, or
    a sender whose clock is off. Not a BadSignature, so the bank can tell a clock from a secret."""

    code = "stale_timestamp"


class Forbidden(TicketingError):
    code = "forbidden"
    status = 403


class RefundsNotAllowed(Forbidden):
    code = "refunds_not_allowed"


class NotFound(TicketingError):
    code = "not_found"
    status = 404


class Conflict(TicketingError):
    code = "conflict"
    status = 409


class OrderExpired(Conflict):
    code = "order_expired"


class OrderNotPayable(Conflict):
    code = "order_not_payable"


class AmountMismatch(Conflict):
    code = "amount_mismatch"


class TicketNotRefundable(Conflict):
    code = "ticket_not_refundable"


class NoSigningKey(TicketingError):
    code = "no_signing_key"
    status = 503


class PayloadTooLarge(TicketingError):
    code = "payload_too_large"
    status = 413


class BadEnrolmentCode(Forbidden):
    code = "bad_code"


class WrongGate(Forbidden):
    code = "wrong_gate"


class GateExists(Conflict):
    code = "gate_exists"


class JournalRejected(TicketingError):
    """A journal batch that does not verify; `code` is validator.journal.JournalError's."""

    code = "bad_format"
    status = 400


class JournalGapFound(Conflict):
    """The batch starts after events the server never received: resend from `expected_seq`."""

    code = "journal_gap"

    def __init__(self, detail: str, expected_seq: int) -> None:
        super().__init__(detail)
        self.expected_seq = expected_seq

    @property
    def extra(self) -> dict[str, object]:
        return {"expected_seq": self.expected_seq}
