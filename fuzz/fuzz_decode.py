"""Fuzz the gate's input path: bytes → text → classify, the ticket codec (decode, peek), the CCCD QR parser.

The property: nothing raises. decode/peek return a TicketBody or a DecodeFailure with a codec reason;
parse_card_qr returns a card or raises CccdError (its documented refusal), nothing else.

    .venv/bin/python fuzz/fuzz_decode.py -max_total_time=120      # atheris (pip install -e '.[fuzz]')

The seed corpus (the ticket format's test vectors and a CCCD example) is written to fuzz/corpus/decode on the
first run; libFuzzer adds what it finds there. The test suite feeds `check` through hypothesis instead
(tests/unit/test_fuzz_decode.py), so it needs no atheris.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

from fare_rules.cccd import CccdCard, CccdError, parse_card_qr
from validator.codec import CODEC_REASONS, DecodeFailure, TicketBody, decode, load_keyset, peek
from validator.core import InputKind, classify

__all__ = ["CORPUS_DIR", "KEYSET", "check", "main", "seeds"]

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "vectors" / "ticket_v1.json"
CORPUS_DIR = ROOT / "fuzz" / "corpus" / "decode"
# The vectors' keyset (one signing key, one revoked): valid vectors verify, so the fuzzer starts from inputs
# that reach the signature check, not only the prefix test.
KEYSET = load_keyset(json.loads(VECTORS.read_text(encoding="utf-8"))["keyset"])
CCCD_SEED = (
    "079303001234|025123456|Nguyễn Thị Mẫu|15062003|Nữ|12 Đường Số 1, Quận 1, TP. Hồ Chí Minh|20042021"
)


def seeds() -> Iterator[bytes]:
    """The seed corpus: every payload of the test vectors, and a well-formed (fabricated) CCCD QR."""
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    for group in ("valid", "tolerated", "invalid"):
        for vector in vectors[group]:
            yield str(vector["payload"]).encode("utf-8")
    yield CCCD_SEED.encode("utf-8")


def _text_forms(data: bytes) -> tuple[str, ...]:
    # UTF-8 (what a keyboard-wedge scanner types) and Latin-1 (every byte one character, so the fuzzer
    # reaches all code points below 256 even when its bytes are not valid UTF-8).
    return data.decode("utf-8", "replace"), data.decode("latin-1")


def check(data: bytes) -> None:
    """One fuzz input. Raises AssertionError (or whatever the code under test raises) on a finding."""
    for text in _text_forms(data):
        assert isinstance(classify(text), InputKind)
        decoded = decode(text, KEYSET)
        peeked = peek(text)
        if isinstance(decoded, DecodeFailure):
            assert decoded.reason in CODEC_REASONS, decoded
        else:
            assert isinstance(decoded, TicketBody)
            assert peeked == decoded  # what verifies must parse to the same fields without the key
        if isinstance(peeked, DecodeFailure):
            assert peeked.reason in CODEC_REASONS, peeked
        try:
            card = parse_card_qr(text)
        except CccdError:
            continue
        assert isinstance(card, CccdCard)
        assert len(card.number) == 12
        assert card.number.isdigit()


def _write_seeds(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for number, seed in enumerate(seeds()):
        path = folder / f"seed-{number:03d}"
        if not path.exists():
            path.write_bytes(seed)


def main(argv: list[str] | None = None) -> int:
    """Run under atheris (libFuzzer flags pass through, e.g. -max_total_time=120 or -runs=100000)."""
    import atheris  # noqa: PLC0415  (optional: only `make fuzz` needs it)

    args = list(sys.argv if argv is None else argv)
    if not any(not a.startswith("-") for a in args[1:]):
        _write_seeds(CORPUS_DIR)
        args.append(str(CORPUS_DIR))
    atheris.instrument_all()
    atheris.Setup(args, check)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
