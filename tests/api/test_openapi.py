"""The OpenAPI document describes the real contracts, so `/docs` and generated clients are right."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from consumer.api.request_body import MAX_APPLICATIONS


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
    for status in ("400", "413", "415", "422", "503"):
        error = responses[status]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/ErrorBody"}


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
