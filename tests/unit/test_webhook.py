import hashlib
import hmac
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketing.payments.webhook import (
    DEFAULT_MAX_AGE_SECONDS,
    InvalidNotification,
    PaymentNotification,
    Verification,
    parse_notification,
    sign_notification,
    verify_notification,
)

SECRET = b"bank-shared-secret-for-tests"
NOW = 1_767_225_600  # 2026-01-01 00:00:00 UTC
BODY = b'{"order_id":"ord_1","reference":"MQR8F3K2Q","amount_vnd":20000,"bank_transaction_id":"FT2601"}'
ISSUING_DOC = Path(__file__).resolve().parents[2] / "docs" / "issuing.md"


def make_notification(**changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "order_id": "ord_1",
        "reference": "MQR8F3K2Q",
        "amount_vnd": 20_000,
        "bank_transaction_id": "FT2601",
    }
    return fields | changes


def test_the_signature_is_hmac_sha256_of_the_timestamp_a_dot_and_the_body() -> None:
    expected = hmac.new(SECRET, b"1767225600." + BODY, hashlib.sha256).hexdigest()

    assert sign_notification(BODY, SECRET, NOW) == f"t=1767225600,v1={expected}"


def _documented_example() -> dict[str, str]:
    """The worked example of docs/issuing.md: its `text` block's labelled lines and its shell variables."""
    section = ISSUING_DOC.read_text(encoding="utf-8").split("### The notification's signature", 1)[1]
    section = section.split("\n## ", 1)[0]
    table = re.search(r"```text\n(.*?)```", section, re.DOTALL)
    shell = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert table is not None
    assert shell is not None
    example = dict(re.findall(r"^(secret|timestamp|body|X-Signature) +(.+)$", table[1], re.MULTILINE))
    variables = dict(re.findall(r"^(SECRET|T|BODY)='?(.*?)'?$", shell[1], re.MULTILINE))
    assert variables == {"SECRET": example["secret"], "T": example["timestamp"], "BODY": example["body"]}
    return example


def test_the_worked_example_in_the_docs_signs_to_its_header_and_verifies() -> None:
    example = _documented_example()
    secret, body, timestamp = example["secret"].encode(), example["body"].encode(), int(example["timestamp"])

    assert sign_notification(body, secret, timestamp) == example["X-Signature"]
    assert verify_notification(body, example["X-Signature"], secret, timestamp) is Verification.VALID
    assert parse_notification(body).amount_vnd > 0


def test_a_fresh_signature_verifies() -> None:
    assert (
        verify_notification(BODY, sign_notification(BODY, SECRET, NOW - 10), SECRET, NOW)
        is Verification.VALID
    )


def test_a_signature_exactly_at_the_edge_of_the_window_verifies() -> None:
    header = sign_notification(BODY, SECRET, NOW - DEFAULT_MAX_AGE_SECONDS)

    assert verify_notification(BODY, header, SECRET, NOW) is Verification.VALID


@pytest.mark.parametrize("sent_at", [NOW - DEFAULT_MAX_AGE_SECONDS - 1, NOW + DEFAULT_MAX_AGE_SECONDS + 1])
def test_a_genuine_signature_outside_the_window_either_side_is_a_stale_timestamp(sent_at: int) -> None:
    header = sign_notification(BODY, SECRET, sent_at)

    assert verify_notification(BODY, header, SECRET, NOW) is Verification.STALE_TIMESTAMP


@pytest.mark.parametrize("sent_at", [NOW - 3600, NOW + 3600])
def test_a_wrong_signature_outside_the_window_is_a_bad_signature_not_a_stale_timestamp(sent_at: int) -> None:
    header = sign_notification(BODY, b"another-secret", sent_at)

    assert verify_notification(BODY, header, SECRET, NOW) is Verification.BAD_SIGNATURE


def test_a_narrower_window_refuses_what_the_default_accepts() -> None:
    header = sign_notification(BODY, SECRET, NOW - 60)

    assert verify_notification(BODY, header, SECRET, NOW, max_age_seconds=30) is Verification.STALE_TIMESTAMP


def test_a_changed_body_is_refused() -> None:
    header = sign_notification(BODY, SECRET, NOW)

    changed = BODY.replace(b"20000", b"2000000")

    assert verify_notification(changed, header, SECRET, NOW) is Verification.BAD_SIGNATURE


def test_a_signature_made_with_another_secret_is_refused() -> None:
    header = sign_notification(BODY, b"another-secret", NOW)

    assert verify_notification(BODY, header, SECRET, NOW) is Verification.BAD_SIGNATURE


def test_moving_the_timestamp_into_the_window_breaks_the_signature() -> None:
    old = sign_notification(BODY, SECRET, NOW - 3600)

    moved = old.replace(f"t={NOW - 3600}", f"t={NOW}")

    assert verify_notification(BODY, moved, SECRET, NOW) is Verification.BAD_SIGNATURE


def test_one_matching_signature_among_several_verifies_for_secret_rotation() -> None:
    current = sign_notification(BODY, SECRET, NOW).split(",")[1]
    retired = sign_notification(BODY, b"retired-secret", NOW).split(",")[1]

    assert verify_notification(BODY, f"t={NOW},{retired},{current}", SECRET, NOW) is Verification.VALID


def test_unknown_schemes_and_spaces_and_uppercase_hex_are_tolerated() -> None:
    timestamp, signature = sign_notification(BODY, SECRET, NOW).split(",")

    header = f"{timestamp}, v0=legacy, {signature.upper().replace('V1', 'v1')}"

    assert verify_notification(BODY, header, SECRET, NOW) is Verification.VALID


@pytest.mark.parametrize(
    "header",
    [
        "",
        f"t={NOW}",
        "v1=" + "0" * 64,
        f"t={NOW},v1=",
        f"t={NOW},v1=" + "0" * 63,
        f"t={NOW},v1=" + "g" * 64,
        f"t=abc,v1={'0' * 64}",
        f"t=-{NOW},v1={'0' * 64}",
        f"t=１２,v1={'0' * 64}",
        f"t={NOW},t={NOW},v1={'0' * 64}",
        f"t={NOW},v1={'é' * 64}",
        f"t={NOW};v1={'0' * 64}",
    ],
)
def test_a_malformed_header_is_refused_not_raised(header: str) -> None:
    assert verify_notification(BODY, header, SECRET, NOW) is Verification.BAD_SIGNATURE


def test_an_empty_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="secret"):
        sign_notification(BODY, b"", NOW)
    with pytest.raises(ValueError, match="secret"):
        verify_notification(BODY, "garbage", b"", NOW)


def test_a_notification_body_is_read_into_its_fields() -> None:
    assert parse_notification(BODY) == PaymentNotification(
        order_id="ord_1", reference="MQR8F3K2Q", amount_vnd=20_000, bank_transaction_id="FT2601"
    )


def test_fields_a_bank_adds_are_ignored() -> None:
    body = json.dumps(make_notification(channel="NAPAS247", description="MQR8F3K2Q chuyen tien")).encode()

    assert parse_notification(body).bank_transaction_id == "FT2601"


_NO_NUL = st.characters(exclude_characters="\x00")  # a NUL is refused (below)


@given(
    order_id=st.text(_NO_NUL, min_size=1, max_size=128),
    reference=st.text(_NO_NUL, min_size=1, max_size=128),
    amount_vnd=st.integers(min_value=1, max_value=10**15),
    bank_transaction_id=st.text(_NO_NUL, min_size=1, max_size=64),
)
def test_a_notification_round_trips_through_its_json(
    order_id: str, reference: str, amount_vnd: int, bank_transaction_id: str
) -> None:
    notification = PaymentNotification(order_id, reference, amount_vnd, bank_transaction_id)

    assert parse_notification(notification.to_json()) == notification


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b'{"order_id": "ord_1"',
        b"[]",
        b'"ord_1"',
        b"null",
        b"[" * 100_000 + b"]" * 100_000,
        json.dumps({"order_id": "ord_1"}).encode(),
        json.dumps(make_notification(amount_vnd="20000")).encode(),
        json.dumps(make_notification(amount_vnd=20000.0)).encode(),
        json.dumps(make_notification(amount_vnd=True)).encode(),
        json.dumps(make_notification(amount_vnd=0)).encode(),
        json.dumps(make_notification(amount_vnd=-20000)).encode(),
        json.dumps(make_notification(order_id=1)).encode(),
        json.dumps(make_notification(reference="")).encode(),
        json.dumps(make_notification(bank_transaction_id=None)).encode(),
        json.dumps(make_notification(order_id="x" * 129)).encode(),
        json.dumps(make_notification(bank_transaction_id="x" * 65)).encode(),
        b'{"order_id":"ord_1","reference":"R","amount_vnd":NaN,"bank_transaction_id":"FT"}',
    ],
)
def test_a_body_that_is_not_a_notification_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidNotification):
        parse_notification(body)


def test_an_invalid_notification_is_a_value_error() -> None:
    assert issubclass(InvalidNotification, ValueError)


@pytest.mark.parametrize("field", ["order_id", "reference", "bank_transaction_id"])
def test_a_notification_field_holding_a_nul_is_refused_naming_the_field_not_its_value(field: str) -> None:
    body = json.dumps(make_notification(**{field: "FT079303001234\x00"})).encode()

    with pytest.raises(InvalidNotification) as refused:
        parse_notification(body)

    assert field in str(refused.value)
    assert "079303001234" not in str(refused.value)
