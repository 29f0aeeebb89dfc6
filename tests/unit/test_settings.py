"""Settings refuse empty and short secrets in any environment, naming the variable but not the value."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from ticketing.errors import ConfigurationError
from ticketing.settings import Settings, load_settings, placeholder_payment_account, unknown_variables

SHORT = "fifteen-bytes!!"  # one byte short of the 16 the keys need
SIXTEEN = "sixteen-bytes-ok"


@pytest.mark.parametrize("name", ["webhook_secret", "cccd_hash_key", "token_secret"])
@pytest.mark.parametrize("value", ["", SHORT])
def test_an_empty_or_short_key_is_refused_by_settings(name: str, value: str) -> None:
    given: dict[str, Any] = {name: SecretStr(value)}

    with pytest.raises(ValidationError) as refused:
        Settings(**given)

    assert [error["loc"] for error in refused.value.errors()] == [(name,)]


def test_an_empty_key_passphrase_is_refused_by_settings() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(key_passphrase=SecretStr(""))

    assert [error["loc"] for error in refused.value.errors()] == [("key_passphrase",)]


def test_keys_of_sixteen_bytes_are_accepted() -> None:
    keys: dict[str, Any] = {
        name: SecretStr(SIXTEEN) for name in ("webhook_secret", "cccd_hash_key", "token_secret")
    }

    settings = Settings(**keys)

    assert settings.secret("cccd_hash_key") == SIXTEEN.encode()


def test_a_short_key_from_the_environment_stops_the_service_with_a_message_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("METRO_CCCD_HASH_KEY", SHORT)

    with pytest.raises(ConfigurationError) as refused:
        load_settings()

    assert refused.value.code == "configuration_error"
    assert "METRO_CCCD_HASH_KEY" in refused.value.detail
    assert SHORT not in refused.value.detail


def test_an_empty_webhook_secret_from_the_environment_is_not_taken_for_a_missing_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("METRO_WEBHOOK_SECRET", "")

    with pytest.raises(ConfigurationError, match="METRO_WEBHOOK_SECRET"):
        load_settings()


@pytest.mark.parametrize(
    ("given", "unset"),
    [
        ({}, []),
        ({"payment_provider": "vietqr"}, ["METRO_VIETQR_BANK_BIN", "METRO_VIETQR_ACCOUNT"]),
        ({"payment_provider": "vietqr", "vietqr_bank_bin": "970436"}, ["METRO_VIETQR_ACCOUNT"]),
        ({"payment_provider": "vietqr", "vietqr_account": "1234567890"}, ["METRO_VIETQR_BANK_BIN"]),
        ({"payment_provider": "vietqr", "vietqr_bank_bin": "970436", "vietqr_account": "1234567890"}, []),
    ],
    ids=["sandbox", "both-placeholders", "placeholder-account", "default-bank", "real-account"],
)
def test_vietqr_account_settings_left_at_their_placeholders_are_named(
    given: dict[str, Any], unset: list[str]
) -> None:
    assert placeholder_payment_account(Settings(**given)) == unset


def test_an_unknown_metro_variable_stops_the_service_naming_it_and_the_known_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("METRO_FOO", "1")

    with pytest.raises(ConfigurationError) as refused:
        load_settings()

    assert "METRO_FOO" in refused.value.detail
    assert "METRO_TARIFF_FILE" in refused.value.detail
    assert "METRO_POLICY_FILE" in refused.value.detail


def test_a_misspelt_setting_is_refused_rather_than_left_at_its_default() -> None:
    assert unknown_variables({"METRO_POLICY_FIEL": "/etc/policy.json", "HOME": "/root"}) == [
        "METRO_POLICY_FIEL"
    ]


def test_settings_and_the_other_tools_variables_are_known() -> None:
    environ = {"METRO_TARIFF_FILE": "t.json", "metro_data_dir": "var", "METRO_GATE_DIR": "gate"}

    assert unknown_variables(environ) == []
