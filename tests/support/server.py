"""The real issuing server for e2e tests: `python -m ticketing serve` as a process on a free port, its data
folder initialised by `python -m ticketing init`; and `wait_until`, to poll for a condition, not sleep."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest

__all__ = ["ROOT", "ServerProcess", "free_port", "running", "wait_until"]

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
POLL_INTERVAL = 0.05


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Poll `condition` until it holds; fail the test, naming `what`, if it does not within `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:  # a bound on waiting, not a speed check
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(POLL_INTERVAL)


class ServerProcess:
    """`python -m ticketing serve` on one data folder (and database), in its own process group so a signal
    reaches all of it; stoppable, killable and restartable on the same port. `init_if_missing`: no `init`
    here but `serve --init-if-missing` (as `make run` does), and so no admin token to hand out."""

    def __init__(
        self, data_dir: Path, database_url: str | None = None, *, init_if_missing: bool = False
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("METRO_")}
        if database_url is not None:
            self.env["METRO_DATABASE_URL"] = database_url
        self.process: subprocess.Popen[bytes] | None = None
        self.serve_args = ["--init-if-missing"] if init_if_missing else []
        self.clock: str | None = None  # a faketime offset ("+49h") the next start() serves under
        self.admin_token = ""
        if not init_if_missing:
            init = self.cli("init")
            self.admin_token = next(
                line.rsplit(" ", 1)[1] for line in init.splitlines() if line.startswith("admin token")
            )

    def cli(self, *args: str) -> str:
        """`python -m ticketing --data-dir <folder> ARGS...`; its standard output."""
        command = [sys.executable, "-m", "ticketing", "--data-dir", str(self.data_dir), *args]
        done = subprocess.run(
            command, cwd=ROOT, env=self.env, capture_output=True, text=True, check=True, timeout=60
        )
        return done.stdout

    @property
    def log(self) -> str:
        path = self.data_dir / "server.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def start(self) -> None:
        """Start serving; return once `GET /v1/network` answers 200, fail the test if it never does."""
        command = [sys.executable, "-m", "ticketing", "serve", "--port", str(self.port)]
        env = self.env
        if self.clock is not None:
            command = ["faketime", "-f", self.clock, *command]
            env = {**env, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}  # timeouts keep real time
        with (self.data_dir / "server.log").open("ab") as log:  # the child keeps its own copy of the handle
            self.process = subprocess.Popen(
                [*command, "--data-dir", str(self.data_dir), *self.serve_args],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._up():
            if self.process.poll() is not None or time.monotonic() > deadline:  # start-up bound
                self.kill()
                pytest.fail(f"the server did not start:\n{self.log[-3000:]}")
            time.sleep(POLL_INTERVAL)

    def _up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/v1/network", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        """SIGTERM: a clean shutdown."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL, no goodbye: what a power cut or the OOM killer does."""
        self._signal(signal.SIGKILL)

    def _signal(self, signum: signal.Signals) -> None:
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)
        self.process.wait(timeout=10)
        self.process = None


@contextmanager
def running(server: ServerProcess) -> Iterator[ServerProcess]:
    """The server started for the block, killed after it."""
    server.start()
    try:
        yield server
    finally:
        server.kill()
