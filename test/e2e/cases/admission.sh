# shellcheck shell=bash
# Admission (issue 13 items 3, 7 and 9): the defaulting webhooks store what upstream stores,
# unknown fields are refused for every client (not only kubectl's strict validation), and the
# aggregated user roles let a namespace editor run and reach VMs while a viewer only reads them.
# Sourced by test/e2e/vm_test.sh; docs/e2e.md lists the cases.

# vmi_defaults_yaml NAME: a VMI in upstream's style with a volume and no disk, no interfaces, a
# CPU request and no CPU topology.
vmi_defaults_yaml() {
	cat <<EOF
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: $1
  namespace: $NS
spec:
  domain:
    resources:
      requests:
        memory: 128Mi
        cpu: "2"
    devices: {}
  volumes:
    - name: root
      containerDisk:
        image: $IMG_DISK
EOF
}

case_admission_defaults() {
	vmi_defaults_yaml e2e-defaults >"$WORK/vmi-defaults.yaml"
	k create -f "$WORK/vmi-defaults.yaml" >&2
	local got
	got=$(vmi_field "$NS" e2e-defaults '{range .spec.domain.devices.disks[*]}{.name}:{.disk.bus};{end}')
	[[ $got == 'root:sata;' ]] || fail "the volume without a disk did not get upstream's disk on the sata bus: $got"
	got=$(vmi_field "$NS" e2e-defaults '{.spec.domain.machine.type} {.spec.domain.cpu.sockets}')
	[[ $got == 'q35 2' ]] || fail "machine type and sockets (2 CPUs requested, no topology): '$got', want 'q35 2'"
	got=$(vmi_field "$NS" e2e-defaults '{.spec.networks[0].name}:{.spec.networks[0].pod} {.spec.domain.devices.interfaces[0].name}:{.spec.domain.devices.interfaces[0].masquerade}')
	[[ $got == 'default:{} default:{}' ]] || fail "no default pod network and masquerade interface: $got"
	log "kubectl get vmi -o yaml shows the defaulted spec: $(k -n "$NS" get vmi e2e-defaults -o jsonpath='{.spec}')"

	# A VM is stored as upstream stores it: the template's machine type, the rest as written.
	vm_yaml e2e-defaults-vm Halted >"$WORK/vm-defaults.yaml"
	k apply -f "$WORK/vm-defaults.yaml" >&2
	[[ $(vm_field "$NS" e2e-defaults-vm '{.spec.template.spec.domain.machine.type}') == q35 ]] ||
		fail "the VM's template got no machine type"
	# No VMI defaults in the stored template (the VMI gets them when it is created).
	[[ -z $(vm_field "$NS" e2e-defaults-vm '{.spec.template.spec.domain.cpu}') ]] ||
		fail "the VM's template got VMI defaults: $(vm_field "$NS" e2e-defaults-vm '{.spec.template.spec.domain}')"
}

# bogus_json KIND: a VM or VMI manifest (JSON) with domain.devices.bogus: 1.
bogus_json() {
	if [[ $1 == VirtualMachine ]]; then
		vm_yaml e2e-bogus Halted | sed '/^        devices:$/a\          bogus: 1'
	else
		vmi_defaults_yaml e2e-bogus-vmi | sed 's/^    devices: {}$/    devices:\n      bogus: 1/'
	fi | k create --dry-run=client --validate=false -o json -f -
}

refused_naming() { # OUTPUT FIELD: names FIELD and lists the fields allowed there (devices')
	[[ $1 == *"$2: unknown field; allowed: "*disks*interfaces* ]]
}

case_admission_unknown_fields() {
	local out kind field resource
	for kind in VirtualMachine VirtualMachineInstance; do
		if [[ $kind == VirtualMachine ]]; then
			field=spec.template.spec.domain.devices.bogus resource=virtualmachines
		else
			field=spec.domain.devices.bogus resource=virtualmachineinstances
		fi
		bogus_json "$kind" >"$WORK/bogus.json"
		# kubectl without strict validation: the API server used to prune the field silently.
		if out=$(k apply --validate=false -f "$WORK/bogus.json" 2>&1); then
			fail "$kind with $field was accepted by kubectl apply --validate=false: $out"
		fi
		log "kubectl apply --validate=false ($kind): $out"
		refused_naming "$out" "$field" || fail "kubectl apply --validate=false of a $kind: the message does not name $field: $out"
		# A raw POST, as any client library would send it.
		if out=$(k create --raw "/apis/kubevirt.io/v1/namespaces/$NS/$resource" -f "$WORK/bogus.json" 2>&1); then
			fail "$kind with $field was accepted by a raw POST: $out"
		fi
		log "raw POST ($kind): $out"
		refused_naming "$out" "$field" || fail "raw POST of a $kind: the message does not name $field: $out"
	done
	! k -n "$NS" get vm e2e-bogus >/dev/null 2>&1 || fail "the VM with an unknown field exists"
	! k -n "$NS" get vmi e2e-bogus-vmi >/dev/null 2>&1 || fail "the VMI with an unknown field exists"
	# The schema still documents every field.
	out=$(k explain vm.spec.template.spec.domain.devices.disks 2>&1) || fail "kubectl explain failed: $out"
	[[ $out == *bootOrder* ]] || fail "kubectl explain shows no disk fields: $out"
}

# A kubeconfig for service account $1 of $NS (a token from the TokenRequest API).
sa_kubeconfig() {
	local file=$WORK/$1.kubeconfig server ca token
	server=$(k config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
	ca=$(k config view --raw --minify --flatten -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
	token=$(k -n "$NS" create token "$1" --duration=1h)
	cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: c
    cluster: {server: "$server", certificate-authority-data: "$ca"}
users:
  - name: $1
    user: {token: "$token"}
contexts:
  - name: c
    context: {cluster: c, user: $1, namespace: $NS}
current-context: c
EOF
	echo "$file"
}

rbac_cleanup() {
	k -n "$NS" delete rolebinding e2e-editor e2e-viewer --ignore-not-found >/dev/null 2>&1
	k -n "$NS" delete serviceaccount e2e-editor e2e-viewer --ignore-not-found >/dev/null 2>&1
}

case_admission_roles() {
	local who editor viewer out pid
	for who in editor viewer; do
		k -n "$NS" create serviceaccount "e2e-$who" >&2
	done
	# Kubernetes' own edit and view roles: ours are aggregated into them.
	k -n "$NS" create rolebinding e2e-editor --clusterrole=edit --serviceaccount="$NS:e2e-editor" >&2
	k -n "$NS" create rolebinding e2e-viewer --clusterrole=view --serviceaccount="$NS:e2e-viewer" >&2
	editor=$(sa_kubeconfig e2e-editor)
	viewer=$(sa_kubeconfig e2e-viewer)

	# The editor creates a VM and opens its console.
	vm_yaml e2e-rbac Always >"$WORK/vm-rbac.yaml"
	wait_until 30 "the edit role to let e2e-editor create VMs" \
		k --as="system:serviceaccount:$NS:e2e-editor" auth can-i create virtualmachines.kubevirt.io -n "$NS" ||
		fail "the aggregated edit role does not allow creating VMs"
	k --as="system:serviceaccount:$NS:e2e-editor" apply -f "$WORK/vm-rbac.yaml" >&2 || fail "the editor cannot create a VM"
	wait_running_and_ready e2e-rbac
	printf '\necho KV-E2E-RBAC-$((6*7))-%s\n' "$TOKEN" |
		"$VIRTCTL" --kubeconfig "$editor" -n "$NS" console e2e-rbac --timeout 1 \
			>"$WORK/rbac-console.out" 2>"$WORK/rbac-console.err" &
	pid=$!
	wait_until 60 "the guest's answer on the editor's console" grep -q "KV-E2E-RBAC-42-$TOKEN" "$WORK/rbac-console.out" ||
		{ kill "$pid" 2>/dev/null; fail "the editor's console did not reach the guest: $(tail -c 400 "$WORK/rbac-console.out"); stderr: $(cat "$WORK/rbac-console.err")"; }
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" || true

	# The viewer reads the VM but may neither open its console nor stop it nor create one.
	out=$(k --as="system:serviceaccount:$NS:e2e-viewer" -n "$NS" get vm e2e-rbac -o name 2>&1) || fail "the viewer cannot get the VM: $out"
	if out=$("$VIRTCTL" --kubeconfig "$viewer" -n "$NS" console e2e-rbac --timeout 1 </dev/null 2>&1); then
		fail "the viewer opened the console: $out"
	fi
	log "viewer's virtctl console: $out"
	[[ $out == *403* || $out == *orbidden* ]] || fail "the viewer's console was refused without a 403: $out"
	out=$(k --as="system:serviceaccount:$NS:e2e-viewer" get --raw \
		"/apis/subresources.kubevirt.io/v1/namespaces/$NS/virtualmachineinstances/e2e-rbac/console" 2>&1) &&
		fail "the viewer got the console subresource: $out"
	[[ $out == *Forbidden* || $out == *forbidden* ]] || fail "the console subresource was refused to the viewer without Forbidden: $out"
	out=$("$VIRTCTL" --kubeconfig "$viewer" -n "$NS" stop e2e-rbac 2>&1) && fail "the viewer stopped the VM: $out"
	[[ $out == *403* || $out == *orbidden* ]] || fail "virtctl stop by the viewer was refused without a 403: $out"
	vm_yaml e2e-rbac-viewer Halted >"$WORK/vm-rbac-viewer.yaml"
	out=$(k --as="system:serviceaccount:$NS:e2e-viewer" apply -f "$WORK/vm-rbac-viewer.yaml" 2>&1) &&
		fail "the viewer created a VM: $out"
	[[ $out == *forbidden* ]] || fail "the viewer's create was refused without forbidden: $out"
}

cleanup_hooks+=(rbac_cleanup)

run_case "the defaulting webhooks store upstream's defaults: a volume without a disk gets a sata disk, the VMI a machine type, sockets from its CPU request and the pod network" case_admission_defaults
run_case "a VM or VMI with an unknown field is refused, naming it, for kubectl apply --validate=false and a raw POST; kubectl explain still works" case_admission_unknown_fields
run_case "a service account bound to edit creates a VM and opens its console; one bound to view reads it but gets 403 for console and stop" case_admission_roles
