"""The gate CLI as station staff use it: main([...]) in process, and the real script as a subprocess."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import qrcode
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import scanner_cli
from scanner_cli import EXIT_DENIED, EXIT_OK, EXIT_SYNC_FAILED, EXIT_USAGE, main
from validator.bundle import key_fingerprint
from validator.testing import CCCD_NUMBER, FakeServer, TestIssuer, cccd_qr

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def _recent(issuer: TestIssuer, **kw: object) -> str:
    return issuer.ticket(issued_at=datetime.now(UTC) - timedelta(minutes=5), **kw)[1]  # type: ignore[arg-type]


@pytest.fixture
def issuer() -> TestIssuer:
    issuer = TestIssuer()
    issuer.add_pass(valid_from=datetime.now(UTC) - timedelta(days=1))
    return issuer


@pytest.fixture
def gate_dir(tmp_path: Path, issuer: TestIssuer, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "bundle.json").write_text(issuer.bundle(server_time=datetime.now(UTC)), encoding="utf-8")
    monkeypatch.setenv("METRO_GATE_DIR", str(tmp_path / "gate"))
    monkeypatch.delenv("METRO_GATE_DB", raising=False)
    assert (
        main(["init", "--station", "L1-01", "--gate", "G1", "--bundle", str(tmp_path / "bundle.json")]) == 0
    )
    return tmp_path / "gate"


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_ticket_typed_and_as_an_image_enters_then_exits(
    gate_dir: Path, issuer: TestIssuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ticket = _recent(issuer, origin=101, destination=101)
    image = tmp_path / "ticket.png"
    qrcode.make(ticket).save(image)
    capsys.readouterr()

    entered = main(["scan", "--direction", "entry", "--json", str(image)])
    left = main(["scan", "--direction", "exit", "--json", ticket])

    out = _json_lines(capsys.readouterr().out)
    assert (entered, left) == (EXIT_OK, EXIT_OK)
    assert [o["verdict"] for o in out] == ["accept", "accept"]
    assert out[0]["message"] == {"vi": "Mời qua", "en": "Go ahead"}
    assert set(out[0]) >= {"verdict", "reason", "message", "recognised", "owed_vnd", "flags"}


def test_any_denied_item_makes_the_exit_status_one(
    gate_dir: Path, issuer: TestIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["scan", "--direction", "entry", "--json", _recent(issuer), "garbage"])

    out = _json_lines(capsys.readouterr().out)
    assert status == EXIT_DENIED
    assert [o["reason"] for o in out] == [None, "not_our_code"]


def test_a_cccd_scan_shows_the_masked_number_and_never_the_full_one(
    gate_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["scan", "--direction", "entry", cccd_qr()])

    out = capsys.readouterr().out
    assert status == EXIT_OK
    assert "ACCEPT" in out
    assert "0793******34" in out
    assert "NTM" in out
    assert CCCD_NUMBER not in out


@pytest.mark.parametrize(
    "item",
    [
        CCCD_NUMBER,
        cccd_qr().replace("|", ";"),
        cccd_qr().replace("|", "\t"),
        f"https://id.example/{CCCD_NUMBER}?x=1",
    ],
    ids=["number alone", "semicolons", "tabs", "inside a longer text"],
)
@pytest.mark.parametrize("as_json", [False, True], ids=["screen", "json"])
def test_a_scanned_text_holding_a_cccd_number_is_never_echoed_in_full(
    gate_dir: Path, item: str, as_json: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["scan", "--direction", "entry", *(["--json"] if as_json else []), item])

    captured = capsys.readouterr()
    assert status == EXIT_DENIED
    assert CCCD_NUMBER not in captured.out + captured.err
    assert CCCD_NUMBER[:6] not in captured.out + captured.err  # nor a cut-off part of it


def test_the_human_screen_shows_deny_with_both_languages(
    gate_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_image = tmp_path / "photo.jpg"
    not_image.write_text("this is not a jpeg")

    status = main(["scan", "--direction", "entry", str(not_image)])

    out = capsys.readouterr().out
    assert status == EXIT_DENIED
    assert "DENY" in out
    assert "Không đọc được tệp ảnh" in out
    assert "Image file cannot be read" in out


def test_listen_reads_one_payload_per_line_and_a_bad_line_never_stops_it(
    gate_dir: Path, issuer: TestIssuer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [_recent(issuer), "\x00\x01garbage", "", "MQR:XXXX", _recent(issuer), cccd_qr(birth="15061990")]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))

    status = main(["listen", "--direction", "entry", "--json"])

    out = _json_lines(capsys.readouterr().out)
    assert status == EXIT_DENIED
    assert [o["verdict"] for o in out] == ["accept", "deny", "deny", "accept", "deny"]
    assert out[1]["reason"] == "not_our_code"
    assert out[4]["reason"] == "cccd_invalid"


def test_inspect_shows_a_ticket_without_using_it(
    gate_dir: Path, issuer: TestIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    ticket = _recent(issuer)

    assert main(["inspect", "--json", ticket]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["ticket"]["verified"] is True
    assert main(["scan", "--direction", "entry", ticket]) == EXIT_OK  # still unused


def test_status_reports_gate_station_lists_and_backlog(
    gate_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["scan", "--direction", "entry", "junk"])
    capsys.readouterr()

    assert main(["status", "--json"]) == EXIT_OK
    status = json.loads(capsys.readouterr().out)
    assert (status["gate"], status["station"], status["journal_backlog"]) == ("G1", "L1-01", 1)
    assert "clock_suspect" in status["flags"]  # provisioned offline: the clock was never checked


def test_commands_before_provisioning_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["--data-dir", str(tmp_path / "empty"), "scan", "--direction", "entry", "x"])

    assert status == EXIT_USAGE
    assert "init" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[], ["scan", "x"], ["scan", "--direction", "sideways", "x"], ["fly"]])
def test_bad_arguments_exit_with_the_usage_code(argv: list[str]) -> None:
    assert main(argv) == EXIT_USAGE


def test_a_tampered_bundle_is_refused(tmp_path: Path, issuer: TestIssuer) -> None:
    text = issuer.bundle().replace('"L1-01"', '"L1-02"')
    (tmp_path / "b.json").write_text(text)

    argv = ["--data-dir", str(tmp_path / "g"), "init", "--station", "L1-02", "--gate", "G1"]
    assert main([*argv, "--bundle", str(tmp_path / "b.json")]) == EXIT_USAGE


def test_enroll_sync_scan_offline_then_sync_delivers_the_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = FakeServer()
    server.add_code("ONE-TIME", "G3", "L1-01")
    online = {"up": True}

    def fake_client(url: str, token: str | None = None) -> httpx.Client:
        if not online["up"]:
            return httpx.Client(transport=httpx.MockTransport(_down), base_url=url)
        return server.client(token)

    base = ["--data-dir", str(tmp_path / "g3")]
    enroll = [*base, "enroll", "--server", "http://server.test", "--code", "ONE-TIME"]

    assert main(enroll, connect=fake_client) == EXIT_OK
    online["up"] = False  # the network cable is pulled
    assert main([*base, "scan", "--direction", "entry", _recent(server.issuer)]) == EXIT_OK
    assert main([*base, "sync"], connect=fake_client) == EXIT_SYNC_FAILED
    online["up"] = True
    assert main([*base, "sync"], connect=fake_client) == EXIT_OK

    assert "journal stored 1" in capsys.readouterr().out
    assert [e.event["verdict"] for e in server.journal.values()] == ["accept"]
    assert (tmp_path / "g3" / "device-key.pem").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "g3" / "gate.db").stat().st_mode & 0o777 == 0o600  # it holds the CCCD hash key


def _down(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("network cable pulled", request=request)


def test_the_script_runs_as_a_subprocess_with_its_exit_codes(tmp_path: Path, issuer: TestIssuer) -> None:
    (tmp_path / "b.json").write_text(issuer.bundle(server_time=datetime.now(UTC)))
    cli = [sys.executable, str(ROOT / "scanner_cli.py"), "--data-dir", str(tmp_path / "g")]
    ticket = _recent(issuer)

    init = subprocess.run(
        [*cli, "init", "--station", "L1-01", "--gate", "G1", "--bundle", str(tmp_path / "b.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    first = subprocess.run(
        [*cli, "scan", "--direction", "entry", "--json", ticket], capture_output=True, text=True, check=False
    )
    again = subprocess.run(
        [*cli, "scan", "--direction", "entry", ticket], capture_output=True, text=True, check=False
    )

    assert init.returncode == 0, init.stderr
    assert first.returncode == EXIT_OK
    assert json.loads(first.stdout)["verdict"] == "accept"
    assert again.returncode == EXIT_DENIED
    assert "DENY" in again.stdout
    assert "\033[" not in again.stdout  # no colour codes when not writing to a terminal


def test_listen_denies_a_line_that_is_not_utf8_and_scans_the_next_under_a_strict_utf8_locale(
    tmp_path: Path, issuer: TestIssuer
) -> None:
    bundle = issuer.write_bundle(tmp_path / "b.json")
    cli = [sys.executable, str(ROOT / "scanner_cli.py"), "--data-dir", str(tmp_path / "g")]
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    init = [*cli, "init", "--station", "L1-01", "--gate", "L1-01-G1", "--bundle", str(bundle)]
    subprocess.run(init, capture_output=True, check=True, env=env)
    lines = [b"MQR:\xff\xfe glitch", b"\xc3(", _recent(issuer).encode()]

    listen = subprocess.run(
        [*cli, "listen", "--direction", "entry", "--json", "--sync-interval", "0"],
        input=b"\n".join(lines) + b"\n",
        capture_output=True,
        check=False,
        env=env,
    )

    out = _json_lines(listen.stdout.decode("utf-8"))
    assert listen.returncode == EXIT_DENIED, listen.stderr
    assert [(o["verdict"], o["reason"]) for o in out] == [
        ("deny", "malformed"),
        ("deny", "malformed"),
        ("accept", None),
    ]
    assert listen.stderr == b""


def test_exit_code_constants_match_the_contract() -> None:
    assert (scanner_cli.EXIT_OK, EXIT_DENIED, EXIT_USAGE, EXIT_SYNC_FAILED) == (0, 1, 2, 3)


class _Network:
    """The fake service the gate connects to, with a cable that can be pulled."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.up = True

    def client(self, url: str, token: str | None = None) -> httpx.Client:
        if not self.up:
            return httpx.Client(transport=httpx.MockTransport(_down), base_url=url)
        return self.server.client(token)

    def main(self, argv: list[str]) -> int:
        """The CLI, connected to this network."""
        return main(argv, connect=self.client)


def _enrolled_gate(tmp_path: Path, network: _Network, *extra: str) -> list[str]:
    network.server.add_code("ONE-TIME", "L1-01-G7", "L1-01")
    base = ["--data-dir", str(tmp_path / "g7")]
    enroll = [*base, "enroll", "--server", "http://server.test", "--code", "ONE-TIME", *extra]
    assert network.main(enroll) == EXIT_OK
    return base


def _status(base: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main([*base, "status", "--json"]) == EXIT_OK
    status: dict[str, Any] = json.loads(capsys.readouterr().out)
    return status


def test_a_refused_journal_shows_the_servers_code_in_sync_and_in_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = FakeServer()
    network = _Network(server)
    base = _enrolled_gate(tmp_path, network)
    network.main([*base, "scan", "--direction", "entry", "junk 1"])
    assert network.main([*base, "sync"]) == EXIT_OK
    good = server.journal[("L1-01-G7", 1)]
    server.journal[("L1-01-G7", 1)] = dataclasses.replace(good, hash="ab" * 32)
    network.main([*base, "scan", "--direction", "entry", "junk 2"])
    capsys.readouterr()

    refused = network.main([*base, "sync"])
    err = capsys.readouterr().err
    status = _status(base, capsys)
    server.journal[("L1-01-G7", 1)] = good
    retried = network.main([*base, "sync", "--retry-journal"])
    after = _status(base, capsys)

    assert refused == EXIT_SYNC_FAILED
    assert "broken_chain" in err
    assert (status["last_sync_error"]["code"], status["last_sync_error"]["server_code"]) == (
        "journal_refused",
        "broken_chain",
    )
    assert status["journal_stopped"]["code"] == "broken_chain"
    assert retried == EXIT_OK
    assert (after["last_sync_error"], after["journal_stopped"], after["journal_backlog"]) == (None, None, 0)


def test_init_warns_when_the_gate_id_does_not_start_with_the_station_code(
    tmp_path: Path, issuer: TestIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = issuer.write_bundle(tmp_path / "b.json")
    init = ["init", "--station", "L1-01", "--bundle", str(bundle)]

    bare = main(["--data-dir", str(tmp_path / "a"), *init, "--gate", "G1"])
    bare_err = capsys.readouterr().err
    named = main(["--data-dir", str(tmp_path / "b"), *init, "--gate", "L1-01-G2"])
    named_err = capsys.readouterr().err

    assert (bare, named) == (EXIT_OK, EXIT_OK)
    assert "warning" in bare_err
    assert "L1-01-G1" in bare_err  # the recommended form
    assert "warning" not in named_err


@pytest.mark.parametrize("command", ["init", "enroll"])
def test_the_help_of_init_and_enroll_says_gate_ids_are_unique_network_wide(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--help"]) == EXIT_OK

    assert "unique on the whole network" in " ".join(capsys.readouterr().out.split())


def test_init_refuses_a_bundle_whose_signer_does_not_have_the_trusted_fingerprint(
    tmp_path: Path, issuer: TestIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = issuer.write_bundle(tmp_path / "b.json")
    init = ["init", "--station", "L1-01", "--gate", "L1-01-G1", "--bundle", str(bundle)]
    right = key_fingerprint(issuer.keyset()[issuer.kid])

    wrong = main(["--data-dir", str(tmp_path / "a"), *init, "--trust-fingerprint", "0000 0000 0000 0000"])
    typo = main(["--data-dir", str(tmp_path / "b"), *init, "--trust-fingerprint", "not hex"])
    pinned = main(["--data-dir", str(tmp_path / "c"), *init, "--trust-fingerprint", right.replace(" ", "")])

    assert (wrong, typo, pinned) == (EXIT_USAGE, EXIT_USAGE, EXIT_OK)
    assert "untrusted" in capsys.readouterr().err


def test_enroll_with_a_trusted_fingerprint_accepts_only_a_keyset_signed_by_that_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = FakeServer()
    network = _Network(server)
    server.add_code("ONE-TIME", "L1-01-G8", "L1-01")
    base = ["--data-dir", str(tmp_path / "g8")]
    pin = key_fingerprint(server.issuer.keyset()[server.issuer.kid])
    enroll = [*base, "enroll", "--server", "http://x", "--code", "ONE-TIME", "--trust-fingerprint"]

    mispinned = network.main([*enroll, "0" * 16])
    refusal = capsys.readouterr().err
    not_enrolled = network.main([*base, "status", "--json"])
    pinned = network.main([*enroll, pin])  # the same one-time code: the mistyped pin did not spend it

    assert mispinned == EXIT_SYNC_FAILED
    assert "untrusted" in refusal
    assert not_enrolled == EXIT_USAGE  # an unprovisioned gate
    assert pinned == EXIT_OK
    assert _status(base, capsys)["keys"] == 1


def test_a_gate_whose_only_issuer_key_was_revoked_recovers_with_a_fresh_bundle_and_its_fingerprint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = FakeServer()
    network = _Network(server)
    base = _enrolled_gate(tmp_path, network)
    network.main([*base, "scan", "--direction", "entry", "junk"])
    old = server.issuer.keyset()[server.issuer.kid]
    server.issuer.revoked_keys.append(dataclasses.replace(old, revoked=True))
    server.issuer.key = Ed25519PrivateKey.generate()
    fresh = server.issuer.write_bundle(tmp_path / "fresh.json", gate="L1-01-G7")
    init = [*base, "init", "--station", "L1-01", "--gate", "L1-01-G7", "--bundle", str(fresh)]
    new_pin = key_fingerprint(server.issuer.keyset()[server.issuer.kid])

    stuck = network.main([*base, "sync"])
    stuck_status = _status(base, capsys)
    unpinned = network.main(init)
    pinned = network.main([*init, "--trust-fingerprint", new_pin])
    synced = network.main([*base, "sync"])
    status = _status(base, capsys)

    assert stuck == EXIT_SYNC_FAILED
    assert stuck_status["last_sync_error"]["code"] == "untrusted"
    assert (unpinned, pinned, synced) == (EXIT_USAGE, EXIT_OK, EXIT_OK)
    assert (status["enrolled_online"], status["journal_backlog"], status["last_sync_error"]) == (
        True,
        0,
        None,
    )
    assert [e.event["reason"] for e in server.journal.values()] == ["not_our_code"]


class _Staff:
    """Lines typed at a listening gate; between lines it waits for what the background sync is doing."""

    def __init__(self, lines: list[str], waits: dict[int, Callable[[], None]]) -> None:
        self.lines = lines
        self.waits = waits

    def __iter__(self) -> Iterator[str]:
        for i, line in enumerate(self.lines):
            self.waits.get(i, lambda: None)()
            yield line + "\n"
        self.waits.get(len(self.lines), lambda: None)()


def test_listen_keeps_scanning_while_its_background_sync_fails_and_the_journal_arrives_once_it_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = FakeServer()
    network = _Network(server)
    base = _enrolled_gate(tmp_path, network)
    hung, release, arrived = threading.Event(), threading.Event(), threading.Event()

    def cut(request: httpx.Request) -> httpx.Response:
        hung.set()  # a background sync is stuck in a request that will never be answered
        release.wait(30)
        raise httpx.ConnectError("network cable pulled", request=request)

    def watch(request: httpx.Request) -> httpx.Response:
        response = server.handle(request)
        if len(server.journal) == 2:
            arrived.set()
        return response

    def client(url: str, token: str | None = None) -> httpx.Client:
        handler = watch if network.up else cut
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(transport=httpx.MockTransport(handler), base_url=url, headers=headers)

    def sync_stuck() -> None:
        assert hung.wait(30), "the background sync never tried"

    def cable_back() -> None:
        network.up = True
        release.set()
        assert arrived.wait(30), "the journal never arrived"

    network.up = False
    staff = _Staff([_recent(server.issuer), _recent(server.issuer)], {1: sync_stuck, 2: cable_back})
    monkeypatch.setattr(sys, "stdin", staff)
    capsys.readouterr()

    status = main(
        [*base, "listen", "--direction", "entry", "--json", "--sync-interval", "0.01"], connect=client
    )

    captured = capsys.readouterr()
    assert status == EXIT_OK
    assert [o["verdict"] for o in _json_lines(captured.out)] == ["accept", "accept"]
    assert "unreachable" in captured.err
    assert sorted(server.journal) == [("L1-01-G7", 1), ("L1-01-G7", 2)]
    assert [e.event["verdict"] for e in server.journal.values()] == ["accept", "accept"]
