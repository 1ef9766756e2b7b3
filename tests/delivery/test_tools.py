"""A missing tool or prerequisite skips on a laptop and fails under CI, never passes."""

from __future__ import annotations

import pytest

from tests.delivery.tools import missing


def test_a_missing_prerequisite_fails_the_run_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        missing("MISSING TOOL 'helm'")


def test_a_missing_prerequisite_skips_loudly_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="MISSING TOOL"):
        missing("MISSING TOOL 'helm'")
