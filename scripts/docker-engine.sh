#!/usr/bin/env bash
# A real Docker Engine private to loan-scorer's tests: Debian's `docker.io` (dockerd 20.10,
# overlay2, runc) started as root on its own socket, data, exec root and PID file, so it never
# touches (or is confused with) a machine's default engine on /var/run/docker.sock.
#
# It runs with --iptables=false --bridge=none (no NAT rules on the host, no docker0 bridge):
# containers use `--network host`. Image layers live under the cache folder, so images built by
# one run (the offline base, the scorer, Kafka) are still there for the next one.
#
# Usage: scripts/docker-engine.sh COMMAND
#   install  apt-get install docker.io and debootstrap if missing (root); build compose v2 into the
#            cache with `go install` if missing (Debian's compose v1 refuses the file's top-level
#            `name`); `compose` prints its path
#   up       install, then start dockerd and wait until it answers; prints `export DOCKER_HOST=...`
#   down     stop the dockerd this script started (by its PID file), wait for it to exit
#   status   exit 0 if the engine answers on the private socket
#   env      print `export DOCKER_HOST=...` for the private socket
#
# Environment:
#   LOAN_SCORER_DOCKER_RUN   socket, exec root and PID file folder (default /run/loan-scorer-docker)
#   LOAN_SCORER_DOCKER_DATA  image and container storage (default ~/.cache/loan-scorer/docker)
set -euo pipefail

RUN_DIR="${LOAN_SCORER_DOCKER_RUN:-/run/loan-scorer-docker}"
COMPOSE_VERSION="v2.29.7" # keep in step with tests/container/engine.py
COMPOSE_DIR="$HOME/.cache/loan-scorer/compose-$COMPOSE_VERSION"
DATA_DIR="${LOAN_SCORER_DOCKER_DATA:-$HOME/.cache/loan-scorer/docker}"
SOCKET="$RUN_DIR/docker.sock"
PIDFILE="$RUN_DIR/dockerd.pid"
LOG="$RUN_DIR/dockerd.log"
DOCKER_HOST_VALUE="unix://$SOCKET"
# Debian's client: it builds with BuildKit (RUN --mount, build secrets) without a buildx plugin.
DOCKER_CLI=/usr/bin/docker

log() { printf 'docker-engine: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

install() {
  local missing=()
  [[ -x /usr/sbin/dockerd && -x $DOCKER_CLI ]] || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  if ((${#missing[@]} > 0)); then
    [[ $EUID -eq 0 ]] || die "installing ${missing[*]} needs root (apt-get)"
    log "installing ${missing[*]} from Debian"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
      || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; }
  fi
  compose_v2
}

compose_v2() { # compose v2 from the Go module proxy, cached; it runs standalone as docker-compose
  [[ -x "$COMPOSE_DIR/docker-compose" ]] && return 0
  command -v go >/dev/null 2>&1 || die "go is required to build compose $COMPOSE_VERSION"
  log "building compose $COMPOSE_VERSION with go install (a few minutes the first time)"
  mkdir -p "$COMPOSE_DIR"
  GOBIN="$COMPOSE_DIR" nice -n 10 go install \
    -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" \
    "github.com/docker/compose/v2/cmd@$COMPOSE_VERSION"
  mv "$COMPOSE_DIR/cmd" "$COMPOSE_DIR/docker-compose"
}

pid_alive() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

answers() { DOCKER_HOST="$DOCKER_HOST_VALUE" timeout 5 "$DOCKER_CLI" version >/dev/null 2>&1; }

up() {
  install
  [[ $EUID -eq 0 ]] || die "dockerd needs root"
  if pid_alive && answers; then
    log "already running (pid $(cat "$PIDFILE")) on $SOCKET"
    env_line
    return 0
  fi
  mkdir -p "$RUN_DIR" "$DATA_DIR"
  rm -f "$SOCKET"
  log "starting dockerd on $SOCKET (data: $DATA_DIR, log: $LOG)"
  nohup /usr/sbin/dockerd \
    --host "$DOCKER_HOST_VALUE" \
    --data-root "$DATA_DIR" \
    --exec-root "$RUN_DIR/exec" \
    --pidfile "$PIDFILE" \
    --iptables=false --ip6tables=false --bridge=none \
    --storage-driver overlay2 \
    >>"$LOG" 2>&1 </dev/null &
  local deadline=$((SECONDS + 60))
  until answers; do
    if ! kill -0 $! 2>/dev/null; then
      tail -n 30 "$LOG" >&2 || true
      die "dockerd exited during start-up"
    fi
    ((SECONDS < deadline)) || { tail -n 30 "$LOG" >&2; down; die "dockerd did not answer within 60 s"; }
    sleep 0.5
  done
  log "ready (pid $(cat "$PIDFILE"))"
  env_line
}

down() {
  [[ -f "$PIDFILE" ]] || { log "not running (no $PIDFILE)"; return 0; }
  local pid
  pid="$(cat "$PIDFILE")"
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping dockerd pid $pid"
    kill -TERM "$pid"
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      log "dockerd did not stop within 30 s; killing pid $pid"
      kill -KILL "$pid" || true
    fi
  fi
  rm -f "$PIDFILE" "$SOCKET"
}

status() {
  if pid_alive && answers; then
    log "running (pid $(cat "$PIDFILE")) on $SOCKET"
  else
    log "not running on $SOCKET"
    return 1
  fi
}

env_line() { printf 'export DOCKER_HOST=%s\n' "$DOCKER_HOST_VALUE"; }

case "${1:-}" in
  install) install ;;
  up) up ;;
  down) down ;;
  status) status ;;
  env) env_line ;;
  compose) printf '%s\n' "$COMPOSE_DIR/docker-compose" ;;
  *)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
