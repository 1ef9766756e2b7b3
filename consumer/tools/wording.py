"""How the commands count things in their result lines: `1 record`, `2 records`."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`1 record`, `2 records`, `0 records`; `plural` for a noun that does not take an s."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
