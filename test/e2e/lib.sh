# shellcheck shell=bash
# Helpers for the VM e2e tests (test/e2e/vm_test.sh) and tools/demo: the local cluster's kubectl,
# waits with deadlines, and what a user looks at (VM/VMI status, the guest's console).
# Sourced; needs KV_ROOT (the repository) and KV_CLUSTER_STATE set by the caller.

: "${KV_ROOT:?}" "${KV_CLUSTER_STATE:?}"
KV_CLUSTER=$KV_ROOT/tools/cluster/cluster
# Deadlines are multiplied by this on slow machines.
KV_TIMEOUT_SCALE=${KV_E2E_TIMEOUT_SCALE:-1}

k() { "$KV_CLUSTER" kubectl "$@"; }

# --- surviving a timeout ----------------------------------------------------------------------
# meson kills a test 0.5 s after SIGTERM, too soon for `cluster down`; the cluster's processes
# (setsid by tools/cluster), mounts and iptables rules would outlive it and hold the fixed ports.
# So each script that brings up a cluster (the e2e tests, tools/bench/run, test/faults):
#   claim_cluster_state          records itself as the owner of KV_CLUSTER_STATE
#   reclaim_stale_clusters       tears down clusters whose owner is gone (before its own run)
#   start_watchdog SECONDS       its own deadline, below meson's timeout; a watchdog that outlives
#                                a killed script and tears its cluster down then
#   release_cluster_state        on a clean finish (the cluster is down, or kept on purpose)
# docs/e2e.md "Time bounds and clean-up".

# The state dirs whose clusters reclaim_stale_clusters may tear down: the e2e tests', the
# benchmark's, the fault suite's (/var/tmp/kubevirt-cpp-*), with_control_plane.sh's (/tmp/kv-it-*)
# and the handler integration test's (/tmp/kvh.*/cluster). Only a dir with an owner file is touched: a cluster a developer brought up by
# hand (or kept with KV_E2E_KEEP=1) has none.
KV_STALE_STATE_GLOBS=${KV_STALE_STATE_GLOBS:-"/var/tmp/kubevirt-cpp-* /tmp/kv-it-* /tmp/kvh.*/cluster"}

# proc_start PID: the process's start time (clock ticks after boot; /proc/PID/stat field 22),
# empty when there is no such process. With the pid it names one process across pid reuse.
proc_start() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	awk '{ print $20 }' <<<"$stat"
}

# owner_alive DIR: the process recorded in DIR/owner ("PID START") still runs.
owner_alive() {
	local pid start
	read -r pid start <"$1/owner" 2>/dev/null || return 1
	[[ -n $pid && $(proc_start "$pid") == "$start" ]]
}

# state_in_use DIR: a process of DIR's cluster runs (its run/NAME.pid: "PID BINARY ...") or
# something is mounted under DIR (the kubelet's pod volumes, containerd's snapshots).
state_in_use() {
	local f pid bin
	for f in "$1"/run/*.pid; do
		[[ -e $f ]] || continue
		read -r pid bin _ <"$f" || continue
		[[ -n $pid && $(readlink "/proc/$pid/exe" 2>/dev/null) == "$bin" ]] && return 0
	done
	grep -qF " $1/" /proc/mounts
}

claim_cluster_state() {
	mkdir -p "$KV_CLUSTER_STATE"
	echo "$$ $(proc_start $$)" >"$KV_CLUSTER_STATE/owner"
}
release_cluster_state() {
	stop_watchdog
	rm -f "$KV_CLUSTER_STATE/owner"
}

# reclaim_stale_clusters: for each state dir of KV_STALE_STATE_GLOBS whose owner (the test that
# brought its cluster up) is gone, `cluster down` if any of it is still running or mounted, and
# the owner file removed. A dir whose owner runs is left alone. Says on stderr what it did.
reclaim_stale_clusters() {
	local dir
	# shellcheck disable=SC2086 # the globs are meant to expand
	for dir in $KV_STALE_STATE_GLOBS; do
		[[ -f $dir/owner ]] || continue
		owner_alive "$dir" && continue
		if state_in_use "$dir"; then
			echo "reclaiming the cluster of $dir: its test (pid $(cut -d' ' -f1 "$dir/owner")) is gone" >&2
			KV_CLUSTER_STATE=$dir "$KV_CLUSTER" down >>"${TMPDIR:-/tmp}/kv-reclaim.log" 2>&1 ||
				{ echo "cluster down of $dir failed (log ${TMPDIR:-/tmp}/kv-reclaim.log)" >&2; continue; }
		fi
		rm -f "$dir/owner"
	done
}

# kill_descendants PID SIGNAL [EXCEPT_PID]: SIGNAL to every descendant of PID, children before
# their parents are signalled (so a dying subshell does not orphan its children first).
kill_descendants() {
	local child
	for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		[[ $child == "${3:-}" ]] && continue
		kill_descendants "$child" "$2" "${3:-}"
		kill "-$2" "$child" 2>/dev/null || true
	done
}

# kill_own_group SIGNAL: SIGNAL to every other process of this script's process group: what it
# started in the background, also the jobs orphaned when the case subshell that started them
# exited (no longer its descendants). Only when the script leads its group (meson starts each
# test in a session of its own; an interactive shell makes each job a group); never its parent's.
kill_own_group() {
	local p pids
	[[ $(ps -o pgid= -p $$ | tr -d ' ') == "$$" ]] || return 0
	pids=$(pgrep -g $$)
	for p in $pids; do
		[[ $p == "$$" ]] || kill "-$1" "$p" 2>/dev/null || true
	done
}

# start_watchdog SECONDS: the script's own deadline, SECONDS x KV_E2E_TIMEOUT_SCALE (set it below
# meson's timeout x the same factor, leaving time to tear down). A process of its own session
# (meson's kill of the test's process group does not reach it) that
#   - at the deadline, says so, signals the script's children and then the script with SIGTERM
#     (its EXIT trap tears the cluster down);
#   - when the script is gone without release_cluster_state (killed: SIGKILL, or meson's 0.5 s),
#     runs reclaim_stale_clusters for it and exits.
# Needs claim_cluster_state first.
start_watchdog() {
	local limit=$(($1 * KV_TIMEOUT_SCALE)) owner=$$
	KV_WATCHDOG_LOG=${KV_WATCHDOG_LOG:-$KV_CLUSTER_STATE.watchdog.log}
	KV_ROOT=$KV_ROOT KV_CLUSTER_STATE=$KV_CLUSTER_STATE setsid bash -c '
		. "$KV_ROOT/test/e2e/lib.sh"
		watchdog_main "$@"' watchdog "$owner" "$(proc_start "$owner")" "$limit" </dev/null >>"$KV_WATCHDOG_LOG" 2>&1 &
	KV_WATCHDOG_PID=$!
}
stop_watchdog() {
	[[ -n ${KV_WATCHDOG_PID:-} ]] || return 0
	kill "$KV_WATCHDOG_PID" 2>/dev/null
	KV_WATCHDOG_PID=
}
# watchdog_main OWNER_PID OWNER_START LIMIT_S (in the watchdog's own session).
watchdog_main() {
	local owner=$1 start=$2 deadline=$((SECONDS + $3)) fired=0
	trap '' PIPE
	while [[ $(proc_start "$owner") == "$start" ]]; do
		if ((!fired && SECONDS >= deadline)); then
			fired=1
			echo "watchdog: deadline of $3 s passed; stopping pid $owner and tearing down $KV_CLUSTER_STATE" |
				tee -a "/proc/$owner/fd/2" 2>/dev/null
			kill_descendants "$owner" TERM $$
			kill -TERM "$owner" 2>/dev/null
		fi
		sleep 1
	done
	# The owner is gone. A clean finish removed the owner file (and killed this watchdog first);
	# still there means it died before tearing down.
	if [[ -f $KV_CLUSTER_STATE/owner ]]; then
		echo "watchdog: pid $owner is gone without tearing down; reclaiming $KV_CLUSTER_STATE"
		KV_STALE_STATE_GLOBS=$KV_CLUSTER_STATE reclaim_stale_clusters
	fi
}

# --- a test script's own cluster with the add-on ------------------------------------------------
# For the scripts that bring up a cluster of their own (test/e2e/vm_test.sh, test/faults): they
# define log and bail (print, count a failure, exit), set WORK (their temp dir) and LOGS, and keep
# cluster_started.
#
# bring_up_addon BUILD NS: reclaims stale clusters, claims KV_CLUSTER_STATE with a watchdog
# (KV_E2E_DEADLINE, 3300 s), waits for another cluster on this machine to go away
# (KV_E2E_WAIT_CLUSTER, 900 s), brings the cluster up (KV_E2E_NODES nodes, default 1), builds and
# pushes the images from BUILD, deploys manifests/ with useEmulation true, and creates namespace NS
# enforcing Pod Security "restricted" (every launcher pod must be admitted, as on a hardened
# cluster).
bring_up_addon() {
	local build=$1 ns=$2 waited=0 limit=${KV_E2E_WAIT_CLUSTER:-900}
	# A cluster left by a run that was killed (meson's timeout) is torn down first; then this run
	# owns its state dir, and its watchdog tears it down at the deadline or when the script is
	# killed.
	reclaim_stale_clusters
	claim_cluster_state
	start_watchdog "${KV_E2E_DEADLINE:-3300}"
	while other_cluster_running "$KV_CLUSTER_STATE"; do
		((waited == 0)) && log "another cluster runs on this machine (kubelet or port 16443); waiting up to ${limit}s for it to go away"
		((waited < limit)) || bail "another local cluster is still running after ${limit}s (tools/cluster/cluster status; it is not this test's to stop)"
		sleep 5
		waited=$((waited + 5))
	done
	log "cluster up (state $KV_CLUSTER_STATE; log $WORK/cluster-up.log)"
	cluster_started=1
	"$KV_CLUSTER" up --nodes "${KV_E2E_NODES:-1}" >"$WORK/cluster-up.log" 2>&1 || { tail -30 "$WORK/cluster-up.log" >&2; bail "tools/cluster/cluster up failed"; }
	log "images/build --push $build"
	"$KV_ROOT/images/build" --push "$build" >"$WORK/images.log" 2>&1 || { tail -30 "$WORK/images.log" >&2; bail "images/build failed"; }
	log "deploying manifests/ (manifests/local/render | kubectl apply -f -)"
	deploy_addon 2>"$WORK/deploy.log" || { tail -30 "$WORK/deploy.log" >&2; bail "deploying the add-on failed"; }
	# manifests/ ship useEmulation "false" (upstream's default); the tests run their VMs under TCG
	# where the node gives no KVM. test/e2e/cases/scheduling.sh turns it off for one case.
	allow_emulation || bail "virt-controller did not apply useEmulation: true"
	k create namespace "$ns" >/dev/null || bail "cannot create namespace $ns"
	k label namespace "$ns" pod-security.kubernetes.io/enforce=restricted \
		pod-security.kubernetes.io/enforce-version=latest >/dev/null || bail "cannot label namespace $ns for Pod Security restricted"
	wait_until 60 "the default service account of $ns" k -n "$ns" get serviceaccount default || bail "namespace $ns has no service account"
}

# tear_down_addon FAILED: when the cluster was started: with FAILED > 0 keeps the logs (cluster
# components, the script's WORK/*.log, the add-on's, the objects) in LOGS; then `cluster down`
# unless KV_E2E_KEEP=1. Releases the state dir (nothing for the watchdog or a later run to
# reclaim) unless `down` failed: then the watchdog, in a session of its own, tries again once the
# script is gone. Returns 1 when `down` failed.
tear_down_addon() {
	local c
	if ((cluster_started)); then
		if (($1)); then
			rm -rf "$LOGS"
			mkdir -p "$LOGS"
			cp -r "$KV_CLUSTER_STATE/logs" "$LOGS/cluster" 2>/dev/null
			cp -r "$WORK"/*.log "$LOGS/" 2>/dev/null
			for c in virt-controller virt-handler virt-api; do
				k -n kubevirt logs -l "kubevirt.io=$c" --tail=-1 --prefix >"$LOGS/$c.log" 2>&1
			done
			k get all,vm,vmi -A -o wide >"$LOGS/objects.txt" 2>&1
			log "logs kept in $LOGS (cluster component logs, virt-controller, virt-handler, virt-api, objects)"
			echo "# logs kept in $LOGS"
		fi
		if [[ ${KV_E2E_KEEP:-} == 1 ]]; then
			log "KV_E2E_KEEP=1: the cluster stays up (KV_CLUSTER_STATE=$KV_CLUSTER_STATE $KV_CLUSTER down)"
		else
			log "tearing the cluster down"
			if ! "$KV_CLUSTER" down >"$WORK/cluster-down.log" 2>&1; then
				log "cluster down failed:"
				tail -20 "$WORK/cluster-down.log" >&2
				return 1
			fi
		fi
	fi
	release_cluster_state
}

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
	k wait --for=condition=Established --timeout=$((60 * KV_TIMEOUT_SCALE))s -f "$KV_ROOT/manifests/crds/" >&2 || return 1
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
launcher_pod() { launcher_pods "$1" "$2" | sed -n 1p; }
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

# vm_yaml NAME RUN_STRATEGY [USER_DATA_FILE] [EXTRA_DISK_YAML EXTRA_VOLUME_YAML]: the test guest
# from its containerDisk (IMG_OVERRIDE or IMG_DISK) in namespace NS, masquerade on the pod network,
# VM_GRACE_SECONDS (10) to shut down; user data becomes a cloud-init disk.
vm_yaml() {
	local name=$1 strategy=$2 userdata=${3:-} disk=${4:-} volume=${5:-} image=${IMG_OVERRIDE:-$IMG_DISK}
	cat <<EOF
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: $name
  namespace: $NS
spec:
  runStrategy: $strategy
  template:
    spec:
      domain:
        memory:
          guest: 256Mi
        devices:
          disks:
            - name: root
              disk:
                bus: virtio
$( [[ -n $userdata ]] && printf '            - name: cloudinit\n              disk:\n                bus: virtio\n')
$disk
          interfaces:
            - name: default
              masquerade: {}
              ports:
                - port: 8080
                - port: 8081
      networks:
        - name: default
          pod: {}
      terminationGracePeriodSeconds: ${VM_GRACE_SECONDS:-10}
      volumes:
        - name: root
          containerDisk:
            image: $image
$( [[ -n $userdata ]] && { printf '        - name: cloudinit\n          cloudInitNoCloud:\n            userData: |\n'; sed 's/^/              /' "$userdata"; })
$volume
EOF
}

# The PVC disk of data_volume_yaml CLAIM, for vm_yaml's EXTRA_DISK_YAML and EXTRA_VOLUME_YAML.
data_disk_yaml() { printf '            - name: data\n              disk:\n                bus: virtio'; }
data_volume_yaml() { printf '        - name: data\n          persistentVolumeClaim:\n            claimName: %s' "$1"; }

# make_hostpath_pvc NS CLAIM PV DIR: in DIR a raw 64 MiB ext4 disk labelled kvdata (the test guest
# mounts it at /data) owned by the launcher's uid; a hostPath PV for DIR (label
# kubevirt-cpp.io/e2e=true, retained) bound to the PVC CLAIM in NS. Waits until the claim is Bound.
make_hostpath_pvc() {
	local ns=$1 claim=$2 pv=$3 dir=$4
	mkdir -p "$dir"
	truncate -s 64M "$dir/disk.img"
	mkfs.ext4 -q -F -L kvdata "$dir/disk.img"
	chown -R 107:107 "$dir"
	k apply -f - >&2 <<EOF
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $pv
  labels:
    kubevirt-cpp.io/e2e: "true"
spec:
  capacity:
    storage: 64Mi
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  claimRef:
    namespace: $ns
    name: $claim
  hostPath:
    path: $dir
    type: Directory
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: $claim
  namespace: $ns
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  volumeName: $pv
  resources:
    requests:
      storage: 64Mi
EOF
	wait_until 60 "PVC $claim Bound" bash -c "[[ \$('$KV_CLUSTER' kubectl -n $ns get pvc $claim -o jsonpath='{.status.phase}') == Bound ]]"
}

GUEST_READY=KUBEVIRT-CPP-GUEST-READY
