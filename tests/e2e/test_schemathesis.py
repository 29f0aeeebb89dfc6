"""schemathesis against the real server (`python -m ticketing serve`, on SQLite in a temp folder and on
PostgreSQL), from the server's own OpenAPI schema: no 5xx, and every answer conforms to the schema (status,
content type, headers, body). Each operation runs anonymously and with the credential its path needs (admin,
gate). Generated strings include NUL characters (schemathesis' `allow_x00`, on by default and set here so it
stays so): PostgreSQL refuses them in text, and the service must answer 400 first."""

from __future__ import annotations

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
from support.issuing import truncate
from support.server import ServerProcess, running

pytestmark = pytest.mark.e2e
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]


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


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    database_url = None
    if request.param == "postgresql":
        database_url = request.getfixturevalue("postgres_url")
        truncate(database_url)
    folder = tmp_path_factory.mktemp("schemathesis-server")
    with running(ServerProcess(folder, database_url)) as started:
        with httpx.Client(base_url=started.url, timeout=10) as client:
            gate_token = _enrolled_gate_token(client, started.admin_token)
        yield Server(started.url, started.admin_token, gate_token)


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
    schema.config.generation.update(allow_x00=True)
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]

    failures = [f"invalid schema: {r.err()}" for r in results if isinstance(r, Err)]
    failures += [failure for op in operations if (failure := _fuzz(server, op, mode)) is not None]

    assert len(operations) >= 25
    assert failures == [], "\n\n".join(failures)
