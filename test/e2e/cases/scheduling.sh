# shellcheck shell=bash
# Where VMs run: the emulation policy both ways (useEmulation false without KVM: a clear
# condition; a VM under TCG says so), the node labeller's CPU labels, and a CPU model no node has
# (docs/controller.md "KVM or emulation", "Node selectors"; docs/handler.md "Node labeller").
# Sourced by vm_test.sh.

sched_node() { k get nodes -o jsonpath='{.items[0].metadata.name}'; }
# Some node advertises devices.kubevirt.io/kvm (virt-handler's device plugin): then the policy
# cases check the KVM side instead.
sched_kvm_offered() {
	[[ -n $(k get nodes -o jsonpath='{.items[*].status.allocatable.devices\.kubevirt\.io/kvm}' | tr -d ' 0') ]]
}
sched_node_labels() { # the first node's labels, one KEY=VALUE a line
	k get node "$(sched_node)" -o go-template='{{range $k, $v := .metadata.labels}}{{$k}}={{$v}}{{"\n"}}{{end}}'
}
sched_vmi_yaml() { # NAME [CPU_YAML]: a VMI of the test guest
	cat <<EOF
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: $1
  namespace: $NS
spec:
  terminationGracePeriodSeconds: 5
  domain:
${2:-}
    memory:
      guest: 256Mi
    devices:
      disks:
        - name: root
          disk:
            bus: virtio
  volumes:
    - name: root
      containerDisk:
        image: $IMG_DISK
EOF
}

sched_condition() { # VMI TYPE -> "STATUS REASON"
	vmi_field "$NS" "$1" "{.status.conditions[?(@.type==\"$2\")].status} {.status.conditions[?(@.type==\"$2\")].reason}"
}
sched_condition_is() { [[ $(sched_condition "$1" "$2") == "$3" ]]; }
sched_event_has() { # VMI TEXT: a Warning Event on the VMI whose message contains TEXT
	k -n "$NS" get events --field-selector "involvedObject.kind=VirtualMachineInstance,involvedObject.name=$1,type=Warning" \
		-o jsonpath='{range .items[*]}{.message}{"\n"}{end}' | grep -qF -- "$2"
}

case_sched_no_kvm() {
	if sched_kvm_offered; then
		# A node offers KVM: with emulation off the VM runs there, under KVM.
		set_emulation false
		trap 'set_emulation true' EXIT
		sched_vmi_yaml e2e-sched-kvm | k apply -f - >&2
		wait_until 180 "VMI e2e-sched-kvm Running" vmi_phase_is "$NS" e2e-sched-kvm Running
		[[ -z $(sched_condition e2e-sched-kvm SoftwareEmulation | tr -d ' ') ]] ||
			fail "a VM on a node that offers KVM has SoftwareEmulation: $(sched_condition e2e-sched-kvm SoftwareEmulation)"
		log "a node offers KVM: e2e-sched-kvm runs without SoftwareEmulation"
		return 0
	fi
	set_emulation false
	trap 'set_emulation true' EXIT
	sched_vmi_yaml e2e-sched-nokvm | k apply -f - >&2
	wait_until 120 "VMI e2e-sched-nokvm PodScheduled False Unschedulable" \
		sched_condition_is e2e-sched-nokvm PodScheduled "False Unschedulable"
	local msg phase
	msg=$(vmi_field "$NS" e2e-sched-nokvm '{.status.conditions[?(@.type=="PodScheduled")].message}')
	log "condition: $msg"
	[[ $msg == "no node offers KVM (devices.kubevirt.io/kvm) and software emulation is off"* ]] ||
		fail "the condition does not say that no node offers KVM: $msg"
	[[ $msg == *'useEmulation'* && $msg == *'Scheduler: '*'Insufficient devices.kubevirt.io/kvm'* ]] ||
		fail "the condition does not say how to allow emulation, or lost the scheduler's text: $msg"
	wait_until 30 "a Warning Event on e2e-sched-nokvm saying no node offers KVM" \
		sched_event_has e2e-sched-nokvm "no node offers KVM"
	phase=$(vmi_field "$NS" e2e-sched-nokvm '{.status.phase}')
	[[ $phase == Pending || $phase == Scheduling ]] || fail "the VMI is $phase, not waiting"
	# Allowed again, a new VMI runs (under TCG): the policy applies to pods created from then on.
	set_emulation true
	trap - EXIT
	k -n "$NS" delete vmi e2e-sched-nokvm --wait=true >&2
	sched_vmi_yaml e2e-sched-nokvm | k apply -f - >&2
	wait_until 180 "VMI e2e-sched-nokvm Running once emulation is allowed" vmi_phase_is "$NS" e2e-sched-nokvm Running
}

# sched_kvm_expected: what virt-handler's device plugin advertises for devices.kubevirt.io/kvm
# on this (single) node: 1k when /dev/kvm exists and the launcher's uid/gid 107 may open it, else
# 0 (docs/handler.md "Device plugins"; the same rule as devices.sh's case).
sched_kvm_expected() {
	local mode uid gid
	[[ -e /dev/kvm ]] || { echo 0; return; }
	read -r mode uid gid < <(stat -c '%a %u %g' /dev/kvm)
	mode=$((8#$mode))
	if (((mode & 6) == 6)) || { [[ $gid == 107 ]] && (((mode & 8#60) == 8#60)); } || { [[ $uid == 107 ]] && (((mode & 8#600) == 8#600)); }; then
		echo 1k
	else
		echo 0
	fi
}
# The node's allocatable kvm has settled on what the device plugin advertises now (after
# devices.sh's stand-in, withdrawal and kubelet restart it can lag): "" counts as 0.
sched_kvm_settled() {
	local got
	got=$(k get node "$(sched_node)" -o jsonpath='{.status.allocatable.devices\.kubevirt\.io/kvm}')
	[[ ${got:-0} == "$1" ]]
}

case_sched_tcg_status() {
	local row header col want requested
	# Decide the branch on a settled node, not on one read of allocatable (it lagged behind the
	# device plugin right after devices.sh and this case took the KVM branch under TCG).
	want=$(sched_kvm_expected)
	wait_until 60 "the node's allocatable devices.kubevirt.io/kvm to settle on $want" sched_kvm_settled "$want" ||
		fail "the node's allocatable devices.kubevirt.io/kvm is '$(k get node "$(sched_node)" -o jsonpath='{.status.allocatable.devices\.kubevirt\.io/kvm}')', the device plugin offers $want"
	sched_vmi_yaml e2e-sched-tcg | k apply -f - >&2
	wait_until 180 "VMI e2e-sched-tcg Running" vmi_phase_is "$NS" e2e-sched-tcg Running
	header=$(k -n "$NS" get vmi e2e-sched-tcg | sed -n 1p) # not head: kubectl would get SIGPIPE (pipefail)
	col=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "EMULATED") print i }' <<<"$header")
	[[ -n $col ]] || fail "kubectl get vmi has no EMULATED column: $header"
	# What virt-controller decided when it rendered the pod: KVM requested or not.
	requested=$(k -n "$NS" get pods -l "kubevirt.io/created-by=$(vmi_uid "$NS" e2e-sched-tcg)" \
		-o jsonpath='{.items[0].spec.containers[?(@.name=="compute")].resources.limits.devices\.kubevirt\.io/kvm}')
	log "node offers kvm: $want; the launcher pod requests devices.kubevirt.io/kvm: '${requested:-no}'"
	if [[ $want != 0 ]]; then
		[[ -n $requested ]] || fail "KVM branch: the node offers KVM, yet the launcher pod does not request it"
		[[ -z $(sched_condition e2e-sched-tcg SoftwareEmulation | tr -d ' ') ]] ||
			fail "KVM branch: a node offers KVM, yet the VMI says SoftwareEmulation $(sched_condition e2e-sched-tcg SoftwareEmulation)"
		return 0
	fi
	[[ -z $requested ]] || fail "TCG branch: no node offers KVM, yet the launcher pod requests devices.kubevirt.io/kvm ($requested)"
	wait_until 30 "VMI e2e-sched-tcg SoftwareEmulation True KVMUnavailable" \
		sched_condition_is e2e-sched-tcg SoftwareEmulation "True KVMUnavailable" ||
		fail "TCG branch: the VMI's SoftwareEmulation condition is '$(sched_condition e2e-sched-tcg SoftwareEmulation)', want 'True KVMUnavailable'"
	row=$(k -n "$NS" get vmi e2e-sched-tcg --no-headers)
	log "kubectl get vmi: $header / $row"
	[[ $(awk -v c="$col" '{ print $c }' <<<"$row") == True ]] || fail "TCG branch: the EMULATED column does not say True: $header / $row"
	log "message: $(vmi_field "$NS" e2e-sched-tcg '{.status.conditions[?(@.type=="SoftwareEmulation")].message}')"
}

case_sched_labels() {
	local node labels models bad=0 m
	node=$(sched_node)
	wait_until 120 "cpu-feature labels on node $node" bash -c "'$KV_CLUSTER' kubectl get node $node -o jsonpath='{.metadata.labels}' | grep -q cpu-feature.node.kubevirt.io/"
	labels=$(sched_node_labels)
	log "node $node: $(grep -c '^cpu-feature.node.kubevirt.io/' <<<"$labels") cpu-feature labels; cpu-model labels: $(grep '^cpu-model.node.kubevirt.io/' <<<"$labels" | sed 's|^cpu-model.node.kubevirt.io/||; s|=true$||' | tr '\n' ' ')"
	grep -q '^cpu-feature.node.kubevirt.io/sse2=true$' <<<"$labels" || fail "no cpu-feature label for sse2, which every x86-64 CPU (and TCG) has"
	# Every model label is a model this QEMU knows (the launcher image's QEMU is Debian's, as the host's).
	models=$(qemu-system-x86_64 -cpu help | awk '/^x86/ { print $2 }')
	for m in $(grep '^cpu-model.node.kubevirt.io/' <<<"$labels" | sed 's|^cpu-model.node.kubevirt.io/||; s|=.*||'); do
		grep -qxF -- "$m" <<<"$models" || { log "label for unknown model $m"; bad=1; }
	done
	((bad == 0)) || fail "the node has cpu-model labels QEMU does not know"
	# The labeller's own labels that no longer hold go; labels it did not set stay.
	k label node "$node" cpu-model.node.kubevirt.io/e2e-bogus=true e2e.kubevirt-cpp/foreign=kept --overwrite >&2
	# shellcheck disable=SC2064 # $node now: the function's locals are gone when the subshell exits
	trap "k label node '$node' e2e.kubevirt-cpp/foreign- cpu-model.node.kubevirt.io/e2e-bogus- >/dev/null 2>&1" EXIT
	wait_until 150 "the labeller to remove cpu-model.node.kubevirt.io/e2e-bogus" \
		bash -c "! '$KV_CLUSTER' kubectl get node $node -o jsonpath='{.metadata.labels}' | grep -q e2e-bogus"
	[[ $(k get node "$node" -o jsonpath='{.metadata.labels.e2e\.kubevirt-cpp/foreign}') == kept ]] ||
		fail "the labeller removed a label it did not set"
	[[ $(k get node "$node" -o jsonpath='{.metadata.labels.kubevirt\.io/schedulable}') == true ]] ||
		fail "node $node is not kubevirt.io/schedulable=true"
}

case_sched_cpu_model_missing() {
	local model=Cascadelake-Server msg phase
	! sched_node_labels | grep -q "^cpu-model.node.kubevirt.io/$model=" || fail "the node has $model; pick a model it lacks"
	sched_vmi_yaml e2e-sched-model "    cpu:
      model: $model" | k apply -f - >&2
	wait_until 120 "VMI e2e-sched-model PodScheduled False Unschedulable" \
		sched_condition_is e2e-sched-model PodScheduled "False Unschedulable"
	msg=$(vmi_field "$NS" e2e-sched-model '{.status.conditions[?(@.type=="PodScheduled")].message}')
	log "condition: $msg"
	[[ $msg == *"didn't match Pod's node affinity/selector"* ]] || fail "the condition does not name the node selector: $msg"
	[[ $(k -n "$NS" get pods -l "kubevirt.io/created-by=$(vmi_uid "$NS" e2e-sched-model)" \
		-o jsonpath="{.items[0].spec.nodeSelector.cpu-model\.node\.kubevirt\.io/$model}") == true ]] ||
		fail "the launcher pod does not select cpu-model.node.kubevirt.io/$model"
	phase=$(vmi_field "$NS" e2e-sched-model '{.status.phase}')
	[[ $phase == Pending || $phase == Scheduling ]] || fail "the VMI is $phase, not waiting"
}

run_case "useEmulation false on a node without KVM: the VMI waits with a condition and Event saying no node offers KVM and how to allow emulation; allowed again, a new VMI runs" case_sched_no_kvm
run_case "a VM under TCG: SoftwareEmulation=True on the VMI and True in kubectl get vmi's EMULATED column" case_sched_tcg_status
run_case "node labeller: cpu-feature and cpu-model labels from this node's QEMU; stale own labels go, others stay" case_sched_labels
run_case "a VMI asking for a CPU model no node has waits with PodScheduled=False naming the node selector" case_sched_cpu_model_missing
