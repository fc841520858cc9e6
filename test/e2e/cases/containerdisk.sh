# shellcheck shell=bash
# containerDisks (issue 15 item 5 and its bad input): mounted from the image as a Kubernetes image
# volume where every node's runtime serves them (else copied by init containers), the guest's
# writes going to an overlay; and the three kinds of bad image, each a VMI condition and an Event
# naming the image, with no restart loop. Sourced by vm_test.sh (test/e2e/cases/README.md).

# cd_vm NAME IMAGE [PATH] [USER_DATA_FILE]: a VM booting containerDisk IMAGE (at PATH inside it).
cd_vm() {
	cat <<EOF
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: $1
  namespace: $NS
spec:
  runStrategy: Always
  template:
    spec:
      domain:
        memory:
          guest: 256Mi
        devices:
          disks:
            - name: root
              disk:
                bus: virtio
$([[ -n ${4:-} ]] && printf '            - name: cloudinit\n              disk:\n                bus: virtio\n')
      terminationGracePeriodSeconds: 10
      volumes:
        - name: root
          containerDisk:
            image: "$2"
$([[ -n ${3:-} ]] && printf '            path: %s\n' "$3")
$([[ -n ${4:-} ]] && { printf '        - name: cloudinit\n          cloudInitNoCloud:\n            userData: |\n'; sed 's/^/              /' "$4"; })
EOF
}

# Whether every node runs containerd >= 2.1 or CRI-O >= 1.31: where virt-controller (imageVolume
# auto, the shipped setting) mounts containerDisks as image volumes.
cd_nodes_serve_image_volumes() {
	local r any=1
	while read -r r; do
		[[ -n $r ]] || continue
		any=0
		if [[ $r =~ ^containerd://v?([0-9]+)\.([0-9]+) ]]; then
			((BASH_REMATCH[1] > 2 || (BASH_REMATCH[1] == 2 && BASH_REMATCH[2] >= 1))) || return 1
		elif [[ $r =~ ^cri-o://v?([0-9]+)\.([0-9]+) ]]; then
			((BASH_REMATCH[1] > 1 || (BASH_REMATCH[1] == 1 && BASH_REMATCH[2] >= 31))) || return 1
		else
			return 1
		fi
	done < <(k get nodes -o jsonpath='{range .items[*]}{.status.nodeInfo.containerRuntimeVersion}{"\n"}{end}')
	return $any
}

cd_compute() { # POD ARGS...: busybox ARGS in the compute container
	k -n "$NS" exec "${1#pod/}" -c compute -- /usr/libexec/kubevirt-cpp/busybox "${@:2}"
}

# The VMI's Synchronized condition as "reason|message".
cd_sync_condition() {
	vmi_field "$NS" "$1" '{.status.conditions[?(@.type=="Synchronized")].reason}|{.status.conditions[?(@.type=="Synchronized")].message}'
}
cd_sync_condition_has() { # NAME REASON TEXT
	local c
	c=$(cd_sync_condition "$1")
	[[ ${c%%|*} == "$2" && ${c#*|} == *"$3"* ]]
}
cd_event_has() { # VMI REASON TEXT: an Event on VMI with REASON whose message holds TEXT
	k -n "$NS" get events --field-selector "involvedObject.kind=VirtualMachineInstance,involvedObject.name=$1,reason=$2" \
		-o jsonpath='{range .items[*]}{.message}{"\n"}{end}' 2>/dev/null | grep -qF -- "$3"
}

# After the condition: one VMI all along (the watch saw a single uid), never Failed, in PHASE.
cd_no_restart_loop() { # NAME WATCH_FILE PHASE
	local uids
	vmi_phase_is "$NS" "$1" "$3" || fail "VMI $1 is $(vmi_phase "$NS" "$1"), expected $3"
	uids=$(awk '{print $2}' "$2" | sort -u | wc -l)
	((uids == 1)) || fail "VMI $1 was recreated: $(cat "$2")"
	! grep -q ' Failed$' "$2" || fail "VMI $1 went through Failed: $(cat "$2")"
	[[ -z $(vm_field "$NS" "$1" '{.status.startFailure}') ]] || fail "VM $1 counts start failures: $(vm_field "$NS" "$1" '{.status.startFailure}')"
}

cat >"$WORK/cd-userdata" <<EOF
#!/bin/sh
# 4 MiB of the root disk, past what the running guest uses (it runs from its initramfs).
dd if=/dev/urandom of=/dev/vda bs=1M count=4 seek=20 conv=fsync 2>/dev/null && echo KV-E2E-CD-WROTE-$TOKEN
EOF

case_cd_route() {
	cd_vm e2e-cd "$IMG_DISK" "" "$WORK/cd-userdata" | k apply -f - >&2
	wait_running_and_ready e2e-cd
	wait_until 60 "the guest's write to its root disk" console_has "$NS" e2e-cd "KV-E2E-CD-WROTE-$TOKEN"
	local pod ref inits want got overlay
	pod=$(launcher_pod "$NS" "$(vmi_uid "$NS" e2e-cd)")
	ref=$(k -n "$NS" get "$pod" -o jsonpath='{.spec.volumes[?(@.name=="volume-root")].image.reference}')
	inits=$(k -n "$NS" get "$pod" -o jsonpath='{.spec.initContainers[*].name}')
	if cd_nodes_serve_image_volumes; then
		log "nodes serve image volumes: $pod mounts $ref; init containers: [$inits]"
		[[ $ref == "$IMG_DISK" ]] || fail "$pod has no image volume for $IMG_DISK: $(k -n "$NS" get "$pod" -o jsonpath='{.spec.volumes}')"
		[[ -z $inits ]] || fail "$pod still copies with init containers: $inits"
	else
		log "a node's runtime cannot mount image volumes: $pod copies ($inits)"
		[[ -z $ref && $inits == *volume-root* ]] || fail "$pod should copy the disk (volume ref '$ref', init containers '$inits')"
	fi
	# The disk in the pod is the image's, byte for byte, after the guest wrote to it...
	want=$(sha256sum "$("$KV_ROOT/test/guests/build-guest")/containerdisk/disk/boot.qcow2" | cut -d' ' -f1)
	got=$(cd_compute "$pod" sha256sum /var/run/kubevirt-cpp/container-disks/root/disk/boot.qcow2 | cut -d' ' -f1)
	[[ $got == "$want" ]] || fail "the containerDisk in the pod changed: sha256 $got, the image's $want"
	# ...and the 4 MiB went to the overlay on the pod's ephemeral storage.
	overlay=$(cd_compute "$pod" stat -c %s /var/run/kubevirt-cpp/ephemeral/disks/root.qcow2)
	log "image disk sha256 unchanged ($got); overlay $overlay bytes"
	((overlay >= 4 * 1024 * 1024)) || fail "the overlay holds $overlay bytes; the guest wrote 4 MiB"
}

case_cd_bad_reference() {
	local img="localhost/kubevirt-cpp/Test-Guest:$TOKEN" w
	cd_vm e2e-cd-ref "$img" | k apply -f - >&2
	wait_until 60 "VMI e2e-cd-ref" k -n "$NS" get vmi e2e-cd-ref
	w=$(watch_vmi e2e-cd-ref "$WORK/cd-ref.watch")
	wait_until 60 "VMI e2e-cd-ref Synchronized=False naming the image" cd_sync_condition_has e2e-cd-ref FailedCreate \
		"spec.volumes[0].containerDisk.image: \"$img\" is not a valid image reference: repository name must be lowercase"
	log "condition: $(cd_sync_condition e2e-cd-ref)"
	wait_until 30 "a FailedCreate Event on VMI e2e-cd-ref naming the image" cd_event_has e2e-cd-ref FailedCreate "\"$img\" is not a valid image reference"
	[[ -z $(launcher_pods "$NS" "$(vmi_uid "$NS" e2e-cd-ref)") ]] || fail "a launcher pod was created for an invalid image"
	kill "$w" 2>/dev/null
	cd_no_restart_loop e2e-cd-ref "$WORK/cd-ref.watch" Pending
}

case_cd_absent_path() {
	local w
	cd_vm e2e-cd-path "$IMG_DISK" /disk/absent.qcow2 | k apply -f - >&2
	wait_until 60 "VMI e2e-cd-path" k -n "$NS" get vmi e2e-cd-path
	w=$(watch_vmi e2e-cd-path "$WORK/cd-path.watch")
	wait_until 180 "VMI e2e-cd-path Synchronized=False: the path is absent" cd_sync_condition_has e2e-cd-path \
		"Synchronizing with the Domain failed." \
		"containerDisk \"root\" (image $IMG_DISK): path /disk/absent.qcow2 is absent from the image"
	log "condition: $(cd_sync_condition e2e-cd-path)"
	wait_until 30 "a SyncFailed Event on VMI e2e-cd-path naming the image" cd_event_has e2e-cd-path SyncFailed "(image $IMG_DISK): path /disk/absent.qcow2 is absent"
	kill "$w" 2>/dev/null
	cd_no_restart_loop e2e-cd-path "$WORK/cd-path.watch" Scheduled
}

case_cd_not_a_disk() {
	local img="localhost/kubevirt-cpp/e2e-vmdk:$TOKEN" w
	mkdir -p "$WORK/cd-vmdk/disk"
	qemu-img create -q -f vmdk "$WORK/cd-vmdk/disk/disk.vmdk" 16M
	chmod -R a+rX "$WORK/cd-vmdk"
	"$KV_ROOT/tools/cluster/oci-pack" -o "$WORK/cd-vmdk.tar" "$img" "$WORK/cd-vmdk" >&2
	"$KV_CLUSTER" load-image "$WORK/cd-vmdk.tar" >&2
	cd_vm e2e-cd-vmdk "$img" | k apply -f - >&2
	wait_until 60 "VMI e2e-cd-vmdk" k -n "$NS" get vmi e2e-cd-vmdk
	w=$(watch_vmi e2e-cd-vmdk "$WORK/cd-vmdk.watch")
	wait_until 180 "VMI e2e-cd-vmdk Synchronized=False: not a qcow2 or raw disk" cd_sync_condition_has e2e-cd-vmdk \
		"Synchronizing with the Domain failed." \
		"invalid image in containerDisk \"root\" (image $img): unsupported image format: vmdk"
	log "condition: $(cd_sync_condition e2e-cd-vmdk)"
	wait_until 30 "a SyncFailed Event on VMI e2e-cd-vmdk naming the image" cd_event_has e2e-cd-vmdk SyncFailed "(image $img): unsupported image format: vmdk"
	kill "$w" 2>/dev/null
	cd_no_restart_loop e2e-cd-vmdk "$WORK/cd-vmdk.watch" Scheduled
}

run_case "containerDisk: an image volume where the runtime serves them (else a copy), guest writes leave the image untouched" case_cd_route
run_case "containerDisk: an image that is not a valid reference is a VMI condition and Event, no pod, no restart loop" case_cd_bad_reference
run_case "containerDisk: a path absent from the image is a VMI condition and Event, no restart loop" case_cd_absent_path
run_case "containerDisk: a disk that is not qcow2 or raw is a VMI condition and Event, no restart loop" case_cd_not_a_disk
