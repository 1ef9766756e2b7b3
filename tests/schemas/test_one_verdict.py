"""One verdict everywhere: the published schema, the stream's decoder (plain and framed),
`POST /v1/score` (one application and a list) and `loan-scorer validate` judge every input alike.

Hypothesis builds valid applications from the contract (tests/schemas/strategies.py), breaks them
the ways test_schema_differential.py does, and then breaks their bytes in the ways a dict cannot
(a NaN or an overflowing number anywhere, unknown fields included; year 0000; unpaired surrogate
escapes; whitespace across the 16 KiB limit; a BOM; raw control characters). The decoder, the
API's two paths and `validate` must give the same answer with the same reason on every input;
the schema must give the same answer except where JSON Schema cannot say the rule, each listed in
schemas/README.md ("One verdict") and the schema's `$comment`.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]  # no stubs installed

from consumer.api.problems import ApiError
from consumer.api.request_body import parse_score_request
from consumer.tools.validate_events import validate_file
from schemas.application_v1 import RFC3339_PATTERN
from schemas.decode import MAX_EVENT_BYTES, decode_application
from schemas.errors import EventDecodeError
from schemas.examples import example_application
from schemas.fields import FLOAT_MAX
from schemas.generate import JSON_DIR
from schemas.wire import FramedApplicationDecoder, WriterSchema, frame
from tests.schemas.strategies import NUMBER_FIELDS, applications
from tests.schemas.test_schema_differential import PATTERNED, Mutation, mutations

SCHEMA = json.loads((JSON_DIR / "loan_application_submitted.v1.json").read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
ACCEPTED = "accepted"
RAW = "__raw_literal__"
# Above FLOAT_MAX, an integer literal still rounds down to it below this (half an ulp above).
ROUNDS_TO_FLOAT_MAX = 2**1024 - 2**970

# -- breaking the bytes --------------------------------------------------------------------------

_NON_JSON = ["NaN", "Infinity", "-Infinity"]
_NUMBER_LITERALS = [
    "1e400",
    "-1e400",
    "1e308",
    "1.7976931348623157e308",
    "1.7976931348623158e308",  # rounds to the largest double
    "1.7976931348623159e308",  # rounds to infinity
    "1" + "0" * 309,
    "1e-400",
    "-0",
    "0E0",
    "1E2",
    "36.000000000000001",
]
_STRINGS = [
    r'"\ud800"',
    r'"\udfff"',
    r'"x\ud83d"',
    r'"\ude00\ud83d"',
    r'"\ud83d\ude00"',  # a pair: one character, valid
    r'"caf\u00e9"',
    '"tab\there"',  # a raw control character: not JSON
    r'"\u0000"',
]
_YEARS = ["0000", "0001", "0999", "1000", "9999"]

_UNKNOWN_PLACES: list[tuple[str, ...]] = [("x_extra",), ("applicant", "x_extra"), ("loan", "x")]
_NUMBER_PLACES = [(section, field) for section, field, _ in NUMBER_FIELDS]
_STRING_PLACES: list[tuple[str, ...]] = [
    ("application_id",),
    ("applicant", "job_type"),
    ("schema_version",),
    *_UNKNOWN_PLACES,
]


def _put(document: Any, path: tuple[str, ...], value: Any) -> None:
    if not isinstance(document, dict):
        return
    node = document
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            return
        node = child
    node[path[-1]] = value


def _dumps(document: Any, literal: str | None) -> bytes:
    text = json.dumps(document, ensure_ascii=False)
    if literal is not None:
        text = text.replace(json.dumps(RAW), literal)
    return text.encode("utf-8", errors="surrogatepass")


@st.composite
def raw_documents(draw: st.DrawFn, document: Any) -> bytes:
    """`document`'s bytes, with at most one break a dict cannot hold."""
    kind = draw(
        st.sampled_from(
            ["none", "non_json", "number", "string", "year", "pad", "bom", "in_array", "whole"]
        )
    )
    if kind == "non_json":
        place = draw(st.sampled_from([*_UNKNOWN_PLACES, *_NUMBER_PLACES]))
        _put(document, place, RAW)
        return _dumps(document, draw(st.sampled_from(_NON_JSON)))
    if kind == "in_array":
        _put(document, ("x_list",), [1, RAW, {"y": RAW}])
        return _dumps(document, draw(st.sampled_from(_NON_JSON + _NUMBER_LITERALS)))
    if kind == "whole":
        return draw(st.sampled_from(_NON_JSON + _NUMBER_LITERALS)).encode()
    if kind == "number":
        place = draw(st.sampled_from([*_UNKNOWN_PLACES, *_NUMBER_PLACES]))
        _put(document, place, RAW)
        return _dumps(document, draw(st.sampled_from(_NUMBER_LITERALS)))
    if kind == "string":
        _put(document, draw(st.sampled_from(_STRING_PLACES)), RAW)
        return _dumps(document, draw(st.sampled_from(_STRINGS)))
    if kind == "year":
        occurred_at = document.get("occurred_at") if isinstance(document, dict) else None
        if isinstance(occurred_at, str) and re.match(r"[0-9]{4}-", occurred_at):
            document["occurred_at"] = draw(st.sampled_from(_YEARS)) + occurred_at[4:]
        return _dumps(document, None)
    raw = _dumps(document, None)
    if kind == "pad":  # whitespace around the 16 KiB limit: the size is of the bytes as sent
        target = draw(st.integers(MAX_EVENT_BYTES - 3, MAX_EVENT_BYTES + 3))
        padding = max(0, target - len(raw))
        at = draw(st.sampled_from(["front", "inside"]))
        if at == "front":  # a record value may start with whitespace; a list element does not
            return b" " * padding + raw
        return raw[:1] + b"\n" * padding + raw[1:]
    if kind == "bom":
        return b"\xef\xbb\xbf" + raw
    return raw


# -- the verdicts ------------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def schema_accepts(raw: bytes) -> bool:
    """What a producer validating with the published schema concludes: the bytes must be JSON
    (UTF-8, no NaN or Infinity) and the document must be valid."""
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except ValueError:
        return False
    return bool(VALIDATOR.is_valid(document))


def stream_verdict(raw: bytes) -> str:
    try:
        decode_application(raw)
    except EventDecodeError as error:
        return error.reason.value
    return ACCEPTED


def framed_stream_verdict(raw: bytes) -> str:
    """The stream with a registry, the value framed by a schema id the registry holds."""
    decoder = FramedApplicationDecoder(lambda schema_id: WriterSchema(schema_id, 1))
    try:
        decoder(frame(7, raw))
    except EventDecodeError as error:
        return error.reason.value
    return ACCEPTED


# A list body that is not JSON as a whole cannot be split into elements: it is refused before
# any element is judged, so only the refusal (not the element's own reason) is compared.
BODY_NOT_JSON = "invalid_json (the whole body)"


def api_verdict(body: bytes) -> str:
    try:
        parse_score_request(body)
    except ApiError as error:
        if error.body.error == "invalid_json" and error.body.message.startswith("The body "):
            return BODY_NOT_JSON
        return error.body.error
    return ACCEPTED


def validate_verdict(raw: bytes) -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "event.json"
        path.write_bytes(raw)
        verdict = validate_file(path)
    return verdict.reason or ACCEPTED


def documented_exception(raw: bytes) -> str | None:
    """Why the schema may rightly disagree with the decoder on `raw` (schemas/README.md)."""
    if len(raw) > MAX_EVENT_BYTES:
        return "oversize"  # JSON Schema cannot bound a document's size in bytes
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except ValueError:
        return None
    if any(_lone_surrogate(text) for text in _strings(document)):
        return "unpaired surrogate escape"  # JSON Schema has no keyword for every string's escapes
    if any(FLOAT_MAX < number < ROUNDS_TO_FLOAT_MAX for number in _integers(document)):
        return "integer literal rounding down to the largest double"
    if not isinstance(document, dict):
        return None
    occurred_at = document.get("occurred_at")
    if isinstance(occurred_at, str) and re.fullmatch(RFC3339_PATTERN[1:-1], occurred_at):
        try:
            datetime.fromisoformat(occurred_at.upper())
        except ValueError:
            return "impossible calendar date"  # the oracle does not check `format: date-time`
    for field in PATTERNED:
        value = document.get(field)
        if isinstance(value, str) and value.endswith("\n"):
            return "trailing newline under Python's re"  # the oracle's `$`, not ECMA-262's
    return None


def _lone_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(char) <= 0xDFFF for char in text)


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [*node, *(text for value in node.values() for text in _strings(value))]
    if isinstance(node, list):
        return [text for item in node for text in _strings(item)]
    return []


def _integers(node: Any) -> list[int]:
    if isinstance(node, bool):
        return []
    if isinstance(node, int):
        return [node]
    if isinstance(node, dict):
        return [number for value in node.values() for number in _integers(value)]
    if isinstance(node, list):
        return [number for item in node for number in _integers(item)]
    return []


def verdicts(raw: bytes, whitespace: bytes = b" ") -> dict[str, str]:
    """Every reader's verdict on `raw` as one record value (and as a list element)."""
    found = {
        "stream": stream_verdict(raw),
        "stream, framed": framed_stream_verdict(raw),
        "validate": validate_verdict(raw),
    }
    if raw.lstrip()[:1] != b"[":  # a JSON array is a list body, judged below as an element
        found["/v1/score"] = api_verdict(raw)
    # In a list, the whitespace around an element belongs to the list: the element is its bytes
    # from first to last, which is what the stream would receive as the record value.
    if raw == raw.strip(_JSON_WHITESPACE):
        found["/v1/score list"] = api_verdict(b"[" + whitespace + raw + whitespace + b"]")
    return found


_JSON_WHITESPACE = b" \t\r\n"


def assert_one_verdict(raw: bytes, whitespace: bytes = b" ") -> str:
    found = verdicts(raw, whitespace)
    verdict = found["stream"]
    if found.get("/v1/score list") == BODY_NOT_JSON and verdict != ACCEPTED:
        del found["/v1/score list"]
    assert len(set(found.values())) == 1, f"{found} on {raw[:300]!r}"
    schema_says = schema_accepts(raw)
    if schema_says != (verdict == ACCEPTED):
        exception = documented_exception(raw)
        assert exception is not None, (
            f"schema says {'valid' if schema_says else 'invalid'}, the readers say {verdict}: "
            f"{raw[:300]!r}"
        )
    return verdict


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(applications(), mutations, st.data(), st.sampled_from([b"", b" ", b"\n\t", b" " * 40]))
@example(application=None, mutation=None, data=None, whitespace=b"")  # the example, untouched
def test_every_reader_and_the_schema_give_one_verdict(
    application: dict[str, Any] | None,
    mutation: Mutation | None,
    data: st.DataObject | None,
    whitespace: bytes,
) -> None:
    document: Any = example_application() if application is None else application
    # One break at a time: a document already broken as a dict would hide a break of its bytes.
    if data is None or data.draw(st.booleans(), label="break the dict, not the bytes"):
        raw = _dumps(document if mutation is None else mutation(document), None)
    else:
        raw = data.draw(raw_documents(document))
    assert_one_verdict(raw, whitespace)


# -- the cases the issue names, each with its expected verdict ----------------------------------


def _with(path: tuple[str, ...], literal: str) -> bytes:
    document = example_application()
    _put(document, path, RAW)
    return _dumps(document, literal)


@pytest.mark.parametrize("literal", _NON_JSON)
@pytest.mark.parametrize("path", [("x_extra",), ("applicant", "x_extra"), ("loan", "amount")])
def test_non_json_literals_are_refused_anywhere(path: tuple[str, ...], literal: str) -> None:
    raw = _with(path, literal)
    expected = "schema_violation" if path == ("loan", "amount") else "invalid_json"
    assert assert_one_verdict(raw) == expected
    assert not schema_accepts(raw)


@pytest.mark.parametrize(
    ("literal", "accepted"),
    [("1e308", True), ("1.7976931348623157e308", True), ("1e400", False), ("1" + "0" * 309, False)],
)
def test_the_float_range_is_the_schemas_maximum(literal: str, accepted: bool) -> None:
    raw = _with(("finances", "assets"), literal)
    assert (assert_one_verdict(raw) == ACCEPTED) is accepted
    assert schema_accepts(raw) is accepted
    assert SCHEMA["$defs"]["Finances"]["properties"]["assets"]["anyOf"][0]["maximum"] == FLOAT_MAX
    assert math.isinf(float("1e400"))


@pytest.mark.parametrize(("year", "accepted"), [("0000", False), ("0001", True), ("9999", True)])
def test_the_year_range_is_in_the_schemas_pattern(year: str, accepted: bool) -> None:
    document = example_application()
    document["occurred_at"] = f"{year}-05-01T12:00:00Z"
    raw = _dumps(document, None)
    assert (assert_one_verdict(raw) == ACCEPTED) is accepted
    assert schema_accepts(raw) is accepted


def test_a_list_element_is_measured_as_sent_not_as_re_serialised() -> None:
    compact = _dumps(example_application(), None)
    element = compact[:1] + b" " * (MAX_EVENT_BYTES + 1 - len(compact)) + compact[1:]
    assert len(element) == MAX_EVENT_BYTES + 1
    assert assert_one_verdict(element) == "oversize"
    assert verdicts(element)["/v1/score list"] == "oversize"
    at_the_limit = element[:1] + element[2:]
    assert assert_one_verdict(at_the_limit) == ACCEPTED


def test_the_documented_exceptions_are_real_and_stated_in_the_schema() -> None:
    """Each exception is a disagreement that exists, and the published `$comment` says so."""
    lone = _with(("x_extra",), r'"\ud800"')
    assert (schema_accepts(lone), assert_one_verdict(lone)) == (True, "invalid_json")
    assert documented_exception(lone) == "unpaired surrogate escape"

    just_above = _with(("finances", "assets"), str(int(FLOAT_MAX) + 2**960))
    assert (schema_accepts(just_above), assert_one_verdict(just_above)) == (False, ACCEPTED)
    assert documented_exception(just_above) == "integer literal rounding down to the largest double"

    comment = SCHEMA["$comment"]
    for stated in ("16384 bytes", "NaN, Infinity and -Infinity", "\\uD800-\\uDFFF", "IEEE 754"):
        assert stated in comment, stated
    assert "0001 to 9999" in comment
