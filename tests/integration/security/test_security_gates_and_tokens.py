"""Gates cannot speak for one another, and a revoked gate or operator token stops at its next request;
on both engines."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session
from support.gate_sync import count_events, enrolled_gate, fake_events, gate_client, post_batch
from support.issuing import Api, bearer
from support.security import operator_token

from ticketing.db import make_engine
from ticketing.models import Role
from ticketing.services.api_tokens import revoke_token
from validator.device import load_or_create_device_key, public_key_text
from validator.journal import build_batch


def test_a_gate_replaying_another_gates_signed_batch_under_its_own_token_stores_nothing(
    api: Api, tmp_path: Path
) -> None:
    g1 = enrolled_gate(api, tmp_path, gate_id="L1-01-G1")
    g2 = enrolled_gate(api, tmp_path, gate_id="L1-01-G2")
    batch = build_batch(g1.gate_id, fake_events(g1.gate_id, 2), g1.key)  # G1's genuine, signed batch

    with g2.http() as http:
        replayed = http.post("/v1/gate/journal", json=batch)

    assert (replayed.status_code, replayed.json()["code"]) == (403, "wrong_gate")
    assert count_events(api) == 0


def test_a_gate_relabelling_its_own_events_as_another_gates_is_refused(api: Api, tmp_path: Path) -> None:
    g1 = enrolled_gate(api, tmp_path, gate_id="L1-01-G1")
    g2 = enrolled_gate(api, tmp_path, gate_id="L1-01-G2")

    with g2.http() as http:
        answer = http.post(
            "/v1/gate/journal", json=build_batch(g1.gate_id, fake_events(g1.gate_id, 1), g2.key)
        )

    assert (answer.status_code, answer.json()["code"]) == (403, "wrong_gate")
    assert count_events(api) == 0


def test_a_revoked_gate_can_neither_sync_nor_upload_nor_enrol_again(api: Api, tmp_path: Path) -> None:
    gate = enrolled_gate(api, tmp_path, gate_id="L1-01-G1")
    pending = post_batch(gate, fake_events(gate.gate_id, 1))
    revoked = api.client.post(f"/v1/admin/gates/{gate.gate_id}/revoke", headers=bearer(api.admin_token))
    new_code = api.client.post(
        "/v1/admin/gates", json={"station": "L1-01", "gate_id": gate.gate_id}, headers=bearer(api.admin_token)
    )

    with gate.http() as http:
        after = {
            path: http.get(path).status_code
            for path in ("/v1/gate/revocations", "/v1/gate/passes", "/v1/gate/events")
        }
        upload = post_batch(gate, fake_events(gate.gate_id, 2))

    assert (pending.status_code, revoked.status_code) == (200, 200)
    assert after == dict.fromkeys(after, 401)
    assert (upload.status_code, upload.json()["code"]) == (401, "unauthorized")
    assert (new_code.status_code, new_code.json()["code"]) == (409, "gate_exists")  # ids are never reused
    assert count_events(api) == 1


def test_a_gate_token_works_for_one_gate_only_and_a_device_key_enrols_once(api: Api, tmp_path: Path) -> None:
    gate = enrolled_gate(api, tmp_path, gate_id="L1-01-G1")
    code = api.client.post(
        "/v1/admin/gates", json={"station": "L1-01", "gate_id": "L1-01-G2"}, headers=bearer(api.admin_token)
    ).json()["code"]

    with gate_client(api) as http:
        same_key = http.post(
            "/v1/gate/enroll", json={"code": code, "device_public_key": public_key_text(gate.key)}
        )

    assert (same_key.status_code, same_key.json()["code"]) == (422, "device_key_in_use")


def test_a_revoked_operator_token_is_refused_at_its_next_request(api: Api) -> None:
    token_id, token = operator_token(api, Role.ADMIN)
    before = api.client.get("/v1/admin/gates", headers=bearer(token)).status_code
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        revoke_token(session, token_id)
    engine.dispose()

    after = api.client.get("/v1/admin/gates", headers=bearer(token))

    assert before == 200
    assert (after.status_code, after.json()["code"]) == (401, "unauthorized")


def test_an_enrolment_code_is_useless_once_its_gate_is_revoked(api: Api, tmp_path: Path) -> None:
    code = api.client.post(
        "/v1/admin/gates", json={"station": "L1-01", "gate_id": "L1-01-G3"}, headers=bearer(api.admin_token)
    ).json()["code"]
    api.client.post("/v1/admin/gates/L1-01-G3/revoke", headers=bearer(api.admin_token))

    with gate_client(api) as http:
        answer = http.post(
            "/v1/gate/enroll",
            json={"code": code, "device_public_key": public_key_text(load_or_create_device_key(tmp_path))},
        )

    assert (answer.status_code, answer.json()["code"]) == (403, "bad_code")
