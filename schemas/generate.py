"""Write the JSON Schema files of the contracts: `python -m schemas.generate [--check]`.

The committed files are what other teams read; `--check` (and tests/schemas/test_generate.py)
fails when they no longer match the models, so the two cannot silently drift apart.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.application_v1 import LoanApplicationSubmitted
from schemas.decode import MAX_EVENT_BYTES
from schemas.outcome_v1 import LoanOutcome
from schemas.score_v1 import LoanScored

JSON_DIR = Path(__file__).resolve().parent / "json"
CONTRACTS: dict[str, type[BaseModel]] = {
    "loan_application_submitted.v1.json": LoanApplicationSubmitted,
    "loan_scored.v1.json": LoanScored,
    "loan_outcome.v1.json": LoanOutcome,
}
# What the decoder checks that JSON Schema has no keyword for, said where a reader of the file
# looks (tests/schemas/test_schema_differential.py lists these as its documented exceptions).
COMMENTS: dict[str, str] = {
    "loan_application_submitted.v1.json": (
        f"A record value above {MAX_EVENT_BYTES} bytes (16 KiB, UTF-8) is dead-lettered as "
        "`oversize` before it is parsed: JSON Schema cannot bound a document's size in bytes. "
        "`occurred_at` must also be a real calendar date (2024-02-30 is rejected), which its "
        "pattern alone does not check; a validator checking `format: date-time` does. "
        "Integers may be written 36 or 36.0 (JSON Schema's integer is a whole value); "
        "36.5 is not an integer. "
        "The size is measured on the bytes as sent (a list element of `POST /v1/score` too). "
        "The document must be JSON as RFC 8259 and I-JSON (RFC 7493) define it, in every field, "
        "unknown fields included: the literals NaN, Infinity and -Infinity are refused "
        "(`invalid_json`), and so is a string holding a \\uD800-\\uDFFF escape that is not "
        "half of a surrogate pair (it is no Unicode character and cannot be written as UTF-8); "
        "JSON Schema has no keyword for the escapes of every string of a document. "
        "Numbers are read as IEEE 754 binary64 doubles, rounded to the nearest: `maximum` is "
        "the largest finite double (a literal rounding to it is that double, a larger one is "
        "infinite and refused), and a literal below the smallest double, such as 1e-400, is 0. "
        "`occurred_at` years run from 0001 to 9999 (its pattern says so)."
    ),
}


def render(file_name: str, model: type[BaseModel]) -> str:
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:loan-scorer:schemas:{file_name.removesuffix('.json')}",
        **model.model_json_schema(mode="validation"),
    }
    if file_name in COMMENTS:
        schema["$comment"] = COMMENTS[file_name]
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rendered(out_dir: Path = JSON_DIR) -> dict[Path, str]:
    return {out_dir / name: render(name, model) for name, model in CONTRACTS.items()}


def stale_files(out_dir: Path = JSON_DIR) -> list[Path]:
    return [
        path
        for path, text in rendered(out_dir).items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.generate", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if any file is out of date")
    parser.add_argument("--out", type=Path, default=JSON_DIR, help="directory to write to")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.out)
        for path in stale:
            print(f"out of date: {path} (run python -m schemas.generate)", file=sys.stderr)
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for path, text in rendered(args.out).items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
