# shellcheck shell=bash
# instancetype.kubevirt.io: a VM takes CPU and memory from an instancetype and fills unset fields
# from a preference; virt-controller keeps both in ControllerRevisions (docs/instancetypes.md).
# Sourced by vm_test.sh.

it_cleanup() {
	k -n "$NS" delete virtualmachineinstancetypes,virtualmachinepreferences --all --wait=false >/dev/null 2>&1
	# The VMs own their revisions (the garbage collector removes them too); no need to wait.
	k -n "$NS" delete controllerrevisions -l instancetype.kubevirt.io/object-kind --wait=false >/dev/null 2>&1
	return 0
}
cleanup_hooks+=(it_cleanup)

# it_vm_yaml NAME INSTANCETYPE_KIND INSTANCETYPE PREFERENCE_KIND PREFERENCE [DOMAIN_EXTRA]: a VM of
# the test guest that sets no CPU, no memory, no disk bus, no NIC model, no grace period (the test
# guest's cloud kernel has virtio-scsi but no AHCI or e1000, so the preference picks scsi).
it_vm_yaml() {
	cat <<EOF
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: $1
  namespace: $NS
spec:
  runStrategy: Always
  instancetype:
    kind: $2
    name: $3
  preference:
    kind: $4
    name: $5
  template:
    spec:
      domain:
${6:-}
        devices:
          disks:
            - name: root
          interfaces:
            - name: default
              masquerade: {}
      networks:
        - name: default
          pod: {}
      volumes:
        - name: root
          containerDisk:
            image: $IMG_DISK
EOF
}

it_preference() {
	cat >"$WORK/it-pref.yaml" <<EOF
apiVersion: instancetype.kubevirt.io/v1beta1
kind: VirtualMachinePreference
metadata:
  name: e2e-pref
  namespace: $NS
spec:
  cpu:
    preferredCPUTopology: cores
  devices:
    preferredDiskBus: scsi
    preferredInterfaceModel: virtio
  preferredTerminationGracePeriodSeconds: 7
EOF
	k apply -f "$WORK/it-pref.yaml" >&2
}

it_check() { # NAME JSONPATH WANT: the VMI's field is WANT
	local got
	got=$(vmi_field "$NS" "$1" "$2")
	[[ $got == "$3" ]] || fail "VMI $1 $2: got '$got', want '$3'"
}

it_revision_of() { vm_field "$NS" "$1" '{.status.instancetypeRef.controllerRevisionRef.name}'; }

case_it_u1_nano() {
	it_preference
	it_vm_yaml e2e-it VirtualMachineClusterInstancetype u1.nano VirtualMachinePreference e2e-pref >"$WORK/it-vm.yaml"
	k apply -f "$WORK/it-vm.yaml" >&2
	wait_running_and_ready e2e-it
	# The instancetype's CPU and memory, the preference's disk bus, NIC model and grace period.
	it_check e2e-it '{.spec.domain.memory.guest}' 512Mi
	it_check e2e-it '{.spec.domain.cpu.sockets} {.spec.domain.cpu.cores} {.spec.domain.cpu.threads}' '1 1 1'
	it_check e2e-it '{.spec.domain.devices.disks[0].disk.bus}' scsi
	it_check e2e-it '{.spec.domain.devices.interfaces[0].model}' virtio
	it_check e2e-it '{.spec.terminationGracePeriodSeconds}' 7
	it_check e2e-it '{.metadata.annotations.kubevirt\.io/cluster-instancetype-name}' u1.nano
	it_check e2e-it '{.metadata.annotations.kubevirt\.io/preference-name}' e2e-pref
	# The revisions exist, are owned by the VM, hold the objects, and the VM records them.
	local rev prev owner
	rev=$(it_revision_of e2e-it)
	[[ -n $rev ]] || fail "the VM records no status.instancetypeRef.controllerRevisionRef.name"
	owner=$(k -n "$NS" get controllerrevision "$rev" -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}')
	[[ $owner == VirtualMachine/e2e-it ]] || fail "revision $rev is owned by '$owner', not the VM"
	[[ $(k -n "$NS" get controllerrevision "$rev" -o jsonpath='{.data.spec.memory.guest}') == 512Mi ]] ||
		fail "revision $rev does not hold u1.nano"
	prev=$(vm_field "$NS" e2e-it '{.status.preferenceRef.controllerRevisionRef.name}')
	[[ -n $prev ]] && k -n "$NS" get controllerrevision "$prev" >/dev/null ||
		fail "the preference's revision '$prev' does not exist"
	log "revisions: $rev, $prev; kubectl get vmi: $(k -n "$NS" get vmi e2e-it --no-headers)"
}

case_it_revision_kept() {
	cat >"$WORK/it-small.yaml" <<EOF
apiVersion: instancetype.kubevirt.io/v1beta1
kind: VirtualMachineInstancetype
metadata:
  name: e2e-small
  namespace: $NS
spec:
  cpu:
    guest: 1
  memory:
    guest: 256Mi
EOF
	k apply -f "$WORK/it-small.yaml" >&2
	it_preference
	it_vm_yaml e2e-itrev VirtualMachineInstancetype e2e-small VirtualMachinePreference e2e-pref >"$WORK/it-vm.yaml"
	k apply -f "$WORK/it-vm.yaml" >&2
	wait_running_and_ready e2e-itrev
	it_check e2e-itrev '{.spec.domain.memory.guest}' 256Mi
	local rev uid
	rev=$(it_revision_of e2e-itrev)
	uid=$(vmi_uid "$NS" e2e-itrev)
	# Editing the instancetype changes neither the running VMI nor the next start.
	k -n "$NS" patch virtualmachineinstancetype e2e-small --type merge \
		-p '{"spec":{"cpu":{"guest":2},"memory":{"guest":"384Mi"}}}' >&2
	it_check e2e-itrev '{.spec.domain.memory.guest}' 256Mi
	virtctl restart e2e-itrev >&2
	wait_until 180 "a new VMI e2e-itrev (not $uid) Running" vmi_replaced_running "$NS" e2e-itrev "$uid"
	it_check e2e-itrev '{.spec.domain.memory.guest}' 256Mi
	it_check e2e-itrev '{.spec.domain.cpu.sockets} {.spec.domain.cpu.cores}' '1 1'
	[[ $(it_revision_of e2e-itrev) == "$rev" ]] || fail "the VM moved off revision $rev"
	log "after editing e2e-small and a restart the VMI still has 256Mi and 1 vCPU (revision $rev)"
}

case_it_refused() {
	local out
	it_vm_yaml e2e-itbad VirtualMachineClusterInstancetype u1.nano VirtualMachineClusterPreference linux \
		'        cpu:
          sockets: 2' >"$WORK/it-bad.yaml"
	if out=$(k apply -f "$WORK/it-bad.yaml" 2>&1); then fail "a VM setting cpu.sockets with an instancetype was accepted: $out"; fi
	log "kubectl apply said: $out"
	[[ $out == *'VM field(s) spec.template.spec.domain.cpu.sockets conflicts with selected instance type'* ]] ||
		fail "the message does not name spec.template.spec.domain.cpu.sockets: $out"
	! k -n "$NS" get vm e2e-itbad >/dev/null 2>&1 || fail "the conflicting VM exists"
	# What the add-on cannot honour in an instancetype is refused by the API server, with the path.
	cat >"$WORK/it-dedicated.yaml" <<EOF
apiVersion: instancetype.kubevirt.io/v1beta1
kind: VirtualMachineInstancetype
metadata:
  name: e2e-dedicated
  namespace: $NS
spec:
  cpu:
    guest: 1
    dedicatedCPUPlacement: true
  memory:
    guest: 256Mi
EOF
	if out=$(k apply -f "$WORK/it-dedicated.yaml" 2>&1); then fail "an instancetype with dedicatedCPUPlacement: true was accepted: $out"; fi
	log "kubectl apply said: $out"
	[[ $out == *spec.cpu.dedicatedCPUPlacement* && $out == *'not supported'* ]] ||
		fail "the message does not name spec.cpu.dedicatedCPUPlacement: $out"
}

it_failure_reason() { vm_field "$NS" "$1" '{.status.conditions[?(@.type=="Failure")].reason}'; }
it_failure_is() { [[ $(it_failure_reason "$1") == "$2" ]]; }

case_it_missing() {
	it_vm_yaml e2e-itnone VirtualMachineClusterInstancetype no-such-instancetype VirtualMachineClusterPreference linux >"$WORK/it-vm.yaml"
	k apply -f "$WORK/it-vm.yaml" >&2
	wait_until 60 "VM e2e-itnone Failure condition FailedFindInstancetype" it_failure_is e2e-itnone FailedFindInstancetype
	local msg
	msg=$(vm_field "$NS" e2e-itnone '{.status.conditions[?(@.type=="Failure")].message}')
	log "condition: $msg"
	[[ $msg == 'virtualmachineclusterinstancetypes.instancetype.kubevirt.io "no-such-instancetype" not found' ]] ||
		fail "the condition's message is not the API server's (as upstream): $msg"
	vmi_gone "$NS" e2e-itnone || fail "a VMI was created for a VM whose instancetype does not exist"
}

run_case "instancetype u1.nano and a preference: the VM reaches the ready line, its VMI has the instancetype's CPU and memory and the preference's disk bus, NIC model and grace period; ControllerRevisions owned by the VM hold both and the VM records them" case_it_u1_nano
run_case "instancetype edited after the VM started: the VMI keeps its memory and vCPUs, and so does the next start (the VM stays on its revision)" case_it_revision_kept
run_case "instancetype conflicts and unsupported instancetype fields are refused naming the field" case_it_refused
run_case "a VM naming an instancetype that does not exist gets no VMI and the Failure condition FailedFindInstancetype" case_it_missing
