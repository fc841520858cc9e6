#!/usr/bin/env bash
# e2e: VMs on the local cluster, as a user sees them. Brings up its own cluster (tools/cluster,
# state dir KV_CLUSTER_STATE), builds and loads the images from BUILD_DIR (images/build),
# deploys manifests/, runs the cases below one after another, prints start-latency and memory
# figures, and tears the cluster down. Output: TAP on stdout (meson counts every case), progress
# and diagnostics on stderr. docs/e2e.md describes each case.
#
#   test/e2e/vm_test.sh BUILD_DIR        (root; meson test -C BUILD_DIR --suite e2e)
#
# Environment: KV_CLUSTER_STATE (/var/tmp/kubevirt-cpp-e2e-vm), KV_E2E_KEEP=1 (leave the cluster
# up), KV_E2E_LOGS (where logs are kept when something fails: /tmp/kubevirt-cpp-e2e-logs),
# KV_E2E_TIMEOUT_SCALE (multiplies every deadline), KV_E2E_BENCH_VMS (5), KV_E2E_ONLY (a regex of
# case names to run; setup always runs), KV_E2E_WAIT_CLUSTER (seconds to wait for another
# cluster on this machine to go away: 900), KV_E2E_DEADLINE (this script's own deadline in
# seconds, x KV_E2E_TIMEOUT_SCALE: 3300, below meson's 3600; the watchdog in lib.sh).
set -uo pipefail

KV_ROOT=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
BUILD=${1:-}
[[ -n $BUILD && -f $BUILD/build.ninja ]] || { echo "usage: vm_test.sh BUILD_DIR (a meson build dir)" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "1..0 # SKIP needs root (the local cluster runs as root)"; exit 0; }
export KV_CLUSTER_STATE=${KV_CLUSTER_STATE:-/var/tmp/kubevirt-cpp-e2e-vm}
# shellcheck source=lib.sh
. "$KV_ROOT/test/e2e/lib.sh"

NS=kv-e2e
VIRTCTL=$BUILD/tools/virtctl/virtctl
VERSION=$(sed -n "s/^[[:space:]]*version:[[:space:]]*'\([^']*\)'.*/\1/p" "$KV_ROOT/meson.build" | head -1)
# The add-on's and the test guests' images, as the kubelet pulls them from the cluster's registry
# (setup pushes them there with images/build --push).
IMG_PREFIX=$("$KV_CLUSTER" registry name)/kubevirt-cpp
IMG_DISK=$IMG_PREFIX/test-guest-containerdisk:$VERSION
IMG_BUSYBOX=docker.io/library/busybox:local
LOGS=${KV_E2E_LOGS:-/tmp/kubevirt-cpp-e2e-logs}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kv-e2e.XXXXXX")
TOKEN=$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')
n=0 failed=0 cluster_started=0
# The hostPath PersistentVolume's directory on the node (case_pvc).
PV_DIR=/var/tmp/kv-e2e-pv-$TOKEN

log() { printf '[e2e %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() {
	log "FAIL: $*"
	exit 1
}

# --- per-case clean-up: nothing of a case survives it ------------------------------------------
# Case files (test/e2e/cases/*.sh) add their own kinds' clean-up here: function names, each run
# before the VMs, VMIs and pods are deleted.
cleanup_hooks=()
cleanup_ns() {
	k get ns "$NS" >/dev/null 2>&1 || return 0
	local hook
	for hook in "${cleanup_hooks[@]}"; do "$hook"; done
	k -n "$NS" delete vm --all --wait=false >/dev/null 2>&1
	k -n "$NS" delete vmi --all --wait=false >/dev/null 2>&1
	k -n "$NS" delete pod --all --grace-period=0 --wait=false >/dev/null 2>&1
	wait_until 180 "VMIs and pods of namespace $NS to be gone" \
		bash -c "[[ -z \$('$KV_CLUSTER' kubectl -n $NS get vm,vmi,pod -o name 2>/dev/null) ]]" ||
		k -n "$NS" get vm,vmi,pod -o wide >&2
	k -n "$NS" delete pvc --all --wait=true --timeout=$((60 * KV_TIMEOUT_SCALE))s >/dev/null 2>&1
	k delete pv -l kubevirt-cpp.io/e2e=true --wait=true --timeout=$((60 * KV_TIMEOUT_SCALE))s >/dev/null 2>&1
	rm -rf "$PV_DIR"
}

diagnose() {
	{
		echo "---- state after the failure (namespace $NS)"
		k -n "$NS" get vm,vmi,pod,pvc -o wide
		k -n "$NS" get vmi -o yaml | grep -A30 '^    status:' | head -60
		k -n "$NS" get events --sort-by=.lastTimestamp | tail -20
		local p
		for p in $(k -n "$NS" get pods -o name 2>/dev/null); do
			echo "---- $p (last 25 lines)"
			k -n "$NS" logs "$p" --all-containers --tail=25
		done
		echo "---- virt-controller (last 20 lines of each)"
		k -n kubevirt logs -l kubevirt.io=virt-controller --tail=20 --prefix
		echo "---- virt-handler (last 25 lines)"
		k -n kubevirt logs -l kubevirt.io=virt-handler --tail=25 --prefix
		echo "---- virt-api (last 15 lines of each)"
		k -n kubevirt logs -l kubevirt.io=virt-api --tail=15 --prefix
	} >&2 2>&1
}

# run_case NAME FUNCTION [keep]: runs FUNCTION in a subshell with errexit; prints a TAP line.
# Without "keep" the namespace is emptied afterwards (a group of cases sharing one VM passes
# "keep" until its last case).
run_case() {
	local name=$1 fn=$2 keep=${3:-}
	if [[ -n ${KV_E2E_ONLY:-} && ! $name =~ $KV_E2E_ONLY ]]; then
		return 0
	fi
	n=$((n + 1))
	log "--- case $n: $name"
	local t0=$SECONDS rc
	# Not inside `if`: bash ignores errexit in a subshell that is an if's condition.
	(set -e; "$fn")
	rc=$?
	if ((rc == 0)); then
		echo "ok $n - $name"
		log "ok ($((SECONDS - t0)) s): $name"
	else
		echo "not ok $n - $name"
		log "not ok ($((SECONDS - t0)) s): $name"
		failed=$((failed + 1))
		diagnose
	fi
	[[ $keep == keep ]] || cleanup_ns
}

finish() {
	local rc=$?
	trap - EXIT INT TERM
	((cluster_started)) && cleanup_ns
	tear_down_addon "$failed" || rc=1
	rm -rf "$WORK"
	# Then whatever the cases left running in the background (a watch of a failed case, a UDP
	# receiver) goes with it.
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

# --- setup ---------------------------------------------------------------------------------------
setup() {
	local t0=$SECONDS
	bring_up_addon "$BUILD" "$NS"
	log "cluster up, images pushed, add-on deployed in $((SECONDS - t0)) s"
	grep -E '^localhost/' "$WORK/images.log" | sed 's/^/# image /'
	local img
	[[ -x $VIRTCTL ]] || bail "virtctl is not built: $VIRTCTL (ninja -C $BUILD)"
	for img in virt-launcher virt-handler virt-controller virt-api test-guest-containerdisk; do
		grep -q "^localhost/kubevirt-cpp/$img:" "$WORK/images.log" ||
			bail "image $img was not built: $(grep "skipped: $img" "$WORK/images.log")"
	done
	"$KV_CLUSTER" load-image "$("$KV_CLUSTER" image-archive busybox)" >>"$WORK/images.log" 2>&1 || bail "loading the busybox image failed"
}

# --- objects -------------------------------------------------------------------------------------

virtctl() { "$VIRTCTL" --kubeconfig "$("$KV_CLUSTER" kubeconfig)" -n "$NS" "$@"; }

pod_ip_of() { # NS VMI -> the launcher pod's IP
	local uid
	uid=$(vmi_uid "$1" "$2")
	k -n "$1" get pods -l "kubevirt.io/created-by=$uid" -o jsonpath='{.items[0].status.podIP}'
}

wait_running_and_ready() { # NAME: VMI Running, then the console's ready line
	wait_until 180 "VMI $1 phase Running" vmi_phase_is "$NS" "$1" Running || return 1
	wait_until 180 "the console of $1 to print $GUEST_READY" console_has "$NS" "$1" "$GUEST_READY" || return 1
}

# Records every state of VMI NAME (watch events "TYPE UID PHASE") into FILE in the background.
watch_vmi() {
	k -n "$NS" get vmi "$1" -w --output-watch-events \
		-o jsonpath='{.type} {.object.metadata.uid} {.object.status.phase}{"\n"}' >"$2" 2>/dev/null &
	echo $!
}

# --- the lifecycle of one VM --------------------------------------------------------------------
# The guest's user data (cloud-init NoCloud) prints a token and serves a CGI on port 8081 that
# powers the guest off the way its ACPI button does: a guest-initiated poweroff.
cat >"$WORK/userdata" <<EOF
#!/bin/sh
mkdir -p /run/e2e/cgi-bin
cat >/run/e2e/cgi-bin/poweroff <<'CGI'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\npowering off\n'
( sleep 1; /etc/acpi/power-off ) </dev/null >/dev/console 2>&1 &
CGI
chmod +x /run/e2e/cgi-bin/poweroff
httpd -p 8081 -h /run/e2e
echo KV-E2E-USERDATA-$TOKEN
EOF

case_vm_running() {
	vm_yaml e2e-vm Always "$WORK/userdata" >"$WORK/vm.yaml"
	k apply -f "$WORK/vm.yaml" >&2
	wait_running_and_ready e2e-vm
	local line
	line=$(k -n "$NS" get vm e2e-vm --no-headers)
	log "kubectl get vm: $line"
	[[ $(awk '{print $3, $4}' <<<"$line") == "Running true" ]] || fail "kubectl get vm shows '$line', want STATUS Running and READY true"
	local node
	node=$(vmi_field "$NS" e2e-vm '{.status.nodeName}')
	[[ $(k -n "$NS" get vmi -l "kubevirt.io/nodeName=$node" -o name) == *e2e-vm* ]] ||
		fail "kubectl get vmi -l kubevirt.io/nodeName=$node does not list e2e-vm"
	wait_until 30 "VMI e2e-vm condition Ready=True" \
		bash -c "[[ \$('$KV_CLUSTER' kubectl -n $NS get vmi e2e-vm -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}') == True ]]"
}

# netns_ip_of NS VMI: the IPv4 address of eth0 inside the launcher pod's network namespace, read
# on the node (a process of the pod's cgroup, nsenter): what the kernel has, not what the API says.
netns_ip_of() {
	local uid pod_uid cg pid
	uid=$(vmi_uid "$1" "$2")
	pod_uid=$(k -n "$1" get pods -l "kubevirt.io/created-by=$uid" -o jsonpath='{.items[0].metadata.uid}')
	[[ -n $pod_uid ]] || return 1
	cg=$(pod_cgroup "$pod_uid")
	[[ -n $cg ]] || return 1
	pid=$(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | head -1)
	[[ -n $pid ]] || return 1
	nsenter -t "$pid" -n ip -4 -o addr show dev eth0 | awk '{ split($4, a, "/"); print a[1]; exit }'
}

case_http() {
	local ip body vmi_ip pod_ip
	# The address the launcher pod's network namespace has on the node: the guest answers there,
	# and both the pod's status and the VMI's report it.
	ip=$(netns_ip_of "$NS" e2e-vm)
	[[ -n $ip ]] || fail "cannot read eth0's address in the network namespace of e2e-vm's launcher pod"
	body=$(curl -sS -m 10 --retry 3 --retry-connrefused "http://$ip:8080/") || fail "no HTTP answer from the guest at $ip:8080"
	log "http://$ip:8080/ -> $body"
	[[ $body == *"KUBEVIRT-CPP-GUEST hostname=e2e-vm"* ]] || fail "unexpected answer from $ip:8080: $body"
	vmi_ip=$(vmi_field "$NS" e2e-vm '{.status.interfaces[0].ipAddress}')
	pod_ip=$(pod_ip_of "$NS" e2e-vm)
	log "eth0 in the pod's netns: $ip; pod status: $pod_ip; VMI status.interfaces[0].ipAddress: $vmi_ip"
	[[ $vmi_ip == "$ip" ]] || fail "VMI status.interfaces[0].ipAddress is '$vmi_ip', the pod's network namespace has $ip"
	[[ $pod_ip == "$ip" ]] || fail "the pod's status.podIP is '$pod_ip', its network namespace has $ip"
}

case_cloud_init() {
	local c
	c=$(console "$NS" e2e-vm)
	grep -q KUBEVIRT-CPP-USER-DATA-BEGIN <<<"$c" || fail "the console shows no user data"
	grep -qx "KV-E2E-USERDATA-$TOKEN" <<<"$(tr -d '\r' <<<"$c")" || fail "the user-data script did not print KV-E2E-USERDATA-$TOKEN"
	grep -q "KUBEVIRT-CPP-USER-DATA-EXIT 0" <<<"$c" || fail "the user-data script did not exit 0"
}

case_virtctl_version() {
	local out
	out=$(virtctl version 2>&1) || fail "virtctl version failed: $out"
	log "virtctl version: $out"
	grep -q "^Client Version: .*$VERSION" <<<"$out" || fail "virtctl version shows no client version $VERSION: $out"
	grep -q "^Server Version: .*$VERSION" <<<"$out" || fail "virtctl version shows no server version $VERSION (virt-api through the aggregated API): $out"
	# virt-api's commit and build date are the build's: the same as this build's virtctl says,
	# and a commit of this source tree.
	local field client server
	for field in GitCommit BuildDate; do
		client=$(sed -n "s/^Client Version: .*$field:\"\([^\"]*\)\".*/\1/p" <<<"$out")
		server=$(sed -n "s/^Server Version: .*$field:\"\([^\"]*\)\".*/\1/p" <<<"$out")
		[[ -n $client && $server == "$client" ]] || fail "virt-api's $field is '$server', this build's is '$client': $out"
	done
	server=$(sed -n 's/^Server Version: .*GitCommit:"\([^"]*\)".*/\1/p' <<<"$out")
	[[ $(git -C "$KV_ROOT" cat-file -t "$server" 2>/dev/null) == commit ]] || fail "virt-api's GitCommit '$server' is not a commit of $KV_ROOT"
}

# The guest's shell is on its serial console: a command typed through virtctl console runs there.
# The line the guest prints ($((6*7)) evaluated) differs from what was typed, so the check cannot
# be satisfied by an echo of the input.
case_virtctl_console() {
	local pid
	# Without a terminal virtctl copies stdin to the console and the console to stdout until the
	# server closes the stream or it gets a signal.
	printf '\necho KV-E2E-CONSOLE-$((6*7))-%s\n' "$TOKEN" |
		"$VIRTCTL" --kubeconfig "$("$KV_CLUSTER" kubeconfig)" -n "$NS" console e2e-vm --timeout 1 \
			>"$WORK/console.out" 2>"$WORK/console.err" &
	pid=$!
	wait_until 60 "the guest's answer on virtctl console" grep -q "KV-E2E-CONSOLE-42-$TOKEN" "$WORK/console.out" ||
		{ kill "$pid" 2>/dev/null; fail "no KV-E2E-CONSOLE-42-$TOKEN in the console output: $(tail -c 600 "$WORK/console.out"); stderr: $(cat "$WORK/console.err")"; }
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" || true
	log "virtctl console stderr: $(tr '\n' ' ' <"$WORK/console.err")"
	grep -q "Successfully connected to e2e-vm console" "$WORK/console.err" || fail "virtctl console did not say it connected: $(cat "$WORK/console.err")"
}

case_virtctl_pause() {
	local ip
	ip=$(pod_ip_of "$NS" e2e-vm)
	virtctl pause vmi e2e-vm >&2
	wait_until 60 "VMI e2e-vm condition Paused=True" \
		bash -c "[[ \$('$KV_CLUSTER' kubectl -n $NS get vmi e2e-vm -o jsonpath='{.status.conditions[?(@.type==\"Paused\")].status}') == True ]]"
	wait_until 60 "VM e2e-vm printableStatus Paused" vm_printable_is "$NS" e2e-vm Paused
	! curl -sS -m 3 "http://$ip:8080/" >/dev/null 2>&1 || fail "the paused guest still answers HTTP"
	virtctl unpause vmi e2e-vm >&2
	wait_until 60 "VMI e2e-vm without Paused=True" \
		bash -c "[[ \$('$KV_CLUSTER' kubectl -n $NS get vmi e2e-vm -o jsonpath='{.status.conditions[?(@.type==\"Paused\")].status}') != True ]]"
	curl -sS -m 10 --retry 3 --retry-connrefused "http://$ip:8080/" >/dev/null || fail "the unpaused guest does not answer HTTP"
	wait_until 60 "VM e2e-vm printableStatus Running" vm_printable_is "$NS" e2e-vm Running
}

case_virtctl_restart() {
	local uid
	uid=$(vmi_uid "$NS" e2e-vm)
	virtctl restart e2e-vm >&2
	wait_until 180 "a new VMI e2e-vm (not $uid) Running" vmi_replaced_running "$NS" e2e-vm "$uid"
	wait_until 180 "the console of the new VMI to print $GUEST_READY" console_has "$NS" e2e-vm "$GUEST_READY"
}

case_stop() {
	local uid out
	uid=$(vmi_uid "$NS" e2e-vm)
	virtctl stop e2e-vm >&2
	wait_until 120 "VM e2e-vm printableStatus Stopped" vm_printable_is "$NS" e2e-vm Stopped
	wait_until 60 "VMI e2e-vm gone" vmi_gone "$NS" e2e-vm
	wait_until 60 "the launcher pod of VMI $uid gone" no_launcher_pods "$NS" "$uid"
	log "kubectl get vm: $(k -n "$NS" get vm e2e-vm --no-headers)"
	# Stopping it again is an error that says why.
	if out=$(virtctl stop e2e-vm 2>&1); then fail "virtctl stop of a stopped VM succeeded: $out"; fi
	log "virtctl stop of the stopped VM: $out"
	# Upstream's wording (virt-api's vmNotRunning), behind virtctl's "Error stopping VirtualMachine".
	[[ $out == *"Error stopping VirtualMachine"* && $out == *"VM is not running"* ]] ||
		fail "stopping a stopped VM does not say 'Error stopping VirtualMachine ... VM is not running': $out"
}

# Upstream's `virtctl start --paused` on a stopped (Halted) VM: the VM turns to Always, its VMI
# carries spec.startStrategy Paused, QEMU starts with its CPUs stopped (the guest prints nothing),
# the VMI shows Paused=True and the VM Paused. Unpaused, the guest boots. It is stopped again
# for case_start.
case_start_paused() {
	local cond
	virtctl start e2e-vm --paused >&2
	wait_until 180 "VMI e2e-vm phase Running" vmi_phase_is "$NS" e2e-vm Running
	[[ $(k -n "$NS" get vmi e2e-vm -o jsonpath='{.spec.startStrategy}') == Paused ]] ||
		fail "VMI e2e-vm has no spec.startStrategy Paused: $(k -n "$NS" get vmi e2e-vm -o jsonpath='{.spec}')"
	wait_until 60 "VMI e2e-vm condition Paused=True" \
		bash -c "[[ \$('$KV_CLUSTER' kubectl -n $NS get vmi e2e-vm -o jsonpath='{.status.conditions[?(@.type==\"Paused\")].status}') == True ]]"
	cond=$(k -n "$NS" get vmi e2e-vm -o jsonpath='{.status.conditions[?(@.type=="Paused")].reason}')
	[[ $cond == PausedByUser ]] || fail "the Paused condition's reason is '$cond', not PausedByUser"
	wait_until 60 "VM e2e-vm printableStatus Paused" vm_printable_is "$NS" e2e-vm Paused
	# Not a timing guess: a guest whose CPUs never ran has written nothing to its serial port.
	! console_has "$NS" e2e-vm "$GUEST_READY" || fail "the guest started paused printed its ready line"
	virtctl unpause vmi e2e-vm >&2
	wait_until 180 "the console of e2e-vm to print $GUEST_READY" console_has "$NS" e2e-vm "$GUEST_READY"
	wait_until 60 "VM e2e-vm printableStatus Running" vm_printable_is "$NS" e2e-vm Running
	virtctl stop e2e-vm >&2
	wait_until 120 "VM e2e-vm printableStatus Stopped" vm_printable_is "$NS" e2e-vm Stopped
	wait_until 60 "VMI e2e-vm gone" vmi_gone "$NS" e2e-vm
}

case_start() {
	virtctl start e2e-vm >&2
	wait_running_and_ready e2e-vm
	wait_until 60 "VM e2e-vm printableStatus Running" vm_printable_is "$NS" e2e-vm Running
}

case_guest_poweroff() {
	local uid ip w
	uid=$(vmi_uid "$NS" e2e-vm)
	ip=$(pod_ip_of "$NS" e2e-vm)
	w=$(watch_vmi e2e-vm "$WORK/watch-poweroff")
	curl -sS -m 10 --retry 3 --retry-connrefused "http://$ip:8081/cgi-bin/poweroff" >&2 || { kill "$w"; fail "the guest's poweroff CGI did not answer"; }
	wait_until 180 "a new VMI e2e-vm (not $uid) Running" vmi_replaced_running "$NS" e2e-vm "$uid" || { kill "$w"; exit 1; }
	kill "$w" 2>/dev/null
	log "VMI states seen: $(tr '\n' ';' <"$WORK/watch-poweroff")"
	grep -q "$uid Succeeded" "$WORK/watch-poweroff" || fail "VMI $uid never showed phase Succeeded after the guest powered off"
	wait_until 180 "the console of the new VMI to print $GUEST_READY" console_has "$NS" e2e-vm "$GUEST_READY"
}

case_delete_pod() {
	local uid pod w
	uid=$(vmi_uid "$NS" e2e-vm)
	pod=$(launcher_pod "$NS" "$uid")
	[[ -n $pod ]] || fail "VMI $uid has no launcher pod"
	w=$(watch_vmi e2e-vm "$WORK/watch-delete-pod")
	k -n "$NS" delete "$pod" --wait=false >&2
	wait_until 180 "a new VMI e2e-vm (not $uid) Running" vmi_replaced_running "$NS" e2e-vm "$uid" || { kill "$w"; exit 1; }
	kill "$w" 2>/dev/null
	log "VMI states seen: $(tr '\n' ';' <"$WORK/watch-delete-pod")"
	grep -q "$uid Failed" "$WORK/watch-delete-pod" || fail "VMI $uid never showed phase Failed after its pod was deleted"
	wait_until 180 "the console of the new VMI to print $GUEST_READY" console_has "$NS" e2e-vm "$GUEST_READY"
}

case_delete_vm() {
	local uid
	uid=$(vmi_uid "$NS" e2e-vm)
	k -n "$NS" delete vm e2e-vm --wait=false >&2
	wait_until 120 "VM e2e-vm gone" bash -c "! '$KV_CLUSTER' kubectl -n $NS get vm e2e-vm"
	wait_until 60 "VMI e2e-vm gone" vmi_gone "$NS" e2e-vm
	wait_until 60 "the launcher pod of VMI $uid gone" no_launcher_pods "$NS" "$uid"
}

# --- a PVC disk ------------------------------------------------------------------------------------
case_pvc() {
	make_hostpath_pvc "$NS" e2e-pvc "kv-e2e-pv-$TOKEN" "$PV_DIR"
	cat >"$WORK/userdata-pvc" <<EOF
#!/bin/sh
if [ -f /data/e2e-token ]; then echo "KV-E2E-PVC-FOUND \$(cat /data/e2e-token)"; else echo $TOKEN >/data/e2e-token && sync && echo "KV-E2E-PVC-WROTE $TOKEN"; fi
EOF
	vm_yaml e2e-pvc Always "$WORK/userdata-pvc" "$(data_disk_yaml)" "$(data_volume_yaml e2e-pvc)" >"$WORK/vm-pvc.yaml"
	k apply -f "$WORK/vm-pvc.yaml" >&2
	wait_running_and_ready e2e-pvc
	console_has "$NS" e2e-pvc "KUBEVIRT-CPP-GUEST-DATA .* mounted at /data" || fail "the guest did not mount the PVC disk at /data"
	console_has "$NS" e2e-pvc "KV-E2E-PVC-WROTE $TOKEN" || fail "the guest did not write its token to /data"
	local uid
	uid=$(vmi_uid "$NS" e2e-pvc)
	k -n "$NS" patch vm e2e-pvc --type merge -p '{"spec":{"runStrategy":"Halted"}}' >&2
	wait_until 120 "VM e2e-pvc Stopped and its pod gone" no_launcher_pods "$NS" "$uid"
	k -n "$NS" patch vm e2e-pvc --type merge -p '{"spec":{"runStrategy":"Always"}}' >&2
	wait_running_and_ready e2e-pvc
	console_has "$NS" e2e-pvc "KV-E2E-PVC-FOUND $TOKEN" || fail "after the restart the guest did not find the token it wrote on the PVC"
}

# --- rejected and failing VMs -------------------------------------------------------------------
case_invalid() {
	local out
	vm_yaml e2e-invalid Sometimes >"$WORK/vm-invalid.yaml"
	if out=$(k apply -f "$WORK/vm-invalid.yaml" 2>&1); then
		fail "a VM with runStrategy Sometimes was accepted: $out"
	fi
	log "kubectl apply said: $out"
	[[ $out == *'spec.runStrategy: Unsupported value: "Sometimes"'* ]] || fail "the message does not name spec.runStrategy and the bad value: $out"
	[[ $out == *'"Always"'* ]] || fail "the message does not list the allowed values: $out"
	! k -n "$NS" get vm e2e-invalid >/dev/null 2>&1 || fail "the invalid VM exists"
}

# What the CRD schema cannot see, virt-api's validating webhook does: a disk without a volume.
case_webhook() {
	local out
	vm_yaml e2e-badref Always >"$WORK/vm-badref.yaml"
	sed -i 's/^\(        - name: \)root$/\1rootfs/' "$WORK/vm-badref.yaml"
	if out=$(k apply -f "$WORK/vm-badref.yaml" 2>&1); then
		fail "a VM whose disk has no volume was accepted: $out"
	fi
	log "kubectl apply said: $out"
	[[ $out == *'The VirtualMachine "e2e-badref" is invalid'* ]] || fail "the message does not name the VM: $out"
	[[ $out == *'spec.template.spec.domain.devices.disks[0].name: "root" has no matching volume'* ]] ||
		fail "the message does not name the disk and what is wrong: $out"
	! k -n "$NS" get vm e2e-badref >/dev/null 2>&1 || fail "the invalid VM exists"
}

case_missing_image() {
	IMG_OVERRIDE=localhost/kubevirt-cpp/no-such-image:$TOKEN vm_yaml e2e-noimage Always >"$WORK/vm-noimage.yaml"
	k apply -f "$WORK/vm-noimage.yaml" >&2
	wait_until 180 "VM e2e-noimage printableStatus ErrImagePull or ImagePullBackOff" \
		bash -c "[[ \$('$KV_CLUSTER' kubectl -n $NS get vm e2e-noimage -o jsonpath='{.status.printableStatus}') =~ ^(ErrImagePull|ImagePullBackOff)$ ]]"
	log "kubectl get vm: $(k -n "$NS" get vm e2e-noimage --no-headers)"
}

# --- figures -------------------------------------------------------------------------------------
p50() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }
pod_cgroup() { # pod uid -> its memory cgroup dir
	find /sys/fs/cgroup/memory -maxdepth 6 -type d -name "pod$1" 2>/dev/null | head -1
}

# Certificate hot reload: new leaves for virt-api and virt-handler, signed by the add-on's CA,
# written into their Secrets; the next TLS connection to each gets the new certificate, and no
# pod restarted.
served_fingerprint() { # IP PORT: the SHA-256 fingerprint of the certificate served there
	openssl s_client -connect "$1:$2" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 2>/dev/null
}
serves_fingerprint() { [[ $(served_fingerprint "$1" "$2") == "$3" ]]; }
pods_state() { # LABEL: "uid restarts" of each pod with kubevirt.io=LABEL
	k -n kubevirt get pods -l "kubevirt.io=$1" \
		-o jsonpath='{range .items[*]}{.metadata.uid} {.status.containerStatuses[0].restartCount}{"\n"}{end}'
}
case_cert_rotation() {
	local dir=$WORK/rotation api_ip handler_ip api_before handler_before
	mkdir -p "$dir"
	k -n kubevirt get secret kubevirt-ca -o jsonpath='{.data.ca\.crt}' | base64 -d >"$dir/ca.crt"
	k -n kubevirt get secret kubevirt-ca -o jsonpath='{.data.ca\.key}' | base64 -d >"$dir/ca.key"
	[[ -s $dir/ca.crt && -s $dir/ca.key ]] || fail "cannot read the CA from Secret kubevirt/kubevirt-ca"
	api_ip=$(k -n kubevirt get pods -l kubevirt.io=virt-api -o jsonpath='{.items[0].status.podIP}')
	handler_ip=$(k -n kubevirt get pods -l kubevirt.io=virt-handler -o jsonpath='{.items[0].status.podIP}')
	[[ -n $api_ip && -n $handler_ip ]] || fail "no virt-api or virt-handler pod IP"
	api_before=$(pods_state virt-api)
	handler_before=$(pods_state virt-handler)
	local name secret sans fp old
	local -A new_fp
	for name in virt-api virt-handler; do
		secret=$name-certs
		if [[ $name == virt-api ]]; then
			sans="DNS:virt-api,DNS:virt-api.kubevirt,DNS:virt-api.kubevirt.svc,DNS:virt-api.kubevirt.svc.cluster.local"
		else
			sans="DNS:virt-handler.kubevirt.svc"
		fi
		openssl ecparam -name prime256v1 -genkey -noout -out "$dir/$name.key" 2>/dev/null
		openssl req -new -key "$dir/$name.key" -subj "/CN=$name" -out "$dir/$name.csr" 2>/dev/null
		printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' \
			"$sans" >"$dir/$name.ext"
		openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
			-days 30 -extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>/dev/null || fail "openssl cannot sign a $name certificate"
		fp=$(openssl x509 -in "$dir/$name.crt" -noout -fingerprint -sha256)
		new_fp[$name]=$fp
		old=$(k -n kubevirt get secret "$secret" -o jsonpath='{.data.tls\.crt}' | base64 -d | openssl x509 -noout -fingerprint -sha256)
		[[ $old != "$fp" ]] || fail "the new $name certificate is the old one"
		k -n kubevirt patch secret "$secret" --type merge \
			-p "{\"data\":{\"tls.crt\":\"$(base64 -w0 "$dir/$name.crt")\",\"tls.key\":\"$(base64 -w0 "$dir/$name.key")\"}}" >/dev/null ||
			fail "cannot write Secret kubevirt/$secret"
	done
	wait_until 60 "virt-api ($api_ip:8443) to serve its new certificate" serves_fingerprint "$api_ip" 8443 "${new_fp[virt-api]}" ||
		fail "virt-api at $api_ip:8443 serves $(served_fingerprint "$api_ip" 8443), not the new ${new_fp[virt-api]}"
	wait_until 60 "virt-handler ($handler_ip:8186) to serve its new certificate" serves_fingerprint "$handler_ip" 8186 "${new_fp[virt-handler]}" ||
		fail "virt-handler at $handler_ip:8186 serves $(served_fingerprint "$handler_ip" 8186), not the new ${new_fp[virt-handler]}"
	log "virt-api and virt-handler serve the rotated certificates"
	[[ $(pods_state virt-api) == "$api_before" ]] || fail "virt-api pods changed or restarted: before '$api_before', now '$(pods_state virt-api)'"
	[[ $(pods_state virt-handler) == "$handler_before" ]] || fail "virt-handler pods changed or restarted: before '$handler_before', now '$(pods_state virt-handler)'"
	# kube-apiserver's front proxy still reaches virt-api (its new certificate chains to the
	# APIService's caBundle).
	local out
	out=$(virtctl version 2>&1) || fail "virtctl version fails after the rotation: $out"
	grep -q "^Server Version: .*$VERSION" <<<"$out" || fail "no server version from virt-api after the rotation: $out"
}

case_figures() {
	local vms=${KV_E2E_BENCH_VMS:-5} i t0 t1 t2 name ph uid pod cg
	: >"$WORK/fig-vm-running" ; : >"$WORK/fig-vm-ready" ; : >"$WORK/fig-mem"
	for ((i = 1; i <= vms; i++)); do
		name=e2e-bench-$i
		vm_yaml "$name" Always >"$WORK/bench.yaml"
		t1="" t2=""
		t0=$(now)
		k apply -f "$WORK/bench.yaml" >/dev/null
		local deadline=$((SECONDS + 240 * KV_TIMEOUT_SCALE))
		while [[ -z $t2 ]] && ((SECONDS < deadline)); do
			if [[ -z $t1 ]]; then
				ph=$(vmi_phase "$NS" "$name")
				[[ $ph == Running ]] && t1=$(now)
			fi
			if console_has "$NS" "$name" "$GUEST_READY"; then
				t2=$(now)
				[[ -n $t1 ]] || t1=$t2
			fi
		done
		[[ -n $t2 ]] || fail "$name: no ready line within the deadline"
		elapsed "$t0" "$t1" >>"$WORK/fig-vm-running"
		elapsed "$t0" "$t2" >>"$WORK/fig-vm-ready"
		# Memory of the launcher pod once the guest is up: the pod cgroup's usage without
		# reclaimable page cache (the kubelet's working set), and the part of it that is guest RAM
		# QEMU has touched (the RSS of its 256 MiB guest-memory mapping).
		uid=$(vmi_uid "$NS" "$name")
		pod=$(k -n "$NS" get pods -l "kubevirt.io/created-by=$uid" -o jsonpath='{.items[0].metadata.uid}')
		cg=$(pod_cgroup "$pod")
		if [[ -n $cg ]]; then
			local usage inactive ws qpid guest_rss=0
			usage=$(cat "$cg/memory.usage_in_bytes")
			inactive=$(awk '$1 == "total_inactive_file" {print $2}' "$cg/memory.stat")
			ws=$((usage - inactive))
			for qpid in $(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null); do
				if [[ $(cat "/proc/$qpid/comm" 2>/dev/null) == qemu-system-x86* ]]; then
					guest_rss=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { big = 0 } /^Size: +262144 kB/ { big = 1 } big && /^Rss:/ { s += $2; big = 0 } END { print s * 1024 }' "/proc/$qpid/smaps")
				fi
			done
			echo "$ws $guest_rss" >>"$WORK/fig-mem"
		fi
		log "$name: Running after $(elapsed "$t0" "$t1") s, ready line after $(elapsed "$t0" "$t2") s"
		k -n "$NS" delete vm "$name" --wait=false >/dev/null
		wait_until 120 "VM $name and its pod gone" bash -c "[[ -z \$('$KV_CLUSTER' kubectl -n $NS get vm,vmi,pod -o name 2>/dev/null) ]]"
	done
	: >"$WORK/fig-pod-running" ; : >"$WORK/fig-pod-ready"
	for ((i = 1; i <= vms; i++)); do
		name=e2e-busybox-$i
		cat >"$WORK/busybox.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $name
  namespace: $NS
spec:
  terminationGracePeriodSeconds: 0
  securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: busybox
      image: $IMG_BUSYBOX
      imagePullPolicy: Never
      securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
      command: [sh, -c, 'echo BUSYBOX-READY; exec sleep 3600']
EOF
		t1="" t2=""
		t0=$(now)
		k apply -f "$WORK/busybox.yaml" >/dev/null
		local deadline=$((SECONDS + 120 * KV_TIMEOUT_SCALE))
		while [[ -z $t2 ]] && ((SECONDS < deadline)); do
			if [[ -z $t1 && $(k -n "$NS" get pod "$name" -o jsonpath='{.status.phase}' 2>/dev/null) == Running ]]; then
				t1=$(now)
			fi
			if [[ -n $t1 ]] && grep -q BUSYBOX-READY <<<"$(k -n "$NS" logs "$name" 2>/dev/null)"; then
				t2=$(now)
			fi
		done
		[[ -n $t2 ]] || fail "$name: no BUSYBOX-READY within the deadline"
		elapsed "$t0" "$t1" >>"$WORK/fig-pod-running"
		elapsed "$t0" "$t2" >>"$WORK/fig-pod-ready"
		k -n "$NS" delete pod "$name" --grace-period=0 --wait=true >/dev/null
	done
	local vr vd pr pd
	vr=$(p50 <"$WORK/fig-vm-running") vd=$(p50 <"$WORK/fig-vm-ready")
	pr=$(p50 <"$WORK/fig-pod-running") pd=$(p50 <"$WORK/fig-pod-ready")
	{
		echo "start latency, p50 over $vms, one at a time (kubectl apply -> VMI Running / console ready line):"
		echo "  VM:          Running $vr s, ready line $vd s   (all: $(tr '\n' ' ' <"$WORK/fig-vm-running")/ $(tr '\n' ' ' <"$WORK/fig-vm-ready"))"
		echo "  busybox pod: Running $pr s, first log line $pd s   (all: $(tr '\n' ' ' <"$WORK/fig-pod-running")/ $(tr '\n' ' ' <"$WORK/fig-pod-ready"))"
		if [[ -s $WORK/fig-mem ]]; then
			awk '{ ws += $1; g += $2; n++ } END {
				mib = 1048576
				printf "launcher pod memory at the ready line, mean of %d (cgroup usage - inactive page cache):\n", n
				printf "  %.0f MiB; minus 256 MiB guest RAM: %.0f MiB; minus the guest RAM QEMU has touched (%.0f MiB): %.0f MiB\n",
					ws / n / mib, (ws / n) / mib - 256, g / n / mib, (ws - g) / n / mib
			}' "$WORK/fig-mem"
		fi
		# Control-plane cost: the add-on's own processes on the node (RSS, kB -> MiB, each replica).
		local c rss
		printf 'add-on processes, RSS after the runs above:'
		for c in virt-controller virt-handler virt-api; do
			rss=$(ps -o rss= -C "$c" | awk '{ printf "%s%.0f", (NR > 1 ? "+" : ""), $1 / 1024 }')
			printf ' %s %s MiB;' "$c" "${rss:-?}"
		done
		echo
	} | tee "$WORK/figures.txt" | sed 's/^/# /'
	cat "$WORK/figures.txt" >&2
	[[ -z ${KV_E2E_REPORT:-} ]] || cp "$WORK/figures.txt" "$KV_E2E_REPORT"
}

# --- run -----------------------------------------------------------------------------------------
setup
run_case "a VM from a containerDisk reaches Running, its console prints the ready line, kubectl get vm shows Running and Ready, the VMI carries its node label" case_vm_running keep
run_case "the guest answers HTTP on the pod IP from the node; the VMI shows that IP" case_http keep
run_case "the guest got its cloud-init user data and ran it" case_cloud_init keep
run_case "virtctl version shows the client and virt-api's version" case_virtctl_version keep
run_case "virtctl console: a command typed on the serial console runs in the guest" case_virtctl_console keep
run_case "virtctl pause / unpause: the VMI shows Paused and the guest stops answering, then resumes" case_virtctl_pause keep
run_case "virtctl restart: a new VMI runs and prints the ready line" case_virtctl_restart keep
run_case "virtctl stop: the VM shows Stopped, VMI and launcher pod are gone; stopping again is a clear error" case_stop keep
run_case "virtctl start --paused: the VMI starts with startStrategy Paused and Paused=True, the guest silent until unpaused" case_start_paused keep
run_case "virtctl start: Running and the ready line" case_start keep
run_case "a guest poweroff with runStrategy Always: the VMI Succeeds and a new VMI runs" case_guest_poweroff keep
run_case "deleting the launcher pod: the VMI fails and the VM starts a new one" case_delete_pod keep
run_case "deleting the VM removes its VMI and launcher pod" case_delete_vm
run_case "a PVC disk (hostPath PV) keeps a file the guest wrote across a restart" case_pvc
run_case "an invalid VM is rejected with a message naming the field and the allowed values" case_invalid
run_case "virt-api's webhook rejects a VM whose disk has no volume, naming the disk" case_webhook
run_case "a VM whose containerDisk image does not exist shows ErrImagePull/ImagePullBackOff" case_missing_image
run_case "rotated virt-api and virt-handler certificates in their Secrets are served by new TLS connections without a pod restart" case_cert_rotation
# One file per topic under test/e2e/cases/: each defines its cases and calls run_case for them
# (in file-name order), with every helper above at hand.
for cases in "$KV_ROOT"/test/e2e/cases/*.sh; do
	[[ -e $cases ]] || continue
	# shellcheck source=/dev/null
	. "$cases"
done
run_case "figures: start latency of VMs and busybox pods, launcher memory" case_figures
