"""Request bodies (`…Create`) and the read-only shapes of reference data the API returns."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from fare_rules.free import REGISTRY_CATEGORIES, FreeCategory
from fare_rules.products import PaymentMethod, Product
from ticketing.models import FreeRiderEnd, PassRevocation

__all__ = [
    "FreeRiderCreate",
    "FreeRiderEndCreate",
    "GateCreate",
    "GateEnroll",
    "HolderCreate",
    "NetworkPublic",
    "OrderCreate",
    "OrderItemCreate",
    "OrderRecover",
    "PassRevoke",
    "PaymentAccepted",
    "PolicyPublic",
    "ProductPublic",
    "QuotePublic",
    "StationPublic",
    "TokenCreated",
]

MAX_QUANTITY = 10


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL cannot store or compare U+0000 and no field has a use for it: 400 invalid_character
        if isinstance(value, str) and "\x00" in value:
            raise PydanticCustomError("invalid_character", "a NUL character (U+0000)")
        return value


class HolderCreate(_Strict):
    cccd: str = Field(min_length=1, max_length=32)
    full_name: str = Field(min_length=1, max_length=100)
    birth_date: date

    def __repr__(self) -> str:  # a traceback or log line must never carry the number
        return "HolderCreate(cccd=***, ...)"


class OrderItemCreate(_Strict):
    product: Product
    origin: str | None = Field(default=None, max_length=16)
    destination: str | None = Field(default=None, max_length=16)
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY)
    holder: HolderCreate | None = None
    start_date: date | None = None


class OrderRecover(_Strict):
    """What a rider's banking app shows of the transfer that paid an order."""

    reference: str = Field(min_length=1, max_length=25)
    amount_vnd: int = Field(ge=1, le=10**12)
    paid_on: date  # the transfer's date, in Ho Chi Minh City


class OrderCreate(_Strict):
    items: list[OrderItemCreate] = Field(min_length=1, max_length=10)


class StationPublic(BaseModel):
    code: str
    number: int
    name_vi: str
    name_en: str
    chainage_km: float


class ProductPublic(BaseModel):
    product: Product
    price_vnd: int | None  # None: priced by origin and destination
    on_sale: bool


class NetworkPublic(BaseModel):
    id: str
    name: str
    chainage_is_estimate: bool
    stations: list[StationPublic]
    products: list[ProductPublic]
    tariff_version: str
    tariff_effective_from: date


class PolicyPublic(BaseModel):
    """The operator's rules a rider is told (GET /v1/policy)."""

    single_validity_days: int
    max_trip_minutes: int
    pass_activation_days: int
    monthly_days: int
    order_expiry_minutes: int
    refunds_allowed: bool
    refund_fee_vnd: int
    refund_hold_minutes: int
    utc_offset_hours: int
    service_day_start: str  # HH:MM local: a service day runs from it to the same time the next day


class QuotePublic(BaseModel):
    product: Product
    payment: PaymentMethod
    amount_vnd: int
    rule: str


class TokenCreated(BaseModel):
    id: str
    role: str
    token: str


class PaymentAccepted(BaseModel):
    order_id: str
    status: str


class GateCreate(_Strict):
    station: str = Field(min_length=1, max_length=16)
    gate_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


class PassRevoke(_Strict):
    """Why staff stop a pass (a student card that did not check out is `refuse`, not a revocation)."""

    reason: PassRevocation

    @field_validator("reason")
    @classmethod
    def _not_a_refusal(cls, value: PassRevocation) -> PassRevocation:
        if value is PassRevocation.NOT_ELIGIBLE:
            raise ValueError("a pending student pass that does not qualify is refused: POST .../refuse")
        return value


class FreeRiderCreate(_Strict):
    """A free rider staff enter after checking the document: the holder as on their card, the category, the
    local dates the entry rides (first to last, both whole service days), what was checked and by whom."""

    holder: HolderCreate
    category: FreeCategory
    first_day: date
    last_day: date
    document_ref: str = Field(min_length=1, max_length=64)
    staff_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")

    @field_validator("category")
    @classmethod
    def _in_the_registry(cls, value: FreeCategory) -> FreeCategory:
        if value not in REGISTRY_CATEGORIES:
            raise ValueError("seniors ride by the birth date on their card: no entry is needed")
        return value


class FreeRiderEndCreate(_Strict):
    reason: FreeRiderEnd


class GateEnroll(_Strict):
    code: str = Field(min_length=1, max_length=64)
    device_public_key: str = Field(min_length=1, max_length=64)  # base64url of the raw Ed25519 key
