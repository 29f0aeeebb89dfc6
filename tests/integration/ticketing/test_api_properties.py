"""Property tests over every request body of the API, in process (TestClient) on SQLite and PostgreSQL:
whatever arrives, the answer is never a 5xx, and every refusal is `{"code", "detail"}`. Journal uploads that
are refused store nothing. Bodies come from the service's own OpenAPI schema (support/schema_strategies.py),
from arbitrary JSON, and from mutations of valid journal batches; all of them often draw the values that
reached a column or datetime arithmetic unchecked before (NUL characters, calendar limits, integers past 64
bits, booleans for integers: support/json_strategies.py), as do the audit filters, which the schema omits."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support.gate_sync import EnrolledGate, count_events, enrolled_gate, fake_events
from support.issuing import WEBHOOK_SECRET, Api, Clock, bearer, make_settings, seed, truncate
from support.json_strategies import EDGE_TEXTS, json_values, mutate
from support.schema_strategies import from_schema

from ticketing.app import create_app
from ticketing.payments.webhook import sign_notification
from validator.journal import BATCH_DOMAIN, build_batch
from validator.wire import b64url_encode, canonical_json

PROPERTIES = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


@dataclass
class World:
    api: Api
    gate: EnrolledGate
    spec: dict[str, Any]

    def check(self, response: httpx.Response) -> None:
        """The contract every answer keeps: no 5xx; a refusal carries a string code and detail."""
        assert response.status_code < 500, response.text
        event(
            f"{response.request.url.path.split('/')[2]}: {response.status_code}"
        )  # --hypothesis-show-statistics
        if response.status_code >= 400:
            body = response.json()
            assert isinstance(body.get("code"), str), body
            assert isinstance(body.get("detail"), str), body


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # One app per engine for the whole module: hypothesis runs hundreds of examples, a fresh database each
    # would dominate the run. The properties hold whatever earlier examples left behind.
    folder = tmp_path_factory.mktemp("api-properties")
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), folder / "metro.db")
        url = f"sqlite:///{folder / 'metro.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        truncate(url)
    app = create_app(make_settings(url, folder), clock=Clock())
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client, app.state.clock, seed(url, b"test-passphrase"), url, app.state.settings)
        yield World(api, enrolled_gate(api, folder, "L1-01", "L1-01-G1"), app.openapi())
    app.state.engine.dispose()


def _headers(world: World, who: str) -> dict[str, str]:
    tokens = {"admin": world.api.admin_token, "gate": world.gate.token, "nobody": ""}
    return bearer(tokens[who]) if tokens[who] else {}


def _body_operations(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(path, JSON schema) of every operation with a JSON request body."""
    found = []
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                found.append((path, content["application/json"]["schema"]))
    return found


def _post_paths(spec: dict[str, Any]) -> list[str]:
    return sorted(p for p, ops in spec["paths"].items() if "post" in ops)


def test_every_json_body_of_the_openapi_schema_is_covered(world: World) -> None:
    paths = {path for path, _ in _body_operations(world.spec)}

    assert paths == {
        "/v1/orders",
        "/v1/holders/check",
        "/v1/orders/recover",
        "/v1/admin/gates",
        "/v1/admin/passes/{pass_id}/revoke",
        "/v1/admin/tariffs",
        "/v1/admin/free-riders",
        "/v1/admin/free-riders/{entry_id}/end",
        "/v1/gate/enroll",
        "/v1/gate/journal",
    }


@PROPERTIES
@given(data=st.data(), who=st.sampled_from(["admin", "gate", "nobody"]))
def test_bodies_drawn_from_the_openapi_schema_are_answered_without_a_server_error(
    world: World, data: st.DataObject, who: str
) -> None:
    for path, schema in _body_operations(world.spec):
        body = data.draw(from_schema(schema, world.spec), label=path)

        world.check(world.api.client.post(path, json=body, headers=_headers(world, who)))


@PROPERTIES
@given(
    data=st.data(),
    body=json_values,
    who=st.sampled_from(["admin", "gate", "nobody"]),
    segment=st.text(min_size=1, max_size=40).filter(lambda s: s not in {".", ".."}),
)
def test_any_json_body_to_any_post_endpoint_is_answered_without_a_server_error(
    world: World, data: st.DataObject, body: Any, who: str, segment: str
) -> None:
    path = data.draw(st.sampled_from(_post_paths(world.spec)), label="path")
    if path.startswith("/v1/admin/keys"):
        who = "nobody"  # a key rotation per example would only slow the run; its refusal is still checked
    segment = quote(segment, safe="")  # any text, as a client would send it
    url = path.replace("{order_id}", segment).replace("{ticket_id}", segment).replace("{pass_id}", segment)
    url = url.replace("{gate_id}", segment).replace("{kid}", segment)

    world.check(world.api.client.post(url, json=body, headers=_headers(world, who)))


@PROPERTIES
@given(
    raw=st.binary(max_size=300), path=st.sampled_from(["/v1/orders", "/v1/gate/journal", "/v1/admin/gates"])
)
def test_a_body_that_is_not_json_is_refused_with_a_code(world: World, raw: bytes, path: str) -> None:
    headers = {"content-type": "application/json", **_headers(world, "gate" if "gate/" in path else "admin")}

    world.check(world.api.client.post(path, content=raw, headers=headers))


@PROPERTIES
@given(body=st.binary(max_size=300) | json_values.map(canonical_json))
def test_a_correctly_signed_webhook_with_any_body_is_answered_without_a_server_error(
    world: World, body: bytes
) -> None:
    stamp = int(world.api.clock().timestamp())
    signature = sign_notification(body, WEBHOOK_SECRET.encode(), stamp)

    world.check(
        world.api.client.post("/v1/payments/notify", content=body, headers={"x-signature": signature})
    )


@PROPERTIES
@given(body=json_values)
def test_any_json_uploaded_as_a_journal_is_refused_with_a_code_and_stores_nothing(
    world: World, body: Any
) -> None:
    before = count_events(world.api)

    answer = world.api.client.post("/v1/gate/journal", json=body, headers=_headers(world, "gate"))

    world.check(answer)
    assert answer.status_code >= 400
    assert count_events(world.api) == before


def _resigned(world: World, batch: Any) -> Any:
    """The batch signed again by the gate's own key (a corrupted store signs whatever it holds)."""
    if not isinstance(batch, dict):
        return batch
    signed = BATCH_DOMAIN + canonical_json(
        {"format": batch.get("format"), "gate": batch.get("gate"), "events": batch.get("events")}
    )
    return {**batch, "signature": b64url_encode(world.gate.key.sign(signed))}


@PROPERTIES
@given(data=st.data(), resign=st.booleans())
def test_a_mutated_journal_batch_is_refused_with_a_code_and_a_refused_batch_stores_nothing(
    world: World, data: st.DataObject, resign: bool
) -> None:
    valid = build_batch(world.gate.gate_id, fake_events(world.gate.gate_id, 3), world.gate.key)
    batch = mutate(data, valid)
    if resign:
        batch = _resigned(world, batch)
    before = count_events(world.api)

    answer = world.api.client.post("/v1/gate/journal", json=batch, headers=_headers(world, "gate"))

    world.check(answer)
    if answer.status_code != 200:
        assert count_events(world.api) == before
    else:
        sent = [e.get("seq") for e in batch["events"] if isinstance(e, dict)]
        assert [r["seq"] for r in answer.json()["results"]] == sent


AUDIT_PATHS = ["scans", "trips", "reports/ridership", "reports/revenue", "reports/od", "anomalies"]
FILTERS = ["from", "to", "station", "gate", "ticket", "order", "verdict", "reason", "cursor", "limit", "kind"]


@PROPERTIES
@given(
    path=st.sampled_from(AUDIT_PATHS),
    values=st.dictionaries(
        st.sampled_from(FILTERS),
        st.sampled_from(EDGE_TEXTS) | st.text(max_size=30) | st.integers(),
        max_size=4,
    ),
    csv=st.booleans(),
)
def test_any_audit_filter_value_is_answered_without_a_server_error(
    world: World, path: str, values: dict[str, Any], csv: bool
) -> None:
    params = {**{k: str(v) for k, v in values.items()}, **({"format": "csv"} if csv else {})}

    world.check(world.api.client.get(f"/v1/audit/{path}", params=params, headers=_headers(world, "admin")))
