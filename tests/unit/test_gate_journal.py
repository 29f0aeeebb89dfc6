"""The journal's hash chain and signed batches (validator.journal), pure."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from validator.journal import GENESIS_HASH, ChainedEvent, JournalError, build_batch, chain_next, verify_batch

KEY = Ed25519PrivateKey.generate()


def _chain(gate: str = "G1", n: int = 3, start: int = 1, prev: str = GENESIS_HASH) -> list[ChainedEvent]:
    events = []
    for seq in range(start, start + n):
        event = chain_next(gate, seq, prev, {"gate": gate, "seq": seq, "verdict": "accept"})
        events.append(event)
        prev = event.hash
    return events


def test_a_signed_batch_of_a_chain_verifies_from_genesis() -> None:
    events = _chain()

    verified = verify_batch(build_batch("G1", events, KEY), KEY.public_key(), GENESIS_HASH)

    assert [e.seq for e in verified] == [1, 2, 3]
    assert verified[-1].hash == events[-1].hash


def test_a_later_batch_chains_onto_the_hash_the_server_holds() -> None:
    first = _chain(n=2)
    second = _chain(n=2, start=3, prev=first[-1].hash)

    assert verify_batch(build_batch("G1", second, KEY), KEY.public_key(), first[-1].hash)[0].seq == 3


def test_a_batch_signed_by_another_gates_key_is_refused() -> None:
    batch = build_batch("G1", _chain(), Ed25519PrivateKey.generate())

    with pytest.raises(JournalError) as caught:
        verify_batch(batch, KEY.public_key(), GENESIS_HASH)

    assert caught.value.code == "bad_signature"


def test_an_edited_event_breaks_the_chain_even_when_re_signed() -> None:
    events = _chain()
    edited = ChainedEvent(
        "G1", 2, {**events[1].event, "verdict": "deny"}, events[1].prev_hash, events[1].hash
    )

    with pytest.raises(JournalError) as caught:
        verify_batch(build_batch("G1", [events[0], edited, events[2]], KEY), KEY.public_key(), GENESIS_HASH)

    assert caught.value.code == "broken_chain"


def test_a_batch_that_does_not_continue_the_servers_chain_is_refused() -> None:
    with pytest.raises(JournalError) as caught:
        verify_batch(build_batch("G1", _chain(start=5), KEY), KEY.public_key(), "11" * 32)

    assert caught.value.code == "broken_chain"


def test_a_gap_in_sequence_is_refused() -> None:
    events = _chain(n=3)

    with pytest.raises(JournalError) as caught:
        verify_batch(build_batch("G1", [events[0], events[2]], KEY), KEY.public_key(), GENESIS_HASH)

    assert caught.value.code in {"bad_sequence", "broken_chain"}


def test_events_of_another_gate_inside_a_batch_are_refused() -> None:
    with pytest.raises(JournalError) as caught:
        verify_batch(build_batch("G1", _chain(gate="G2"), KEY), KEY.public_key(), GENESIS_HASH)

    assert caught.value.code == "wrong_gate"


@pytest.mark.parametrize(
    "batch", [{}, {"gate": "G1"}, {"format": 1, "gate": "G1", "events": [], "signature": ""}]
)
def test_a_malformed_batch_is_a_bad_format_error(batch: dict[str, object]) -> None:
    with pytest.raises(JournalError) as caught:
        verify_batch(batch, KEY.public_key(), GENESIS_HASH)

    assert caught.value.code == "bad_format"


def test_an_event_must_name_its_own_gate_and_seq_so_the_hash_binds_them() -> None:
    with pytest.raises(ValueError, match="carry its own"):
        chain_next("G1", 1, GENESIS_HASH, {"gate": "G1", "seq": 2})
