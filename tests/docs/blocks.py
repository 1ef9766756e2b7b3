"""The shell and Python blocks of the user-facing Markdown, each with the marker that says how the
docs test treats it: run for real (`<!-- docs-run: ... -->`) or shown only
(`<!-- illustrative: reason -->`). A block without a marker is an error, so a new command cannot
reach the docs without a decision about whether a test runs it.

Marker grammar, on the last non-blank line before the fence (shell words, as `shlex` reads them):

    <!-- docs-run: [scorer] [exit=N] [expect=TEXT ...] -->
    <!-- illustrative: why it is not run, and which test covers it if one does -->

`scorer` asks for a running `loan-scorer run` (Kafka loop and HTTP API) on the test broker;
`exit` is the exit status the block ends with (default 0); each `expect` must appear in its output.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

REPO: Final = Path(__file__).resolve().parents[2]
RUNNABLE_LANGUAGES: Final = frozenset({"sh", "bash", "shell", "console", "python", "py"})
FIXTURES: Final = frozenset({"scorer"})
_FENCE: Final = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
_MARKER: Final = re.compile(r"^\s*<!--\s*(docs-run|illustrative)\s*:?(.*?)-->\s*$")


class MarkerError(ValueError):
    """A marker the runner cannot read: an unknown word, an illustrative block without a reason."""


@dataclass(frozen=True)
class Marker:
    runs: bool
    reason: str = ""
    fixtures: frozenset[str] = frozenset()
    exit_status: int = 0
    expect: tuple[str, ...] = ()


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    marker: Marker | None = field(default=None, compare=False)

    @property
    def where(self) -> str:
        shown = self.path.relative_to(REPO) if self.path.is_relative_to(REPO) else self.path
        return f"{shown}:{self.line}"


def parse_marker(text: str) -> Marker | None:
    """The marker on one line, None when the line is not a marker."""
    match = _MARKER.match(text)
    if match is None:
        return None
    kind, body = match.group(1), match.group(2).strip()
    if kind == "illustrative":
        if not body:
            raise MarkerError("an illustrative block needs a reason")
        return Marker(runs=False, reason=body)
    fixtures: set[str] = set()
    exit_status = 0
    expect: list[str] = []
    for word in shlex.split(body):
        key, _, value = word.partition("=")
        if key == "exit" and value.isdigit():
            exit_status = int(value)
        elif key == "expect" and value:
            expect.append(value)
        elif word in FIXTURES:
            fixtures.add(word)
        else:
            raise MarkerError(f"unknown docs-run word {word!r}")
    return Marker(True, "", frozenset(fixtures), exit_status, tuple(expect))


def parse_blocks(path: Path, text: str) -> list[Block]:
    """Every fenced block of a runnable language, with its marker (or None)."""
    lines = text.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence, language = opening.groups()
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        if language.lower() in RUNNABLE_LANGUAGES:
            body = "\n".join(line.removeprefix(indent) for line in lines[index + 1 : end])
            blocks.append(
                Block(path, index + 1, language.lower(), body, _marker_above(lines, index))
            )
        index = end + 1
    return blocks


def unlabelled_fences(text: str) -> list[int]:
    """Lines of opening fences without a language: a command could hide there unchecked."""
    found: list[int] = []
    inside = False
    for number, line in enumerate(text.splitlines(), start=1):
        opening = _FENCE.match(line)
        if opening is None:
            continue
        if not inside and not opening.group(3):
            found.append(number)
        inside = not inside
    return found


def _marker_above(lines: list[str], fence_index: int) -> Marker | None:
    above = fence_index - 1
    while above >= 0 and not lines[above].strip():
        above -= 1
    return parse_marker(lines[above]) if above >= 0 else None


def documented_files() -> list[Path]:
    """The pages a user is told to run commands from."""
    return [
        REPO / "README.md",
        *sorted((REPO / "docs").glob("*.md")),
        REPO / "examples" / "README.md",
    ]


def documented_blocks() -> list[Block]:
    return [
        block
        for path in documented_files()
        for block in parse_blocks(path, path.read_text(encoding="utf-8"))
    ]


if __name__ == "__main__":  # `python -m tests.docs.blocks`: every block and what the test does
    for block in documented_blocks():
        marker = block.marker
        verdict = (
            "NO MARKER"
            if marker is None
            else f"runs {' '.join(sorted(marker.fixtures))}".rstrip()
            if marker.runs
            else f"illustrative: {marker.reason}"
        )
        print(f"{block.where}: {verdict}")
