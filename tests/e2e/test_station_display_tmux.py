"""The station display as an agent sees it: the real `scanner_cli.py listen` in a real terminal (a tmux pane
of its own tmux server), a keyboard-wedge scanner typing into it (`send-keys`), and the screen read back
(`capture-pane`). The gate clock fault runs the gate under Debian's faketime against the real server."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from support.server import ROOT, ServerProcess, running, wait_until

from validator.testing import CCCD_NUMBER, TestIssuer, cccd_qr

pytestmark = pytest.mark.e2e

SCREEN_TIMEOUT = 30.0  # a bound on waiting for the screen to change, not a speed check
BLOCK = "█"
# rich's green4 and red3 backgrounds, as a 256-colour terminal shows them
GREEN_BACKGROUND = "48;5;28"
RED_BACKGROUND = "48;5;160"
# Variables that would make rich ignore the real terminal (its size, its colours).
_RICH_OVERRIDES = ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def _need(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing under CI: `make test` installs it (apt-get install {package})")
        pytest.skip(f"{tool} is not installed (apt-get install {package}; `make test` does it as root)")


class Terminal:
    """One command in a `width` x `height` tmux pane on a tmux server of its own; what a person at that
    terminal would read. The command's exit status is printed in the pane when it ends."""

    def __init__(self, command: list[str], *, width: int = 100, height: int = 30) -> None:
        self.socket = f"metro-qr-{uuid.uuid4().hex[:12]}"
        env = {k: v for k, v in os.environ.items() if k not in _RICH_OVERRIDES and not k.startswith("METRO_")}
        env.update(LANG="C.UTF-8", LC_ALL="C.UTF-8", FAKETIME_DONT_FAKE_MONOTONIC="1")
        shell = f'{shlex.join(["env", "TERM=xterm-256color", *command])}; echo "exit status $?"; sleep 600'
        self._tmux("new-session", "-d", "-x", str(width), "-y", str(height), "-s", "gate", shell, env=env)

    def _tmux(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            ["tmux", "-u", "-L", self.socket, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=20,
        )
        return done.stdout

    def type_line(self, text: str) -> None:
        """What a keyboard-wedge scanner does: the code's text, then Enter."""
        self._tmux("send-keys", "-t", "gate", "-l", text)
        self._tmux("send-keys", "-t", "gate", "Enter")

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "gate", *keys)

    def resize(self, width: int, height: int) -> None:
        self._tmux("resize-window", "-t", "gate", "-x", str(width), "-y", str(height))

    def screen(self) -> str:
        """The screen's text; a line the terminal wrapped is read as one (-J)."""
        return self._tmux("capture-pane", "-p", "-J", "-t", "gate")

    def coloured(self) -> str:
        """The screen with its colours, as escape sequences."""
        return self._tmux("capture-pane", "-p", "-e", "-t", "gate")

    def wait_for(self, *texts: str) -> str:
        """The screen, once it shows every one of `texts`."""
        wait_until(
            lambda: all(t in self.screen() for t in texts),
            timeout=SCREEN_TIMEOUT,
            what=f"{texts} on the screen; it shows:\n{self.screen()}",
        )
        return self.screen()

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    _need("tmux", "tmux")
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


def _redrawn_at(screen: str, height: int) -> bool:
    """The screen was drawn again at its new size: the clock ends the header line, the list ages the last
    line (a frame of the old size, cropped, has neither)."""
    lines = screen.splitlines()
    return (
        len(lines) == height
        and re.search(r"\d\d:\d\d:\d\d\s*$", lines[0]) is not None
        and lines[-1].startswith(" Danh sách / Lists")
    )


def _cli(folder: Path, *argv: str) -> list[str]:
    return [sys.executable, str(ROOT / "scanner_cli.py"), "--data-dir", str(folder), *argv]


def _offline_gate(tmp_path: Path, issuer: TestIssuer, station: str = "L1-01") -> Path:
    bundle = tmp_path / "bundle.json"
    bundle.write_text(issuer.bundle(station, server_time=datetime.now(UTC)), encoding="utf-8")
    folder = tmp_path / "gate"
    init = _cli(folder, "init", "--station", station, "--gate", f"{station}-G1", "--bundle", str(bundle))
    subprocess.run(init, cwd=ROOT, capture_output=True, check=True, timeout=60)
    return folder


def test_listen_on_a_terminal_shows_each_verdict_full_screen_with_counts_sync_state_and_card_check(
    tmp_path: Path, terminals: list[Terminal]
) -> None:
    issuer = TestIssuer()
    issuer.add_pass(valid_from=datetime.now(UTC) - timedelta(days=1))
    ticket = issuer.ticket(issued_at=datetime.now(UTC) - timedelta(minutes=5))[1]
    folder = _offline_gate(tmp_path, issuer)
    gate = Terminal(_cli(folder, "listen", "--direction", "entry"))
    terminals.append(gate)

    # Each wait names a text near the bottom of the screen, so the frame it reads is painted whole.
    ready = gate.wait_for("READY — SCAN", "offline gate (provisioned from a bundle)", "Danh sách / Lists")
    gate.type_line(ticket)
    accepted = gate.wait_for("✔ ACCEPT · MỜI QUA", "vào/entry ✔ 1 ✖ 0")
    accepted_colours = gate.coloured()
    gate.type_line(cccd_qr())
    card = gate.wait_for("Compare with the card:", "vào/entry ✔ 2 ✖ 0")
    gate.type_line(ticket)  # the same ticket again: it is inside already
    denied = gate.wait_for("✖ DENY · TỪ CHỐI", "vào/entry ✔ 2 ✖ 1")
    denied_colours = gate.coloured()
    gate.resize(80, 24)
    wait_until(lambda: _redrawn_at(gate.screen(), 24), timeout=SCREEN_TIMEOUT, what="a redrawn 80x24 screen")
    small = gate.wait_for("✖ DENY · TỪ CHỐI", "Already inside (no exit recorded)")
    gate.keys("C-d")  # the end of input ends the shift
    ended = gate.wait_for("exit status")

    assert "offline gate (provisioned from a bundle)" in ready
    assert "⚠ Gate clock never checked — sync the gate" in ready  # never measured against the server
    assert "revocations" in ready
    assert "passes" in ready
    assert sum(BLOCK * 4 in line for line in accepted.splitlines()) >= 5  # block letters, 5 dots high
    assert "Mời qua" in accepted
    assert "Go ahead" in accepted
    assert "single L1-01 → L1-05" in accepted
    assert GREEN_BACKGROUND in accepted_colours
    assert RED_BACKGROUND not in accepted_colours
    assert "CCCD 0793******34 · NTM · sinh năm / born 2003" in card
    assert "Vé đang ở trong ga (chưa ra)" in denied
    assert "Already inside (no exit recorded)" in denied
    assert "ACCEPT" not in denied
    assert RED_BACKGROUND in denied_colours
    assert GREEN_BACKGROUND not in denied_colours
    assert sum(BLOCK * 4 in line for line in small.splitlines()) >= 5
    assert all(len(line) <= 80 for line in small.splitlines())
    assert "listen stopped (L1-01-G1): entry: 2 accepted, 1 denied; exit: 0 accepted, 0 denied" in ended
    assert "exit status 1" in ended  # a denial, as the plain listen reports it
    for screen in (ready, accepted, card, denied, small, ended):
        assert CCCD_NUMBER not in screen  # what the scanner typed is not echoed


def test_listen_plain_on_a_terminal_prints_lines_and_never_echoes_what_the_scanner_types(
    tmp_path: Path, terminals: list[Terminal]
) -> None:
    issuer = TestIssuer()
    issuer.add_pass(valid_from=datetime.now(UTC) - timedelta(days=1))
    folder = _offline_gate(tmp_path, issuer)
    gate = Terminal(_cli(folder, "listen", "--direction", "entry", "--plain"))
    terminals.append(gate)

    gate.wait_for("listening at gate L1-01-G1 (entry): one code per line, Ctrl-D to stop")
    gate.type_line(cccd_qr())
    shown = gate.wait_for("✔ ACCEPT · MỜI QUA", "CCCD 0793******34 · NTM · sinh năm / born 2003")
    gate.keys("C-d")
    ended = gate.wait_for("exit status 0")

    assert BLOCK not in shown  # lines, not the full screen
    assert "Nguyễn Thị Mẫu" not in ended
    assert CCCD_NUMBER not in ended


def test_a_fare_owed_settled_and_an_override_from_a_second_terminal_show_on_the_listening_screen(
    tmp_path: Path, terminals: list[Terminal]
) -> None:
    issuer = TestIssuer()
    short = issuer.ticket(origin=101, destination=103, fare_vnd=6000, issued_at=datetime.now(UTC))[1]
    folder = _offline_gate(tmp_path, issuer, station="L1-09")
    gate = Terminal(_cli(folder, "listen", "--direction", "exit"))
    terminals.append(gate)

    gate.wait_for("READY — SCAN")
    gate.type_line(short)  # paid to L1-03, leaving at L1-09
    owed = gate.wait_for("✖ DENY · TỪ CHỐI", "THU THÊM / FARE OWED:", "--method cash|vietqr --agent ID")
    hint = re.search(r"→ settle --last --collected (\d+) --method", owed)
    assert hint is not None, owed
    second_terminal = [
        _cli(folder, "settle", "--last", "--method", "cash", "--collected", hint[1], "--agent", "A17"),
        _cli(folder, "override", "admit", "--reason", "evacuation", "--agent", "A17", "--direction", "exit"),
    ]
    settle = subprocess.run(
        second_terminal[0], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    settled = gate.wait_for("✔ ACCEPT · MỜI QUA", "ĐÃ THU / COLLECTED:", "ra/exit ✔ 1 ✖ 1")
    override = subprocess.run(
        second_terminal[1], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert override.returncode == 0, override.stdout + override.stderr
    by_hand = gate.wait_for("THỦ CÔNG / BY HAND: CHO QUA / ADMITTED · NV / agent A17", "ra/exit ✔ 2 ✖ 1")

    assert (settle.returncode, override.returncode) == (0, 0), settle.stderr + override.stderr
    amount = f"{int(hint[1]):,}".replace(",", ".")
    assert f"THU THÊM / FARE OWED: {amount} ₫" in owed
    assert f"ĐÃ THU / COLLECTED: {amount} ₫ · tiền mặt / cash · NV / agent A17" in settled
    assert "single L1-01 → L1-03" in settled
    assert "FARE OWED" not in settled
    assert "Sơ tán khẩn cấp / Evacuation" in by_hand


def test_a_monochrome_display_still_shows_the_verdict_in_block_letters_and_words(
    tmp_path: Path, terminals: list[Terminal]
) -> None:
    folder = _offline_gate(tmp_path, TestIssuer())
    gate = Terminal(["env", "NO_COLOR=1", *_cli(folder, "listen", "--direction", "entry")])
    terminals.append(gate)

    gate.wait_for("READY — SCAN")
    gate.type_line("MQR:garbage")
    shown = gate.wait_for("✖ DENY · TỪ CHỐI", "Ticket code damaged or incomplete")

    assert sum(BLOCK * 4 in line for line in shown.splitlines()) >= 5
    assert RED_BACKGROUND not in gate.coloured()


def test_listen_on_a_dumb_terminal_prints_lines(tmp_path: Path, terminals: list[Terminal]) -> None:
    folder = _offline_gate(tmp_path, TestIssuer())
    gate = Terminal(["env", "TERM=dumb", *_cli(folder, "listen", "--direction", "entry")])
    terminals.append(gate)

    gate.wait_for("listening at gate L1-01-G1 (entry)")
    gate.type_line("MQR:garbage")
    shown = gate.wait_for("✖ DENY · TỪ CHỐI", "Ticket code damaged or incomplete")

    assert BLOCK not in shown


def _buy_single(server: ServerProcess) -> str:
    item = {"product": "single", "origin": "L1-01", "destination": "L1-05"}
    order = httpx.post(f"{server.url}/v1/orders", json={"items": [item]}).json()
    paid = httpx.post(
        f"{server.url}/v1/sandbox/orders/{order['id']}/pay",
        headers={"Authorization": f"Bearer {order['access_token']}"},
    )
    return str(paid.json()["tickets"][0]["qr_payload"])


def test_a_gate_whose_clock_is_ten_minutes_slow_shows_the_clock_warning_and_the_failed_sync(
    tmp_path: Path, terminals: list[Terminal]
) -> None:
    _need("faketime", "faketime")
    folder = tmp_path / "gate"
    with running(ServerProcess(tmp_path / "server")) as server:
        code = server.cli("gates", "add", "--station", "L1-01", "--gate", "L1-01-G1").strip().splitlines()[-1]
        enroll = _cli(folder, "enroll", "--server", server.url, "--code", code)
        subprocess.run(enroll, cwd=ROOT, capture_output=True, check=True, timeout=60)
        ticket = _buy_single(server)  # bought a moment ago, by the issuer's clock
        listen = _cli(folder, "listen", "--direction", "entry", "--sync-interval", "1")
        gate = Terminal(["faketime", "-f", "-10m", *listen])
        terminals.append(gate)

        warned = gate.wait_for("⚠ Gate clock is 10 min behind — call maintenance", "clock_off")
        gate.type_line(ticket)
        denied = gate.wait_for("✖ DENY · TỪ CHỐI", "vào/entry ✔ 0 ✖ 1")

    assert "⚠ Đồng hồ cổng chậm 10 phút — báo kỹ thuật" in warned
    assert "✖ FAILED" in warned  # the background sync, refused while the clock is off
    assert "Vé chưa đến ngày hiệu lực" in denied
    assert "Ticket not yet valid" in denied
    assert "Gate clock is 10 min behind — call maintenance" in denied
