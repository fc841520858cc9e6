#!/usr/bin/env bash
# Integration test of virt-handler with the real parts: a control plane from tools/cluster
# (etcd + kube-apiserver + kube-controller-manager, private state dir and ports), the real
# virt-launcher (non-root, session libvirtd, QEMU under TCG) booting the test guest, and the real
# virt-handler. No kubelet: the test plays it (creates the launcher pod, sets its status, lays out
# <kubelet-root>/pods/<uid>/volumes/kubernetes.io~empty-dir/sockets and runs the launcher there),
# and plays virt-controller (labels the VMI with our node and sets it to Scheduled there).
#
# Checks, as a user would see them:
#   1. a Scheduled VMI reaches Running with interfaces (pod IP, MAC), Ready and a Running
#      phaseTransitionTimestamp; the Node gets the handler's heartbeat;
#   2. pause/unpause through the handler's HTTPS server (client certificate) show as conditions;
#   3. the handler killed and restarted while the VM runs: same QEMU PID, status unchanged (not
#      even rewritten), launcher re-attached;
#   4. guest powers off (poweroff typed on its console through the handler's console WebSocket,
#      as virt-api would) -> VMI Succeeded, launcher exits 0;
#   5. QEMU killed -> VMI Failed with reason QemuExited;
#   6. VMI deleted -> the handler shuts the guest down through the launcher (exit 0).
# Usage: handler_test.sh VIRT_HANDLER VIRT_LAUNCHER WS_CONSOLE
set -euo pipefail

HANDLER_BIN=$(readlink -f "$1")
LAUNCHER_BIN=$(readlink -f "$2")
WS_CONSOLE=$(readlink -f "$3")
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/../../.." && pwd)
CLUSTER=$ROOT/tools/cluster/cluster
NODE=kv-handler-it
NS=default

say() { printf '[handler-it %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() {
	say "FAIL: $*"
	exit 1
}
pass() { say "ok: $*"; }

[[ $(id -u) == 0 ]] || fail "needs root (runs the control plane; launchers run as nobody)"
[[ -x $HANDLER_BIN && -x $LAUNCHER_BIN && -x $WS_CONSOLE ]] || fail "usage: $0 VIRT_HANDLER VIRT_LAUNCHER WS_CONSOLE"

# Short paths: libvirt's socket lives under the launcher's ephemeral dir (<100 bytes).
WORK=$(mktemp -d /tmp/kvh.XXXXXX)
chmod 755 "$WORK"
export KV_CLUSTER_STATE=$WORK/cluster
export KV_APISERVER_PORT=${KV_APISERVER_PORT:-36443}
export KV_ETCD_PORT=${KV_ETCD_PORT:-32379}
export KV_ETCD_PEER_PORT=${KV_ETCD_PEER_PORT:-32380}
export KV_CM_PORT=${KV_CM_PORT:-30257}
KV_ROOT=$ROOT
# shellcheck source=../../e2e/lib.sh
. "$ROOT/test/e2e/lib.sh"
KUBELET_ROOT=$WORK/kubelet
HANDLER_PID=
LAUNCHER_PIDS=()

kc() { "$CLUSTER" kubectl "$@"; }

cleanup() {
	local rc=$?
	set +e
	[[ -n $HANDLER_PID ]] && kill "$HANDLER_PID" 2>/dev/null && wait "$HANDLER_PID" 2>/dev/null
	local p
	for p in "${LAUNCHER_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${LAUNCHER_PIDS[@]}"; do
		# The launcher shuts its guest down (grace 5 s) and exits; then nothing may be left.
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	# QEMU/libvirtd are the launchers' children (it is their subreaper); anything still running
	# from our work dir goes too.
	for p in $(pgrep -u nobody -f "$WORK" || true); do kill -9 "$p" 2>/dev/null; done
	if ((rc)); then
		say "logs kept in $WORK (handler.log, launcher-*.log); cluster logs: $KV_CLUSTER_STATE/logs"
		"$CLUSTER" down --keep-state >/dev/null 2>&1
	else
		"$CLUSTER" down >/dev/null 2>&1
		rm -rf "$WORK" "$WORK.watchdog.log"
	fi
	release_cluster_state
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# A control plane of a killed run goes first; this run's own deadline is below meson's 1200 s,
# and the watchdog tears down if this script is killed (test/e2e/lib.sh).
reclaim_stale_clusters
claim_cluster_state
KV_WATCHDOG_LOG=$WORK.watchdog.log start_watchdog "${KV_IT_DEADLINE:-1100}"

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND until it succeeds or the deadline.
wait_for() {
	local what=$1 secs=$(($2 * ${KV_E2E_TIMEOUT_SCALE:-1}))
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@"; do
		((SECONDS < deadline)) || fail "timed out after ${secs}s waiting for: $what"
		sleep 0.2
	done
}

vmi_field() { kc -n "$NS" get vmi "$1" -o "jsonpath=$2" 2>/dev/null; }
phase_is() { [[ $(vmi_field "$1" '{.status.phase}') == "$2" ]]; }
condition() { vmi_field "$1" "{.status.conditions[?(@.type==\"$2\")].status}"; }

# --- the guest, readable by the launcher's user
GUEST=$("$ROOT/test/guests/build-guest")
mkdir -p "$WORK/guest"
cp "$GUEST/vmlinuz" "$GUEST/initrd.img" "$WORK/guest/"
chmod -R a+rX "$WORK/guest"

# --- certificates for the stream server: a CA, the server's, and virt-api's client certificate
PKI=$WORK/pki
mkdir -p "$PKI"
(
	cd "$PKI"
	k="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
	openssl req -x509 $k -keyout ca.key -out ca.pem -days 2 -subj /CN=kv-test-ca
	printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
	openssl req $k -keyout server.key -out server.csr -subj /CN=virt-handler
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext
	openssl req $k -keyout client.key -out client.csr -subj /CN=virt-api
	openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2
) >/dev/null 2>&1 || fail "openssl could not make the test certificates"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
STREAM_PORT=$(free_port)
METRICS_PORT=$(free_port)

say "control plane up (state $KV_CLUSTER_STATE, apiserver :$KV_APISERVER_PORT)"
"$CLUSTER" up --control-plane-only >"$WORK/cluster-up.log" 2>&1 || {
	cat "$WORK/cluster-up.log" >&2
	fail "cluster up --control-plane-only"
}
KUBECONFIG_FILE=$("$CLUSTER" kubeconfig)
kc apply -f "$ROOT/manifests/crds/" >/dev/null
kc wait --for condition=established --timeout=$((60 * KV_TIMEOUT_SCALE))s crd/virtualmachineinstances.kubevirt.io >/dev/null
kc create -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $NODE
EOF

start_handler() {
	"$HANDLER_BIN" --kubeconfig "$KUBECONFIG_FILE" --node-name "$NODE" --kubelet-root "$KUBELET_ROOT" \
		--listen-address 127.0.0.1 --stream-port "$STREAM_PORT" \
		--tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key" --client-ca "$PKI/ca.pem" \
		--metrics-address 127.0.0.1 --metrics-port "$METRICS_PORT" --heartbeat-interval 2 \
		--log-level debug >>"$WORK/handler.log" 2>&1 &
	HANDLER_PID=$!
	wait_for "handler /healthz" 30 curl -sf "http://127.0.0.1:$METRICS_PORT/healthz" -o /dev/null
}
metric() { curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# start_vm NAME: the controller's and kubelet's part for one VMI, then the real launcher.
# Sets POD_UID[NAME], LAUNCHER_PID[NAME], POD_IP[NAME].
declare -A POD_UID LAUNCHER_PID POD_IP
N_VMS=0
start_vm() {
	local name=$1
	N_VMS=$((N_VMS + 1))
	local ip=10.244.0.$((50 + N_VMS))
	kc create -f - >/dev/null <<EOF
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: $name
  namespace: $NS
spec:
  terminationGracePeriodSeconds: 20
  domain:
    memory:
      guest: 256Mi
    firmware:
      kernelBoot:
        kernelArgs: console=ttyS0
        container:
          image: localhost/kubevirt-cpp/test-guest:local
          kernelPath: /vmlinuz
          initrdPath: /initrd.img
    devices:
      interfaces:
      - name: default
        masquerade: {}
  networks:
  - name: default
    pod: {}
EOF
	local uid
	uid=$(vmi_field "$name" '{.metadata.uid}')
	kc create -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: virt-launcher-$name
  namespace: $NS
  labels:
    kubevirt.io: virt-launcher
    kubevirt.io/created-by: "$uid"
spec:
  nodeName: $NODE
  tolerations:
  - operator: Exists
  containers:
  - name: compute
    image: localhost/kubevirt-cpp/virt-launcher:local
EOF
	local pod_uid
	pod_uid=$(kc -n "$NS" get pod "virt-launcher-$name" -o 'jsonpath={.metadata.uid}')
	POD_UID[$name]=$pod_uid
	POD_IP[$name]=$ip
	# As the kubelet would: the pod runs and has an address.
	local now
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	kc -n "$NS" patch pod "virt-launcher-$name" --subresource=status --type=merge -p "{\"status\":{\"phase\":\"Running\",\"podIP\":\"$ip\",\"podIPs\":[{\"ip\":\"$ip\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],\"containerStatuses\":[{\"name\":\"compute\",\"ready\":true,\"restartCount\":0,\"image\":\"x\",\"imageID\":\"\",\"state\":{\"running\":{\"startedAt\":\"$now\"}}}]}}" >/dev/null
	# The pod's emptyDir volume "sockets", where the kubelet would put it.
	local sockets=$KUBELET_ROOT/pods/$pod_uid/volumes/kubernetes.io~empty-dir/sockets
	local eph=$WORK/e-$name
	mkdir -p "$sockets" "$eph"
	chown nobody:nogroup "$sockets" "$eph"
	# Inside a pod the launcher sees this directory as /var/run/kubevirt-cpp/sockets; on the
	# host the real path is longer than a unix socket address allows (112 bytes under
	# /var/lib/kubelet), so the launcher binds through a short symlink, as the mount would give
	# it. The handler connects to the long path (through an O_PATH fd of the directory).
	ln -s "$sockets" "$WORK/s-$name"
	(cd "$WORK" && exec setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env HOME="$eph" "$LAUNCHER_BIN" --socket-dir "$WORK/s-$name" --ephemeral-dir "$eph" \
		--kernel-boot-dir "$WORK/guest" --allow-emulation --pod-ip 127.0.0.1 --grace-period 20 \
		>"$WORK/launcher-$name.log" 2>&1) &
	LAUNCHER_PID[$name]=$!
	LAUNCHER_PIDS+=("$!")
	# As the controller would once the pod is bound: the node label (the handler watches only
	# VMIs labelled with its node), then Scheduled on our node.
	kc -n "$NS" label vmi "$name" "kubevirt.io/nodeName=$NODE" >/dev/null
	kc -n "$NS" patch vmi "$name" --subresource=status --type=merge \
		-p "{\"status\":{\"phase\":\"Scheduled\",\"nodeName\":\"$NODE\",\"activePods\":{\"$pod_uid\":\"$NODE\"},\"phaseTransitionTimestamps\":[{\"phase\":\"Scheduled\",\"phaseTransitionTimestamp\":\"$now\"}]}}" >/dev/null
}

qemu_pid() { pgrep -u nobody -f "qemu-system-x86_64.*-name guest=${NS}_$1" | head -1 || true; }
guest_ready() { grep -q KUBEVIRT-CPP-GUEST-READY "$WORK/launcher-$1.log"; }
launcher_exited() { ! kill -0 "${LAUNCHER_PID[$1]}" 2>/dev/null; }
launcher_status() {
	local rc=0
	wait "${LAUNCHER_PID[$1]}" || rc=$?
	echo "$rc"
}

start_handler
wait_for "the handler's heartbeat on the Node" 30 \
	bash -c "[[ -n \$('$CLUSTER' kubectl get node $NODE -o 'jsonpath={.metadata.annotations.kubevirt\\.io/heartbeat}') ]]"
[[ $(kc get node "$NODE" -o 'jsonpath={.metadata.labels.kubevirt\.io/schedulable}') == true ]] ||
	fail "Node lacks label kubevirt.io/schedulable=true"
pass "heartbeat annotation and schedulable label on the Node"

# --- 1. Scheduled -> Running
say "VMI vm-a: Scheduled -> Running"
t0=$SECONDS
start_vm vm-a
wait_for "vm-a Running" 180 phase_is vm-a Running
say "vm-a Running $((SECONDS - t0)) s after it was Scheduled"
[[ $(vmi_field vm-a '{.status.interfaces[0].ipAddress}') == "${POD_IP[vm-a]}" ]] ||
	fail "interfaces[0].ipAddress is not the pod IP: $(vmi_field vm-a '{.status.interfaces}')"
[[ $(vmi_field vm-a '{.status.interfaces[0].name}') == default ]] || fail "interfaces[0].name"
[[ $(vmi_field vm-a '{.status.interfaces[0].mac}') =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]] ||
	fail "interfaces[0].mac: $(vmi_field vm-a '{.status.interfaces}')"
[[ $(condition vm-a Ready) == True ]] || fail "Ready is not True: $(vmi_field vm-a '{.status.conditions}')"
[[ -n $(vmi_field vm-a '{.status.phaseTransitionTimestamps[?(@.phase=="Running")].phaseTransitionTimestamp}') ]] ||
	fail "no Running phaseTransitionTimestamp"
[[ $(vmi_field vm-a '{.status.activePods}') == *"${POD_UID[vm-a]}"* ]] || fail "the controller's activePods were lost"
pass "vm-a Running: interfaces (pod IP, MAC), Ready=True, phaseTransitionTimestamps"
wait_for "vm-a's guest ready line on the console" 120 guest_ready vm-a

# --- 2. pause / unpause through the stream server (as virt-api would call it)
handler_put() {
	curl -sS -o "$WORK/put.out" -w '%{http_code}' --cacert "$PKI/ca.pem" --cert "$PKI/client.pem" --key "$PKI/client.key" \
		-X PUT "https://127.0.0.1:$STREAM_PORT/v1/namespaces/$NS/virtualmachineinstances/$1/$2"
}
[[ $(handler_put vm-a pause) == 200 ]] || fail "PUT pause: $(cat "$WORK/put.out")"
wait_for "Paused=True" 30 bash -c "[[ \$('$CLUSTER' kubectl -n $NS get vmi vm-a -o 'jsonpath={.status.conditions[?(@.type==\"Paused\")].status}') == True ]]"
[[ $(condition vm-a Ready) == False ]] || fail "Ready should be False while paused"
phase_is vm-a Running || fail "a paused VMI stays Running"
[[ $(handler_put vm-a unpause) == 200 ]] || fail "PUT unpause: $(cat "$WORK/put.out")"
wait_for "Ready=True after unpause" 30 bash -c "[[ \$('$CLUSTER' kubectl -n $NS get vmi vm-a -o 'jsonpath={.status.conditions[?(@.type==\"Ready\")].status}') == True ]]"
[[ -z $(condition vm-a Paused) ]] || fail "Paused condition left after unpause"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.pem" -X PUT \
	"https://127.0.0.1:$STREAM_PORT/v1/namespaces/$NS/virtualmachineinstances/vm-a/pause" 2>/dev/null || true)
[[ $code != 200 ]] || fail "the stream server accepted a client without a certificate"
pass "pause/unpause reflected in Paused/Ready; no client certificate refused"

# --- 3. handler restart while the VM runs
qpid=$(qemu_pid vm-a)
[[ -n $qpid ]] || fail "cannot find vm-a's QEMU"
rv=$(vmi_field vm-a '{.metadata.resourceVersion}')
kill -9 "$HANDLER_PID"
wait "$HANDLER_PID" 2>/dev/null || true
HANDLER_PID=
kill -0 "$qpid" || fail "QEMU died with the handler"
restart_line=$(wc -l <"$WORK/handler.log")
start_handler
# Re-attached: the new handler connected, re-sent the VMI (a no-op for a running launcher) and
# then compared the status with what the launcher said.
reattached() {
	tail -n "+$((restart_line + 1))" "$WORK/handler.log" | sed -n '/"msg":"synced"/,$p' | grep -q '"msg":"status up to date"'
}
wait_for "the restarted handler re-attached and checked vm-a's status" 60 reattached
[[ $(metric 'kubevirt_handler_launcher_request_seconds_count{command="sync"}') == 1 ]] ||
	fail "the restarted handler did not sync exactly once"
[[ $(qemu_pid vm-a) == "$qpid" ]] || fail "QEMU PID changed across the handler restart"
phase_is vm-a Running || fail "vm-a not Running after the handler restart"
[[ $(condition vm-a Ready) == True ]] || fail "Ready not True after the handler restart"
[[ $(vmi_field vm-a '{.metadata.resourceVersion}') == "$rv" ]] ||
	fail "the restarted handler rewrote an unchanged status (resourceVersion $rv -> $(vmi_field vm-a '{.metadata.resourceVersion}'))"
[[ -z $(metric 'kubevirt_handler_status_writes_total{result="ok"}') ]] ||
	fail "the restarted handler wrote status: $(metric 'kubevirt_handler_status_writes_total{result="ok"}')"
pass "handler restart: same QEMU PID $qpid, status unchanged and not rewritten"

# --- 4. guest poweroff -> Succeeded
say "vm-a: poweroff typed on the guest's console through the handler's console WebSocket"
"$WS_CONSOLE" "127.0.0.1:$STREAM_PORT" "/v1/namespaces/$NS/virtualmachineinstances/vm-a/console" \
	"$PKI/ca.pem" "$PKI/client.pem" "$PKI/client.key" '|echo KV-HANDLER-IT-$((6*7)); poweroff -f|' KV-HANDLER-IT-42 60 \
	>"$WORK/console-vm-a.out" 2>&1 || fail "console WebSocket: $(tail -c 500 "$WORK/console-vm-a.out")"
pass "console WebSocket through the handler: the guest ran what we typed and its output came back"
wait_for "vm-a Succeeded" 60 phase_is vm-a Succeeded
wait_for "vm-a's launcher exits" 30 launcher_exited vm-a
[[ $(launcher_status vm-a) == 0 ]] || fail "launcher of vm-a exited non-zero after a guest poweroff"
[[ -n $(vmi_field vm-a '{.status.phaseTransitionTimestamps[?(@.phase=="Succeeded")].phaseTransitionTimestamp}') ]] ||
	fail "no Succeeded phaseTransitionTimestamp"
pass "guest poweroff -> Succeeded, launcher exit 0"

# --- 5. QEMU killed -> Failed with a reason
say "VMI vm-b: QEMU killed"
start_vm vm-b
wait_for "vm-b Running" 180 phase_is vm-b Running
wait_for "vm-b's QEMU" 30 bash -c "pgrep -u nobody -f 'qemu-system-x86_64.*-name guest=${NS}_vm-b' >/dev/null"
kill -9 "$(qemu_pid vm-b)"
wait_for "vm-b Failed" 60 phase_is vm-b Failed
[[ $(vmi_field vm-b '{.status.reason}') == QemuExited ]] ||
	fail "vm-b reason: '$(vmi_field vm-b '{.status.reason}')' (want QemuExited)"
[[ $(condition vm-b Ready) == False ]] || fail "vm-b Ready not False"
wait_for "vm-b's launcher exits" 30 launcher_exited vm-b
pass "QEMU killed -> Failed, reason QemuExited: $(vmi_field vm-b '{.status.conditions[?(@.type=="Ready")].message}')"

# --- 6. VMI deleted -> graceful shutdown through the launcher
say "VMI vm-c: deleted while running"
start_vm vm-c
wait_for "vm-c Running" 180 phase_is vm-c Running
wait_for "vm-c's guest ready line" 120 guest_ready vm-c
t0=$SECONDS
kc -n "$NS" delete vmi vm-c --wait=false >/dev/null
wait_for "vm-c's launcher exits after the delete" 40 launcher_exited vm-c
[[ $(launcher_status vm-c) == 0 ]] || fail "vm-c's launcher did not end with a guest shutdown"
grep -q '"guest-shutdown"' "$WORK/launcher-vm-c.log" || fail "vm-c did not end by guest shutdown"
pass "VMI delete -> ACPI shutdown through the launcher, guest off in $((SECONDS - t0)) s"

# --- metrics
m=$(curl -sf "http://127.0.0.1:$METRICS_PORT/metrics")
grep -q '^kubevirt_handler_vmis{phase="Failed"} 1$' <<<"$m" || fail "metrics: VMIs by phase: $(grep kubevirt_handler_vmis <<<"$m")"
grep -q '^kubevirt_handler_launcher_request_seconds_count{command="sync"}' <<<"$m" || fail "metrics: launcher round-trips"
pass "metrics: VMIs by phase, launcher round-trip times"
say "PASS"
