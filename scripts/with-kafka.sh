#!/usr/bin/env bash
# Run a command against a Kafka broker: the one named by LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS if
# set, otherwise a local broker started for the command and stopped after it, whatever the exit.
#
# Usage: scripts/with-kafka.sh COMMAND [ARGS...]
# Environment: KAFKA_PORT (default 19092 so a demo broker on 9092 is left alone).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ -n "${LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
  exec "$@"
fi

export KAFKA_PORT="${KAFKA_PORT:-19092}"
started=0
cleanup() { if ((started)); then "$HERE/kafka-local.sh" down || true; fi; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! "$HERE/kafka-local.sh" status 2>/dev/null; then
  "$HERE/kafka-local.sh" up
  started=1
fi
export LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT"
"$@"
