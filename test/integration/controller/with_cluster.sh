#!/usr/bin/env bash
# Runs a command against a private control plane (etcd + kube-apiserver + kube-controller-manager
# from tools/cluster) with the kubevirt.io CRDs and the `kubevirt` namespace installed:
#   with_cluster.sh COMMAND [ARGS...]
# Fresh state directory, ports of its own (27xxx: the kube client's tests use 26xxx, a
# developer's cluster 16xxx), KUBECONFIG exported; everything is torn down on exit.
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
repo=${KV_SOURCE_ROOT:-$(cd "$here/../../.." && pwd)}
cluster=$repo/tools/cluster/cluster
[[ -x $cluster ]] || { echo "missing $cluster" >&2; exit 1; }

state=$(mktemp -d /tmp/kv-ctrl-it-XXXXXX)
export KV_CLUSTER_STATE=$state
export KV_APISERVER_PORT=${KV_CTRL_IT_APISERVER_PORT:-27443}
export KV_ETCD_PORT=${KV_CTRL_IT_ETCD_PORT:-27379}
export KV_ETCD_PEER_PORT=${KV_CTRL_IT_ETCD_PEER_PORT:-27380}
export KV_CM_PORT=${KV_CTRL_IT_CM_PORT:-27257}
export KV_SCHEDULER_PORT=${KV_CTRL_IT_SCHEDULER_PORT:-27259}
export KUBECONFIG=$state/admin.kubeconfig
log=$(mktemp /tmp/kv-ctrl-it-up-XXXXXX.log)

cleanup() {
	local rc=$?
	"$cluster" down >>"$log" 2>&1 || { echo "cluster down failed; log:" >&2; tail -n 30 "$log" >&2; }
	rm -rf "$state"
	rm -f "$log"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! "$cluster" up --control-plane-only >>"$log" 2>&1; then
	echo "cluster up --control-plane-only failed:" >&2
	tail -n 40 "$log" >&2
	exit 1
fi
"$cluster" kubectl apply -f "$repo/manifests/crds/" >>"$log" 2>&1
"$cluster" kubectl create namespace kubevirt >>"$log" 2>&1
"$cluster" kubectl wait --for condition=established --timeout=60s \
	crd/virtualmachines.kubevirt.io crd/virtualmachineinstances.kubevirt.io >>"$log" 2>&1
"$@"
