"""Reference data anyone may read: the network, fare quotes, the issuer's public keys."""

from __future__ import annotations

from fastapi import APIRouter, Response

from fare_rules.products import PaymentMethod, Product
from fare_rules.tariff import quote
from ticketing.deps import ContextDep, NowDep, SessionDep, SignerDep
from ticketing.keys import published_keyset
from ticketing.schemas import NetworkPublic, ProductPublic, QuotePublic, StationPublic
from ticketing.services.orders import NOT_FOR_SALE

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["public"])


@router.get("/network")
def get_network(ctx: ContextDep) -> NetworkPublic:
    network, tariff = ctx.catalog.network, ctx.catalog.tariff
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
    origin: str | None = None,
    destination: str | None = None,
    product: Product = Product.SINGLE,
    payment: PaymentMethod = PaymentMethod.CASHLESS,
) -> QuotePublic:
    priced = quote(ctx.catalog.tariff, product, origin, destination, payment)
    return QuotePublic(product=product, payment=payment, amount_vnd=priced.amount_vnd, rule=priced.rule)


@router.get("/keys", response_class=Response)
def get_keys(session: SessionDep, now: NowDep, sign: SignerDep) -> Response:
    # Signed like the gate's lists: a gate accepts a new keyset only under a key it already trusts.
    return sign(published_keyset(session, now), required=False)
