"""`loan-scorer validate FILE...`: the stream's verdict on event files, offline.

Each file is one record value, judged by the same `decode_application` the scorer runs on every
record, so "valid" here means "will be scored" and "invalid" names the dead-letter reason the
record would get. Nothing touches Kafka or the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from schemas.decode import decode_application
from schemas.errors import EventDecodeError


@dataclass(frozen=True)
class Verdict:
    path: Path
    application_id: str | None  # set when valid
    reason: str | None  # the dead-letter reason when invalid
    message: str | None

    @property
    def valid(self) -> bool:
        return self.reason is None

    def line(self) -> str:
        if self.valid:
            return f"{self.path}: valid (application {self.application_id})"
        return f"{self.path}: invalid: {self.reason}: {self.message}"


def validate_file(path: Path) -> Verdict:
    """The stream's verdict on the file's bytes as one record value."""
    try:
        event = decode_application(path.read_bytes())
    except EventDecodeError as error:
        return Verdict(path, None, error.reason.value, error.message)
    return Verdict(path, event.application_id, None, None)
