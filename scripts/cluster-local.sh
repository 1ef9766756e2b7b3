#!/usr/bin/env bash
# A real Kubernetes API on loopback, with nothing but Go and openssl: etcd, kube-apiserver,
# kube-controller-manager and kube-scheduler built from the Go module proxy, and kwok standing in
# for the kubelets (fake nodes: pods are scheduled and reported Running, no container runs).
#
# Why built from source: no container registry and no release download site can be reached here
# or in CI, only the Go module proxy. Kubernetes' own module (k8s.io/kubernetes) cannot be
# `go install`ed, because its go.mod points each staging module (k8s.io/api, client-go, ...) at a
# folder inside the repository; a small wrapper module requires it at a release and replaces each
# staging module with its published v0.x twin. etcd's binary is a one-line main around its server
# module, built the same way (Debian's etcd 3.4 is too old: watches and rollouts break on it).
#
# Usage: scripts/cluster-local.sh COMMAND
#   build    build (or find cached) binaries, and copy the Prometheus-operator and KEDA CRDs out of
#            their Go modules
#   up       build if needed, make keys and certs, start everything, wait until two fake nodes are Ready
#   down     stop everything started by up (by PID) and delete its state
#   status   exit 0 if the API answers and the nodes are Ready
#   built    exit 0 if every binary is already cached
#   env      print KUBECONFIG=, KUBECTL= and CRDS_DIR= lines (export $(scripts/cluster-local.sh env))
#   versions print the pinned versions
#
# Environment:
#   CLUSTER_LOCAL_CACHE  where built binaries are cached (default ~/.cache/loan-scorer), keyed by version
#   CLUSTER_LOCAL_STATE  state folder: pids, logs, certs, etcd data, kubeconfig (default REPO/.cluster-local)
#   CLUSTER_API_PORT     kube-apiserver's secure port on 127.0.0.1 (default 36443)
#   CLUSTER_ETCD_PORT    etcd client port on 127.0.0.1 (default 32379; peer port is +1)
set -euo pipefail

# Pinned versions. The Kubernetes release matches helm's client-go (v0.37 -> 1.37), see
# scripts/install-tools.sh. Dependabot cannot see these; bump them by hand.
K8S_VERSION=v1.37.2
K8S_STAGING_VERSION=v0.37.2 # the published twin of every staging module at K8S_VERSION
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
# The custom resources the chart can render, from the operators' own published modules (their
# CRD YAMLs ship in the module source). The newest prometheus-operator root module the proxy
# serves is v0.85.0 (its pkg/apis submodule goes further but holds no CRD YAML).
PROMETHEUS_OPERATOR_VERSION=v0.85.0
KEDA_VERSION=v2.21.0
CRDS=(
  "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION:example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"
  "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION:example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"
  "github.com/kedacore/keda/v2@$KEDA_VERSION:config/crd/bases/keda.sh_scaledobjects.yaml"
  "github.com/kedacore/keda/v2@$KEDA_VERSION:config/crd/bases/keda.sh_triggerauthentications.yaml"
)

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
CACHE_ROOT="${CLUSTER_LOCAL_CACHE:-$HOME/.cache/loan-scorer}"
K8S_DIR="$CACHE_ROOT/kubernetes-$K8S_VERSION"
ETCD_DIR="$CACHE_ROOT/etcd-$ETCD_VERSION"
KWOK_DIR="$CACHE_ROOT/kwok-$KWOK_VERSION"
CRDS_DIR="$CACHE_ROOT/crds-prometheus-operator-$PROMETHEUS_OPERATOR_VERSION-keda-$KEDA_VERSION"
STATE="${CLUSTER_LOCAL_STATE:-$REPO/.cluster-local}"
API_PORT="${CLUSTER_API_PORT:-36443}"
ETCD_PORT="${CLUSTER_ETCD_PORT:-32379}"
ETCD_PEER_PORT=$((ETCD_PORT + 1))
KUBECONFIG_FILE="$STATE/kubeconfig"
NODES=(kwok-node-0 kwok-node-1)
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok) # in start order
BUILD_LOG=/dev/null

log() { printf 'cluster-local: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required ($2)"; }

# ---------------------------------------------------------------------------------------------
# Build: each component into its own cache folder named by version, with a stamp written last,
# so an interrupted build is redone and a finished one is reused in a second.

go_build_env() { # run go with the build settings every component shares, its output to BUILD_LOG
  # CGO off: static binaries without a C toolchain; nice: the machine's 2 cores are shared.
  # go get lists every module it downloads; that goes to the log, which is shown on failure.
  if ! CGO_ENABLED=0 GOFLAGS=-mod=mod nice -n 10 go "$@" >>"$BUILD_LOG" 2>&1; then
    tail -n 40 "$BUILD_LOG" >&2
    return 1
  fi
}

build_kubernetes() {
  local stamp="$K8S_DIR/bin/.complete"
  [[ -f "$stamp" ]] && return 0
  need go "install Go 1.26 or newer"
  log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $K8S_VERSION (once; the longest step)"
  local started=$SECONDS src="$K8S_DIR/src"
  rm -rf "$K8S_DIR"
  mkdir -p "$src" "$K8S_DIR/bin"
  BUILD_LOG="$K8S_DIR/build.log"
  # The staging modules are the ones k8s.io/kubernetes' own go.mod replaces with ./staging folders.
  local gomod
  gomod="$(cd "$src" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" \
    | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  [[ -f "$gomod" ]] || die "could not download k8s.io/kubernetes@$K8S_VERSION's go.mod"
  local staging
  staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$gomod")"
  [[ -n "$staging" ]] || die "no staging modules found in $gomod"
  {
    printf 'module loan-scorer.local/kubernetes-bins\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
    local module
    for module in $staging; do printf '\t%s => %s %s\n' "$module" "$module" "$K8S_STAGING_VERSION"; done
    printf ')\n'
  } >"$src/go.mod"
  local commands=(kube-apiserver kube-controller-manager kube-scheduler kubectl) packages=() command
  for command in "${commands[@]}"; do packages+=("k8s.io/kubernetes/cmd/$command"); done
  (cd "$src" && go_build_env get "${packages[@]/%/@$K8S_VERSION}") \
    || die "go get of the Kubernetes commands failed"
  # What a release build stamps in (hack/lib/version.sh); without it the server says v0.0.0.
  local minor="${K8S_VERSION#v1.}"
  minor="${minor%%.*}"
  local ldflags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$src" && go_build_env build -trimpath -ldflags "$ldflags" -o "$K8S_DIR/bin/" "${packages[@]}") \
    || die "go build of the Kubernetes commands failed"
  "$K8S_DIR/bin/kube-apiserver" --version | grep -qF "$K8S_VERSION" \
    || die "kube-apiserver does not report $K8S_VERSION (the -ldflags -X names changed?)"
  touch "$stamp"
  log "Kubernetes $K8S_VERSION built in $((SECONDS - started)) s"
}

build_etcd() {
  local stamp="$ETCD_DIR/bin/.complete"
  [[ -f "$stamp" ]] && return 0
  need go "install Go 1.26 or newer"
  log "building etcd $ETCD_VERSION (once; a few minutes)"
  local started=$SECONDS src="$ETCD_DIR/src"
  rm -rf "$ETCD_DIR"
  mkdir -p "$src" "$ETCD_DIR/bin"
  BUILD_LOG="$ETCD_DIR/build.log"
  # etcd's own main package lives in a module whose go.mod replaces its siblings with folders,
  # so it cannot be installed from the proxy; its whole body is this call.
  cat >"$src/main.go" <<'EOF'
// Command etcd is etcd's server, built from its published module (see scripts/cluster-local.sh).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  printf 'module loan-scorer.local/etcd-bin\n\ngo 1.26\n' >"$src/go.mod"
  (cd "$src" && go_build_env get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" && go_build_env mod tidy) \
    || die "go get of etcd's server module failed"
  (cd "$src" && go_build_env build -trimpath -ldflags "-s -w" -o "$ETCD_DIR/bin/etcd" .) \
    || die "go build of etcd failed"
  "$ETCD_DIR/bin/etcd" --version | grep -qF "${ETCD_VERSION#v}" || die "etcd does not report $ETCD_VERSION"
  touch "$stamp"
  log "etcd $ETCD_VERSION built in $((SECONDS - started)) s"
}

build_kwok() {
  local stamp="$KWOK_DIR/bin/.complete"
  [[ -f "$stamp" ]] && return 0
  need go "install Go 1.26 or newer"
  log "building kwok $KWOK_VERSION (once; a few minutes)"
  local started=$SECONDS
  rm -rf "$KWOK_DIR"
  mkdir -p "$KWOK_DIR/bin"
  BUILD_LOG="$KWOK_DIR/build.log"
  GOBIN="$KWOK_DIR/bin" go_build_env install -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" || die "go install of kwok failed"
  # The stage files that make pods Running and nodes Ready at once ship in kwok's module; keep a
  # copy beside the binary (the module cache can be cleaned).
  local moddir stage
  moddir="$(cd "$KWOK_DIR" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  stage="$moddir/kustomize/stage"
  [[ -d "$stage/node/fast" && -d "$stage/pod/fast" ]] || die "kwok's stage files are missing from $moddir"
  # kustomize/stage/fast is the kustomization of exactly these folders; kwok reads them as one
  # multi-document --config file.
  local dir file
  for dir in node/fast node/heartbeat-with-lease pod/fast; do
    for file in "$stage/$dir"/*.yaml; do
      [[ "$(basename "$file")" == kustomization.yaml ]] && continue
      printf -- '---\n# from sigs.k8s.io/kwok@%s kustomize/stage/%s\n' "$KWOK_VERSION" "$dir/$(basename "$file")"
      cat "$file"
    done
  done >"$KWOK_DIR/stages.yaml"
  touch "$stamp"
  log "kwok $KWOK_VERSION built in $((SECONDS - started)) s"
}

fetch_crds() { # copy the CRD YAMLs out of their modules (downloaded by the go command) into CRDS_DIR
  [[ -f "$CRDS_DIR/.complete" ]] && return 0
  need go "install Go 1.26 or newer"
  rm -rf "$CRDS_DIR"
  mkdir -p "$CRDS_DIR"
  local entry module file dir
  for entry in "${CRDS[@]}"; do
    module="${entry%%:*}" file="${entry#*:}"
    dir="$(cd "$CRDS_DIR" && go mod download -json "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [[ -f "$dir/$file" ]] || die "$file is not in $module"
    cp "$dir/$file" "$CRDS_DIR/$(basename "$file")"
  done
  touch "$CRDS_DIR/.complete"
  log "CRDs of prometheus-operator $PROMETHEUS_OPERATOR_VERSION and KEDA $KEDA_VERSION in $CRDS_DIR"
}

build() {
  build_etcd
  build_kwok
  build_kubernetes
  fetch_crds
}

versions() {
  printf 'kubernetes %s (staging %s)\netcd %s\nkwok %s\nprometheus-operator CRDs %s\nKEDA CRDs %s\n' \
    "$K8S_VERSION" "$K8S_STAGING_VERSION" "$ETCD_VERSION" "$KWOK_VERSION" \
    "$PROMETHEUS_OPERATOR_VERSION" "$KEDA_VERSION"
}

built() { # exit 0 if every binary is built and cached (up will not need Go)
  [[ -f "$K8S_DIR/bin/.complete" && -f "$ETCD_DIR/bin/.complete" && -f "$KWOK_DIR/bin/.complete" \
    && -f "$CRDS_DIR/.complete" ]]
}

# ---------------------------------------------------------------------------------------------
# Run: every process is started in the background with its PID in $STATE/pids and its output in
# $STATE/logs; down stops exactly those PIDs.

KUBECTL="$K8S_DIR/bin/kubectl"
kubectl_() { "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" --cache-dir "$STATE/kubectl-cache" "$@"; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_of() { cat "$STATE/pids/$1" 2>/dev/null || true; }
alive() {
  local pid
  pid="$(pid_of "$1")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

start() { # start NAME COMMAND...: in the background, pid and log in $STATE
  local name="$1"
  shift
  nohup "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name"
}

wait_for() { # wait_for SECONDS WHAT COMMAND...: until COMMAND succeeds; fail with the logs if not
  local seconds="$1" what="$2" deadline=$((SECONDS + $1)) name
  shift 2
  until "$@" >/dev/null 2>&1; do
    for name in "${COMPONENTS[@]}"; do
      if [[ -f "$STATE/pids/$name" ]] && ! alive "$name"; then
        tail -n 30 "$STATE/logs/$name.log" >&2 || true
        down_quietly
        die "$name exited while waiting for $what"
      fi
    done
    if ((SECONDS >= deadline)); then
      tail -n 15 "$STATE"/logs/*.log >&2 || true
      down_quietly
      die "$what did not happen within $seconds s"
    fi
    sleep 1
  done
}

make_pki() { # a CA, the apiserver's serving cert, an admin client cert, the service-account keys
  need openssl "apt-get install openssl"
  local pki="$STATE/pki"
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
      -subj "/CN=loan-scorer-local-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc" \
      "extendedKeyUsage=serverAuth" >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    # system:masters: the admin, the controller-manager, the scheduler and kwok all use it; this
    # cluster lives for one test run, on loopback only.
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
      -subj "/O=system:masters/CN=loan-scorer-admin" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >admin.ext
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile admin.ext -out admin.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    chmod 600 ./*.key
  )
  cat >"$KUBECONFIG_FILE" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
  - name: loan-scorer-local
    cluster:
      server: https://127.0.0.1:$API_PORT
      certificate-authority: $pki/ca.crt
users:
  - name: admin
    user:
      client-certificate: $pki/admin.crt
      client-key: $pki/admin.key
contexts:
  - name: loan-scorer-local
    context: {cluster: loan-scorer-local, user: admin}
current-context: loan-scorer-local
KUBECONFIG
  chmod 600 "$KUBECONFIG_FILE"
}

nodes_ready() { # every fake node reports Ready=True
  local node
  for node in "${NODES[@]}"; do
    [[ "$(kubectl_ get node "$node" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" == True ]] \
      || return 1
  done
}

create_nodes() { # Node objects that kwok's stages make Ready (it manages the annotated ones)
  local node
  for node in "${NODES[@]}"; do
    kubectl_ apply -f - >/dev/null <<NODE
apiVersion: v1
kind: Node
metadata:
  name: $node
  annotations:
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: $node
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable: {cpu: "4", memory: 8Gi, pods: "110"}
  capacity: {cpu: "4", memory: 8Gi, pods: "110"}
NODE
  done
}

up() {
  if status >/dev/null 2>&1; then
    log "already running on https://127.0.0.1:$API_PORT (KUBECONFIG=$KUBECONFIG_FILE)"
    return 0
  fi
  local port
  for port in "$API_PORT" "$ETCD_PORT" "$ETCD_PEER_PORT"; do
    if port_busy "$port"; then
      die "port $port is in use by another process (set CLUSTER_API_PORT / CLUSTER_ETCD_PORT)"
    fi
  done
  build
  local started=$SECONDS
  down_quietly
  mkdir -p "$STATE/pids" "$STATE/logs" "$STATE/etcd"
  make_pki
  local pki="$STATE/pki" bin="$K8S_DIR/bin"
  log "starting etcd $ETCD_VERSION on 127.0.0.1:$ETCD_PORT"
  start etcd "$ETCD_DIR/bin/etcd" --name loan-scorer --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "loan-scorer=http://127.0.0.1:$ETCD_PEER_PORT" \
    --log-level warn --quota-backend-bytes $((512 * 1024 * 1024))
  wait_for 30 "etcd to listen" port_busy "$ETCD_PORT"
  log "starting kube-apiserver $K8S_VERSION on https://127.0.0.1:$API_PORT"
  # --endpoint-reconciler-type=none: the default reconciler refuses a loopback advertise address.
  # Pod Security admission is on by default; a namespace opts in with its labels.
  start kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
    --endpoint-reconciler-type none \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 \
    --authorization-mode RBAC --allow-privileged=false --profiling=false \
    --cert-dir "$STATE/apiserver-certs"
  wait_for 120 "kube-apiserver to be ready" kubectl_ get --raw /readyz
  log "starting kube-controller-manager, kube-scheduler and kwok $KWOK_VERSION"
  # --secure-port 0: neither serves HTTPS, so they take no port that could clash.
  start kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$KUBECONFIG_FILE" --secure-port 0 --leader-elect=false \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --use-service-account-credentials=false --profiling=false
  start kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig "$KUBECONFIG_FILE" --secure-port 0 --leader-elect=false --profiling=false
  start kwok "$KWOK_DIR/bin/kwok" --kubeconfig "$KUBECONFIG_FILE" --config "$KWOK_DIR/stages.yaml" \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake --node-ip 127.0.0.1
  create_nodes
  wait_for 60 "the fake nodes to be Ready" nodes_ready
  # Pods need a ServiceAccount in their namespace; its controller creates "default" shortly.
  wait_for 60 "the default ServiceAccount" kubectl_ -n default get serviceaccount default
  log "ready in $((SECONDS - started)) s: ${#NODES[@]} fake nodes; KUBECONFIG=$KUBECONFIG_FILE"
}

stop_pid() { # stop_pid NAME: SIGTERM, then SIGKILL after 15 s
  local name="$1" pid
  pid="$(pid_of "$name")"
  [[ -n "$pid" ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 15))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) did not stop within 15 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$STATE/pids/$name"
}

down_quietly() { # stop every process up started, newest first, and delete the state
  local i
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop_pid "${COMPONENTS[i]}"; done
  rm -rf "$STATE"
}

down() {
  if [[ -d "$STATE/pids" ]]; then log "stopping the local cluster in $STATE"; fi
  down_quietly
}

status() {
  local name
  for name in "${COMPONENTS[@]}"; do
    alive "$name" || { log "not running ($name is not up; state: $STATE)"; return 1; }
  done
  kubectl_ get --raw /readyz >/dev/null 2>&1 || { log "the API server does not answer /readyz"; return 1; }
  nodes_ready || { log "the fake nodes are not Ready"; return 1; }
  log "running on https://127.0.0.1:$API_PORT (KUBECONFIG=$KUBECONFIG_FILE)"
}

print_env() { # KEY=VALUE lines, for `export $(scripts/cluster-local.sh env)` and for the tests
  printf 'KUBECONFIG=%s\nKUBECTL=%s\nCRDS_DIR=%s\n' "$KUBECONFIG_FILE" "$KUBECTL" "$CRDS_DIR"
}

case "${1:-}" in
  build) build ;;
  built) built ;;
  up) up ;;
  down) down ;;
  status) status ;;
  env) print_env ;;
  versions) versions ;;
  *)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
