"""What a run may leave untested, by name and with its reason, never as a silent skip.

A test that cannot run where it is (a service that does not answer there) calls
`ci_exception(NAME)` with a name listed here; the skip message starts with `CI exception NAME`,
and tests/conftest.py prints every one at the end of the run, counted, under a heading of its
own. A new exception needs a line here, and so a review.
"""

from __future__ import annotations

from typing import Final, NoReturn

import pytest

PREFIX: Final = "CI exception "

KNOWN: Final[dict[str, str]] = {
    "vulnerability-audit": (
        "no vulnerability service (PyPI's per-version JSON API, api.osv.dev) answers on a "
        "machine limited to package indexes, as .ci/run's is; GitHub Actions' audit job runs it "
        "(scripts/audit-deps.sh)"
    ),
}


def ci_exception(name: str) -> NoReturn:
    """Skip this test as the named, known exception (ValueError for a name not in KNOWN)."""
    if name not in KNOWN:
        raise ValueError(f"unknown CI exception {name!r}: add it to tests/ci_exceptions.py")
    pytest.skip(f"{PREFIX}{name}: {KNOWN[name]}")


def named_exceptions(skip_messages: list[str]) -> list[str]:
    """The names of the CI exceptions among skip messages, in order, repeats kept (counted)."""
    names = []
    for message in skip_messages:
        _, found, rest = message.partition(PREFIX)
        if found:
            names.append(rest.split(":", 1)[0])
    return names
