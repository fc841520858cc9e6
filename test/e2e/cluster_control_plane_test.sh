#!/usr/bin/env bash
# e2e test for `tools/cluster/cluster up --control-plane-only`, the mode integration tests
# use: etcd + kube-apiserver + kube-controller-manager answer, no node runs, and `down`
# leaves no process of the cluster behind. Needs root; the cluster's ports must be free.
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
CLUSTER=$ROOT/tools/cluster/cluster
export KV_CLUSTER_STATE=${KV_CLUSTER_STATE:-/var/tmp/kubevirt-cpp-e2e-cp}
KV_ROOT=$ROOT
# shellcheck source=lib.sh
. "$ROOT/test/e2e/lib.sh"

say() { printf '[e2e-cp %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
pass() { say "ok: $*"; }
kc() { "$CLUSTER" kubectl "$@"; }

cleanup() {
	local rc=$?
	if [[ -d $KV_CLUSTER_STATE ]]; then
		if ((rc)); then "$CLUSTER" down --keep-state || true; else "$CLUSTER" down || true; fi
	fi
	release_cluster_state
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ $(id -u) == 0 ]] || fail "needs root"
[[ ! -d $KV_CLUSTER_STATE ]] || "$CLUSTER" down
# Clusters of killed e2e runs go first; this run's own deadline is below meson's 3600 s.
reclaim_stale_clusters
claim_cluster_state
start_watchdog "${KV_E2E_DEADLINE:-3300}"

say "check: up --control-plane-only"
t0=$SECONDS
"$CLUSTER" up --control-plane-only
say "up --control-plane-only took $((SECONDS - t0)) s"
[[ $(kc get --raw /readyz) == ok ]] || fail "kube-apiserver /readyz is not ok"
kc -n default get serviceaccount default >/dev/null || fail "no default ServiceAccount (controller-manager)"
kc create configmap e2e-cp --from-literal=k=v >/dev/null || fail "creating a ConfigMap failed"
[[ $(kc get configmap e2e-cp -o 'jsonpath={.data.k}') == v ]] || fail "ConfigMap did not round-trip"
[[ -z $(kc get nodes -o name) ]] || fail "a node registered in control-plane-only mode"
status=$("$CLUSTER" status) || fail "cluster status failed"
kubelet_line=$(grep '^kubelet ' <<<"$status" || true)
[[ $kubelet_line == *"not started"* ]] || fail "kubelet runs in control-plane-only mode: $kubelet_line"
pass "apiserver ready, default ServiceAccount, ConfigMap round-trip, no node"

say "check: down"
"$CLUSTER" down
# Every component names the state directory in its arguments; other clusters on the
# machine (other state directories) are not ours to judge.
for p in /proc/[0-9]*; do
	cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
	[[ $cmd != *"$KV_CLUSTER_STATE/"* ]] || fail "process left after down: ${p#/proc/} $cmd"
done
[[ ! -e $KV_CLUSTER_STATE ]] || fail "$KV_CLUSTER_STATE still exists"
pass "no process left, state removed"
say "PASS"
