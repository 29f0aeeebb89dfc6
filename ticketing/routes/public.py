"""Reference data anyone may read: the network, fare quotes, the rules a rider must know, the issuer's public
keys; and a pass holder's details checked before ordering."""

from __future__ import annotations

from fastapi import APIRouter, Response

from fare_rules.products import PaymentMethod, Product
from fare_rules.tariff import quote
from ticketing.deps import ContextDep, NowDep, SessionDep, SignerDep
from ticketing.keys import published_keyset
from ticketing.models import HolderPublic
from ticketing.schemas import (
    HolderCreate,
    NetworkPublic,
    PolicyPublic,
    ProductPublic,
    QuotePublic,
    StationPublic,
)
from ticketing.services import tariffs
from ticketing.services.orders import NOT_FOR_SALE, check_holder

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["public"])


@router.get("/network")
def get_network(ctx: ContextDep, session: SessionDep, now: NowDep) -> NetworkPublic:
    """The line, and the products at the prices of the tariff in force now."""
    catalog = tariffs.catalog_at(session, ctx, now)
    network, tariff = catalog.network, catalog.tariff
    return NetworkPublic(
        id=network.id,
        name=network.name,
        chainage_is_estimate=network.chainage_is_estimate,
        stations=[
            StationPublic(**{f: getattr(s, f) for f in StationPublic.model_fields}) for s in network.stations
        ],
        products=[
            ProductPublic(product=p, price_vnd=tariff.product_prices.get(p), on_sale=p not in NOT_FOR_SALE)
            for p in Product
        ],
        tariff_version=tariff.version,
        tariff_effective_from=tariff.effective_from,
    )


@router.get("/fares/quote")
def get_quote(
    ctx: ContextDep,
    session: SessionDep,
    now: NowDep,
    *,
    origin: str | None = None,
    destination: str | None = None,
    product: Product = Product.SINGLE,
    payment: PaymentMethod = PaymentMethod.CASHLESS,
) -> QuotePublic:
    priced = quote(tariffs.catalog_at(session, ctx, now).tariff, product, origin, destination, payment)
    return QuotePublic(product=product, payment=payment, amount_vnd=priced.amount_vnd, rule=priced.rule)


@router.get("/policy")
def get_policy(ctx: ContextDep, session: SessionDep, now: NowDep) -> PolicyPublic:
    """What a rider must be told before paying: validity, refunds (fee, hold), how long an order waits."""
    policy = tariffs.catalog_at(session, ctx, now).policy
    return PolicyPublic(
        single_validity_days=policy.single_validity_days,
        max_trip_minutes=policy.max_trip_minutes,
        pass_activation_days=policy.pass_activation_days,
        monthly_days=policy.monthly_days,
        order_expiry_minutes=policy.order_expiry_minutes,
        refunds_allowed=policy.refunds_allowed,
        refund_fee_vnd=policy.refund_fee_vnd,
        refund_hold_minutes=policy.refund_hold_minutes,
        utc_offset_hours=policy.utc_offset_hours,
        service_day_start=policy.service_day_start.strftime("%H:%M"),
    )


@router.post("/holders/check")
def post_holder_check(body: HolderCreate, ctx: ContextDep) -> HolderPublic:
    """A monthly pass holder's CCCD number, name and date of birth, checked as an order would check them: 200
    with what staff will see (masked number, initials, birth year), or the order's own 422."""
    return check_holder(ctx, body)


@router.get("/keys", response_class=Response)
def get_keys(session: SessionDep, now: NowDep, sign: SignerDep) -> Response:
    # Signed like the gate's lists: a gate accepts a new keyset only under a key it already trusts.
    return sign(published_keyset(session, now), required=False)
