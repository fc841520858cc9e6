#!/usr/bin/env bash
# Runs a command against a private control plane (etcd + kube-apiserver + kube-controller-manager
# from tools/cluster):
#   with_control_plane.sh [--crds] COMMAND [ARGS...]
# Brings it up in a fresh state directory on ports of its own, exports KUBECONFIG and the
# KV_* variables for the command, and tears everything down on exit, whatever happened.
# --crds also installs the kubevirt.io CRDs (manifests/crds/) and the `kubevirt` namespace.
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
repo=${KV_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}
cluster=$repo/tools/cluster/cluster
[[ -x $cluster ]] || { echo "missing $cluster" >&2; exit 1; }
crds=false
if [[ ${1:-} == --crds ]]; then
	crds=true
	shift
fi

state=$(mktemp -d /tmp/kv-it-XXXXXX)
export KV_CLUSTER_STATE=$state
# Ports of our own, so a developer's default cluster (16443...) is left alone.
export KV_APISERVER_PORT=${KV_IT_APISERVER_PORT:-26443}
export KV_ETCD_PORT=${KV_IT_ETCD_PORT:-22379}
export KV_ETCD_PEER_PORT=${KV_IT_ETCD_PEER_PORT:-22380}
export KV_CM_PORT=${KV_IT_CM_PORT:-20357}
export KV_CLUSTER_TOOL=$cluster
export KUBECONFIG=$state/admin.kubeconfig
log=$(mktemp /tmp/kv-it-up-XXXXXX.log)
KV_ROOT=$repo
# shellcheck source=../e2e/lib.sh
. "$repo/test/e2e/lib.sh"

cleanup() {
	local rc=$?
	"$cluster" down >>"$log" 2>&1 || { echo "cluster down failed; log:" >&2; tail -n 30 "$log" >&2; }
	release_cluster_state
	rm -rf "$state" "$state.watchdog.log"
	rm -f "$log"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# A control plane of a killed integration run (its ports) goes first; this run's own deadline
# (KV_IT_DEADLINE x KV_E2E_TIMEOUT_SCALE, below the test's meson timeout) and the watchdog that
# tears down if this script is killed (test/e2e/lib.sh).
reclaim_stale_clusters
claim_cluster_state
KV_WATCHDOG_LOG=$state.watchdog.log start_watchdog "${KV_IT_DEADLINE:-840}"

if ! "$cluster" up --control-plane-only >>"$log" 2>&1; then
	echo "cluster up --control-plane-only failed:" >&2
	tail -n 40 "$log" >&2
	exit 1
fi
if $crds; then
	"$cluster" kubectl apply -f "$repo/manifests/crds/" >>"$log" 2>&1
	"$cluster" kubectl create namespace kubevirt >>"$log" 2>&1
	"$cluster" kubectl wait --for condition=established --timeout=$((60 * KV_TIMEOUT_SCALE))s \
		crd/virtualmachines.kubevirt.io crd/virtualmachineinstances.kubevirt.io >>"$log" 2>&1
fi
"$@"
