"""Logged exceptions keep their class and stack, never their message (it may quote the input)."""

from __future__ import annotations

from typing import Any

from consumer.telemetry.logs import safe_traceback, withhold_exception_messages


def _raised() -> BaseException:
    try:
        try:
            raise KeyError("applicant-77")
        except KeyError as inner:
            raise ValueError("monthly_income=4817.93 is bad") from inner
    except ValueError as error:
        return error


def test_a_chained_exception_keeps_classes_and_frames_only() -> None:
    text = safe_traceback(_raised())

    assert "builtins.KeyError: (message withheld)" in text
    assert "builtins.ValueError: (message withheld)" in text
    assert text.index("KeyError") < text.index("ValueError")  # the cause first, as Python does
    assert "in _raised" in text
    assert "applicant-77" not in text
    assert "4817" not in text


def test_the_processor_replaces_exc_info_in_every_form() -> None:
    error = _raised()
    for exc_info in (error, (type(error), error, error.__traceback__)):
        event: dict[str, Any] = {"event": "boom", "exc_info": exc_info}
        result = withhold_exception_messages(None, "error", event)
        assert "exc_info" not in result
        assert "ValueError: (message withheld)" in result["exception"]
        assert "4817" not in result["exception"]


def test_a_line_without_an_exception_is_left_alone() -> None:
    event: dict[str, Any] = {"event": "fine", "exc_info": None}
    assert withhold_exception_messages(None, "info", event) == {"event": "fine"}
