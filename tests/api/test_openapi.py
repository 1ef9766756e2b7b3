"""The OpenAPI document describes the real contracts, so `/docs` and generated clients are right."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from consumer.api.request_body import MAX_APPLICATIONS
from schemas.examples import example_application

JSON = {"Content-Type": "application/json"}
TEXT = {"Content-Type": "text/plain"}


def resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/components/schemas/")
    schema: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in refs(value)]
    return []


def test_every_route_is_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    assert {"/healthz", "/readyz", "/metrics", "/v1/score", "/v1/model"} <= set(paths)
    assert "post" in paths["/v1/score"]
    assert "get" in paths["/v1/model"]


def test_the_score_request_is_one_application_or_a_bounded_list(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    body = document["paths"]["/v1/score"]["post"]["requestBody"]

    assert body["required"] is True
    one, many = body["content"]["application/json"]["schema"]["anyOf"]
    assert one == {"$ref": "#/components/schemas/LoanApplicationSubmitted"}
    assert many["items"] == one
    assert (many["minItems"], many["maxItems"]) == (1, MAX_APPLICATIONS)
    application = resolve(document, one["$ref"])
    assert {"event_id", "applicant", "finances", "loan"} <= set(application["required"])


def test_the_score_responses_are_the_score_contract_and_the_error_body(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    responses = document["paths"]["/v1/score"]["post"]["responses"]

    ok = responses["200"]["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/LoanScored"} in ok["anyOf"]
    assert (
        "probability_of_default"
        in resolve(document, "#/components/schemas/LoanScored")["properties"]
    )
    for status in ("400", "401", "403", "408", "413", "415", "422", "429", "503"):
        assert responses[status]["content"] == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
        }
    assert "error" in resolve(document, "#/components/schemas/ErrorBody")["properties"]


def test_every_reference_in_the_document_resolves(client: TestClient) -> None:
    document = client.get("/openapi.json").json()

    for ref in refs(document):
        assert resolve(document, ref)


def test_the_model_route_documents_the_card(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    ok = document["paths"]["/v1/model"]["get"]["responses"]["200"]["content"]
    description = resolve(document, ok["application/json"]["schema"]["$ref"])

    assert description["properties"]["card"] == {"$ref": "#/components/schemas/ModelCard"}


def test_the_interactive_docs_are_served(client: TestClient) -> None:
    response = client.get("/docs")

    assert response.status_code == 200
    assert "/openapi.json" in response.text


def _declared(document: dict[str, Any], path: str, method: str, status: int) -> set[str]:
    """The media types the document declares for this answer (none if the status is absent)."""
    responses = document["paths"][path][method]["responses"]
    answer = responses.get(str(status)) or responses.get("default") or {}
    return set(answer.get("content", {}))


def _answer(response: Any) -> tuple[int, str]:
    """(status, media type) of a test client's response."""
    media_type = str(response.headers.get("content-type", "")).split(";")[0].strip()
    return int(response.status_code), media_type


def test_every_answer_is_sent_as_a_media_type_its_status_declares(
    client: TestClient, loading_client: TestClient
) -> None:
    """schemathesis' "Undocumented Content-Type" (ST105) check, over the answers each route can
    give: successes, every refusal we can provoke here, and the probes' 503."""
    document = client.get("/openapi.json").json()
    application = example_application()
    oversize = {**application, "pad": "x" * 20_000}
    calls: list[tuple[str, str, tuple[int, str]]] = [
        ("/healthz", "get", _answer(client.get("/healthz"))),
        ("/readyz", "get", _answer(client.get("/readyz"))),
        ("/readyz", "get", _answer(loading_client.get("/readyz"))),  # 503: not ready
        ("/metrics", "get", _answer(client.get("/metrics"))),
        ("/v1/model", "get", _answer(client.get("/v1/model"))),
        ("/v1/model", "get", _answer(loading_client.get("/v1/model"))),  # 503: no model yet
        (
            "/v1/model",
            "get",
            _answer(client.get("/v1/model", headers={"Authorization": ""})),
        ),  # 401
        ("/v1/score", "post", _answer(client.post("/v1/score", json=application))),
        ("/v1/score", "post", _answer(client.post("/v1/score", json=[application]))),
        ("/v1/score", "post", _answer(client.post("/v1/score", content=b"{", headers=JSON))),  # 400
        ("/v1/score", "post", _answer(client.post("/v1/score", json=oversize))),  # 413
        (
            "/v1/score",
            "post",
            _answer(client.post("/v1/score", content=b"{}", headers=TEXT)),
        ),  # 415
        ("/v1/score", "post", _answer(client.post("/v1/score", json={"applicant": 1}))),  # 422
    ]
    statuses = {status for _path, _method, (status, _media_type) in calls}
    assert {200, 400, 401, 413, 415, 422, 503} <= statuses
    for path, method, (status, media_type) in calls:
        declared = _declared(document, path, method, status)
        assert media_type in declared, (
            f"{method.upper()} {path} answered {status} as {media_type!r}; "
            f"the document declares {sorted(declared)}"
        )


def test_every_refusal_of_every_route_declares_the_problem_media_type(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    refusals = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if not path.startswith("/v1/") or int(status) < 400:
                    continue
                refusals += 1
                assert set(answer["content"]) == {"application/problem+json"}, (
                    f"{method.upper()} {path} {status}: {sorted(answer['content'])}"
                )
    assert refusals >= 12
