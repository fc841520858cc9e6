# shellcheck shell=bash
# Helpers for the VM e2e tests (test/e2e/vm_test.sh) and tools/demo: the local cluster's kubectl,
# waits with deadlines, and what a user looks at (VM/VMI status, the guest's console).
# Sourced; needs KV_ROOT (the repository) and KV_CLUSTER_STATE set by the caller.

: "${KV_ROOT:?}" "${KV_CLUSTER_STATE:?}"
KV_CLUSTER=$KV_ROOT/tools/cluster/cluster
# Deadlines are multiplied by this on slow machines.
KV_TIMEOUT_SCALE=${KV_E2E_TIMEOUT_SCALE:-1}

k() { "$KV_CLUSTER" kubectl "$@"; }

# wait_until TIMEOUT_S DESCRIPTION COMMAND...: polls COMMAND (quietly) until it succeeds.
# Returns 1 with a message naming DESCRIPTION when the deadline passes.
wait_until() {
	local timeout=$(($1 * KV_TIMEOUT_SCALE)) what=$2 deadline
	shift 2
	deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			echo "timed out after ${timeout}s waiting for: $what" >&2
			return 1
		fi
		sleep 0.3
	done
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", b - a }'; }

# other_cluster_running [OWN_STATE_DIR]: a full cluster holds the fixed ports, bridge and pod
# cgroup: true when a kubelet runs, or something listens on the API server's port 16443, that does
# not belong to OWN_STATE_DIR (a cluster of our own state dir is fine: `cluster up` reuses it).
# Control-plane-only clusters on other ports do not count.
other_cluster_running() {
	local own=${1:-} pid
	for pid in $(pgrep -x kubelet) $(ss -Hltnp 'sport = :16443' 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2); do
		if [[ -n $own && $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *"$own/"* ]]; then
			continue
		fi
		return 0
	done
	return 1
}

# The add-on on the local cluster (manifests/local/render sets the kubelet root of this state dir).
deploy_addon() {
	# The CRDs first: objects of their kinds in manifests/ (the starter instancetypes) need them
	# Established before they can be applied.
	k apply -f "$KV_ROOT/manifests/crds/" >&2 || return 1
	k wait --for=condition=Established --timeout=60s -f "$KV_ROOT/manifests/crds/" >&2 || return 1
	"$KV_ROOT/manifests/local/render" "$KV_CLUSTER_STATE/kubelet/root" | k apply -f - >&2 || return 1
	k -n kubevirt wait --for=condition=Available --timeout=$((120 * KV_TIMEOUT_SCALE))s deployment/virt-controller >&2 || return 1
	k -n kubevirt rollout status --timeout=$((120 * KV_TIMEOUT_SCALE))s daemonset/virt-handler >&2 || return 1
	k -n kubevirt wait --for=condition=Available --timeout=$((120 * KV_TIMEOUT_SCALE))s deployment/virt-api >&2 || return 1
	# kube-apiserver reaches virt-api through the aggregator (needs the caBundle virt-api injects).
	k wait --for=condition=Available --timeout=$((120 * KV_TIMEOUT_SCALE))s apiservice/v1.subresources.kubevirt.io >&2 || return 1
}

# set_emulation true|false: kubevirt-config useEmulation (manifests/ ship "false", as upstream),
# and wait until every virt-controller applied it: a pod rendered before would follow the old
# value (with "false" it asks for KVM and never schedules on a node without it).
set_emulation() {
	k -n kubevirt patch configmap kubevirt-config --type merge -p "{\"data\":{\"useEmulation\":\"$1\"}}" >/dev/null || return 1
	wait_until 60 "every virt-controller to apply useEmulation $1" controllers_applied_emulation "$1"
}
# allow_emulation: what the demo, the e2e suite and the benchmarks run with: VMs under TCG where
# the node gives no KVM.
allow_emulation() { set_emulation true; }

# controllers_applied_emulation true|false: every virt-controller that applies kubevirt-config has
# this useEmulation last (its log line "kubevirt-config applied"), and at least one does. Only the
# leader runs the controllers; a standby reads the ConfigMap afresh when it starts leading.
controllers_applied_emulation() {
	local p line seen=0
	for p in $(k -n kubevirt get pods -l kubevirt.io=virt-controller -o name); do
		line=$(k -n kubevirt logs "$p" | grep 'kubevirt-config applied' | tail -1)
		[[ -z $line ]] && continue
		[[ $line == *"\"useEmulation\":\"$1\""* ]] || return 1
		seen=1
	done
	((seen))
}

# ns NAME-of-object field: small jsonpath readers (empty when the object is missing).
vm_field() { k -n "$1" get vm "$2" -o jsonpath="$3" 2>/dev/null; }
vmi_field() { k -n "$1" get vmi "$2" -o jsonpath="$3" 2>/dev/null; }
vmi_phase() { vmi_field "$1" "$2" '{.status.phase}'; }
vmi_uid() { vmi_field "$1" "$2" '{.metadata.uid}'; }
vm_printable() { vm_field "$1" "$2" '{.status.printableStatus}'; }

vmi_phase_is() { [[ $(vmi_phase "$1" "$2") == "$3" ]]; }
vm_printable_is() { [[ $(vm_printable "$1" "$2") == "$3" ]]; }
vmi_gone() { ! k -n "$1" get vmi "$2" >/dev/null 2>&1; }
# A VMI of this name whose uid is not $3 is Running.
vmi_replaced_running() {
	local uid
	uid=$(vmi_uid "$1" "$2")
	[[ -n $uid && $uid != "$3" ]] && vmi_phase_is "$1" "$2" Running
}
# The launcher pod(s) of a VMI uid.
launcher_pods() { k -n "$1" get pods -l "kubevirt.io/created-by=$2" -o name 2>/dev/null; }
launcher_pod() { launcher_pods "$1" "$2" | head -1; }
no_launcher_pods() { [[ -z $(launcher_pods "$1" "$2") ]]; }

# console NS VMI: the serial console of the VMI's current launcher (the launcher copies it to its
# stdout, so it is the pod's log).
console() {
	local uid pod
	uid=$(vmi_uid "$1" "$2")
	[[ -n $uid ]] || return 1
	pod=$(launcher_pod "$1" "$uid")
	[[ -n $pod ]] || return 1
	k -n "$1" logs "$pod" -c compute 2>/dev/null
}
console_has() { grep -q -- "$3" <<<"$(console "$1" "$2")"; }

GUEST_READY=KUBEVIRT-CPP-GUEST-READY
