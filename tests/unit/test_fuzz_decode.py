"""A short, bounded run of the payload-decoder fuzz target (fuzz/fuzz_decode.py) inside the suite, through
hypothesis' fuzz_one_input: the seed corpus, then 2,000 deterministic inputs, half of them mutated seeds.
`make fuzz` runs the same target under atheris for two minutes."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.fuzz_decode import check, seeds

RUNS = 2000


@settings(database=None, suppress_health_check=list(HealthCheck), deadline=None)
@given(st.binary(max_size=400))
def _target(data: bytes) -> None:
    check(data)


def _mutated(seed: bytes, rng: random.Random) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        what = rng.random()
        if what < 0.4 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif what < 0.7:
            data.insert(rng.randint(0, len(data)), rng.randrange(256))
        elif data:
            del data[rng.randrange(len(data))]
    return bytes(data)


def test_the_seed_corpus_goes_through_the_decoder_without_an_exception() -> None:
    corpus = list(seeds())

    for seed in corpus:
        check(seed)

    assert len(corpus) >= 20


def test_two_thousand_fuzzed_inputs_go_through_the_decoder_without_an_exception() -> None:
    rng = random.Random(20250303)  # fixed: a failure replays exactly
    corpus = list(seeds())
    fuzz_one_input = _target.hypothesis.fuzz_one_input  # type: ignore[attr-defined]

    for run in range(RUNS):
        if run % 2:
            check(_mutated(rng.choice(corpus), rng))  # near-valid payloads reach the layout and key checks
        else:
            fuzz_one_input(rng.randbytes(rng.randint(0, 400)))  # hypothesis turns the bytes into an input
