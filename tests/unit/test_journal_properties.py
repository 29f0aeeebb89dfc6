"""Property tests for the journal upload format (validator.journal.verify_batch): whatever arrives, the answer
is the verified events or a JournalError with one of its stable codes, never another exception."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.json_strategies import json_values, mutate

from validator.codec import private_key_from_bytes
from validator.journal import (
    BATCH_DOMAIN,
    GENESIS_HASH,
    ChainedEvent,
    JournalError,
    build_batch,
    chain_next,
    verify_batch,
    verify_batch_canonical,
)
from validator.wire import b64url_encode, canonical_json

KEY = private_key_from_bytes(bytes(range(32)))
PUBLIC = KEY.public_key()
CODES = {"bad_format", "bad_signature", "wrong_gate", "broken_chain", "bad_sequence"}


def _events(count: int = 3) -> list[ChainedEvent]:
    events, prev = [], GENESIS_HASH
    for seq in range(1, count + 1):
        event = chain_next("G1", seq, prev, {"v": 1, "gate": "G1", "seq": seq, "verdict": "deny"})
        events.append(event)
        prev = event.hash
    return events


VALID = build_batch("G1", _events(), KEY)


def _verify(batch: Any) -> list[ChainedEvent] | str:
    """The events, or the JournalError's code; any other exception fails the test."""
    try:
        return verify_batch(batch, PUBLIC, GENESIS_HASH)
    except JournalError as error:
        return error.code


def test_the_unmutated_batch_verifies() -> None:
    assert _verify(VALID) == _events()


@given(json_values)
def test_any_json_document_is_refused_with_a_journal_code(document: Any) -> None:
    assert _verify(document) in CODES


@settings(max_examples=300)
@given(
    st.fixed_dictionaries(
        {"format": json_values, "gate": json_values, "events": json_values, "signature": json_values}
    )
)
def test_any_batch_shaped_document_is_refused_with_a_journal_code(document: dict[str, Any]) -> None:
    assert _verify(document) in CODES


@settings(max_examples=300)
@given(st.data())
def test_a_mutated_batch_is_refused_with_a_journal_code_unless_it_still_means_the_same(
    data: st.DataObject,
) -> None:
    mutated = mutate(data, VALID)

    result = _verify(mutated)

    assert (isinstance(result, str) and result in CODES) or result == _events()


@settings(max_examples=300)
@given(st.data())
def test_mutated_events_signed_by_the_gate_itself_are_checked_by_their_chain(data: st.DataObject) -> None:
    # The device key signs whatever its store holds: a corrupted store must still fail on the chain checks.
    items = mutate(data, VALID["events"])
    signed = BATCH_DOMAIN + canonical_json({"format": 1, "gate": "G1", "events": items})
    resigned = {**VALID, "events": items, "signature": b64url_encode(KEY.sign(signed))}

    result = _verify(resigned)

    if not isinstance(result, str):
        assert [e.to_json() for e in result] == items
    else:
        assert result in CODES


@pytest.mark.parametrize("signature", ["", "!!!", "A" * 86, 7, None])
def test_a_batch_whose_signature_is_not_base64url_ed25519_is_refused(signature: object) -> None:
    assert _verify({**VALID, "signature": signature}) in {"bad_format", "bad_signature"}


@pytest.mark.parametrize("fmt", [True, 1.0, "1"])
def test_a_format_that_only_compares_equal_to_one_is_refused(fmt: object) -> None:
    assert _verify({**VALID, "format": fmt}) == "bad_format"


def _has_float(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return isinstance(value, float)


def _surrogates(text: str) -> str:
    """A lone surrogate, as a JSON body's \\ud800 escape gives one: no encoder can write it in UTF-8."""
    return text + "\ud800"


_EVENT_LIKE = st.dictionaries(st.text(max_size=12), json_values, max_size=6)


@settings(max_examples=500)
@given(json_values | _EVENT_LIKE | st.text().map(_surrogates) | st.dictionaries(st.integers(), st.none()))
def test_canonical_json_is_json_dumps_with_sorted_keys_and_no_spaces_for_values_without_floats(
    value: Any,
) -> None:
    if _has_float(value):
        return  # the next test
    try:
        expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except (TypeError, ValueError, UnicodeEncodeError) as error:
        with pytest.raises(type(error)):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


@given(json_values)
def test_canonical_json_of_a_value_with_floats_reads_back_as_the_same_value(value: Any) -> None:
    encoded = canonical_json(value)

    assert json.loads(encoded) == value
    assert canonical_json(json.loads(encoded)) == encoded  # one form, whichever side encodes


def test_a_batch_holding_a_lone_surrogate_is_refused_as_bad_format() -> None:
    items = [e.to_json() for e in _events()]
    items[0]["event"] = {**items[0]["event"], "note": "\ud800"}

    assert _verify({**VALID, "events": items}) == "bad_format"


def test_verify_batch_canonical_returns_each_event_with_the_bytes_its_hash_covers() -> None:
    batch = build_batch("G1", _events(), KEY)
    batch["events"][1]["event"] = {**batch["events"][1]["event"]}  # a plain dict, as from the wire

    verified = verify_batch_canonical(batch, PUBLIC, GENESIS_HASH)

    assert [e for e, _ in verified] == verify_batch(batch, PUBLIC, GENESIS_HASH) == _events()
    assert [body for _, body in verified] == [canonical_json(e.event) for e in _events()]


def test_a_batch_whose_items_carry_an_extra_field_verifies_when_it_is_signed() -> None:
    items = [{**e.to_json(), "note": "é"} for e in _events()]
    signed = BATCH_DOMAIN + canonical_json({"format": 1, "gate": "G1", "events": items})
    batch = {"format": 1, "gate": "G1", "events": items, "signature": b64url_encode(KEY.sign(signed))}

    assert verify_batch(batch, PUBLIC, GENESIS_HASH) == _events()
