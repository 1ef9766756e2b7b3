"""`loan-scorer validate FILE...`: the stream's verdict on event files, offline.

Each file is one record value, judged by the same `decode_application` the scorer runs on every
record, so "valid" here means "will be scored" and "invalid" names the dead-letter reason the
record would get. Nothing touches Kafka or the model.

A file may hold a value in the schema registry's wire format (a zero byte, the schema id, the
JSON), as saved from a topic written with a registry serializer: its JSON is judged the same way.
With a registry configured the id is looked up as the scorer does (an id that is no version of the
input subject is `unknown_schema`); without one the verdict says the id was not checked, and a
registry that cannot answer is "not checked", never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from consumer.kafka.errors import StopScoringError
from schemas.decode import decode_application
from schemas.errors import EventDecodeError
from schemas.wire import FramedApplicationDecoder, unframe


@dataclass(frozen=True)
class Verdict:
    path: Path
    application_id: str | None  # set when valid
    reason: str | None  # the dead-letter reason when invalid
    message: str | None
    framing: str | None = None  # what the wire format said, for a framed file
    unchecked: str | None = None  # why no verdict could be given

    @property
    def valid(self) -> bool:
        return self.reason is None and self.unchecked is None

    def line(self) -> str:
        if self.unchecked is not None:
            return f"{self.path}: not checked: {self.unchecked}"
        if self.reason is not None:
            return f"{self.path}: invalid: {self.reason}: {self.message}"
        framing = f"; {self.framing}" if self.framing else ""
        return f"{self.path}: valid (application {self.application_id}{framing})"


def is_framed(path: Path) -> bool:
    """Whether the file holds a value in the registry's wire format (its first byte is zero)."""
    with path.open("rb") as file:
        return file.read(1) == b"\x00"


def validate_file(path: Path, framed: FramedApplicationDecoder | None = None) -> Verdict:
    """The stream's verdict on the file's bytes as one record value; `framed` is the registry's
    reader of the input topic when one is configured."""
    raw = path.read_bytes()
    try:
        if framed is not None:
            event, writer = framed(raw)
            framing = (
                None
                if writer is None
                else f"framed, schema id {writer.schema_id}, version {writer.version}"
            )
        else:
            schema_id, payload = unframe(raw)
            event = decode_application(payload)
            framing = (
                None
                if schema_id is None
                else f"framed, schema id {schema_id} not checked: no schema registry configured"
            )
    except EventDecodeError as error:
        return Verdict(path, None, error.reason.value, error.message)
    except StopScoringError as error:  # the registry could not say what the schema id is
        return Verdict(path, None, None, None, unchecked=str(error))
    return Verdict(path, event.application_id, None, None, framing)
