#!/usr/bin/env bash
# The main job end to end on this machine (called by `make demo` inside scripts/with-kafka.sh, so
# LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS names a running broker): topics, the scorer (the champion
# and one shadow challenger), the outcomes joiner, the real applications replayed with a few
# broken ones, a summary, their real outcomes replayed, the realised metrics per model and the
# impact report. Stops everything it started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=.venv/bin
export LOAN_SCORER_MODEL_DIR="${LOAN_SCORER_MODEL_DIR:-build/model}"
export LOAN_SCORER_HTTP_HOST="${LOAN_SCORER_HTTP_HOST:-127.0.0.1}"
export LOAN_SCORER_HTTP_PORT="${LOAN_SCORER_HTTP_PORT:-8000}"
export LOAN_SCORER_LOG_LEVEL="${LOAN_SCORER_LOG_LEVEL:-WARNING}"
BROKEN_SHARE="${DEMO_BROKEN_SHARE:-0.02}"
LOG=build/demo-scorer.log
CHALLENGER_DIR="${DEMO_CHALLENGER_DIR:-build/challenger}"
export LOAN_SCORER_OUTCOMES_HTTP_PORT="${LOAN_SCORER_OUTCOMES_HTTP_PORT:-8001}"
export LOAN_SCORER_OUTCOMES_STORE="${LOAN_SCORER_OUTCOMES_STORE:-build/demo-outcomes.sqlite3}"
export LOAN_SCORER_OUTCOMES_METRICS_INTERVAL_S="${LOAN_SCORER_OUTCOMES_METRICS_INTERVAL_S:-2}"
OUTCOMES_LOG=build/demo-outcomes.log
REPORT=build/demo-impact-report.html
mkdir -p build

# The API is authenticated: make a key for this demo (only its SHA-256 goes into the key file).
KEYS=build/demo-api-keys
key_output="$("$BIN/loan-scorer" api-key create --name demo --scope score --scope model:read 2>/dev/null)"
DEMO_KEY="$(echo "$key_output" | sed -n 1p)"
echo "$key_output" | sed -n 2p >"$KEYS"
export LOAN_SCORER_API_KEYS_FILE="$KEYS"
echo "API key for this demo: client 'demo', scopes score and model:read ($KEYS holds its hash)"
# A second model version to challenge the champion in shadow: the same recipe, another seed.
if [[ ! -f "$CHALLENGER_DIR/model_card.json" ]]; then
  echo "training the challenger into $CHALLENGER_DIR (loan-scorer train --seed 43, about a minute)"
  "$BIN/loan-scorer" train --out "$CHALLENGER_DIR" --seed 43 >build/demo-challenger-train.log 2>&1
fi
export LOAN_SCORER_CHALLENGERS="[{\"model_dir\": \"$CHALLENGER_DIR\", \"mode\": \"shadow\"}]"
# The broker is fresh for each demo, so is the joiner's store (its offsets are the old broker's).
rm -f "$LOAN_SCORER_OUTCOMES_STORE" "$LOAN_SCORER_OUTCOMES_STORE-wal" "$LOAN_SCORER_OUTCOMES_STORE-shm"

"$BIN/python" - <<'PY'
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from consumer.config.settings import Settings

s = Settings()
admin = AdminClient(s.kafka_common_config())
wanted = {s.input_topic: 6, s.output_topic: 6, s.dlq_topic: 1, s.shadow_topic: 6, s.outcomes_topic: 6}
existing = admin.list_topics(timeout=30).topics
new = [NewTopic(t, num_partitions=n, replication_factor=1) for t, n in wanted.items() if t not in existing]
for future in admin.create_topics(new).values() if new else []:
    future.result(30)
print("topics:", ", ".join(f"{t} ({n} partitions)" for t, n in wanted.items()))
PY

echo "starting the scorer (log: $LOG)"
"$BIN/loan-scorer" run >"$LOG" 2>&1 &
scorer=$!
joiner=""
cleanup() {
  kill -TERM "$scorer" 2>/dev/null && wait "$scorer" || true
  if [[ -n "$joiner" ]]; then kill -TERM "$joiner" 2>/dev/null && wait "$joiner" || true; fi
}
trap cleanup EXIT
for _ in $(seq 120); do
  if "$BIN/python" -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:$LOAN_SCORER_HTTP_PORT/readyz').status_code != 200)" 2>/dev/null; then
    break
  fi
  kill -0 "$scorer" 2>/dev/null || { cat "$LOG"; echo "the scorer exited" >&2; exit 1; }
  sleep 0.5
done
echo "scorer ready: http://127.0.0.1:$LOAN_SCORER_HTTP_PORT/readyz "
for dir in "$LOAN_SCORER_MODEL_DIR" "$CHALLENGER_DIR"; do
  "$BIN/python" -c "import json, sys; print(sys.argv[2], json.load(open(sys.argv[1] + '/model_card.json'))['model_version'])" \
    "$dir" "$([[ $dir == "$CHALLENGER_DIR" ]] && echo '  shadow challenger:' || echo '  champion:')"
done

echo "starting the outcomes joiner (log: $OUTCOMES_LOG)"
"$BIN/loan-scorer" outcomes >"$OUTCOMES_LOG" 2>&1 &
joiner=$!

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
    if '_created' not in line and line.startswith(('loan_scorer_events_', 'loan_scorer_dead_letters_total', 'loan_scorer_transactions_total', 'loan_scorer_model_info', 'loan_scorer_model_scores_total')):
        print('  ' + line)
"

valid="$(echo "$sent" | awk '{print $6}')"
echo
echo "outcomes: the data set's real good/bad labels arrive (loan-scorer produce --outcomes)"
"$BIN/loan-scorer" produce --outcomes --delay 2
echo "waiting for the joiner to pair every score (champion and shadow) with its outcome"
"$BIN/python" - "$valid" <<'PY'
import sys, time, httpx
from prometheus_client.parser import text_string_to_metric_families
import os
port = os.environ["LOAN_SCORER_OUTCOMES_HTTP_PORT"]
wanted = 2 * int(sys.argv[1])  # every valid application, scored by the champion and the shadow
deadline = time.monotonic() + 120
samples = []
while time.monotonic() < deadline:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        time.sleep(1)
        continue
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
    if sum(s.value for s in samples if s.name == "loan_scorer_realised_pairs") >= wanted:
        break
    time.sleep(1)
print(f"realised metrics (http://127.0.0.1:{port}/metrics):")
shown = ("pairs", "roc_auc", "ks", "brier", "calibration_error", "approval_rate", "default_rate")
for name in shown:
    for s in samples:
        if s.name == f"loan_scorer_realised_{name}":
            print(f"  {s.name}{{{s.labels['role']} {s.labels['model_version']}}} {s.value:.4f}")
for s in samples:
    if s.name == "loan_scorer_realised_auc_difference":
        low = next(x.value for x in samples if x.name.endswith("_ci_low") and x.labels == s.labels)
        high = next(x.value for x in samples if x.name.endswith("_ci_high") and x.labels == s.labels)
        print(f"  champion minus challenger AUC: {s.value:+.4f} (95 % CI {low:+.4f} to {high:+.4f})")
flagged = [s for s in samples if s.name == "loan_scorer_adverse_impact_ratio" and s.value < 0.8]
print(f"  adverse-impact ratios below 0.8: {len(flagged)}" + "".join(
    f"\n    {s.labels['role']} {s.labels['attribute']}={s.labels['group']}: {s.value:.2f}" for s in flagged))
PY

if "$BIN/loan-scorer" report --help >/dev/null 2>&1; then
  "$BIN/loan-scorer" outcomes --export-pairs build/demo-pairs.csv
  "$BIN/loan-scorer" report --pairs build/demo-pairs.csv --out "$REPORT" >/dev/null
  echo "impact report: $(cd "$(dirname "$REPORT")" && pwd)/$(basename "$REPORT")"
fi
