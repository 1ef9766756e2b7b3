#!/usr/bin/env bash
# A real schema registry on loopback, with nothing but Java 17+ and Maven: Apicurio Registry
# (Apache-2.0), whose Confluent-compatible API at /apis/ccompat/v7 is what confluent-kafka's
# SchemaRegistryClient speaks. The ready-built application of a pinned release is resolved from
# Maven Central into a cache folder, started with in-memory storage, probed with a real API call,
# and stopped by PID. Production teams run their own registry; this one is for tests and the demo.
#
# Usage: scripts/registry-local.sh COMMAND
#   fetch    resolve and unpack the application into the cache (nothing else)
#   up       start, wait for the API; down stops it (in-memory storage: nothing is kept)
#   status   exit 0 if the API answers
#   url      print the Confluent-compatible URL the clients use
#
# Environment:
#   REGISTRY_PORT             HTTP port on 127.0.0.1 (default 8081)
#   REGISTRY_MANAGEMENT_PORT  Quarkus management port on 127.0.0.1 (default REGISTRY_PORT + 10;
#                             Apicurio's own default, 9000, is often taken)
#   REGISTRY_LOCAL_CACHE      where the application is cached
#                             (default ~/.cache/loan-scorer/apicurio-registry-VERSION)
#   REGISTRY_LOCAL_STATE      where pid and log are kept (default REPO/.registry-local/PORT)
#   REGISTRY_HEAP_OPTS        JVM heap (default -Xms64m -Xmx384m)
set -euo pipefail

REGISTRY_VERSION=3.0.9 # 3.3.x needs Java 21
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
PORT="${REGISTRY_PORT:-8081}"
MANAGEMENT_PORT="${REGISTRY_MANAGEMENT_PORT:-$((PORT + 10))}"
CACHE="${REGISTRY_LOCAL_CACHE:-$HOME/.cache/loan-scorer/apicurio-registry-$REGISTRY_VERSION}"
STATE="${REGISTRY_LOCAL_STATE:-$REPO/.registry-local/$PORT}"
ARTIFACT="io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all"
RUNNER="apicurio-registry-app-$REGISTRY_VERSION-runner.jar"
URL="http://127.0.0.1:$PORT/apis/ccompat/v7"

log() { printf 'registry-local: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required ($2)"; }

java_major() {
  java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}' | cut -d. -f1
}

runner_jar() { find "$CACHE/app" -name "$RUNNER" -print -quit 2>/dev/null; }

fetch() {
  if [[ -f "$CACHE/.complete" ]]; then return 0; fi
  need mvn "install Maven, e.g. apt-get install maven"
  log "resolving $ARTIFACT from Maven Central into $CACHE"
  rm -rf "$CACHE"
  mkdir -p "$CACHE/app"
  mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="$ARTIFACT" -DoutputDirectory="$CACHE" \
    || die "could not resolve $ARTIFACT with Maven (see the output above)"
  tar -xzf "$CACHE/apicurio-registry-app-$REGISTRY_VERSION-all.tar.gz" -C "$CACHE/app" \
    || die "could not unpack the registry archive"
  rm -f "$CACHE/apicurio-registry-app-$REGISTRY_VERSION-all.tar.gz"
  [[ -n "$(runner_jar)" ]] || die "$RUNNER missing after unpacking"
  touch "$CACHE/.complete"
}

pid_alive() { [[ -f "$STATE/pid" ]] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

api_ok() { # a real API call: the list of subjects
  [[ "$(python3 - "$URL/subjects" <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as response:
        print(response.status)
except Exception:
    print(0)
EOF
)" == 200 ]]
}

up() {
  need java "install Java 17 or later"
  [[ "$(java_major)" -ge 17 ]] || die "Java 17 or later is required (found $(java_major))"
  if pid_alive; then log "already running (pid $(cat "$STATE/pid")) at $URL"; return 0; fi
  port_busy "$PORT" && die "port $PORT is in use by another process; set REGISTRY_PORT"
  port_busy "$MANAGEMENT_PORT" && die "port $MANAGEMENT_PORT is in use; set REGISTRY_MANAGEMENT_PORT"
  fetch
  mkdir -p "$STATE"
  log "starting Apicurio Registry $REGISTRY_VERSION at $URL (log: $STATE/registry.log)"
  # shellcheck disable=SC2086
  nohup java ${REGISTRY_HEAP_OPTS:--Xms64m -Xmx384m} -Djava.awt.headless=true \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$PORT" \
    -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$MANAGEMENT_PORT" \
    -Dquarkus.log.console.json=false \
    -jar "$(runner_jar)" >"$STATE/registry.log" 2>&1 </dev/null &
  echo $! >"$STATE/pid"
  local deadline=$((SECONDS + 90))
  until api_ok; do
    if ! pid_alive; then
      tail -n 40 "$STATE/registry.log" >&2 || true
      rm -f "$STATE/pid"
      die "the registry exited during start-up"
    fi
    ((SECONDS < deadline)) || { down; die "the registry API did not answer within 90 s"; }
    sleep 0.5
  done
  log "ready at $URL (pid $(cat "$STATE/pid"))"
}

down() { # stop the process (SIGTERM, then SIGKILL after 30 s)
  [[ -f "$STATE/pid" ]] || return 0
  local pid
  pid="$(cat "$STATE/pid")"
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping registry pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "registry did not stop within 30 s; killing pid $pid"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$STATE/pid"
}

status() {
  if pid_alive && api_ok; then
    log "running (pid $(cat "$STATE/pid")) at $URL"
  else
    log "not running at $URL"
    return 1
  fi
}

case "${1:-}" in
  fetch) fetch ;;
  up) up ;;
  down) down ;;
  status) status ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 fetch|up|down|status|url" >&2; exit 2 ;;
esac
