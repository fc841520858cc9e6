#!/usr/bin/env bash
# Fault suite: SIGKILL each part of the system while VMs are being created, started, stopped,
# paused and deleted, restart what Kubernetes or tools/cluster would restart, and check that the
# state converges and nothing is lost. docs/reliability.md explains the rounds and shows the
# latest table.
#
#   test/faults/fault_test.sh BUILD_DIR        (root; meson test -C BUILD_DIR --suite faults)
#
# Each round issues five operations (create, start, stop, pause, delete, each on its own VM) and
# kills its target at once. Then, within BOUND seconds of the kill (times KV_E2E_TIMEOUT_SCALE):
#   - every operation reached its end state (Running / Stopped / Paused / gone),
#   - the steady VM (its processes never killed) kept the same QEMU PID and answers on its
#     console through virtctl console, and the token its guest wrote on its PVC reads the same,
#   - no VM has more than one live launcher pod, no launcher pod is left without its VMI,
#   - where the fault killed a VM's own process (launcher, libvirtd, QEMU), the VM ends as its
#     runStrategy (Always) says: running again.
# Extra rounds: the API server unreachable for 60 s (packets to its port dropped), watches that
# get 410 Gone (etcd compacted, API server restarted), and leader election handing over between
# the two virt-controllers while VMs start. At the end the steady VM is restarted and finds the
# token it wrote on its PVC before the first fault.
#
# Output: TAP on stdout (one line per round), the table "fault x operation -> converged in N s /
# what was lost" on stdout as TAP comments and in BUILD_DIR/faults-table.md.
# Environment: as test/e2e/vm_test.sh (KV_CLUSTER_STATE, KV_E2E_TIMEOUT_SCALE, KV_E2E_KEEP,
# KV_E2E_LOGS); KV_FAULTS_ONLY: a regex of fault names to run.
set -uo pipefail

KV_ROOT=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
BUILD=${1:-}
[[ -n $BUILD && -f $BUILD/build.ninja ]] || { echo "usage: fault_test.sh BUILD_DIR (a meson build dir)" >&2; exit 2; }
BUILD=$(cd "$BUILD" && pwd)
[[ $(id -u) == 0 ]] || { echo "1..0 # SKIP needs root (the local cluster runs as root)"; exit 0; }
export KV_CLUSTER_STATE=${KV_CLUSTER_STATE:-/var/tmp/kubevirt-cpp-faults}
# shellcheck source=../e2e/lib.sh
. "$KV_ROOT/test/e2e/lib.sh"

NS=kv-faults
VIRTCTL=$BUILD/tools/virtctl/virtctl
VERSION=$(sed -n "s/^[[:space:]]*version:[[:space:]]*'\([^']*\)'.*/\1/p" "$KV_ROOT/meson.build" | head -1)
IMG_DISK=$("$KV_CLUSTER" registry name)/kubevirt-cpp/test-guest-containerdisk:$VERSION
LOGS=${KV_E2E_LOGS:-/tmp/kubevirt-cpp-faults-logs}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kv-faults.XXXXXX")
TOKEN=$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')
PV_DIR=/var/tmp/kv-faults-pv-$TOKEN
# Seconds from the kill until every operation of a round must have converged.
BOUND=$((150 * KV_TIMEOUT_SCALE))
ETCD=http://127.0.0.1:${KV_ETCD_PORT:-12379}
APISERVER_PORT=${KV_APISERVER_PORT:-16443}
DROP_RULE=(INPUT -p tcp --dport "$APISERVER_PORT" -m comment --comment kv-faults-partition -j DROP)
n=0 failed=0 cluster_started=0 serial=0
TABLE=$BUILD/faults-table.md

log() { printf '[faults %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
virtctl() { "$VIRTCTL" --kubeconfig "$("$KV_CLUSTER" kubeconfig)" -n "$NS" "$@"; }

# --- end: the partition rule, the cluster and the PV directory never outlive the run ----------
finish() {
	local rc=$?
	trap - EXIT INT TERM
	while iptables -D "${DROP_RULE[@]}" 2>/dev/null; do :; done
	tear_down_addon "$failed" || rc=1
	rm -rf "$WORK" "$PV_DIR"
	kill_own_group TERM
	echo "1..$n"
	((failed == 0 && rc == 0)) || exit 1
	exit 0
}
trap finish EXIT
trap 'exit 130' INT TERM

bail() {
	echo "Bail out! $*"
	log "$*"
	failed=$((failed + 1))
	exit 1
}

# --- the cluster, the add-on and the first VMs --------------------------------------------------
setup() {
	# A partition rule of a run that was killed before its clean-up.
	while iptables -D "${DROP_RULE[@]}" 2>/dev/null; do :; done
	bring_up_addon "$BUILD" "$NS"
	[[ -x $VIRTCTL ]] || bail "virtctl is not built: $VIRTCTL (ninja -C $BUILD)"
}

# new_vm NAME RUN_STRATEGY [with-pvc]: the test guest (lib.sh's vm_yaml); with-pvc adds the PVC
# "steady-data" as a second disk and user data that writes (first boot) or reads the token.
VM_GRACE_SECONDS=5
new_vm() {
	if [[ -n ${3:-} ]]; then
		cat >"$WORK/userdata-pvc" <<EOF
#!/bin/sh
if [ -f /data/token ]; then echo "KV-FAULTS-PVC-FOUND \$(cat /data/token)"; else echo $TOKEN >/data/token && sync && echo "KV-FAULTS-PVC-WROTE $TOKEN"; fi
EOF
		vm_yaml "$1" "$2" "$WORK/userdata-pvc" "$(data_disk_yaml)" "$(data_volume_yaml steady-data)"
	else
		vm_yaml "$1" "$2"
	fi | k apply -f - >&2
}

# --- what the cluster shows ------------------------------------------------------------------------
# snapshot: one read of the namespace, summed up by one python run into $WORK/snap.states, one line
# per VM or VMI name: "NAME <vm printableStatus|-> <vmi uid|-> <vmi phase|-> <paused True|False>
# <live pods of that uid>", and "#orphans N": live launcher pods whose VMI uid is no VMI's.
# state NAME and orphans answer from it.
snapshot() {
	k -n "$NS" get vm,vmi,pods -o json >"$WORK/snap.json" 2>/dev/null
	python3 - "$WORK/snap.json" >"$WORK/snap.states" <<'PY'
import json, sys
try:
    items = json.load(open(sys.argv[1]))["items"]
except Exception:
    print("#unreadable"); sys.exit(0)
def live(p):
    return not p["metadata"].get("deletionTimestamp") and \
        p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
pods = [p for p in items if p["kind"] == "Pod" and live(p)
        and p["metadata"].get("labels", {}).get("kubevirt.io/created-by")]
by_name = {}
for i in items:
    if i["kind"] in ("VirtualMachine", "VirtualMachineInstance"):
        by_name.setdefault(i["metadata"]["name"], {})[i["kind"]] = i
for name, objs in by_name.items():
    vm, vmi = objs.get("VirtualMachine"), objs.get("VirtualMachineInstance")
    uid = vmi["metadata"]["uid"] if vmi else "-"
    paused = "False"
    for c in (vmi or {}).get("status", {}).get("conditions", []):
        if c.get("type") == "Paused":
            paused = c.get("status", "False")
    n = sum(1 for p in pods if p["metadata"]["labels"]["kubevirt.io/created-by"] == uid)
    print(name, vm.get("status", {}).get("printableStatus", "-") if vm else "-", uid,
          vmi.get("status", {}).get("phase", "-") if vmi else "-", paused, n)
uids = {i["metadata"]["uid"] for i in items if i["kind"] == "VirtualMachineInstance"}
print("#orphans", sum(1 for p in pods if p["metadata"]["labels"]["kubevirt.io/created-by"] not in uids))
PY
}
state() {
	local line
	if grep -q '^#unreadable' "$WORK/snap.states"; then
		echo "? ? ? ? ?"
		return
	fi
	line=$(grep -m1 "^$1 " "$WORK/snap.states")
	if [[ -n $line ]]; then echo "${line#* }"; else echo "- - - False 0"; fi
}
orphans() { grep -q '^#orphans' "$WORK/snap.states" && sed -n 's/^#orphans //p' "$WORK/snap.states" || echo unknown; }

# The end state each operation must reach (from the last snapshot).
#   running NAME   VM Running, its VMI Running, one live launcher pod
#   stopped NAME   VM Stopped, no VMI
#   paused NAME    VM Paused, VMI Paused=True, one live launcher pod
#   gone NAME      no VM, no VMI
reached() {
	local want=$1 name=$2 s
	read -r -a s <<<"$(state "$name")"
	case $want in
	running) [[ ${s[0]} == Running && ${s[2]} == Running && ${s[3]} == False && ${s[4]} == 1 ]] ;;
	stopped) [[ ${s[0]} == Stopped && ${s[1]} == - ]] ;;
	paused) [[ ${s[0]} == Paused && ${s[3]} == True && ${s[4]} == 1 ]] ;;
	gone) [[ ${s[0]} == - && ${s[1]} == - ]] ;;
	esac
}
vmi_uid_now() { read -r -a s <<<"$(state "$1")" && echo "${s[1]}"; }

# --- processes on the node ---------------------------------------------------------------------------
# pod_pids NS POD COMM: the PIDs named COMM in pod POD's containers (by the pod's cgroup).
pod_pids() {
	local uid pid
	uid=$(k -n "$1" get pod "$2" -o jsonpath='{.metadata.uid}' 2>/dev/null)
	[[ -n $uid ]] || return 0
	for pid in $(pgrep -x "$3"); do
		grep -qE "pod(${uid}|${uid//-/_})" "/proc/$pid/cgroup" 2>/dev/null && echo "$pid"
	done
}
launcher_pod_of() { # VM NAME -> its live launcher pod's name
	local uid
	uid=$(vmi_uid "$NS" "$1")
	[[ -n $uid ]] || return 1
	k -n "$NS" get pods -l "kubevirt.io/created-by=$uid" \
		-o jsonpath='{range .items[?(@.status.phase=="Running")]}{.metadata.name}{"\n"}{end}' | sed -n 1p
}
vm_pids() { # VM COMM
	local pod
	pod=$(launcher_pod_of "$1") && [[ -n $pod ]] && pod_pids "$NS" "$pod" "$2"
}
qemu_pid() { vm_pids "$1" qemu-system-x86; }
component_pids() { # kubevirt.io label value, COMM: the component's processes on the node
	local p
	for p in $(k -n kubevirt get pods -l "kubevirt.io=$1" -o jsonpath='{.items[*].metadata.name}'); do
		pod_pids kubevirt "$p" "$2"
	done
}
cluster_pid() { read -r pid _ <"$KV_CLUSTER_STATE/run/$1.pid" && echo "$pid"; }

# console_answers VM: a line typed on virtctl console comes back evaluated by the guest's shell.
console_answers() {
	serial=$((serial + 1))
	local want=KV-FAULTS-$((serial * 7))-$TOKEN out=$WORK/console-$serial.out pid
	printf '\necho KV-FAULTS-$((%d*7))-%s\n' "$serial" "$TOKEN" |
		"$VIRTCTL" --kubeconfig "$("$KV_CLUSTER" kubeconfig)" -n "$NS" console "$1" --timeout 1 >"$out" 2>&1 &
	pid=$!
	local ok=1
	wait_until 20 "the guest's answer on virtctl console" grep -q "$want" "$out" && ok=0
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return $ok
}

# --- a round ------------------------------------------------------------------------------------------
# The VMs: steady (never touched), victim (its launcher, libvirtd or QEMU is killed), three running
# VMs to stop, pause and delete, one stopped VM to start, and a new one to create each round. What
# a round leaves (the created, started and unpaused VMs running, the stopped one stopped) feeds
# the next.
pool=(f-a f-b f-c)
halted=f-h
STEADY_PID=

declare -A cell
rows=()
ops=(create start stop pause delete steady victim)

# converge FAULT T0: polls until every operation of the round reached its end state, recording
# when each did (seconds since T0) into cell[FAULT,op]; stops at BOUND.
converge() {
	local fault=$1 t0=$2 op done_all t
	declare -A want=([create]="running $c_vm" [start]="running $s_vm" [stop]="stopped $x_vm" [pause]="paused $p_vm" [delete]="gone $d_vm")
	local -A at=()
	while :; do
		snapshot
		done_all=1
		for op in create start stop pause delete; do
			[[ -n ${at[$op]:-} ]] && continue
			# shellcheck disable=SC2086
			if reached ${want[$op]}; then
				at[$op]=$(elapsed "$t0" "$(now)")
			else
				done_all=0
			fi
		done
		if [[ -n $victim_check ]] && [[ -z ${at[victim]:-} ]]; then
			if "$victim_check"; then at[victim]=$(elapsed "$t0" "$(now)"); else done_all=0; fi
		fi
		((done_all)) && break
		t=$(elapsed "$t0" "$(now)")
		if awk -v t="$t" -v b="$BOUND" 'BEGIN { exit !(t > b) }'; then break; fi
		sleep 1
	done
	for op in create start stop pause delete; do
		if [[ -n ${at[$op]:-} ]]; then
			cell[$fault,$op]="${at[$op]} s"
		else
			read -r -a s <<<"$(state "${want[$op]#* }")"
			cell[$fault,$op]="NOT CONVERGED in ${BOUND} s (wanted ${want[$op]% *}; VM ${s[0]}, VMI ${s[2]}, paused ${s[3]}, ${s[4]} pods)"
			round_failed=1
		fi
	done
	if [[ -n $victim_check ]]; then
		if [[ -n ${at[victim]:-} ]]; then
			cell[$fault,victim]="$victim_result in ${at[victim]} s"
		else
			cell[$fault,victim]="NOT CONVERGED: $victim_result"
			round_failed=1
		fi
	else
		cell[$fault,victim]="-"
	fi
}

# Victim outcomes. Killing a VM's own launcher or QEMU ends that VMI; runStrategy Always must run
# a new one. Killing its libvirtd must not touch QEMU: same VMI, same QEMU PID.
victim_uid= victim_qemu=
victim_restarted() {
	reached running f-victim || return 1
	[[ $(vmi_uid_now f-victim) != "$victim_uid" ]] && victim_result="a new VMI runs (runStrategy Always)"
}
victim_kept() {
	reached running f-victim || return 1
	if [[ $(vmi_uid_now f-victim) == "$victim_uid" && $(qemu_pid f-victim) == "$victim_qemu" ]]; then
		victim_result="same VMI, same QEMU PID"
		return 0
	fi
	victim_result="LOST: the VM was restarted (new VMI), its QEMU PID changed"
	[[ $(vmi_uid_now f-victim) != "$victim_uid" ]] # converged, but lost: the round fails below
}

# restart_count LABEL: the restarts of the component's containers, summed over its pods.
restart_count() {
	k -n kubevirt get pods -l "kubevirt.io=$1" -o jsonpath='{range .items[*]}{range .status.containerStatuses[*]}{.restartCount}{"\n"}{end}{end}' |
		awk '{ s += $1 } END { print s + 0 }'
}

# kill_target FAULT: SIGKILL what the fault names; restart what tools/cluster would restart.
# Records what was killed for back_again.
killed_fault= killed_pids= restarts_before=
kill_target() {
	local pids=()
	killed_fault=$1
	case $1 in virt-*) restarts_before=$(restart_count "$1") ;; esac
	case $1 in
	virt-controller) mapfile -t pids < <(component_pids virt-controller virt-controller) ;;
	virt-handler) mapfile -t pids < <(component_pids virt-handler virt-handler) ;;
	virt-api) mapfile -t pids < <(component_pids virt-api virt-api) ;;
	launcher) mapfile -t pids < <(vm_pids f-victim virt-launcher) ;;
	libvirtd) mapfile -t pids < <(vm_pids f-victim libvirtd) ;;
	qemu) mapfile -t pids < <(vm_pids f-victim qemu-system-x86) ;;
	kube-apiserver | etcd | kubelet | containerd) pids=("$(cluster_pid "$1")") ;;
	esac
	((${#pids[@]})) && [[ -n ${pids[0]} ]] || { log "no process found for $1"; return 1; }
	log "SIGKILL $1: ${pids[*]}"
	killed_pids=${pids[*]}
	kill -KILL "${pids[@]}" || return 1
	case $1 in
	kube-apiserver | etcd | kubelet | containerd)
		local p
		# tools/cluster's supervisor is `cluster up`: it restarts what died.
		for p in "${pids[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done
		"$KV_CLUSTER" up >>"$WORK/cluster-restart.log" 2>&1 || { tail -20 "$WORK/cluster-restart.log" >&2; return 1; }
		;;
	esac
}

controller_back() {
	local running ready
	running=$(k -n kubevirt get pods -l kubevirt.io=virt-controller -o jsonpath='{range .items[*].status.containerStatuses[*]}{.started}{" "}{end}')
	ready=$(k -n kubevirt get pods -l kubevirt.io=virt-controller -o jsonpath='{.items[*].status.conditions[?(@.type=="Ready")].status}')
	[[ -n $running && $running != *false* && $ready == *True* ]]
}

# back_again: the killed component runs again (proof the kill happened and the restart took):
# the add-on's containers restarted by the kubelet and Ready, the cluster's processes under new
# PIDs.
back_again() {
	local after pid
	case $killed_fault in
	virt-*)
		after=$(restart_count "$killed_fault")
		((after > restarts_before)) || { echo "no container of $killed_fault restarted ($restarts_before restarts before, $after after)"; return 1; }
		if [[ $killed_fault == virt-controller ]]; then
			# Only the leader is Ready (/readyz, as upstream's); the standby runs unready. Every
			# container runs again, and one pod leads.
			wait_until 60 "virt-controller's containers running and one pod Ready" controller_back >/dev/null 2>&1 ||
				{ echo "virt-controller is not back (containers running, the leader Ready)"; return 1; }
		else
			k -n kubevirt wait --for=condition=Ready pod -l "kubevirt.io=$killed_fault" --timeout=$((60 * KV_TIMEOUT_SCALE))s >/dev/null 2>&1 ||
				{ echo "$killed_fault is not Ready again"; return 1; }
		fi
		;;
	*)
		pid=$(cluster_pid "$killed_fault")
		[[ -n $pid && " $killed_pids " != *" $pid "* ]] && kill -0 "$pid" 2>/dev/null ||
			{ echo "$killed_fault does not run again under a new PID"; return 1; }
		;;
	esac
	log "  $killed_fault runs again"
}

# issue_ops: the five operations, each on its own VM, without waiting for any.
issue_ops() {
	c_vm=f-n$n x_vm=${pool[0]} p_vm=${pool[1]} d_vm=${pool[2]} s_vm=$halted
	new_vm "$c_vm" Always
	virtctl start "$s_vm" >&2
	virtctl stop "$x_vm" >&2
	virtctl pause vmi "$p_vm" >&2
	k -n "$NS" delete vm "$d_vm" --wait=false >&2
}

check_steady() { # FAULT
	local pid
	pid=$(qemu_pid f-steady)
	if [[ $pid != "$STEADY_PID" ]]; then
		cell[$1,steady]="LOST: QEMU PID $STEADY_PID is now '${pid:-none}'"
		round_failed=1
		return
	fi
	if ! console_answers f-steady; then
		cell[$1,steady]="LOST: no answer on virtctl console"
		round_failed=1
		return
	fi
	# The PVC's data, read from the host side (the guest synced it after writing): a copy of the
	# disk image with its journal replayed, so metadata not yet checkpointed counts too.
	local data
	cp --sparse=always "$PV_DIR/disk.img" "$WORK/pvc-copy.img"
	e2fsck -y -E journal_only "$WORK/pvc-copy.img" >/dev/null 2>&1
	data=$(debugfs -R 'cat /token' "$WORK/pvc-copy.img" 2>/dev/null)
	if [[ $data != "$TOKEN" ]]; then
		cell[$1,steady]="LOST: the token on the PVC reads '$data'"
		round_failed=1
		return
	fi
	snapshot
	local o
	o=$(orphans)
	if [[ $o == unknown ]]; then
		cell[$1,steady]="same QEMU PID, console answers, PVC data intact; the namespace could not be read to look for orphans"
		round_failed=1
		return
	fi
	if ((o > 0)); then
		cell[$1,steady]="same QEMU PID, console answers, PVC data intact; $o launcher pod(s) without a VMI"
		round_failed=1
		return
	fi
	cell[$1,steady]="same QEMU PID, console answers, PVC data intact"
}

# run_round FAULT [KILLER [CHECK]]: one round; KILLER (default kill_target) injects the fault;
# CHECK, run after convergence, proves the fault did what it says (prints why not).
run_round() {
	local fault=$1 killer=${2:-kill_target} check=${3:-} why=
	if [[ -n ${KV_FAULTS_ONLY:-} && ! $fault =~ $KV_FAULTS_ONLY ]]; then
		return 0
	fi
	n=$((n + 1))
	rows+=("$fault")
	log "--- round $n: $fault"
	round_failed=0 victim_check= victim_result=
	victim_uid=$(vmi_uid "$NS" f-victim)
	victim_qemu=$(qemu_pid f-victim)
	case $fault in
	launcher | qemu) victim_check=victim_restarted ;;
	libvirtd) victim_check=victim_kept ;;
	esac
	issue_ops
	local t0
	t0=$(now)
	if ! "$killer" "$fault"; then
		log "injecting $fault failed"
		round_failed=1
	fi
	converge "$fault" "$t0"
	check_steady "$fault"
	[[ $victim_check == victim_kept && ${cell[$fault,victim]} == *LOST* ]] && round_failed=1
	if [[ -n $check ]] && ! why=$("$check"); then
		round_failed=1
		log "  $fault: $why"
	fi
	local op
	for op in "${ops[@]}"; do log "  $op: ${cell[$fault,$op]}"; done
	if ((round_failed)); then
		echo "not ok $n - $fault${why:+: $why}"
		failed=$((failed + 1))
	else
		echo "ok $n - $fault: every operation converged, nothing lost"
	fi
	# The next round's roles: unpause the paused VM; the created, started and unpaused VMs are
	# the running pool, the stopped one is started next.
	virtctl unpause vmi "$p_vm" >&2 || true
	wait_until 60 "VM $p_vm running after unpause" bash -c "'$KV_CLUSTER' kubectl -n $NS get vm $p_vm -o jsonpath='{.status.printableStatus}' | grep -qx Running" || true
	pool=("$c_vm" "$s_vm" "$p_vm")
	halted=$x_vm
}

# --- special faults ------------------------------------------------------------------------------------
# partition: packets to the API server's port dropped for 60 s (every client: kubelet, controller
# manager, the add-on), then let through. Established connections stall rather than break.
partition() {
	iptables -I "${DROP_RULE[@]}" || return 1
	local end=$((SECONDS + 60))
	while ((SECONDS < end)); do
		# The steady VM's QEMU must live through the partition.
		[[ -n $(pgrep -x qemu-system-x86 | grep -x "$STEADY_PID") ]] || { log "steady QEMU died during the partition"; break; }
		sleep 2
	done
	iptables -D "${DROP_RULE[@]}"
}

# watch_gone: etcd compacted to its current revision, then the API server killed and restarted:
# every informer's next watch asks for a resourceVersion that no longer exists and gets 410.
watch_gone() {
	local rev
	rev=$(curl -fsS -X POST "$ETCD/v3/kv/range" -d '{"key":"AA=="}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])') || return 1
	curl -fsS -X POST "$ETCD/v3/kv/compaction" -d "{\"revision\":\"$rev\",\"physical\":true}" >/dev/null || return 1
	log "etcd compacted at revision $rev"
	watch_gone_since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	kill_target kube-apiserver
}
# After the round: an informer of the add-on reported the expired watch and relisted.
watch_gone_seen() {
	back_again || return 1
	local c
	for c in virt-controller virt-handler virt-api; do
		k -n kubevirt logs -l "kubevirt.io=$c" --since-time="$watch_gone_since" --tail=-1 2>/dev/null |
			grep -q 'watch resourceVersion expired; relisting' && return 0
	done
	echo "no component logged an expired watch and a relist"
	return 1
}

# handover: the leading virt-controller's pod is deleted at once (no grace), so the standby must
# take the Lease while the round's VMs start.
lease_holder() { k -n kubevirt get lease virt-controller -o jsonpath='{.spec.holderIdentity}'; }
handover() {
	old_leader=$(lease_holder)
	[[ -n $old_leader ]] || return 1
	log "leader $old_leader: deleting its pod with no grace period"
	k -n kubevirt delete pod "$old_leader" --grace-period=0 --force >&2 2>/dev/null
}
handed_over() {
	local now_leader
	now_leader=$(lease_holder)
	log "lease holder after the handover: $now_leader (was $old_leader)"
	[[ -n $now_leader && $now_leader != "$old_leader" ]] && return 0
	echo "the Lease is held by '$now_leader', not the standby"
	return 1
}

write_table() {
	local f op
	{
		printf '| fault |'
		for op in "${ops[@]}"; do printf ' %s |' "$op"; done
		printf '\n|---|'
		for op in "${ops[@]}"; do printf -- '---|'; done
		printf '\n'
		for f in "${rows[@]}"; do
			printf '| %s |' "$f"
			for op in "${ops[@]}"; do printf ' %s |' "${cell[$f,$op]:--}"; done
			printf '\n'
		done
	} >"$TABLE"
	sed 's/^/# /' "$TABLE"
	log "table written to $TABLE"
}

# --- main --------------------------------------------------------------------------------------------
setup
log "the first VMs: steady (with a PVC), victim, three running, one stopped"
make_hostpath_pvc "$NS" steady-data "kv-faults-pv-$TOKEN" "$PV_DIR"
wait_until 60 "PVC steady-data Bound" bash -c "[[ \$('$KV_CLUSTER' kubectl -n $NS get pvc steady-data -o jsonpath='{.status.phase}') == Bound ]]" || bail "PVC steady-data not Bound"
new_vm f-steady Always with-pvc
new_vm f-victim Always
for v in "${pool[@]}"; do new_vm "$v" Always; done
new_vm "$halted" Halted
for v in f-steady f-victim "${pool[@]}"; do
	wait_until 240 "VM $v Running" vm_printable_is "$NS" "$v" Running || bail "VM $v did not reach Running"
done
wait_until 180 "the steady VM's guest to write its token on the PVC" console_has "$NS" f-steady "KV-FAULTS-PVC-WROTE $TOKEN" ||
	bail "the steady VM did not write its token to the PVC: $(console "$NS" f-steady | tail -5)"
STEADY_PID=$(qemu_pid f-steady)
[[ -n $STEADY_PID ]] || bail "no QEMU process found for the steady VM"
log "steady VM: QEMU PID $STEADY_PID"

for fault in virt-controller virt-handler virt-api launcher libvirtd qemu kube-apiserver etcd kubelet containerd; do
	case $fault in
	launcher | libvirtd | qemu) run_round "$fault" ;; # the victim's outcome is the proof
	*) run_round "$fault" kill_target back_again ;;
	esac
done

run_round "API server unreachable 60 s" partition
run_round "watch 410 Gone" watch_gone watch_gone_seen
run_round "leader handover" handover handed_over

# The PVC's data, written before the first fault, is intact: a restarted steady VM finds it.
n=$((n + 1))
log "--- $n: the steady VM's PVC data after every fault"
uid=$(vmi_uid "$NS" f-steady)
virtctl restart f-steady >&2
if wait_until 180 "the steady VM restarted" vmi_replaced_running "$NS" f-steady "$uid" &&
	wait_until 180 "the restarted guest to read its token" console_has "$NS" f-steady "KV-FAULTS-PVC-FOUND $TOKEN"; then
	echo "ok $n - the PVC data written before the first fault is intact"
else
	echo "not ok $n - the PVC data written before the first fault is intact"
	failed=$((failed + 1))
fi
write_table
