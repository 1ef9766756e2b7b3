#!/usr/bin/env bash
# pip-audit against poetry.lock, with the exceptions of security/audit-exceptions.toml (reasons
# required). Exit 1 on a known vulnerability, a bad exception, or a lock it could not audit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec .venv/bin/python -m tests.delivery.dependency_audit
