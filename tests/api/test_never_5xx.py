"""Whatever arrives at `POST /v1/score`, the answer is never a 5xx.

Three families of input, sent with a valid API key: arbitrary bytes, arbitrary JSON, and valid
applications with one value replaced by arbitrary JSON (the inputs that get furthest: past
parsing, into validation, and for the ones still valid, into the model). And arbitrary
`Authorization` headers, which are all refused with a 401.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import to_json

from consumer.api.app import create_app
from consumer.config.settings import Settings
from consumer.runtime.assets import load_assets
from schemas.examples import example_application
from tests.api.credentials import AUTH, FULL_STORED, authenticated_state, write_key_file

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # unbounded: past 64 bits too, which some JSON libraries cannot read
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)


@st.composite
def mutated_applications(draw: st.DrawFn) -> dict[str, Any]:
    application = example_application()
    section = draw(st.sampled_from([None, "applicant", "finances", "loan"]))
    target = application if section is None else application[section]
    key = draw(st.sampled_from(sorted(target)))
    if draw(st.booleans()):
        target[key] = draw(json_values)
    else:
        del target[key]
    return application


@pytest.fixture(scope="module")
def fuzz_client(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """Authenticated, so the fuzzed bodies reach the decoder and the scorer (not a 401)."""
    key_file = write_key_file(tmp_path_factory.mktemp("fuzz-keys") / "keys", FULL_STORED)
    state = authenticated_state(key_file)
    state.assets.set(load_assets(Settings.model_validate({"model_dir": model_dir})))
    with TestClient(create_app(state), raise_server_exceptions=False, headers=AUTH) as client:
        yield client


def post(client: TestClient, body: bytes, content_type: str = "application/json") -> int:
    response = client.post("/v1/score", content=body, headers={"content-type": content_type})
    status: int = response.status_code
    return status


@FUZZ
@given(body=st.binary(max_size=512))
def test_arbitrary_bytes_never_5xx(fuzz_client: TestClient, body: bytes) -> None:
    assert post(fuzz_client, body) < 500


@FUZZ
@given(value=json_values)
def test_arbitrary_json_never_5xx(fuzz_client: TestClient, value: Any) -> None:
    assert post(fuzz_client, to_json(value)) < 500


@FUZZ
@given(body=mutated_applications() | st.lists(mutated_applications(), min_size=1, max_size=4))
def test_applications_with_a_value_replaced_never_5xx(fuzz_client: TestClient, body: Any) -> None:
    assert post(fuzz_client, to_json(body)) < 500


@FUZZ
@given(
    # Any text a client can put in a header (no control characters), sent as its UTF-8 bytes, so
    # non-ASCII content types reach the server too instead of being refused by the client.
    content_type=st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40),
    body=st.binary(max_size=64),
)
def test_arbitrary_content_types_never_5xx(
    fuzz_client: TestClient, content_type: str, body: bytes
) -> None:
    response = fuzz_client.post(
        "/v1/score", content=body, headers={b"content-type": content_type.encode()}
    )
    assert response.status_code < 500


@FUZZ
@given(
    authorization=st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=120),
)
def test_arbitrary_authorization_headers_are_refused_never_5xx(
    fuzz_client: TestClient, authorization: str
) -> None:
    response = fuzz_client.post(
        "/v1/score",
        content=to_json(example_application()),
        headers={b"content-type": b"application/json", b"authorization": authorization.encode()},
    )
    assert response.status_code == 401
