"""`array_elements`: each element of a `/v1/score` list body as the bytes sent, so the size limit
and the decoder judge what the stream would receive, never a re-serialised copy."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.api.request_body import array_elements

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)
_whitespace = st.text(alphabet=" \t\r\n", max_size=3)


@given(st.lists(_json_values, min_size=1, max_size=6), st.data())
def test_each_element_is_its_own_bytes_whatever_the_whitespace_and_strings_hold(
    elements: list[Any], data: st.DataObject
) -> None:
    texts = [json.dumps(element, ensure_ascii=data.draw(st.booleans())) for element in elements]
    gaps = [data.draw(_whitespace) for _ in range(2 * len(texts))]
    body = "[" + ",".join(gaps[2 * i] + text + gaps[2 * i + 1] for i, text in enumerate(texts))
    raw = (body + "]").encode()
    assert array_elements(raw) == [text.encode() for text in texts]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'[{"a": "],[{"}, "x,\\"]", 3]', [b'{"a": "],[{"}', b'"x,\\"]"', b"3"]),
        (b'[ {"pad":  1} ]', [b'{"pad":  1}']),  # the inner whitespace counts; the outer not
        (b"[[],[[]]]", [b"[]", b"[[]]"]),
        (b"[]", []),
    ],
)
def test_strings_and_nesting_are_not_structure(body: bytes, expected: list[bytes]) -> None:
    assert array_elements(body) == expected
