"""Gate enrolment: one-time codes, device keys, gate tokens, revocation; on both engines."""

from __future__ import annotations

from pathlib import Path

from support.gate_sync import add_gate, enrolled_gate, gate_client
from support.issuing import Api, bearer

from validator.device import load_or_create_device_key, public_key_text


def _enrol(api: Api, code: str, key_text: str) -> tuple[int, str]:
    with gate_client(api) as http:
        answer = http.post("/v1/gate/enroll", json={"code": code, "device_public_key": key_text})
    return answer.status_code, answer.json().get("code", "") if answer.status_code != 200 else ""


def test_an_enrolment_code_works_once(api: Api, tmp_path: Path) -> None:
    code = add_gate(api).json()["code"]
    key = public_key_text(load_or_create_device_key(tmp_path / "a"))
    other = public_key_text(load_or_create_device_key(tmp_path / "b"))

    first = _enrol(api, code, key)
    second = _enrol(api, code, other)

    assert first == (200, "")
    assert second == (403, "bad_code")


def test_the_enrolment_answer_names_the_gate_and_carries_the_services_cccd_key(
    api: Api, tmp_path: Path
) -> None:
    gate = enrolled_gate(api, tmp_path, station="L1-03", gate_id="G7")

    state = dict(gate.gate.conn.execute("SELECT key, value FROM station_state").fetchall())

    assert (gate.gate_id, gate.gate.config.station) == ("G7", "L1-03")
    assert state["cccd_hash_key"] == api.settings.secret("cccd_hash_key").hex()
    assert gate.token.startswith("mqg_")


def test_an_unknown_code_is_refused(api: Api, tmp_path: Path) -> None:
    key = public_key_text(load_or_create_device_key(tmp_path))

    assert _enrol(api, "AAAA-BBBB-CCCC-DDDD", key) == (403, "bad_code")


def test_an_expired_code_is_refused(api: Api, tmp_path: Path) -> None:
    code = add_gate(api).json()["code"]
    api.clock.advance(hours=25)

    assert _enrol(api, code, public_key_text(load_or_create_device_key(tmp_path))) == (403, "code_expired")


def test_a_code_is_typed_without_dashes_or_case(api: Api, tmp_path: Path) -> None:
    code = add_gate(api).json()["code"]

    assert (
        _enrol(api, code.replace("-", "").lower(), public_key_text(load_or_create_device_key(tmp_path)))[0]
        == 200
    )


def test_a_device_key_that_is_not_an_ed25519_key_is_refused(api: Api) -> None:
    code = add_gate(api).json()["code"]

    assert _enrol(api, code, "bm90LWEta2V5") == (422, "invalid_request")


def test_a_revoked_gate_is_refused_at_once(api: Api, tmp_path: Path) -> None:
    gate = enrolled_gate(api, tmp_path)
    with gate.http() as http:
        before = http.get("/v1/gate/revocations").status_code
        revoked = api.client.post("/v1/admin/gates/G1/revoke", headers=bearer(api.admin_token))
        after = http.get("/v1/gate/revocations")

    assert before == 200
    assert (revoked.status_code, revoked.json()["status"]) == (200, "revoked")
    assert (after.status_code, after.json()["code"]) == (401, "unauthorized")


def test_gate_endpoints_refuse_a_missing_or_unknown_token(api: Api) -> None:
    with gate_client(api) as anonymous, gate_client(api, "mqg_not-a-token") as stranger:
        assert anonymous.get("/v1/gate/passes").status_code == 401
        assert stranger.get("/v1/gate/events").status_code == 401
        assert stranger.post("/v1/gate/journal", json={}).status_code == 401


def test_gate_administration_needs_an_admin_token(api: Api) -> None:
    anonymous = api.client.post("/v1/admin/gates", json={"station": "L1-01", "gate_id": "G1"})
    listed = api.client.get("/v1/admin/gates")

    assert (anonymous.status_code, listed.status_code) == (401, 401)


def test_a_gate_id_is_never_given_twice(api: Api, tmp_path: Path) -> None:
    enrolled_gate(api, tmp_path, station="L1-01", gate_id="G1")

    again = add_gate(api, "L1-01", "G1")
    elsewhere = add_gate(api, "L1-05", "G1")

    assert (again.status_code, again.json()["code"]) == (409, "gate_exists")
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (409, "gate_exists")


def test_a_gate_that_never_enrolled_gets_a_fresh_code_and_the_old_one_dies(api: Api, tmp_path: Path) -> None:
    old = add_gate(api).json()["code"]
    new = add_gate(api).json()["code"]
    key = public_key_text(load_or_create_device_key(tmp_path))

    assert _enrol(api, old, key) == (403, "bad_code")
    assert _enrol(api, new, key)[0] == 200


def test_a_gate_for_a_station_not_on_the_line_is_refused(api: Api) -> None:
    answer = add_gate(api, "L9-99", "G1")

    assert (answer.status_code, answer.json()["code"]) == (422, "unknown_station")


def test_the_gate_list_shows_status_and_journal_head(api: Api, tmp_path: Path) -> None:
    enrolled_gate(api, tmp_path, gate_id="G1")
    add_gate(api, "L1-02", "G2")

    listed = api.client.get("/v1/admin/gates", headers=bearer(api.admin_token)).json()

    assert [(g["gate_id"], g["status"], g["journal_head"]) for g in listed] == [
        ("G1", "active", 0),
        ("G2", "pending", 0),
    ]
    assert all("code" not in g and "token_hash" not in g for g in listed)
