# shellcheck shell=bash
# e2e cases for replicated VMs (docs/replicas.md): VirtualMachineInstanceReplicaSet and
# VirtualMachinePool, sourced by vm_test.sh. Small guests (128 MiB) so that two run at once under
# TCG on a 2-core machine.

replicas_cleanup() {
	k -n "$NS" delete vmirs --all --wait=false >/dev/null 2>&1
	k -n "$NS" delete vmpool --all --wait=false >/dev/null 2>&1
}
cleanup_hooks+=(replicas_cleanup)

# The test guest's VMI spec, indented by $1 (for a template at that depth).
replicas_vmi_spec() {
	sed "s/^/$1/" <<SPEC
domain:
  memory:
    guest: 128Mi
  devices:
    disks:
      - name: root
        disk:
          bus: virtio
terminationGracePeriodSeconds: 0
volumes:
  - name: root
    containerDisk:
      image: $IMG_DISK
SPEC
}

vmirs_yaml() { # NAME REPLICAS [SELECTOR-LABEL-VALUE]
	cat <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstanceReplicaSet
metadata:
  name: $1
  namespace: $NS
spec:
  replicas: $2
  selector:
    matchLabels:
      app: ${3:-$1}
  template:
    metadata:
      labels:
        app: $1
    spec:
$(replicas_vmi_spec '      ')
YAML
}

vmpool_yaml() { # NAME REPLICAS
	cat <<YAML
apiVersion: pool.kubevirt.io/v1beta1
kind: VirtualMachinePool
metadata:
  name: $1
  namespace: $NS
spec:
  replicas: $2
  selector:
    matchLabels:
      kubevirt.io/vmpool: $1
  virtualMachineTemplate:
    metadata:
      labels:
        kubevirt.io/vmpool: $1
    spec:
      runStrategy: Always
      template:
        metadata:
          labels:
            kubevirt.io/vmpool: $1
        spec:
$(replicas_vmi_spec '          ')
YAML
}

vmirs_field() { k -n "$NS" get vmirs "$1" -o jsonpath="$2" 2>/dev/null; }
vmpool_field() { k -n "$NS" get vmpool "$1" -o jsonpath="$2" 2>/dev/null; }
vmirs_field_is() { [[ $(vmirs_field "$1" "$2") == "$3" ]]; }
vmpool_field_is() { [[ $(vmpool_field "$1" "$2") == "$3" ]]; }
vmi_count_is() { [[ $(k -n "$NS" get vmi -l "$1" -o name 2>/dev/null | wc -l) == "$2" ]]; }
vmi_phases_are() { [[ $(k -n "$NS" get vmi -l "$1" -o jsonpath='{.items[*].status.phase}' 2>/dev/null) == "$2" ]]; }
vm_names_are() { [[ $(k -n "$NS" get vm -l "$1" -o jsonpath='{.items[*].metadata.name}' 2>/dev/null) == "$2" ]]; }

case_vmirs() {
	vmirs_yaml e2e-rs 2 | k apply -f - >&2
	wait_until 300 "vmirs e2e-rs status.readyReplicas 2" vmirs_field_is e2e-rs '{.status.readyReplicas}' 2
	local vmis
	vmis=$(k -n "$NS" get vmi -l app=e2e-rs -o jsonpath='{range .items[*]}{.metadata.name} {.status.phase} {.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}{"\n"}{end}')
	log "VMIs of e2e-rs: $(tr '\n' ';' <<<"$vmis")"
	[[ $(grep -cE '^e2e-rs[a-z0-9]+ Running VirtualMachineInstanceReplicaSet/e2e-rs$' <<<"$vmis") == 2 ]] ||
		fail "want 2 Running VMIs named e2e-rs<suffix> owned by the replica set, got: $vmis"
	[[ $(vmirs_field e2e-rs '{.status.replicas} {.status.labelSelector}') == "2 app=e2e-rs" ]] ||
		fail "status: $(vmirs_field e2e-rs '{.status}')"
	local line
	line=$(k -n "$NS" get vmirs e2e-rs --no-headers)
	log "kubectl get vmirs: $line"
	[[ $(awk '{print $2, $3, $4}' <<<"$line") == "2 2 2" ]] ||
		fail "kubectl get vmirs shows '$line', want DESIRED CURRENT READY 2 2 2"

	k -n "$NS" scale vmirs e2e-rs --replicas=1 >&2
	[[ $(vmirs_field e2e-rs '{.spec.replicas}') == 1 ]] || fail "spec.replicas is not 1 after kubectl scale"
	wait_until 180 "one VMI of e2e-rs left" vmi_count_is app=e2e-rs 1
	wait_until 60 "vmirs e2e-rs status.replicas 1" vmirs_field_is e2e-rs '{.status.replicas}' 1
	vmi_phases_are app=e2e-rs Running || fail "the remaining VMI is not Running"

	local out
	if out=$(vmirs_yaml e2e-rs-bad 1 other | k apply -f - 2>&1); then
		fail "a replica set whose selector does not match its template was accepted: $out"
	fi
	log "kubectl apply said: $out"
	[[ $out == *'spec.selector: selector does not match labels.'* ]] ||
		fail "the message does not name spec.selector: $out"
}

case_vmpool() {
	vmpool_yaml e2e-pool 2 | k apply -f - >&2
	wait_until 60 "VMs e2e-pool-0 and e2e-pool-1" vm_names_are kubevirt.io/vmpool=e2e-pool "e2e-pool-0 e2e-pool-1"
	wait_until 300 "VMI e2e-pool-0 Running" vmi_phase_is "$NS" e2e-pool-0 Running
	wait_until 300 "VMI e2e-pool-1 Running" vmi_phase_is "$NS" e2e-pool-1 Running
	wait_until 120 "vmpool e2e-pool status.readyReplicas 2" vmpool_field_is e2e-pool '{.status.readyReplicas}' 2
	[[ $(vm_field "$NS" e2e-pool-1 '{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}') == VirtualMachinePool/e2e-pool ]] ||
		fail "e2e-pool-1 is not owned by the pool"

	k -n "$NS" scale vmpool e2e-pool --replicas=1 >&2
	wait_until 180 "VM e2e-pool-1 gone, e2e-pool-0 left" vm_names_are kubevirt.io/vmpool=e2e-pool e2e-pool-0
	wait_until 180 "VMI e2e-pool-1 gone" vmi_gone "$NS" e2e-pool-1
	vmi_phase_is "$NS" e2e-pool-0 Running || fail "e2e-pool-0 is no longer Running"
	wait_until 60 "vmpool e2e-pool status.replicas 1" vmpool_field_is e2e-pool '{.status.replicas}' 1
}

run_case "a VMI replica set of 2 runs 2 VMIs and shows readyReplicas 2; kubectl scale --replicas=1 leaves one; a selector that does not match its template is refused" case_vmirs
run_case "a VM pool of 2 runs VMs <pool>-0 and <pool>-1; kubectl scale --replicas=1 removes <pool>-1" case_vmpool
