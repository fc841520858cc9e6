# shellcheck shell=bash
# e2e cases: `virtctl create` as the kubectl plugin (docs/virtctl.md "create"). kubectl finds the
# build's kubectl-virt on PATH, as a user's kubectl finds the installed one; the manifest it
# prints goes to `kubectl create -f -` unchanged. Sourced by vm_test.sh.

# The kubectl that tools/cluster built (the plugin is found through PATH, and kubectl refuses
# flags before a plugin's name, so `k` with its --kubeconfig cannot run plugins).
KV_E2E_KUBECTL_DIR=$(
	# shellcheck source=/dev/null
	. "$KV_ROOT/tools/cluster/lib/versions.sh"
	echo "${XDG_CACHE_HOME:-$HOME/.cache}/kubevirt-cpp/k8s/$K8S_VERSION/bin"
)
kubectl_virt() { PATH="$BUILD/tools/virtctl:$KV_E2E_KUBECTL_DIR:$PATH" kubectl virt "$@"; }

case_virtctl_create_vm() {
	[[ -L $BUILD/tools/virtctl/kubectl-virt ]] || fail "the build has no kubectl-virt next to virtctl"
	local ud
	ud=$(printf '#!/bin/sh\necho KV-E2E-CREATE-%s\n' "$TOKEN" | base64 -w0)
	# As a user creates a VM with kubectl: the printed manifest piped into kubectl create.
	# The starter set's u1.nano sizes it; the `linux` preference puts its disks on virtio (the test
	# guest's kernel has no SATA driver), filling the disks the volumes get, as upstream.
	kubectl_virt create vm -n "$NS" --name e2e-create --instancetype u1.nano --preference linux \
		--termination-grace-period 10 \
		--volume-containerdisk "src:$IMG_DISK,name:root" --cloud-init-user-data "$ud" |
		k create -f - >&2
	wait_running_and_ready e2e-create
	grep -qx "KV-E2E-CREATE-$TOKEN" <<<"$(console "$NS" e2e-create | tr -d '\r')" ||
		fail "the user data given base64-encoded to --cloud-init-user-data did not run"
	local strategy memory bus
	strategy=$(vm_field "$NS" e2e-create '{.spec.runStrategy}')
	[[ $strategy == Always ]] || fail "the VM's runStrategy is '$strategy', want upstream's default Always"
	memory=$(vmi_field "$NS" e2e-create '{.spec.domain.memory.guest}')
	[[ $memory == 512Mi ]] || fail "the VMI's memory.guest is '$memory', want u1.nano's 512Mi"
	bus=$(vmi_field "$NS" e2e-create '{.spec.domain.devices.disks[0].disk.bus}')
	[[ $bus == virtio ]] || fail "the VMI's first disk is on '$bus', want the linux preference's virtio"
}

cleanup_virtctl_create() {
	k delete virtualmachineclusterinstancetype,virtualmachineclusterpreference "e2e-create-$TOKEN" \
		--ignore-not-found --wait=false >/dev/null 2>&1 || true
	k -n "$NS" delete virtualmachinepreference "e2e-create-$TOKEN" --ignore-not-found --wait=false >/dev/null 2>&1 || true
}
cleanup_hooks+=(cleanup_virtctl_create)

# The instancetype and preference kinds' CRDs come with the instancetypes work (issue 13 item 5).
case_virtctl_create_instancetype() {
	local name=e2e-create-$TOKEN
	kubectl_virt create instancetype --name "$name" --cpu 1 --memory 128Mi | k create -f - >&2
	kubectl_virt create preference --name "$name" --cpu-topology cores | k create -f - >&2
	kubectl_virt create preference -n "$NS" --name "$name" | k create -f - >&2
	local cpu memory topology
	cpu=$(k get virtualmachineclusterinstancetype "$name" -o jsonpath='{.spec.cpu.guest}')
	memory=$(k get virtualmachineclusterinstancetype "$name" -o jsonpath='{.spec.memory.guest}')
	[[ $cpu == 1 && $memory == 128Mi ]] || fail "the cluster instancetype has cpu '$cpu', memory '$memory'; want 1 and 128Mi"
	topology=$(k get virtualmachineclusterpreference "$name" -o jsonpath='{.spec.cpu.preferredCPUTopology}')
	[[ $topology == cores ]] || fail "the cluster preference's preferredCPUTopology is '$topology', want cores"
	k -n "$NS" get virtualmachinepreference "$name" >/dev/null || fail "create preference -n $NS made no VirtualMachinePreference in $NS"
}

run_case "kubectl virt create vm --instancetype u1.nano --preference linux --volume-containerdisk --cloud-init-user-data | kubectl create -f -: the VM runs its user data" case_virtctl_create_vm
run_case "kubectl virt create instancetype / preference | kubectl create -f -: the objects exist with the given CPU, memory and topology" case_virtctl_create_instancetype
