"""Structured JSON log lines on stderr, one object per line, for log shippers to parse.

What may be logged is decided at the call sites: identifiers (application_id, event_id, topic,
partition, offset), counts and error classes, never an applicant's attributes or a secret. One
rule is enforced here for every logger, ours and the libraries': a logged exception keeps its
class and its stack (file, line, function) but not its message, which may quote the input
(pydantic's `input_value`, numpy's, a library's repr of an argument).
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any

import structlog

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
_MAX_CHAINED = 5


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
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The audit trail (consumer/telemetry/audit.py) is written whatever LOAN_SCORER_LOG_LEVEL says.
    logging.getLogger("loan_scorer.audit").setLevel(logging.INFO)
    # uvicorn's access log would add a line per scrape of /metrics; our middleware counts requests.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
