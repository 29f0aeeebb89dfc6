"""A holder's full CCCD number and the service's secrets never come back in an answer, an error included;
on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.gate_sync import enrolled_gate
from support.issuing import HOLDER, Api, bearer, monthly

from ticketing.settings import SECRET_FIELDS


@pytest.mark.parametrize(
    ("holder", "code"),
    [
        ({"cccd": "079303001234", "birth_date": "1990-01-01"}, "cccd_birth_year_mismatch"),
        ({"cccd": "999303001234"}, "cccd_province"),
        ({"cccd": "07930300123"}, "cccd_format"),
        ({"cccd": 79303001234}, "invalid_request"),
    ],
)
def test_a_refused_cccd_is_never_echoed_in_the_error(api: Api, holder: dict[str, object], code: str) -> None:
    answer = api.order({**monthly(), "holder": {**HOLDER, **holder}})

    assert (answer.status_code, answer.json()["code"]) == (422, code)
    assert str(holder["cccd"]) not in answer.text
    assert str(holder["cccd"])[4:10] not in answer.text


def test_the_full_cccd_is_in_no_answer_a_rider_or_a_gate_gets(api: Api, tmp_path: Path) -> None:
    order = api.paid_order(monthly())
    ticket_id = order["tickets"][0]["id"]
    gate = enrolled_gate(api, tmp_path)

    with gate.http() as http:
        answers = [
            api.client.get(f"/v1/orders/{order['id']}", headers=bearer(order["access_token"])).text,
            api.client.get(f"/v1/tickets/{ticket_id}", headers=bearer(order["access_token"])).text,
            http.get("/v1/gate/passes").text,
            str(order),
        ]

    assert [HOLDER["cccd"] in text for text in answers] == [False] * 4
    assert '"holder_masked":"0793******34"' in answers[0].replace(" ", "")


def test_no_secret_of_the_service_is_in_any_public_or_rider_answer(api: Api) -> None:
    order = api.paid_order(monthly())
    texts = [
        api.client.get(path).text for path in ("/v1/network", "/v1/keys", "/openapi.json", "/v1/nothing-here")
    ]
    texts.append(api.client.get(f"/v1/orders/{order['id']}", headers=bearer(order["access_token"])).text)

    leaked = {name for name in SECRET_FIELDS for text in texts if api.settings.secret(name).decode() in text}

    assert leaked == set()
