#!/usr/bin/env bash
# Build loan-scorer's images on the engine DOCKER_HOST names (scripts/docker-engine.sh up), with a
# container registry if one answers and without one if not.
#
# Without a registry no base image can be pulled, so an offline base stands in for the slim Python
# image: Debian bookworm from `debootstrap --variant=minbase` (the same apt mirror the host uses)
# with python3, python3-venv, python3-pip, `python`/`pip` links and PIP_BREAK_SYSTEM_PACKAGES=1,
# cached as a tarball under ~/.cache/loan-scorer/base and `docker import`ed. The project's
# Dockerfile is then built unchanged apart from its PYTHON_IMAGE build argument.
#
# Package downloads inside a build may go through a TLS-intercepting proxy: the host's CA bundle
# is passed as the build secret `ca-bundle` (mounted only for the RUN steps that download, never
# written to a layer, never committed).
#
# Usage: scripts/build-image.sh [COMMAND]
#   scorer      (default) the scorer image, tagged $IMAGE; prints its size
#   base        only the offline base image (tarball cached)
#   kafka       the Kafka broker image from the Maven jars (images/kafka/), tagged $KAFKA_LOCAL_IMAGE
#   prometheus  Prometheus from Debian's package (images/prometheus/), tagged $PROMETHEUS_LOCAL_IMAGE
#   all         base, scorer, kafka, prometheus
#
# Environment:
#   IMAGE                   scorer tag (default loan-scorer:local, what docker-compose.yml uses)
#   PYTHON_IMAGE            base for the scorer; default: the Dockerfile's own when it can be
#                           pulled, else the offline base
#   LOAN_SCORER_BASE_IMAGE  offline base tag (default loan-scorer-base:bookworm)
#   CA_BUNDLE               the CA bundle to trust while building (default: the host's)
#   DEBIAN_MIRROR           apt mirror for debootstrap (default http://deb.debian.org/debian)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${LOAN_SCORER_CACHE:-$HOME/.cache/loan-scorer}"
IMAGE="${IMAGE:-loan-scorer:local}"
BASE_IMAGE="${LOAN_SCORER_BASE_IMAGE:-loan-scorer-base:bookworm}"
KAFKA_LOCAL_IMAGE="${KAFKA_LOCAL_IMAGE:-loan-scorer-kafka:4.1.1}"
PROMETHEUS_LOCAL_IMAGE="${PROMETHEUS_LOCAL_IMAGE:-loan-scorer-prometheus:debian}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# What the offline base holds; a change here names a new tarball, so the cache never goes stale.
BASE_PACKAGES="python3,python3-venv,python3-pip,ca-certificates"
BASE_RECIPE="bookworm minbase $BASE_PACKAGES v1"
# Debian's client builds with BuildKit (build secrets, RUN --mount) without a buildx plugin; a newer
# client without buildx would fall back to the legacy builder, which has neither.
DOCKER="${DOCKER:-/usr/bin/docker}"

log() { printf 'build-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -n "${DOCKER_HOST:-}" ]] || die "DOCKER_HOST is not set (eval \"\$(scripts/docker-engine.sh env)\")"
"$DOCKER" version >/dev/null 2>&1 || die "no Docker engine answers on $DOCKER_HOST (scripts/docker-engine.sh up)"

prune_private() { # earlier builds of a tag are left untagged; the private engine keeps the latest
  if [[ "$DOCKER_HOST" == "unix://${LOAN_SCORER_DOCKER_RUN:-/run/loan-scorer-docker}/docker.sock" ]]; then
    "$DOCKER" image prune --force >/dev/null
  fi
}

have_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

dockerfile_default_base() { sed -n 's/^ARG PYTHON_IMAGE=//p' "$REPO/Dockerfile"; }

build() { # build TAG CONTEXT [docker build args...]: BuildKit, host network, the CA secret
  local tag="$1" context="$2"
  shift 2
  local secret=()
  [[ -s "$CA_BUNDLE" ]] && secret=(--secret "id=ca-bundle,src=$CA_BUNDLE")
  DOCKER_BUILDKIT=1 nice -n 10 "$DOCKER" build --network host --progress plain \
    "${secret[@]}" -t "$tag" "$@" "$context"
}

base() {
  if have_image "$BASE_IMAGE"; then
    log "offline base $BASE_IMAGE already present"
    return 0
  fi
  local key tarball
  key="$(printf '%s' "$BASE_RECIPE" | sha256sum | cut -c1-12)"
  tarball="$CACHE/base/bookworm-python-$key.tar.gz"
  if [[ ! -s "$tarball" ]]; then
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (scripts/docker-engine.sh install)"
    [[ $EUID -eq 0 ]] || die "debootstrap needs root"
    local rootfs
    rootfs="$(mktemp -d "${TMPDIR:-/tmp}/loan-scorer-rootfs.XXXXXX")"
    # shellcheck disable=SC2064 # expand now: the trap must remove this very folder
    trap "rm -rf '$rootfs'" EXIT
    log "debootstrap bookworm (minbase + $BASE_PACKAGES) into $rootfs"
    nice -n 10 debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$rootfs" "$DEBIAN_MIRROR" \
      >"$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log" >&2; die "debootstrap failed"; }
    rm -f "$rootfs.log"
    # What the slim Python image offers and the Dockerfile relies on: `python` and `pip`.
    ln -sf python3 "$rootfs/usr/bin/python"
    ln -sf pip3 "$rootfs/usr/bin/pip"
    chroot "$rootfs" apt-get clean
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log
    mkdir -p "$(dirname "$tarball")"
    tar -C "$rootfs" --numeric-owner -czf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
    trap - EXIT
    log "cached $tarball ($(du -h "$tarball" | cut -f1))"
  fi
  log "importing $tarball as $BASE_IMAGE"
  "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PIP_BREAK_SYSTEM_PACKAGES=1' \
    --change 'CMD ["python3"]' \
    --message "loan-scorer offline base: $BASE_RECIPE" \
    "$tarball" "$BASE_IMAGE" >/dev/null
}

pick_base() { # pick_base UPSTREAM: UPSTREAM if present or pullable, else the offline base
  local upstream="$1"
  if have_image "$upstream" || timeout 30 "$DOCKER" pull -q "$upstream" >/dev/null 2>&1; then
    printf '%s\n' "$upstream"
    return 0
  fi
  log "$upstream cannot be pulled (no registry answers): using the offline base $BASE_IMAGE"
  base
  printf '%s\n' "$BASE_IMAGE"
}

scorer() {
  local from revision created
  from="${PYTHON_IMAGE:-$(pick_base "$(dockerfile_default_base)")}"
  revision="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  # The commit's time, not the clock's: a rebuild of the same commit is then a cache hit.
  created="$(git -C "$REPO" log -1 --format=%cI 2>/dev/null || echo unknown)"
  log "building $IMAGE from ./Dockerfile on $from"
  build "$IMAGE" "$REPO" -f "$REPO/Dockerfile" \
    --build-arg "PYTHON_IMAGE=$from" \
    --build-arg "REVISION=$revision" \
    --build-arg "CREATED=$created"
  prune_private
  local bytes
  bytes="$("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE")"
  log "$IMAGE: $((bytes / 1000000)) MB ($bytes bytes) on $from"
}

context_of() { # context_of FOLDER: a temporary build context, a copy of images/FOLDER
  local context
  context="$(mktemp -d "${TMPDIR:-/tmp}/loan-scorer-context.XXXXXX")"
  cp -r "$REPO/images/$1/." "$context/"
  printf '%s\n' "$context"
}

kafka() {
  "$REPO/scripts/kafka-local.sh" fetch
  local from context
  from="$(pick_base debian:bookworm-slim)"
  context="$(context_of kafka)"
  # shellcheck disable=SC2064 # expand now: the trap must remove this very folder
  trap "rm -rf '$context'" EXIT
  # The jars scripts/kafka-local.sh resolved from Maven Central (the cache is outside the repo).
  cp -r "$CACHE/kafka-4.1.1/libs" "$context/libs"
  rm -f "$context/libs/.complete"
  log "building $KAFKA_LOCAL_IMAGE from images/kafka on $from"
  build "$KAFKA_LOCAL_IMAGE" "$context" --build-arg "BASE_IMAGE=$from"
  prune_private
  rm -rf "$context"
  trap - EXIT
}

prometheus() {
  local from
  from="$(pick_base debian:bookworm-slim)"
  log "building $PROMETHEUS_LOCAL_IMAGE from images/prometheus on $from"
  build "$PROMETHEUS_LOCAL_IMAGE" "$REPO/images/prometheus" --build-arg "BASE_IMAGE=$from"
  prune_private
}

case "${1:-scorer}" in
  base) base ;;
  scorer) scorer ;;
  kafka) kafka ;;
  prometheus) prometheus ;;
  all) base; scorer; kafka; prometheus ;; # each fails the script (set -e is off inside an && list)
  *)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
