"""What the services need besides a session, built once by create_app (or a CLI command) from Settings."""

from __future__ import annotations

from dataclasses import dataclass

from ticketing.catalog import Catalog, load_catalog
from ticketing.keys import KeyRing
from ticketing.payments import PaymentProvider
from ticketing.payments.providers import make_provider
from ticketing.settings import Settings

__all__ = ["ServiceContext", "build_context"]


@dataclass(frozen=True, slots=True)
class ServiceContext:
    catalog: Catalog
    provider: PaymentProvider
    keyring: KeyRing
    token_secret: bytes
    cccd_key: bytes
    webhook_secret: bytes
    key_passphrase: bytes


def build_context(settings: Settings) -> ServiceContext:
    """Settings must have their secrets resolved (settings.resolve_secrets)."""
    passphrase = settings.secret("key_passphrase")
    return ServiceContext(
        catalog=load_catalog(settings.policy_file, settings.tariff_file),
        provider=make_provider(
            settings.payment_provider,
            settings.vietqr_bank_bin,
            settings.vietqr_account,
            settings.vietqr_merchant_name,
        ),
        keyring=KeyRing(passphrase),
        token_secret=settings.secret("token_secret"),
        cccd_key=settings.secret("cccd_hash_key"),
        webhook_secret=settings.secret("webhook_secret"),
        key_passphrase=passphrase,
    )
