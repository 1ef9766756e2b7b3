"""Structured JSON log lines on stderr, one object per line, for log shippers to parse.

What may be logged is decided at the call sites: identifiers (application_id, event_id, topic,
partition, offset), counts and error classes, never an applicant's attributes or a secret. One
rule is enforced here for every logger, ours and the libraries': a logged exception keeps its
class and its stack (file, line, function) but not its message, which may quote the input
(pydantic's `input_value`, numpy's, a library's repr of an argument).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Hashable, MutableMapping
from types import TracebackType
from typing import Any, TextIO

import structlog

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
_MAX_CHAINED = 5

# The logger every Kafka client of the service hands librdkafka (its `logger` setting, in
# consumer/kafka/config.py), so librdkafka's own lines (`%3|...|FAIL|...`, written raw on stderr
# otherwise) become JSON lines like ours. confluent-kafka calls `log(level, "%s [%s] %s",
# facility, client name, text)`, with librdkafka's syslog level mapped to the stdlib's.
LIBRDKAFKA_LOGGER = "librdkafka"
_LIBRDKAFKA_FORMAT = "%s [%s] %s"
# A broker away makes every client log the same failure again at each reconnect: one line per
# kind per window is enough to see it goes on, and the next says how many were held back.
LIBRDKAFKA_REPEAT_WINDOW_S = 30.0
_NUMBERS = re.compile(r"\d+")
# librdkafka's own count of repeats, in the text of the line that follows them.
_ITS_OWN_COUNT = re.compile(r", \d+ identical error\(s\) suppressed")


def librdkafka_logger() -> logging.Logger:
    return logging.getLogger(LIBRDKAFKA_LOGGER)


class RepeatLimiter:
    """Lets the first line of a kind through, then at most one per window; each line let
    through after a quiet spell carries the count of those held back since the last one.

    Kinds are remembered up to `max_kinds` (the least recent forgotten first), so a stream of
    ever-new lines costs bounded memory; a forgotten kind simply passes again.
    """

    def __init__(
        self,
        window_s: float = LIBRDKAFKA_REPEAT_WINDOW_S,
        *,
        max_kinds: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window_s = window_s
        self._max_kinds = max_kinds
        self._clock = clock
        self._lock = threading.Lock()  # clients are polled from several threads
        self._kinds: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()

    def admit(self, kind: Hashable) -> int | None:
        """None: hold this line back; else let it through, saying how many were held back."""
        with self._lock:
            now = self._clock()
            seen = self._kinds.get(kind)
            if seen is not None and now - seen[0] < self._window_s:
                self._kinds[kind] = (seen[0], seen[1] + 1)
                return None
            self._kinds[kind] = (now, 0)
            self._kinds.move_to_end(kind)
            while len(self._kinds) > self._max_kinds:
                self._kinds.popitem(last=False)
            return seen[1] if seen is not None else 0


class LibrdkafkaLines(logging.Filter):
    """Turns confluent-kafka's `(facility, client, text)` call into fields and holds back
    repeats: the text becomes the event, `facility` (FAIL, REQTMOUT, ...) and `kafka_client`
    are fields, `repeats_held_back` counts the lines of the same kind not written since the
    last. Two lines are of one kind when only their numbers differ (timings, counts) and
    librdkafka's own count of suppressed repeats."""

    def __init__(self, limiter: RepeatLimiter) -> None:
        super().__init__()
        self._limiter = limiter

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.msg != _LIBRDKAFKA_FORMAT or not isinstance(args, tuple) or len(args) != 3:
            return True  # not one of librdkafka's: as it is
        facility, client, text = (str(arg) for arg in args)
        kind = _NUMBERS.sub("#", _ITS_OWN_COUNT.sub("", text))
        held_back = self._limiter.admit((client, facility, kind))
        if held_back is None:
            return False
        record.msg, record.args = text, ()
        record.facility = facility
        record.kafka_client = client
        if held_back:
            record.repeats_held_back = held_back
        return True


def withhold_exception_messages(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace `exc_info` with a traceback that names classes and frames only."""
    exc_info = event_dict.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if isinstance(exc_info, tuple) and exc_info[0] is not None:
        event_dict["exception"] = safe_traceback(exc_info[1])
    return event_dict


def safe_traceback(error: BaseException) -> str:
    """The stack and the class of an exception and of those it was raised from, no messages."""
    parts: list[str] = []
    current: BaseException | None = error
    while current is not None and len(parts) < _MAX_CHAINED:
        frames = [
            f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}'
            for frame in traceback.extract_tb(current.__traceback__)
        ]
        kind = type(current)
        withheld = f"{kind.__module__}.{kind.__qualname__}: (message withheld)"
        parts.append("\n".join(["Traceback (most recent call last):", *frames, withheld]))
        current = current.__cause__ or current.__context__
    return "\n\nwhile handling or caused by:\n".join(reversed(parts))


class CurrentStderr(logging.StreamHandler[TextIO]):
    """Writes each line to `sys.stderr` as it is then, not as it was when logging was set up: a
    CLI command run in a test gets its own stderr, which is closed after it, while a librdkafka
    thread of that command may still log ("I/O operation on closed file" on the next one's)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        """StreamHandler sets it; the stream is always the current stderr."""


def configure_logging(level: str = "INFO") -> None:
    """Route structlog and the standard library (uvicorn, librdkafka callbacks) to JSON lines."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            withhold_exception_messages,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = CurrentStderr()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    librdkafka = librdkafka_logger()
    librdkafka.filters[:] = [LibrdkafkaLines(RepeatLimiter())]
    # The audit trail (consumer/telemetry/audit.py) is written whatever LOAN_SCORER_LOG_LEVEL says.
    logging.getLogger("loan_scorer.audit").setLevel(logging.INFO)
    # uvicorn's access log would add a line per scrape of /metrics; our middleware counts requests.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
