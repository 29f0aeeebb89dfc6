"""A pytest plugin that watches the whole test session for secrets in log lines and in uncollected output.

It collects every log record (the root logger at INFO, our packages at DEBUG, which is more than `serve`
writes) and the captured output a test leaves unread, and at the end of the session fails the run if any
holds: a valid CCCD number, a private key (PEM, or the raw bytes of any Ed25519 key made during the session,
in hex or base64), an API, gate or order token, or one of the test settings' secrets. Offending lines are
reported masked. Under xdist each worker scans its own records and hands its findings to the controller.

Captured output is not scanned for tokens: the operator CLI prints a new token (and the enrolment code)
exactly once, by design.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fare_rules.cccd import CccdError, validate_number

__all__ = ["Finding", "LeakGuard", "Needles", "mask_line", "scan"]

_OUR_LOGGERS = ("ticketing", "validator", "fare_rules", "scanner_cli")
# Twelve digits standing alone: inside a longer letter-and-digit run (a hex order id, a Base45 payload) they
# are a coincidence of random text, not a number someone wrote, and flagging them made the guard flaky.
_TWELVE_DIGITS = re.compile(r"(?<![0-9A-Za-z])\d{12}(?![0-9A-Za-z])")
_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_TOKEN = re.compile(r"\bmq[aog]_[A-Za-z0-9_-]{20,}")
# Where raw key bytes could stand in a line: 64 hex digits, or 43 base64(url) characters (+ "=")
_KEY_TEXT = re.compile(r"(?<![0-9A-Za-z_+/-])(?:[0-9a-f]{64}|[A-Za-z0-9_+/-]{43}=?)(?![0-9A-Za-z_+/=-])")
_MAX_FINDINGS = 20


@dataclass
class Needles:
    """What must never appear: literal secrets, plus the raw private keys seen this session."""

    secrets: dict[str, str] = field(default_factory=dict)  # name -> value
    private_keys: set[str] = field(default_factory=set)  # hex and base64 forms of raw key bytes

    def add_private_key(self, key: Ed25519PrivateKey) -> None:
        raw = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        self.private_keys.update(
            {raw.hex(), base64.urlsafe_b64encode(raw).decode().rstrip("="), base64.b64encode(raw).decode()}
        )


@dataclass(frozen=True)
class Finding:
    where: str
    what: str
    line: str  # masked


def _cccd_numbers(text: str) -> Iterator[str]:
    for match in _TWELVE_DIGITS.finditer(text):
        try:
            yield validate_number(match.group())
        except CccdError:
            continue  # twelve digits that no CCCD can be (an amount, a timestamp)


def mask_line(line: str, found: Iterable[str]) -> str:
    for value in found:
        line = line.replace(value, value[:3] + "…" if len(value) > 8 else "…")
    return line[:300]


def scan(where: str, text: str, needles: Needles, *, tokens: bool = True) -> list[Finding]:
    """Every leak in `text`, one finding per line and kind, the line masked."""
    findings: list[Finding] = []
    for line in text.splitlines():
        hits: list[tuple[str, list[str]]] = [
            ("CCCD number", list(_cccd_numbers(line))),
            ("PEM private key", [m.group() for m in _PEM.finditer(line)]),
            ("raw private key", [m for m in _KEY_TEXT.findall(line) if m in needles.private_keys]),
            *((f"secret {name}", [value]) for name, value in needles.secrets.items() if value in line),
        ]
        if tokens:
            hits.append(("token", [m.group() for m in _TOKEN.finditer(line)]))
        for what, values in hits:
            if values:
                findings.append(Finding(where, what, mask_line(line, values)))
    return findings


class _Collector(logging.Handler):
    def __init__(self, sink: Callable[[str, str], None]) -> None:
        super().__init__(level=logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a record that cannot format itself is a bug elsewhere, not a leak
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.sink(f"log {record.name}", text)


def _level_restorer(name: str, level: int) -> Callable[[], None]:
    return lambda: logging.getLogger(name).setLevel(level)


class LeakGuard:
    """The plugin. `needles` are the test settings' secrets; private keys are added as they are made."""

    def __init__(self, needles: Needles) -> None:
        self.needles = needles
        self.findings: list[Finding] = []
        self._handler = _Collector(self._check)
        self._restore: list[Callable[[], None]] = []
        self._seen = 0

    def _check(self, where: str, text: str, *, tokens: bool = True) -> None:
        self._seen += 1
        if len(self.findings) < _MAX_FINDINGS:
            self.findings.extend(scan(where, text, self.needles, tokens=tokens))

    # --- hooks ---------------------------------------------------------------------------------------

    def pytest_configure(self, config: pytest.Config) -> None:
        root = logging.getLogger()
        levels = {name: logging.getLogger(name).level for name in ("", *_OUR_LOGGERS)}
        root.addHandler(self._handler)
        root.setLevel(min(root.level or logging.WARNING, logging.INFO))
        for name in _OUR_LOGGERS:
            logging.getLogger(name).setLevel(logging.DEBUG)
        self._restore.append(lambda: root.removeHandler(self._handler))
        self._restore.extend(_level_restorer(name, level) for name, level in levels.items())
        self._watch_key_generation()

    def _watch_key_generation(self) -> None:
        # Test instrumentation only: remember every Ed25519 key made in this process, so its raw bytes can
        # be looked for in the logs (a 64-hex-digit string alone could be any hash).
        original = Ed25519PrivateKey.__dict__["generate"]
        make = Ed25519PrivateKey.generate

        def generate() -> Ed25519PrivateKey:
            key = make()
            self.needles.add_private_key(key)
            return key

        setattr(Ed25519PrivateKey, "generate", staticmethod(generate))  # noqa: B010  (mypy: method assign)
        self._restore.append(lambda: setattr(Ed25519PrivateKey, "generate", original))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Output a test left unread (what it read with capsys it checked itself). Log sections repeat the
        # records the handler already saw; a report relayed from an xdist worker was scanned there.
        if hasattr(report, "node"):
            return
        for title, content in report.sections:
            if "log" not in title:
                self._check(f"{report.nodeid} [{title}]", content, tokens=False)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: a worker's findings (it sent them in workeroutput)."""
        output = getattr(node, "workeroutput", {})
        self.findings.extend(Finding(**item) for item in output.get("leak_findings", []))
        self._seen += int(output.get("leak_scanned", 0))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        for restore in reversed(self._restore):
            restore()
        worker_output = getattr(session.config, "workeroutput", None)
        if worker_output is not None:  # an xdist worker: the controller reports
            worker_output["leak_findings"] = [f.__dict__ for f in self.findings]
            worker_output["leak_scanned"] = self._seen
        elif self.findings:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.findings:
            terminalreporter.write_line(f"leak guard: {self._seen} log records and outputs scanned, no leak")
            return
        terminalreporter.write_sep("!", "SECRETS LEAKED INTO LOGS OR OUTPUT", red=True, bold=True)
        for finding in self.findings[:_MAX_FINDINGS]:
            terminalreporter.write_line(f"{finding.where}: {finding.what}: {finding.line}", red=True)
