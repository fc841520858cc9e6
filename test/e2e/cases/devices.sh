# shellcheck shell=bash
# virt-handler's device plugins on the real kubelet (issue 15 item 1, docs/handler.md "Device
# plugins"): what the node advertises, a stand-in /dev/kvm advertised and injected into a pod by
# the kubelet's own allocation path, its withdrawal, and re-registration after a kubelet restart.
# Sourced by vm_test.sh (test/e2e/cases/README.md). This machine has /dev/net/tun and a /dev/kvm
# that only root may open (so kvm is not offered), no /dev/vhost-net. The stand-in cases patch the handler's DaemonSet; the clean-up
# hook puts the shipped one back.

DEV_ROOT=/var/tmp/kv-e2e-devices-$TOKEN
DEV_SAVED_SPEC=$WORK/virt-handler-pod-spec.json
# Where the shipped manifest has the handler see the node's "/" (--node-root).
DEV_NODE_ROOT=/var/lib/kubevirt-node

dev_node() { k get nodes -o jsonpath='{.items[0].metadata.name}'; }
# dev_allocatable NAME: the node's allocatable devices.kubevirt.io/NAME ("" when not there). A
# quantity: 1000 devices read "1k".
dev_allocatable() { k get node "$(dev_node)" -o jsonpath="{.status.allocatable.devices\.kubevirt\.io/$1}"; }
dev_allocatable_is() { [[ $(dev_allocatable "$1") == "$2" ]]; }
# ... or, when WANT is 0, not advertised at all.
dev_allocatable_is_or_none() { local got; got=$(dev_allocatable "$1"); [[ $got == "$2" || ($2 == 0 && -z $got) ]]; }
# dev_launcher_can_open DEV: uid/gid 107 may read and write DEV by its owner, group and mode.
dev_launcher_can_open() {
	local mode uid gid
	read -r mode uid gid < <(stat -c '%a %u %g' "$1")
	mode=$((8#$mode))
	(((mode & 6) == 6)) && return 0
	[[ $gid == 107 ]] && (((mode & 8#60) == 8#60)) && return 0
	[[ $uid == 107 ]] && (((mode & 8#600) == 8#600)) && return 0
	return 1
}
dev_handler_rollout() { k -n kubevirt rollout status ds/virt-handler --timeout=$((180 * KV_TIMEOUT_SCALE))s >&2; }

# Puts the shipped pod template of virt-handler back (after a stand-in case) and removes the
# stand-in directory.
dev_restore_handler() {
	if [[ -s $DEV_SAVED_SPEC ]]; then
		k -n kubevirt patch ds virt-handler --type=json \
			-p "[{\"op\":\"replace\",\"path\":\"/spec/template/spec\",\"value\":$(cat "$DEV_SAVED_SPEC")}]" >&2 &&
			dev_handler_rollout && rm -f "$DEV_SAVED_SPEC"
	fi
	rm -rf "$DEV_ROOT"
}
cleanup_hooks+=(dev_restore_handler)

case_dev_advertised() {
	wait_until 60 "devices.kubevirt.io/tun allocatable 1k on the node" dev_allocatable_is tun 1k
	# kvm and vhost-net follow the node: 1k where the device node exists, else 0 (or absent);
	# kvm only if virt-launcher's uid/gid 107 can open it (docs/handler.md "Device plugins").
	local name dev want got
	for name in kvm vhost-net; do
		dev=/dev/$name
		if [[ -e $dev ]] && { [[ $name != kvm ]] || dev_launcher_can_open "$dev"; }; then want=1k; else want=0; fi
		wait_until 30 "devices.kubevirt.io/$name allocatable $want ($dev on the node: $([[ -e $dev ]] && echo present || echo absent))" \
			dev_allocatable_is_or_none "$name" "$want" ||
			fail "devices.kubevirt.io/$name allocatable is '$(dev_allocatable "$name")' with $dev $([[ -e $dev ]] && echo present || echo absent)"
		got=$(dev_allocatable "$name")
		log "allocatable devices.kubevirt.io/$name: '${got}' ($dev $([[ -e $dev ]] && echo present || echo absent) on the node)"
	done
}

case_dev_stand_in() {
	# A char device node with /dev/null's numbers stands in for /dev/kvm.
	local major minor
	major=$(stat -c '%t' /dev/null) minor=$(stat -c '%T' /dev/null)
	mkdir -p "$DEV_ROOT/dev/net"
	mknod "$DEV_ROOT/dev/kvm" c $((16#$major)) $((16#$minor))
	k -n kubevirt get ds virt-handler -o jsonpath='{.spec.template.spec}' >"$DEV_SAVED_SPEC"
	[[ -s $DEV_SAVED_SPEC ]] || fail "cannot read virt-handler's pod template"
	k -n kubevirt patch ds virt-handler --type=json -p "[
	  {\"op\":\"add\",\"path\":\"/spec/template/spec/containers/0/args/-\",\"value\":\"--device-root=$DEV_ROOT\"},
	  {\"op\":\"add\",\"path\":\"/spec/template/spec/volumes/-\",
	   \"value\":{\"name\":\"e2e-device-root\",\"hostPath\":{\"path\":\"$DEV_ROOT\",\"type\":\"Directory\"}}},
	  {\"op\":\"add\",\"path\":\"/spec/template/spec/containers/0/volumeMounts/-\",
	   \"value\":{\"name\":\"e2e-device-root\",\"mountPath\":\"$DEV_NODE_ROOT$DEV_ROOT\",\"readOnly\":true}}]" >&2
	dev_handler_rollout
	wait_until 60 "devices.kubevirt.io/kvm allocatable 1k from the stand-in" dev_allocatable_is kvm 1k
	# The stand-in root has no tun: the patched handler withdraws it.
	wait_until 60 "devices.kubevirt.io/tun allocatable 0 under the stand-in root" dev_allocatable_is tun 0

	cat >"$WORK/kvm-pod.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: e2e-kvm-user
  namespace: $NS
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: busybox
      image: $IMG_BUSYBOX
      imagePullPolicy: Never
      securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
      command: [sh, -c, 'echo "KVM-NODE \$(stat -c "%F %t:%T" /dev/kvm)"']
      resources:
        limits:
          devices.kubevirt.io/kvm: "1"
EOF
	k apply -f "$WORK/kvm-pod.yaml" >&2
	wait_until 120 "pod e2e-kvm-user to succeed" \
		bash -c "[[ \$('$KV_CLUSTER' kubectl -n $NS get pod e2e-kvm-user -o jsonpath='{.status.phase}') == Succeeded ]]" ||
		{ k -n "$NS" describe pod e2e-kvm-user >&2; fail "the pod requesting devices.kubevirt.io/kvm did not run"; }
	local out
	out=$(k -n "$NS" logs e2e-kvm-user)
	log "pod sees: $out"
	[[ $out == "KVM-NODE character special file $major:$minor" ]] ||
		fail "the pod's /dev/kvm is not the stand-in char device $major:$minor: $out"
	k -n "$NS" delete pod e2e-kvm-user --grace-period=0 >&2
}

case_dev_withdrawn() {
	[[ -e $DEV_ROOT/dev/kvm ]] || fail "no stand-in: the previous case did not run"
	rm -f "$DEV_ROOT/dev/kvm"
	wait_until 60 "devices.kubevirt.io/kvm allocatable 0 after the stand-in is gone" dev_allocatable_is kvm 0
}

# The handler's log lines "device plugin registered" after RFC 3339 time SINCE (epoch seconds).
dev_registrations_since() {
	k -n kubevirt logs -l kubevirt.io=virt-handler --tail=-1 |
		grep '"msg":"device plugin registered with the kubelet"' |
		sed -n 's/.*"ts":"\([^"]*\)".*"resource":"\([^"]*\)".*/\1 \2/p' |
		while read -r ts res; do
			t=$(date -d "$ts" +%s.%N)
			awk -v t="$t" -v s="$1" 'BEGIN { exit !(t > s) }' && echo "$t $res"
		done
}
dev_registered_all_since() { [[ $(dev_registrations_since "$1" | awk '{print $2}' | sort -u | wc -l) == 3 ]]; }

case_dev_kubelet_restart() {
	wait_until 60 "devices.kubevirt.io/tun allocatable 1k" dev_allocatable_is tun 1k
	local pod uid restarts pid
	pod=$(k -n kubevirt get pods -l kubevirt.io=virt-handler -o jsonpath='{.items[0].metadata.name}')
	uid=$(k -n kubevirt get pod "$pod" -o jsonpath='{.metadata.uid}')
	restarts=$(k -n kubevirt get pod "$pod" -o jsonpath='{.status.containerStatuses[0].restartCount}')
	read -r pid _ <"$KV_CLUSTER_STATE/run/kubelet.pid"
	[[ $(readlink "/proc/$pid/exe") == */kubelet ]] || fail "no running kubelet at pid $pid"
	kill "$pid"
	wait_until 60 "the kubelet (pid $pid) to exit" bash -c "! kill -0 $pid 2>/dev/null"
	# The kubelet is back the way tools/cluster starts it; it deletes the plugin sockets.
	local t0 t_first t_all
	t0=$(now)
	"$KV_CLUSTER" up >"$WORK/kubelet-restart.log" 2>&1 || { tail -20 "$WORK/kubelet-restart.log" >&2; fail "cluster up failed"; }
	wait_until 60 "all three device plugins to register with the new kubelet" dev_registered_all_since "$t0"
	wait_until 60 "devices.kubevirt.io/tun allocatable 1k after the kubelet restart" dev_allocatable_is tun 1k
	t_first=$(dev_registrations_since "$t0" | sort -n | head -1 | awk '{print $1}')
	t_all=$(dev_registrations_since "$t0" | sort -n | tail -1 | awk '{print $1}')
	# The new kubelet's process start (/proc/PID/stat field 22, clock ticks after boot).
	local kpid t_kubelet
	read -r kpid _ <"$KV_CLUSTER_STATE/run/kubelet.pid"
	t_kubelet=$(awk -v b="$(awk '/^btime/ {print $2}' /proc/stat)" -v s="$(awk '{print $22}' "/proc/$kpid/stat")" \
		-v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f\n", b + s / hz }')
	local figures="kubelet process start to re-registration: first plugin $(elapsed "$t_kubelet" "$t_first") s, all three $(elapsed "$t_kubelet" "$t_all") s ('cluster up' called $(elapsed "$t0" "$t_kubelet") s before the kubelet started)"
	echo "# devices: $figures"
	log "$figures"
	[[ $(k -n kubevirt get pod "$pod" -o jsonpath='{.metadata.uid}') == "$uid" ]] || fail "virt-handler's pod was replaced"
	[[ $(k -n kubevirt get pod "$pod" -o jsonpath='{.status.containerStatuses[0].restartCount}') == "$restarts" ]] ||
		fail "virt-handler restarted"
}

run_case "devices: the node advertises devices.kubevirt.io/tun (real /dev/net/tun), vhost-net only where its device node exists, kvm only where the launcher can open it" case_dev_advertised
run_case "devices: a stand-in /dev/kvm is advertised and the kubelet injects it into a pod that requests devices.kubevirt.io/kvm" case_dev_stand_in keep
run_case "devices: the stand-in removed, allocatable devices.kubevirt.io/kvm drops to 0" case_dev_withdrawn
run_case "devices: after a kubelet restart the device plugins register again without a virt-handler restart" case_dev_kubelet_restart
