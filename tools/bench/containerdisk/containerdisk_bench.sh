#!/usr/bin/env bash
# containerDisk: copy vs image volume. On a running local cluster with the add-on deployed (for
# example kept by `KV_E2E_KEEP=1 ... meson test vm` with KV_CONTAINERD=2), starts a VM whose
# containerDisk is the test guest's disk grown to 1 GiB of incompressible data, RUNS times with
# kubevirt-config imageVolume=false (init containers copy the disk into an emptyDir) and RUNS times
# with imageVolume=true (the disk is mounted from the image), alternating, and prints per run and
# as medians: create -> VMI Running, create -> the guest's ready line on the console, and what the
# node's disk gained meanwhile (du of containerd's content store, its overlayfs snapshots and the
# kubelet's pod directories, which hold the emptyDirs). Records; asserts nothing.
#
#   KV_CLUSTER_STATE=/var/tmp/kubevirt-cpp-e2e-vm tools/bench/containerdisk/containerdisk_bench.sh [RUNS]
#
# The image is built once and cached under ${XDG_CACHE_HOME:-~/.cache}/kubevirt-cpp/bench/; it is
# imported into the node's containerd before the first run (not timed: both routes start from an
# image already on the node). Needs root (du of the state directory), qemu-img, the test guest.
set -euo pipefail
RUNS=${1:-3}
KV_ROOT=$(cd "$(dirname "$(readlink -f "$0")")/../../.." && pwd)
export KV_CLUSTER_STATE=${KV_CLUSTER_STATE:-/var/tmp/kubevirt-cpp-e2e-vm}
# shellcheck source=../../../test/e2e/lib.sh
. "$KV_ROOT/test/e2e/lib.sh"
NS=kv-bench-cd
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/kubevirt-cpp/bench
log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- the 1 GiB containerDisk -----------------------------------------------------------------------
guest=$("$KV_ROOT/test/guests/build-guest" | tail -n1)
key=$(cat "$guest/containerdisk/disk/boot.qcow2" "$0" | sha256sum | cut -c1-12)
IMG=localhost/kubevirt-cpp/bench-containerdisk-1g:$key
archive=$CACHE/containerdisk-1g-$key.tar
if [[ ! -s $archive ]]; then
	log "building $IMG (1 GiB of random data after the test guest's 32 MiB boot disk; cached in $archive)"
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/.build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	qemu-img convert -O raw "$guest/containerdisk/disk/boot.qcow2" "$tmp/disk.raw"
	truncate -s 1G "$tmp/disk.raw"
	dd if=/dev/urandom of="$tmp/disk.raw" bs=1M seek=32 count=992 conv=notrunc status=none
	mkdir -p "$tmp/root/disk"
	qemu-img convert -O qcow2 "$tmp/disk.raw" "$tmp/root/disk/boot.qcow2"
	rm "$tmp/disk.raw"
	chmod -R a+rX "$tmp/root"
	"$KV_ROOT/tools/cluster/oci-pack" -o "$tmp/image.tar" "$IMG" "$tmp/root" >/dev/null
	mv "$tmp/image.tar" "$archive"
	rm -rf "$tmp"
	trap - EXIT
fi
log "importing $IMG into the node's containerd"
"$KV_CLUSTER" load-image "$archive" >/dev/null

# --- one start -----------------------------------------------------------------------------------
C=$KV_CLUSTER_STATE/containerd/root
DIRS=("$C/io.containerd.content.v1.content" "$C/io.containerd.snapshotter.v1.overlayfs" "$KV_CLUSTER_STATE/kubelet/root/pods")
usage() { local d; for d in "${DIRS[@]}"; do du -sx --block-size=1 "$d" 2>/dev/null | cut -f1 || echo 0; done; }

vm() {
	cat <<EOF
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: $1, namespace: $NS}
spec:
  runStrategy: Always
  template:
    spec:
      domain:
        memory: {guest: 256Mi}
        devices:
          disks: [{name: root, disk: {bus: virtio}}]
      terminationGracePeriodSeconds: 5
      volumes: [{name: root, containerDisk: {image: $IMG}}]
EOF
}

# start MODE(copy|imagevolume) N -> "running_s ready_s content_delta snapshots_delta pods_delta"
start() {
	local mode=$1 name=bench-cd-$1-$2 before after t0 t_run t_ready pod vols
	k -n kubevirt patch configmap kubevirt-config --type merge \
		-p "{\"data\":{\"imageVolume\":\"$([[ $mode == imagevolume ]] && echo true || echo false)\"}}" >/dev/null
	sync
	mapfile -t before < <(usage)
	t0=$(now)
	vm "$name" | k apply -f - >/dev/null
	wait_until 300 "VMI $name Running" vmi_phase_is "$NS" "$name" Running || die "VMI $name did not run"
	t_run=$(now)
	wait_until 300 "the ready line of $name" console_has "$NS" "$name" "$GUEST_READY" || die "guest $name not ready"
	t_ready=$(now)
	sync
	mapfile -t after < <(usage)
	pod=$(launcher_pod "$NS" "$(vmi_uid "$NS" "$name")")
	vols=$(k -n "$NS" get "$pod" -o jsonpath='{.spec.volumes[?(@.name=="volume-root")].image.reference}')
	if [[ $mode == imagevolume && -z $vols ]] || [[ $mode == copy && -n $vols ]]; then
		die "$pod does not use the $mode route (kubevirt-config not applied yet?)"
	fi
	k -n "$NS" delete vm "$name" --wait=false >/dev/null
	wait_until 120 "VM $name gone" bash -c "! '$KV_CLUSTER' kubectl -n $NS get vmi $name >/dev/null 2>&1 && [[ -z \$('$KV_CLUSTER' kubectl -n $NS get pods -o name) ]]" ||
		die "VM $name did not go away"
	echo "$(elapsed "$t0" "$t_run") $(elapsed "$t0" "$t_ready") $(((after[0] - before[0]) >> 20)) $(((after[1] - before[1]) >> 20)) $(((after[2] - before[2]) >> 20))"
}

old=$(k -n kubevirt get configmap kubevirt-config -o jsonpath='{.data.imageVolume}' 2>/dev/null || true)
restore() {
	if [[ -n $old ]]; then
		k -n kubevirt patch configmap kubevirt-config --type merge -p "{\"data\":{\"imageVolume\":\"$old\"}}" >/dev/null
	else
		k -n kubevirt patch configmap kubevirt-config --type json -p '[{"op":"remove","path":"/data/imageVolume"}]' >/dev/null 2>&1 || true
	fi
	k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
}
trap restore EXIT
k create namespace "$NS" >/dev/null 2>&1 || true
wait_until 60 "the default service account of $NS" k -n "$NS" get serviceaccount default || die "no service account in $NS"

declare -A rows
printf '%-12s %3s %10s %10s %10s %10s %10s\n' route run running_s ready_s content_MiB snaps_MiB pods_MiB >&2
for ((i = 1; i <= RUNS; i++)); do
	for mode in copy imagevolume; do
		r=$(start "$mode" "$i")
		rows[$mode]+="$r"$'\n'
		# shellcheck disable=SC2086
		printf '%-12s %3d %10s %10s %10s %10s %10s\n' "$mode" "$i" $r >&2
	done
done

med() { # MODE COLUMN -> the median of that column
	awk -v c="$2" 'NF { print $c }' <<<"${rows[$1]}" | sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'
}
echo
echo "containerDisk of 1 GiB (qcow2, incompressible), guest 256Mi under TCG; median of $RUNS starts each"
echo
echo "| what | copy (init container -> emptyDir) | image volume |"
echo "|---|---|---|"
echo "| create -> VMI Running | $(med copy 1) s | $(med imagevolume 1) s |"
echo "| create -> guest ready line | $(med copy 2) s | $(med imagevolume 2) s |"
echo "| node disk: containerd content store | +$(med copy 3) MiB | +$(med imagevolume 3) MiB |"
echo "| node disk: containerd snapshots | +$(med copy 4) MiB | +$(med imagevolume 4) MiB |"
echo "| node disk: pod directories (emptyDirs) | +$(med copy 5) MiB | +$(med imagevolume 5) MiB |"
