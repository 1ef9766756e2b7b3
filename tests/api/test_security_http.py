"""Issue 12, through the real HTTP server (uvicorn on a port, httpx and raw sockets as clients):
who may score, per-client rate limits, slow uploads, credential rotation, closed documentation."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from consumer.api.api_keys import StoredKey, new_key
from consumer.api.app import create_app
from consumer.api.auth import Authenticator
from consumer.api.rate_limit import RateLimiter
from consumer.api.state import ApiState
from consumer.runtime.assets import ScoringAssets
from consumer.runtime.service import new_metrics
from consumer.telemetry.readiness import Readiness
from schemas.examples import example_application
from tests.api.live_server import client, serving, wait_until
from tests.api.token_issuer import AUDIENCE, ISSUER, TokenIssuer

APPLICATION = orjson.dumps(example_application())
JSON = {"content-type": "application/json"}

SCORER_KEY, SCORER_STORED = new_key("crm", frozenset({"score"}))
READER_KEY, READER_STORED = new_key("analytics", frozenset({"model:read"}))
OTHER_KEY, OTHER_STORED = new_key("branch-office", frozenset({"score"}))


def write_keys(path: Path, *stored: StoredKey) -> None:
    path.write_text("".join(f"{s.line()}\n" for s in stored))


@pytest.fixture(scope="module")
def issuer() -> TokenIssuer:
    return TokenIssuer()


def make_state(
    assets: ScoringAssets,
    keys_file: Path,
    jwks_file: Path | None = None,
    *,
    rate: RateLimiter | None = None,
    body_timeout_s: float = 10.0,
) -> ApiState:
    state = ApiState(
        readiness=Readiness(),
        metrics=new_metrics(),
        auth=Authenticator.from_files(
            enabled=True,
            keys_file=keys_file,
            jwks_file=jwks_file,
            issuer=ISSUER if jwks_file else None,
            audience=AUDIENCE if jwks_file else None,
        ),
        rate_limiter=rate or RateLimiter(1000.0, 1000),
        body_timeout_s=body_timeout_s,
    )
    state.assets.set(assets)
    return state


@pytest.fixture
def api(assets: ScoringAssets, tmp_path: Path, issuer: TokenIssuer) -> Iterator[str]:
    keys = tmp_path / "keys"
    write_keys(keys, SCORER_STORED, READER_STORED)
    state = make_state(assets, keys, issuer.write_jwks(tmp_path / "jwks.json"))
    with serving(create_app(state)) as base_url:
        yield base_url


def score(base_url: str, authorization: str | None) -> httpx.Response:
    headers = dict(JSON)
    if authorization is not None:
        headers["authorization"] = authorization
    with client(base_url) as http:
        return http.post("/v1/score", content=APPLICATION, headers=headers)


def test_a_valid_key_or_token_with_the_score_scope_is_served(api: str, issuer: TokenIssuer) -> None:
    by_key = score(api, f"Bearer {SCORER_KEY}")
    by_token = score(api, f"Bearer {issuer.token(scope='openid score')}")

    assert by_key.status_code == 200, by_key.text
    assert by_token.status_code == 200, by_token.text
    assert by_key.json()["application_id"] == example_application()["application_id"]
    assert len(by_key.headers["x-request-id"]) >= 8


def test_every_bad_credential_gets_the_same_401_that_names_no_part(
    api: str, issuer: TokenIssuer
) -> None:
    stranger = TokenIssuer(kid="k1")  # same kid, another key: a forged signature
    refused = {
        "no header": score(api, None),
        "not bearer": score(api, f"Basic {SCORER_KEY}"),
        "wrong key": score(api, f"Bearer {new_key('crm', frozenset({'score'}))[0]}"),
        "key with a typo": score(api, f"Bearer {SCORER_KEY[:-1]}x"),
        "expired token": score(api, f"Bearer {issuer.token(lifetime_s=-120)}"),
        "badly signed token": score(api, f"Bearer {stranger.token()}"),
        "other issuer": score(api, f"Bearer {issuer.token(iss='https://evil.example')}"),
        "other audience": score(api, f"Bearer {issuer.token(aud='another-api')}"),
        "unsigned token": score(api, f"Bearer {_unsigned(issuer.token())}"),
    }

    bodies = {name: response.content for name, response in refused.items()}
    for name, response in refused.items():
        assert response.status_code == 401, name
        assert response.headers["content-type"] == "application/problem+json", name
        assert response.headers["www-authenticate"] == 'Bearer realm="loan-scorer"', name
    assert len(set(bodies.values())) == 1, bodies  # byte for byte the same answer
    problem = refused["no header"].json()
    assert problem["status"] == 401
    assert problem["title"] == "Unauthorized"
    for hint in ("expired", "signature", "issuer", "audience", "unknown", "scope", "key"):
        assert hint not in problem["detail"].lower()


def _unsigned(token: str) -> str:
    """The same token, valid in every other respect (exp, iss, aud, scope, kid), as `alg: none`
    without a signature."""
    _header, body, _signature = token.split(".")
    header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"k1","typ":"JWT"}').rstrip(b"=")
    return f"{header.decode()}.{body}."


def test_a_credential_without_the_score_scope_gets_403(api: str, issuer: TokenIssuer) -> None:
    by_key = score(api, f"Bearer {READER_KEY}")
    by_token = score(api, f"Bearer {issuer.token(scope='model:read')}")

    assert by_key.status_code == 403
    assert by_token.status_code == 403
    assert by_key.content == by_token.content
    assert by_key.headers["content-type"] == "application/problem+json"


def test_the_policy_section_needs_model_read(api: str) -> None:
    with client(api) as http:
        scorer = http.get("/v1/model", headers={"authorization": f"Bearer {SCORER_KEY}"})
        reader = http.get("/v1/model", headers={"authorization": f"Bearer {READER_KEY}"})
        nobody = http.get("/v1/model")

    assert scorer.status_code == 200
    assert scorer.json()["policy"] is None
    assert reader.status_code == 200
    assert reader.json()["policy"]["cutoffs"]
    assert nobody.status_code == 401


def test_probes_and_metrics_need_no_credential(api: str) -> None:
    with client(api) as http:
        assert http.get("/healthz").status_code == 200
        assert http.get("/readyz").status_code in (200, 503)  # no broker here; but not 401
        metrics = http.get("/metrics")
    assert metrics.status_code == 200
    assert "loan_scorer_http_requests_total" in metrics.text


def test_a_rotated_key_works_without_a_restart(assets: ScoringAssets, tmp_path: Path) -> None:
    """The Kubernetes Secret way: the key file is a symlink through `..data`, swapped atomically."""
    secret_dir = tmp_path / "secret"
    secret_dir.mkdir()
    (secret_dir / "v1").mkdir()
    write_keys(secret_dir / "v1" / "keys", SCORER_STORED)
    (secret_dir / "..data").symlink_to("v1")
    (secret_dir / "keys").symlink_to("..data/keys")
    state = make_state(assets, secret_dir / "keys")
    rotated_key, rotated_stored = new_key("crm", frozenset({"score"}))

    with serving(create_app(state)) as base_url:
        assert score(base_url, f"Bearer {SCORER_KEY}").status_code == 200
        assert score(base_url, f"Bearer {rotated_key}").status_code == 401

        (secret_dir / "v2").mkdir()
        write_keys(secret_dir / "v2" / "keys", rotated_stored)
        (secret_dir / "..data_tmp").symlink_to("v2")
        (secret_dir / "..data_tmp").replace(secret_dir / "..data")  # atomic, as kubelet does

        wait_until(
            lambda: score(base_url, f"Bearer {rotated_key}").status_code == 200,
            "the rotated key was not accepted without a restart",
            bound_s=10.0,
        )
        assert score(base_url, f"Bearer {SCORER_KEY}").status_code == 401


def test_one_client_over_its_rate_gets_429_while_another_is_served(
    assets: ScoringAssets, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    write_keys(keys, SCORER_STORED, OTHER_STORED)
    # 3 at once, then one every 100 s: the test cannot refill a bucket by being slow.
    state = make_state(assets, keys, rate=RateLimiter(0.01, 3))

    with serving(create_app(state)) as base_url:
        noisy = [score(base_url, f"Bearer {SCORER_KEY}") for _ in range(5)]
        other = score(base_url, f"Bearer {OTHER_KEY}")

    assert [r.status_code for r in noisy] == [200, 200, 200, 429, 429]
    assert 1 <= int(noisy[3].headers["retry-after"]) <= 100
    assert noisy[3].headers["content-type"] == "application/problem+json"
    assert noisy[3].json()["error"] == "rate_limited"
    assert other.status_code == 200


def _slow_upload(base_url: str, key: str) -> socket.socket:
    """Headers and the first bytes of a body that never completes, like a slowloris client."""
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(
        (
            "POST /v1/score HTTP/1.1\r\n"
            f"Host: {host}\r\n"
            f"Authorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(APPLICATION)}\r\n\r\n"
        ).encode()
        + APPLICATION[:10]
    )
    return sock


def test_eight_slow_uploads_do_not_starve_a_ninth_client(
    assets: ScoringAssets, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    write_keys(keys, SCORER_STORED, OTHER_STORED)
    state = make_state(assets, keys, body_timeout_s=2.0)

    with serving(create_app(state)) as base_url:
        slow = [_slow_upload(base_url, SCORER_KEY) for _ in range(8)]
        try:
            time.sleep(0.3)  # let the server read every header and start on each body
            ninth = score(base_url, f"Bearer {OTHER_KEY}")
            answers = [_read_answer(sock) for sock in slow]
        finally:
            for sock in slow:
                sock.close()

    assert ninth.status_code == 200, ninth.text
    # And the slow ones are cut off by the body-read timeout, not left holding connections.
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in answers), answers


def _read_answer(sock: socket.socket) -> bytes:
    sock.settimeout(15)
    return sock.recv(200)


def test_docs_can_be_switched_off(assets: ScoringAssets, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    write_keys(keys, SCORER_STORED)
    state = make_state(assets, keys)

    with serving(create_app(state, docs=False)) as base_url, client(base_url) as http:
        assert http.get("/docs").status_code == 404
        assert http.get("/openapi.json").status_code == 404
        assert http.get("/healthz").status_code == 200


def test_probes_and_metrics_on_a_port_of_their_own(assets: ScoringAssets, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    write_keys(keys, SCORER_STORED)
    state = make_state(assets, keys)
    api_app = create_app(state, part="api")
    ops_app = create_app(state, part="ops", docs=False)

    with serving(api_app) as api_url, serving(ops_app) as ops_url:
        with client(api_url) as http:
            assert http.get("/metrics").status_code == 404
            assert http.get("/healthz").status_code == 404
            served = http.post(
                "/v1/score",
                content=APPLICATION,
                headers={**JSON, "authorization": f"Bearer {SCORER_KEY}"},
            )
        with client(ops_url) as http:
            assert http.get("/healthz").status_code == 200
            metrics = http.get("/metrics")
            assert http.post("/v1/score", content=APPLICATION, headers=JSON).status_code == 404

    assert served.status_code == 200
    assert 'route="/v1/score",status="200"' in metrics.text


def test_uvicorn_answers_connections_over_its_concurrency_cap_with_503_at_once(
    assets: ScoringAssets, tmp_path: Path
) -> None:
    """Eight uploads against a cap of four: the excess is refused by uvicorn itself, at once
    (well before the 30 s body timeout), so no number of connections holds unbounded memory."""
    keys = tmp_path / "keys"
    write_keys(keys, SCORER_STORED)
    state = make_state(assets, keys, body_timeout_s=30.0)

    with serving(create_app(state), limit_concurrency=4) as base_url:
        opened = [_slow_upload(base_url, SCORER_KEY) for _ in range(8)]
        try:
            answers = [_answer_within(sock, 5.0) for sock in opened]
        finally:
            for sock in opened:
                sock.close()

    refused = [answer for answer in answers if answer.startswith(b"HTTP/1.1 503")]
    assert len(refused) >= 4, answers


def _answer_within(sock: socket.socket, timeout_s: float) -> bytes:
    sock.settimeout(timeout_s)
    try:
        return sock.recv(200)
    except TimeoutError:
        return b""
