# shellcheck shell=bash
# e2e cases: containerDisks pulled from the cluster's registry (tools/cluster, htpasswd auth on
# every request; the node holds credentials for $IMG_PREFIX/ only). A disk under the private
# name needs the VM's imagePullSecret; a pull that fails shows on the VMI as a condition with the
# registry's answer, and the VM keeps its one VMI and pod. Sourced by vm_test.sh.

REG_PRIVATE_DISK=$("$KV_CLUSTER" registry name)/private/test-guest-containerdisk:$TOKEN
REG_SECRET=e2e-regcred

# reg_vm_yaml NAME IMAGE [PULL_SECRET] [PULL_POLICY]: vm_yaml's VM with the containerDisk's
# imagePullSecret and imagePullPolicy set.
reg_vm_yaml() {
	local extra=""
	[[ -n ${3:-} ]] && extra+="\n            imagePullSecret: $3"
	[[ -n ${4:-} ]] && extra+="\n            imagePullPolicy: $4"
	IMG_OVERRIDE=$2 vm_yaml "$1" Always | sed "s|^\( *\)image: $2\$|&$extra|"
}

# The private copy of the test guest's disk, pushed once (the archive images/build wrote).
reg_push_private() {
	[[ -n ${REG_PUSHED:-} ]] && return 0
	local out
	out=$("$KV_CLUSTER" push-image --as "${REG_PRIVATE_DISK#*/}" "$BUILD/images/test-guest-containerdisk.tar") ||
		fail "push-image of the test guest's disk as $REG_PRIVATE_DISK failed"
	[[ $out == "$REG_PRIVATE_DISK" ]] || fail "push-image printed '$out', want $REG_PRIVATE_DISK"
	REG_PUSHED=1
}

# The registry itself refuses an anonymous pull of the private name: what the kubelet meets
# without a secret is the registry's answer, not a missing image.
reg_anonymous_refused() {
	local code
	code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$("$KV_CLUSTER" registry ca)" \
		"$("$KV_CLUSTER" registry url)/v2/private/test-guest-containerdisk/manifests/$TOKEN")
	[[ $code == 401 ]] || fail "an anonymous manifest GET of the private disk got HTTP $code, want 401"
}

# reg_pull_problem NAME REGEX: the VMI's Synchronized=False condition (ErrImagePull or
# ImagePullBackOff) has a message matching REGEX (case-insensitive).
reg_pull_problem() {
	local reason msg
	reason=$(vmi_field "$NS" "$1" '{.status.conditions[?(@.type=="Synchronized")].reason}')
	msg=$(vmi_field "$NS" "$1" '{.status.conditions[?(@.type=="Synchronized")].message}')
	[[ $reason =~ ^(ErrImagePull|ImagePullBackOff)$ ]] && grep -qiE -- "$2" <<<"$msg"
}

# The Events on VMI NAME, one "TYPE REASON: MESSAGE" a line.
reg_vmi_events() {
	k -n "$NS" get events --field-selector "involvedObject.kind=VirtualMachineInstance,involvedObject.name=$1" \
		-o jsonpath='{range .items[*]}{.type} {.reason}: {.message}{"\n"}{end}'
}
reg_event_says() { grep -qiE -- "^Warning (ErrImagePull|ImagePullBackOff): .*($2)" <<<"$(reg_vmi_events "$1")"; }
reg_pod_backed_off() {
	grep -q ImagePullBackOff <<<"$(k -n "$NS" get "$1" -o jsonpath='{.status.initContainerStatuses[*].state.waiting.reason} {.status.containerStatuses[*].state.waiting.reason}')"
}

# reg_pull_failure NAME REGEX WHAT: the condition appears with the registry's answer, an Event on
# the VMI says it, and the VM does not flap: after the kubelet has backed off (ImagePullBackOff on
# the pod, so it pulled and failed at least once more), the same VMI and the same one pod remain
# and the VMI is still Scheduling.
reg_pull_failure() {
	local name=$1 re=$2 what=$3 uid pod msg events
	wait_until 180 "VMI $name condition Synchronized=False with $what in its message" reg_pull_problem "$name" "$re" ||
		fail "the VMI shows no pull error with $what: $(vmi_field "$NS" "$name" '{.status.conditions}')"
	msg=$(vmi_field "$NS" "$name" '{.status.conditions[?(@.type=="Synchronized")].message}')
	log "VMI $name: Synchronized=False: $msg"
	uid=$(vmi_uid "$NS" "$name")
	pod=$(launcher_pod "$NS" "$uid")
	[[ -n $pod ]] || fail "VMI $name has no launcher pod"
	wait_until 120 "an Event on VMI $name with $what" reg_event_says "$name" "$re" ||
		fail "no Warning Event on VMI $name says $what: $(reg_vmi_events "$name")"
	wait_until 120 "the launcher pod of $name in ImagePullBackOff" reg_pod_backed_off "$pod" ||
		fail "the launcher pod of $name never backed off"
	[[ $(vmi_uid "$NS" "$name") == "$uid" ]] || fail "VM $name replaced its VMI while the pull failed"
	[[ $(launcher_pods "$NS" "$uid") == "$pod" ]] || fail "VMI $name has other launcher pods than $pod: $(launcher_pods "$NS" "$uid")"
	[[ $(vmi_phase "$NS" "$name") == Scheduling ]] || fail "VMI $name is $(vmi_phase "$NS" "$name"), want Scheduling while the pull fails"
	events=$(reg_vmi_events "$name")
	! grep -qE '^Warning (PodFailed|PodDeleted|PodTerminating):' <<<"$events" || fail "VMI $name: its pod failed or went: $events"
}

case_registry_private_with_secret() {
	reg_push_private
	reg_anonymous_refused
	"$KV_CLUSTER" registry dockerconfigjson >"$WORK/dockerconfig.json"
	k -n "$NS" create secret generic "$REG_SECRET" --type=kubernetes.io/dockerconfigjson \
		--from-file=.dockerconfigjson="$WORK/dockerconfig.json" >&2
	rm -f "$WORK/dockerconfig.json"
	reg_vm_yaml e2e-reg-private "$REG_PRIVATE_DISK" "$REG_SECRET" >"$WORK/vm-reg-private.yaml"
	k apply -f "$WORK/vm-reg-private.yaml" >&2
	wait_running_and_ready e2e-reg-private
	local uid pod secrets
	uid=$(vmi_uid "$NS" e2e-reg-private)
	pod=$(launcher_pod "$NS" "$uid")
	secrets=$(k -n "$NS" get "$pod" -o jsonpath='{.spec.imagePullSecrets[*].name}')
	[[ $secrets == "$REG_SECRET" ]] || fail "the launcher pod's imagePullSecrets are '$secrets', want $REG_SECRET"
}

# imagePullPolicy Always: the disk may be on the node from the case before; the kubelet must ask
# the registry (a node that has an image runs it for any pod under IfNotPresent).
case_registry_private_without_secret() {
	reg_push_private
	reg_vm_yaml e2e-reg-nosecret "$REG_PRIVATE_DISK" "" Always >"$WORK/vm-reg-nosecret.yaml"
	k apply -f "$WORK/vm-reg-nosecret.yaml" >&2
	# containerd 1.6 quotes the registry's "401 Unauthorized"; 2.x says "authorization failed: no
	# basic auth credentials" after the same 401.
	reg_pull_failure e2e-reg-nosecret '401 Unauthorized|unauthorized|authorization failed' "the registry's refusal (401)"
}

case_registry_not_found() {
	reg_vm_yaml e2e-reg-notfound "$IMG_PREFIX/no-such-disk:$TOKEN" >"$WORK/vm-reg-notfound.yaml"
	k apply -f "$WORK/vm-reg-notfound.yaml" >&2
	reg_pull_failure e2e-reg-notfound 'not found' "not found"
}

reg_cleanup() { k -n "$NS" delete secret "$REG_SECRET" --ignore-not-found >/dev/null 2>&1; }
cleanup_hooks+=(reg_cleanup)

run_case "registry: a VM whose containerDisk is under a private name runs with imagePullSecret; the launcher pod carries the secret" case_registry_private_with_secret
run_case "registry: the same VM without the secret shows the registry's refusal (401) on the VMI (condition and Event) and does not flap" case_registry_private_without_secret
run_case "registry: a containerDisk name the registry does not have shows not found on the VMI (condition and Event) and does not flap" case_registry_not_found
