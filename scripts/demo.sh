#!/usr/bin/env bash
# The main job end to end on this machine (called by `make demo` inside scripts/with-kafka.sh, so
# LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS names a running broker): topics, the scorer, the real
# applications replayed with a few broken ones, and a summary. Stops the scorer it started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=.venv/bin
export LOAN_SCORER_MODEL_DIR="${LOAN_SCORER_MODEL_DIR:-build/model}"
export LOAN_SCORER_HTTP_HOST="${LOAN_SCORER_HTTP_HOST:-127.0.0.1}"
export LOAN_SCORER_HTTP_PORT="${LOAN_SCORER_HTTP_PORT:-8000}"
export LOAN_SCORER_LOG_LEVEL="${LOAN_SCORER_LOG_LEVEL:-WARNING}"
BROKEN_SHARE="${DEMO_BROKEN_SHARE:-0.02}"
LOG=build/demo-scorer.log
mkdir -p build

# The API is authenticated: make a key for this demo (only its SHA-256 goes into the key file).
KEYS=build/demo-api-keys
key_output="$("$BIN/loan-scorer" api-key create --name demo --scope score --scope model:read 2>/dev/null)"
DEMO_KEY="$(echo "$key_output" | sed -n 1p)"
echo "$key_output" | sed -n 2p >"$KEYS"
export LOAN_SCORER_API_KEYS_FILE="$KEYS"
echo "API key for this demo: client 'demo', scopes score and model:read ($KEYS holds its hash)"

"$BIN/python" - <<'PY'
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from consumer.settings import Settings

s = Settings()
admin = AdminClient(s.kafka_common_config())
wanted = {s.input_topic: 6, s.output_topic: 6, s.dlq_topic: 1}
existing = admin.list_topics(timeout=30).topics
new = [NewTopic(t, num_partitions=n, replication_factor=1) for t, n in wanted.items() if t not in existing]
for future in admin.create_topics(new).values() if new else []:
    future.result(30)
print("topics:", ", ".join(f"{t} ({n} partitions)" for t, n in wanted.items()))
PY

echo "starting the scorer (log: $LOG)"
"$BIN/loan-scorer" run >"$LOG" 2>&1 &
scorer=$!
cleanup() { kill -TERM "$scorer" 2>/dev/null && wait "$scorer" || true; }
trap cleanup EXIT
for _ in $(seq 120); do
  if "$BIN/python" -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:$LOAN_SCORER_HTTP_PORT/readyz').status_code != 200)" 2>/dev/null; then
    break
  fi
  kill -0 "$scorer" 2>/dev/null || { cat "$LOG"; echo "the scorer exited" >&2; exit 1; }
  sleep 0.5
done
echo "scorer ready: http://127.0.0.1:$LOAN_SCORER_HTTP_PORT/readyz"

since_ms="$(($(date +%s) * 1000 - 1000))"
sent="$("$BIN/loan-scorer" produce --broken-share "$BROKEN_SHARE")"
echo "$sent"
total="$(echo "$sent" | awk '{print $2}')"
"$BIN/python" scripts/demo_summary.py "$total" "$since_ms"

echo "an authenticated call: POST /v1/score with 'Authorization: Bearer <key>'"
DEMO_KEY="$DEMO_KEY" "$BIN/python" -c "
import os, httpx
from schemas.examples import example_application_json
url = 'http://127.0.0.1:$LOAN_SCORER_HTTP_PORT/v1/score'
body = example_application_json(application_id='demo-http-1')
headers = {'content-type': 'application/json'}
anonymous = httpx.post(url, content=body, headers=headers)
print(f'  without a key: {anonymous.status_code} {anonymous.json()[\"title\"]}')
headers['authorization'] = 'Bearer ' + os.environ['DEMO_KEY']
score = httpx.post(url, content=body, headers=headers)
s = score.json()
print(f'  with the key:  {score.status_code} {s[\"application_id\"]}: {s[\"decision\"]}, grade {s[\"risk_grade\"]}, PD {s[\"probability_of_default\"]:.3f} (request id {score.headers[\"x-request-id\"]})')
"
echo "  the scorer's audit line for it (no applicant data):"
grep '"api_decision"' "$LOG" | tail -1 | sed 's/^/  /' || true

echo "metrics: http://127.0.0.1:$LOAN_SCORER_HTTP_PORT/metrics, for example:"
"$BIN/python" -c "
import httpx
for line in httpx.get('http://127.0.0.1:$LOAN_SCORER_HTTP_PORT/metrics').text.splitlines():
    if '_created' not in line and line.startswith(('loan_scorer_events_', 'loan_scorer_dead_letters_total', 'loan_scorer_transactions_total', 'loan_scorer_model_info')):
        print('  ' + line)
"
