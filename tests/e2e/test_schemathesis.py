"""schemathesis against the real server (`python -m ticketing serve`, SQLite in a temp folder), from the
server's own OpenAPI schema: no 5xx, and every answer conforms to the schema (status, content type,
headers, body). Each operation runs anonymously and with the credential its path needs (admin, gate)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, GenerationMode, checks
from schemathesis.core.result import Err, Ok

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    def __init__(self, base_url: str, admin_token: str, gate_token: str) -> None:
        self.base_url = base_url
        self.admin_token = admin_token
        self.gate_token = gate_token

    def headers_for(self, path: str) -> dict[str, str]:
        """The credential a path needs, so generated requests get past authentication and reach the code."""
        if path.startswith(("/v1/admin/", "/v1/audit/")):
            return {"Authorization": f"Bearer {self.admin_token}"}
        if path.startswith("/v1/gate/") and path != "/v1/gate/enroll":
            return {"Authorization": f"Bearer {self.gate_token}"}
        return {}


def _command(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "ticketing", "--data-dir", str(data_dir), *args]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("schemathesis-server")
    env = {k: v for k, v in os.environ.items() if not k.startswith("METRO_")}
    init = subprocess.run(
        _command(data_dir, "init"), cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    admin_token = re.search(r"admin token .*: (\S+)", init.stdout)
    assert admin_token is not None, init.stdout
    port = _free_port()
    process = subprocess.Popen(
        [*_command(data_dir, "serve"), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            _wait_until_up(client, process)
            gate_token = _enrolled_gate_token(client, admin_token.group(1))
        yield Server(base_url, admin_token.group(1), gate_token)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


def _wait_until_up(client: httpx.Client, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if client.get("/v1/network").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the server did not start: {process.stderr.read() if process.stderr else b''!r}")
        time.sleep(0.1)


def _enrolled_gate_token(client: httpx.Client, admin_token: str) -> str:
    import tempfile

    from validator.device import load_or_create_device_key, public_key_text

    created = client.post(
        "/v1/admin/gates",
        json={"station": "L1-01", "gate_id": "L1-01-G1"},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    with tempfile.TemporaryDirectory() as folder:
        key = public_key_text(load_or_create_device_key(Path(folder)))
    enrolled = client.post("/v1/gate/enroll", json={"code": created.json()["code"], "device_public_key": key})
    token: str = enrolled.json()["token"]
    return token


def _fuzz(server: Server, operation: APIOperation[Any, Any, Any, Any], mode: GenerationMode) -> str | None:
    """None, or what went wrong with this operation (schemathesis' report: the check, the request as curl)."""

    @settings(
        max_examples=25,
        deadline=None,  # a real server on a busy CI machine: bounded by examples, not by time per example
        derandomize=True,  # the same cases on every run: a failure can be replayed
        phases=[Phase.explicit, Phase.generate],  # no shrinking: schemathesis reports the request as curl
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        case.call_and_validate(base_url=server.base_url, headers=server.headers_for(case.path), checks=CHECKS)

    try:
        run()
    except Unsatisfiable:  # negative mode: nothing in this operation can be made invalid (no parameters)
        return None
    except (Exception, BaseExceptionGroup) as error:  # schemathesis groups its failures (BaseExceptionGroup)
        return f"{operation.label}: {str(error).strip()[:1500]}"
    return None


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_the_api_never_answers_5xx_and_always_as_its_schema_says(
    server: Server, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]

    failures = [f"invalid schema: {r.err()}" for r in results if isinstance(r, Err)]
    failures += [failure for op in operations if (failure := _fuzz(server, op, mode)) is not None]

    assert len(operations) >= 25
    assert failures == [], "\n\n".join(failures)
