"""The event contracts of loan-scorer: what it reads, what it writes, and how it dead-letters.

See schemas/README.md. The names below are the public API; the consumer needs only these.
"""

from schemas.application_v1 import (
    Applicant,
    Finances,
    HomeOwnership,
    JobType,
    Loan,
    LoanApplicationSubmitted,
    MaritalStatus,
)
from schemas.dead_letter import (
    DeadLetterContext,
    dead_letter_headers,
    parse_dead_letter_headers,
    with_dead_letter_headers,
)
from schemas.decode import MAX_EVENT_BYTES, decode_application, decode_loan_scored
from schemas.encode import encode_application, encode_loan_scored
from schemas.errors import (
    DeadLetterReason,
    EventDecodeError,
    InvalidJsonError,
    OversizeError,
    SchemaViolationError,
    UnsupportedVersionError,
)
from schemas.score_v1 import Decision, LoanScored, Reason, RiskGrade, loan_scored_for

__all__ = [
    "MAX_EVENT_BYTES",
    "Applicant",
    "DeadLetterContext",
    "DeadLetterReason",
    "Decision",
    "EventDecodeError",
    "Finances",
    "HomeOwnership",
    "InvalidJsonError",
    "JobType",
    "Loan",
    "LoanApplicationSubmitted",
    "LoanScored",
    "MaritalStatus",
    "OversizeError",
    "Reason",
    "RiskGrade",
    "SchemaViolationError",
    "UnsupportedVersionError",
    "dead_letter_headers",
    "decode_application",
    "decode_loan_scored",
    "encode_application",
    "encode_loan_scored",
    "loan_scored_for",
    "parse_dead_letter_headers",
    "with_dead_letter_headers",
]
