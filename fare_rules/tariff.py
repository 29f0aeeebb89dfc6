"""Prices: a versioned origin–destination matrix (cashless and cash) plus flat prices for passes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from fare_rules.network import Network
from fare_rules.products import PaymentMethod, Product

__all__ = ["Quote", "Tariff", "generate_default_tariff", "load_tariff", "quote", "tariff_to_json"]


@dataclass(frozen=True, slots=True)
class Tariff:
    version: str
    effective_from: date
    network_id: str
    # (origin code, destination code) -> VND, both directions present
    cashless: Mapping[tuple[str, str], int]
    cash: Mapping[tuple[str, str], int]
    product_prices: Mapping[Product, int]  # flat-priced products (everything but SINGLE)

    def single_fare(self, origin: str, destination: str, payment: PaymentMethod = PaymentMethod.CASHLESS) -> int:
        """The single-journey fare between two stations. UnknownStation / InvalidRoute on bad input."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Quote:
    amount_vnd: int
    rule: str  # human-readable: which row of which tariff priced it, e.g. "od-matrix 2025-01 cashless L1-01→L1-05"


def generate_default_tariff(network: Network, version: str, effective_from: date) -> Tariff:
    """The shipped tariff (domain.md, our rule): cashless 6,000 + 1,000 × round_half_up((n − 1) × 13 / 12)."""
    raise NotImplementedError


def load_tariff(text: str, network: Network) -> Tariff:
    """Parse a tariff file (JSON); every station pair of the network must be priced. DataFileError otherwise."""
    raise NotImplementedError


def tariff_to_json(tariff: Tariff) -> str:
    raise NotImplementedError


def quote(
    tariff: Tariff,
    product: Product,
    origin: str | None = None,
    destination: str | None = None,
    payment: PaymentMethod = PaymentMethod.CASHLESS,
) -> Quote:
    """Price one unit of a product. SINGLE needs origin and destination; the others are flat."""
    raise NotImplementedError
