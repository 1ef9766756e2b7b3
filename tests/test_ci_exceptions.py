"""CI exceptions are named, known and counted: the summary finds them among skip messages."""

from __future__ import annotations

import pytest

from tests.ci_exceptions import KNOWN, ci_exception, named_exceptions


def test_a_known_exception_skips_with_its_name_and_reason() -> None:
    with pytest.raises(pytest.skip.Exception) as skipped:
        ci_exception("vulnerability-audit")
    message = str(skipped.value)
    assert message.startswith("CI exception vulnerability-audit: ")
    assert KNOWN["vulnerability-audit"] in message
    assert named_exceptions([message, "an ordinary skip", message]) == [
        "vulnerability-audit",
        "vulnerability-audit",
    ]


def test_an_unknown_exception_is_refused_not_skipped() -> None:
    with pytest.raises(ValueError, match="unknown CI exception"):
        ci_exception("anything-else")
