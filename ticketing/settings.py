"""Service settings, read from the environment (prefix `METRO_`) by the deployable, never at import time.

Secrets: in `dev` a missing secret is generated once into the data folder (with a warning), so `make run`
works on a fresh machine; in `prod` a missing, short or generated secret stops the service before it serves.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fare_rules import cccd
from ticketing.errors import ConfigurationError

__all__ = [
    "DEV_SECRETS_FILE",
    "OTHER_TOOLS_VARIABLES",
    "SECRET_FIELDS",
    "Settings",
    "load_settings",
    "placeholder_payment_account",
    "resolve_secrets",
    "unknown_variables",
]

log = logging.getLogger(__name__)

DEV_SECRETS_FILE = "dev-secrets.json"
SECRET_FIELDS = ("key_passphrase", "webhook_secret", "cccd_hash_key", "token_secret")
_MIN_SECRET_LENGTH = 32
# Refused in every environment, dev included: shorter keys are guessable, and the CCCD hash key must satisfy
# fare_rules.cccd.holder_hash (16 bytes) or the first pass sold would fail instead of the start.
_MIN_KEY_BYTES = {
    "key_passphrase": 1,
    "webhook_secret": 16,
    "cccd_hash_key": cccd.MIN_KEY_SIZE,
    "token_secret": 16,
}
_PLACEHOLDER_ACCOUNT = "0000000000"
_WEAK = {"changeme", "change-me", "secret", "password", "dev", "development", "test"}
_PREFIX = "METRO_"
# METRO_ variables the service does not read but other tools of this project do (the gate CLI, the audit CLI,
# the tests and benchmarks): an environment shared with them is not a misspelt setting.
OTHER_TOOLS_VARIABLES = frozenset(
    {
        "METRO_GATE_DIR",
        "METRO_GATE_DB",
        "METRO_AUDIT_CCCD",
        "METRO_TEST_PG_DSN",
        "METRO_BENCH_PG_DSN",
        "METRO_DOC_SCREENSHOTS",
    }
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METRO_", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str | None = None  # default: SQLite file in data_dir
    environment: Literal["dev", "prod"] = "dev"
    payment_provider: Literal["sandbox", "vietqr"] = "sandbox"
    # Secrets. key_passphrase encrypts signing keys at rest; webhook_secret verifies bank notifications;
    # cccd_hash_key keys the CCCD hash gates receive; token_secret derives order access tokens.
    key_passphrase: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    cccd_hash_key: SecretStr | None = None
    token_secret: SecretStr | None = None
    policy_file: Path | None = None  # default: the bundled fare_rules/data/policy.json
    tariff_file: Path | None = None  # default: the bundled fare_rules/data/hcmc-line1-tariff.json
    max_body_bytes: int = 64 * 1024
    # Database connections each worker keeps open. Size it to the requests a worker runs at once: beyond it,
    # every request opens and closes a connection of its own (a new PostgreSQL backend each time).
    db_pool_size: int = Field(default=20, ge=1, le=200)
    # Order creation per client address and per worker (0: off): a backstop against one client flooding the
    # orders table. Loopback is exempt (operator tools, benchmarks); behind a local reverse proxy uvicorn
    # takes the rider's address from X-Forwarded-For, so riders are still counted one by one.
    order_rate_per_minute: float = Field(default=60, ge=0)
    order_rate_burst: int = Field(default=20, ge=1)
    # Recovering an order by its bank transfer: a handful a minute is plenty for a rider, and slows a search.
    recover_rate_per_minute: float = Field(default=5, ge=0)
    recover_rate_burst: int = Field(default=5, ge=1)
    rate_limit_exempt: list[str] = ["127.0.0.1/32", "::1/128"]
    # VietQR receiving account (used only with payment_provider=vietqr)
    vietqr_bank_bin: str = "970436"
    vietqr_account: str = _PLACEHOLDER_ACCOUNT
    vietqr_merchant_name: str = "METRO HCMC"

    @field_validator(*SECRET_FIELDS)
    @classmethod
    def _long_enough(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None:  # missing: generated in dev, refused in prod (resolve_secrets)
            return None
        name = str(info.field_name)
        need = _MIN_KEY_BYTES[name]
        if len(value.get_secret_value().encode()) < need:
            what = "must not be empty" if need == 1 else f"must be at least {need} bytes"
            raise ValueError(f"METRO_{name.upper()} {what}")
        return value

    @field_validator("rate_limit_exempt")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for net in value:
            ipaddress.ip_network(net, strict=False)  # ValueError names the bad entry
        return value

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'metro.db').resolve()}"

    def secret(self, name: str) -> bytes:
        """A resolved secret as bytes; call resolve_secrets first."""
        value = getattr(self, name)
        if not isinstance(value, SecretStr):
            raise ConfigurationError(f"secret {name} is not set")
        return value.get_secret_value().encode()


def load_settings(**overrides: Any) -> Settings:
    """Read the environment (and the overrides) into Settings. Bad values: ConfigurationError, naming them.

    A METRO_ variable that names no setting is refused too: a misspelt one (METRO_POLICY_FIEL) would
    otherwise leave its setting at the default without a word.
    """
    unknown = unknown_variables(os.environ)
    if unknown:
        known = ", ".join(sorted(f"{_PREFIX}{name.upper()}" for name in Settings.model_fields))
        raise ConfigurationError(
            f"unknown setting {', '.join(unknown)} in the environment: the settings are {known}"
        )
    try:
        return Settings(**overrides)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ConfigurationError(f"invalid settings: {problems}") from None


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """The METRO_ variables of `environ` that are neither a setting nor read by another tool, sorted."""
    known = {f"{_PREFIX}{name.upper()}" for name in Settings.model_fields} | OTHER_TOOLS_VARIABLES
    return sorted(n for n in environ if n.upper().startswith(_PREFIX) and n.upper() not in known)


def resolve_secrets(settings: Settings, *, warn: bool = True) -> Settings:
    """Fill missing secrets (dev) or refuse to start (prod). Returns a new Settings. `warn=False`: a
    process that another has already warned for (serve's workers) stays quiet, so a start warns once."""
    if settings.environment == "prod":
        _check_production(settings)
        return settings
    missing = [name for name in SECRET_FIELDS if getattr(settings, name) is None]
    if not missing:
        return settings
    generated = _dev_secrets(settings.data_dir)
    if warn:
        log.warning(
            "development secrets %s read from %s: never use them in production",
            ", ".join(missing),
            settings.data_dir / DEV_SECRETS_FILE,
        )
    return settings.model_copy(update={name: SecretStr(generated[name]) for name in missing})


def _check_production(settings: Settings) -> None:
    generated = _read_dev_secrets(settings.data_dir)
    for name in SECRET_FIELDS:
        value = getattr(settings, name)
        if value is None:
            raise ConfigurationError(f"METRO_{name.upper()} must be set in production")
        text = value.get_secret_value()
        if len(text) < _MIN_SECRET_LENGTH or text.lower() in _WEAK:
            raise ConfigurationError(f"METRO_{name.upper()} is too weak for production")
        if generated.get(name) == text:
            raise ConfigurationError(f"METRO_{name.upper()} is a generated development secret")
    if settings.payment_provider == "sandbox":
        raise ConfigurationError("the sandbox payment provider hands out free tickets: not in production")
    unset = placeholder_payment_account(settings)
    if unset:
        raise ConfigurationError(f"{' and '.join(unset)} must name the operator's account in production")


def placeholder_payment_account(settings: Settings) -> list[str]:
    """The VietQR receiving-account variables left at their placeholder defaults; [] when both are set or
    payments are not by VietQR. Riders would transfer their money to an account that is not the operator's
    (the default BIN is a real bank's, the default account number a made-up one)."""
    if settings.payment_provider != "vietqr":
        return []
    unset = [] if "vietqr_bank_bin" in settings.model_fields_set else ["METRO_VIETQR_BANK_BIN"]
    return unset + (["METRO_VIETQR_ACCOUNT"] if settings.vietqr_account == _PLACEHOLDER_ACCOUNT else [])


def _read_dev_secrets(data_dir: Path) -> dict[str, str]:
    path = data_dir / DEV_SECRETS_FILE
    if not path.exists():
        return {}
    loaded = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in loaded.items()}


def _dev_secrets(data_dir: Path) -> dict[str, str]:
    existing = _read_dev_secrets(data_dir)
    if all(name in existing for name in SECRET_FIELDS):
        return existing
    data_dir.mkdir(parents=True, exist_ok=True)
    fresh = {name: existing.get(name) or secrets.token_urlsafe(32) for name in SECRET_FIELDS}
    path = data_dir / DEV_SECRETS_FILE
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    # 0600: these decrypt the signing keys. Write then rename so concurrent starters never read half a file.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(fresh, handle)
    try:
        os.link(tmp, path)  # first writer wins; a loser reads the winner's file
    except FileExistsError:
        tmp.unlink()
        return _dev_secrets(data_dir)
    tmp.unlink()
    return fresh
