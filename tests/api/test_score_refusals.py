"""Every way `POST /v1/score` says no: the status, the field named, and never the value sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from consumer.api.app import create_app
from consumer.api.request_body import MAX_APPLICATIONS, MAX_BODY_BYTES
from consumer.api.worker import ScoringWorker
from consumer.runtime.assets import ScoringAssets
from schemas.decode import MAX_EVENT_BYTES
from schemas.examples import MISSING, example_application
from tests.api.credentials import AUTH, authenticated_state

JSON = {"content-type": "application/json"}
PERSONAL_VALUE = "SSN-123-45-6789"


def post_raw(client: TestClient, body: bytes | Iterator[bytes], **headers: str) -> Any:
    return client.post("/v1/score", content=body, headers={**JSON, **headers})


def test_a_field_of_the_wrong_type_is_named_and_its_value_not_echoed(client: TestClient) -> None:
    response = client.post("/v1/score", json=example_application(applicant={"age": PERSONAL_VALUE}))

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "schema_violation"
    assert body["fields"] == ["applicant.age"]
    assert "applicant.age" in body["message"]
    assert PERSONAL_VALUE not in response.text


def test_numbers_as_strings_are_refused_as_on_the_stream(client: TestClient) -> None:
    response = client.post("/v1/score", json=example_application(loan={"amount": "1000"}))

    assert response.status_code == 422
    assert response.json()["fields"] == ["loan.amount"]


def test_every_missing_field_is_named(client: TestClient) -> None:
    response = client.post(
        "/v1/score", json=example_application(application_id=MISSING, loan={"term_months": MISSING})
    )

    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"application_id", "loan.term_months"}


def test_another_major_version_is_unsupported(client: TestClient) -> None:
    response = client.post("/v1/score", json=example_application(schema_version="2.0"))

    assert response.status_code == 422
    assert response.json()["error"] == "unsupported_version"


def test_one_invalid_element_refuses_the_list_naming_its_index(client: TestClient) -> None:
    body = [example_application(), example_application(finances={"debt": PERSONAL_VALUE}), 7]

    response = client.post("/v1/score", json=body)

    assert response.status_code == 422
    assert response.json()["fields"] == ["[1].finances.debt", "[2]"]
    assert PERSONAL_VALUE not in response.text


@pytest.mark.parametrize("count", [0, MAX_APPLICATIONS + 1])
def test_a_list_must_hold_one_to_the_maximum(client: TestClient, count: int) -> None:
    response = client.post("/v1/score", json=[example_application()] * count)

    assert response.status_code == 422
    assert response.json()["fields"] == ["(root)"]


@pytest.mark.parametrize("body", [b"", b"{", b"[1,", b"\xff\xfe", b"[NaN]", b"nul"])
def test_a_body_that_is_not_json_is_a_400(client: TestClient, body: bytes) -> None:
    response = post_raw(client, body)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_only_json_is_accepted(client: TestClient, content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    body = orjson.dumps(example_application())

    response = client.post("/v1/score", content=body, headers=headers)

    assert response.status_code == 415


def test_json_with_a_charset_parameter_is_json(client: TestClient) -> None:
    body = orjson.dumps(example_application())

    response = post_raw(client, body, **{"content-type": "application/json; charset=utf-8"})

    assert response.status_code == 200


def test_a_declared_length_over_the_limit_is_refused_before_reading(client: TestClient) -> None:
    response = post_raw(client, b"{}", **{"content-length": str(MAX_BODY_BYTES + 1)})

    assert response.status_code == 413
    assert response.json()["error"] == "oversize"


def test_a_chunked_body_over_the_limit_is_refused(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        chunk = b" " * 64 * 1024
        for _ in range(MAX_BODY_BYTES // len(chunk) + 2):
            yield chunk

    response = post_raw(client, chunks())

    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


def test_one_application_over_the_event_limit_is_refused(client: TestClient) -> None:
    # Unknown fields are ignored by the contract, but they still count against the size limit.
    padded = example_application(padding="x" * MAX_EVENT_BYTES)

    assert client.post("/v1/score", json=padded).status_code == 413
    assert client.post("/v1/score", json=[example_application(), padded]).status_code == 413


def test_before_the_model_loads_scoring_is_a_503_with_a_reason(
    loading_client: TestClient,
) -> None:
    response = loading_client.post("/v1/score", json=example_application())

    assert response.status_code == 503
    assert response.json()["error"] == "model_not_loaded"
    assert int(response.headers["retry-after"]) > 0


def test_when_the_admission_is_full_scoring_is_a_503(assets: ScoringAssets, key_file: Path) -> None:
    state = authenticated_state(key_file, scoring=ScoringWorker(max_in_flight=1))
    state.assets.set(assets)
    client = TestClient(create_app(state), headers=AUTH)

    with state.scoring.admit():
        response = client.post("/v1/score", json=example_application())

    assert response.status_code == 503
    assert response.json()["error"] == "busy"
    assert client.post("/v1/score", json=example_application()).status_code == 200
