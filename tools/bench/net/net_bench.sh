#!/usr/bin/env bash
# net_bench.sh: the pod network as a VM sees it, against the same thing between two pods, on one
# node of a running local cluster (tools/cluster) with the add-on deployed (e.g. after
# `KV_E2E_KEEP=1 meson test -C BUILD vm`). Prints a table; asserts nothing.
#   KV_CLUSTER_STATE=/var/tmp/kubevirt-cpp-e2e-vm tools/bench/net/net_bench.sh [MIB [CONNECTIONS]]
# - TCP throughput: one HTTP GET of an MIB-MiB file (busybox httpd, read by busybox nc in a
#   client pod), from the guest's pod IP (passt -> QEMU -> guest) and from another pod.
# - connection latency: CONNECTIONS sequential HTTP GETs of a small page, mean per connection.
# - passt's memory: RSS and PSS of the VM's passt process, and its open sockets.
# The guest runs under TCG here: guest-side numbers include emulation, not just passt.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
mib=${1:-16}
conns=${2:-50}
ns=kv-bench-net
export KV_CLUSTER_STATE=${KV_CLUSTER_STATE:-/var/tmp/kubevirt-cpp-e2e-vm}
k() { "$root/tools/cluster/cluster" kubectl "$@"; }
version=$(sed -n "s/^[[:space:]]*version:[[:space:]]*'\([^']*\)'.*/\1/p" "$root/meson.build" | head -1)
img_disk=$("$root/tools/cluster/cluster" registry name)/kubevirt-cpp/test-guest-containerdisk:$version  # pushed by the e2e setup
img_busybox=docker.io/library/busybox:local
wait_for() { # SECONDS WHAT COMMAND...
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || { echo "net_bench: timed out waiting for $what" >&2; exit 1; }
		sleep 1
	done
}
cleanup() { k delete ns "$ns" --wait=false >/dev/null 2>&1 || true; }
trap cleanup EXIT

k create ns "$ns" >/dev/null 2>&1 || true
k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: $ns}
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - {name: c, image: $img_busybox, imagePullPolicy: Never, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: $ns}
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - name: s
      image: $img_busybox
      imagePullPolicy: Never
      command: [sh, -c, 'mkdir -p /tmp/w && echo small >/tmp/w/index.html && dd if=/dev/zero of=/tmp/w/big bs=1M count=$mib 2>/dev/null && exec httpd -f -p 8080 -h /tmp/w']
---
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: vm, namespace: $ns}
spec:
  domain:
    memory: {guest: 256Mi}
    devices:
      disks:
        - {name: root, disk: {bus: virtio}}
        - {name: cloudinit, disk: {bus: virtio}}
      interfaces: [{name: default, masquerade: {}}]
  networks: [{name: default, pod: {}}]
  volumes:
    - {name: root, containerDisk: {image: $img_disk}}
    - name: cloudinit
      cloudInitNoCloud:
        userData: |
          #!/bin/sh
          mkdir -p /run/w && echo small >/run/w/index.html
          dd if=/dev/zero of=/run/w/big bs=1M count=$mib 2>/dev/null
          httpd -p 8081 -h /run/w
EOF
for p in client server; do
	wait_for 120 "pod $p" bash -c "[[ \$('$root/tools/cluster/cluster' kubectl -n $ns get pod $p -o jsonpath='{.status.phase}') == Running ]]"
done
wait_for 300 "VMI vm Running" bash -c "[[ \$('$root/tools/cluster/cluster' kubectl -n $ns get vmi vm -o jsonpath='{.status.phase}') == Running ]]"
uid=$(k -n "$ns" get vmi vm -o jsonpath='{.metadata.uid}')
pod=$(k -n "$ns" get pods -l "kubevirt.io/created-by=$uid" -o jsonpath='{.items[0].metadata.name}')
wait_for 300 "the guest's ready line" bash -c "'$root/tools/cluster/cluster' kubectl -n $ns logs $pod -c compute | grep -q KUBEVIRT-CPP-GUEST-READY"
vm_ip=$(k -n "$ns" get pod "$pod" -o jsonpath='{.status.podIP}')
srv_ip=$(k -n "$ns" get pod server -o jsonpath='{.status.podIP}')

# seconds IP PORT PATH COUNT: wall time (microseconds) inside the client pod of COUNT sequential
# GETs, from /proc/uptime (busybox date has no %N).
seconds() {
	k -n "$ns" exec client -- sh -c "
		get() { printf 'GET $3 HTTP/1.0\r\n\r\n' | nc $1 $2 >/dev/null; }
		get; read t0 x </proc/uptime; i=0
		while [ \$i -lt $4 ]; do get; i=\$((i+1)); done
		read t1 x </proc/uptime; awk -v a=\$t0 -v b=\$t1 'BEGIN { printf \"%d\\n\", (b - a) * 1e6 }'"
}
fmt() { awk -v us="$1" -v n="$2" -v mib="$3" 'BEGIN {
	if (mib > 0) printf "%.1f MiB/s (%.2f s)", mib * n / (us / 1e6), us / 1e6;
	else printf "%.2f ms", us / 1000 / n }'; }
wait_for 60 "the guest's httpd on 8081" k -n "$ns" exec client -- sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc $vm_ip 8081 | grep -q small"

thr_vm=$(seconds "$vm_ip" 8081 /big 3)
thr_pod=$(seconds "$srv_ip" 8080 /big 3)
lat_vm=$(seconds "$vm_ip" 8081 / "$conns")
lat_pod=$(seconds "$srv_ip" 8080 / "$conns")
passt_pid=$(pgrep -n '^passt')  # the newest: this VM's (run it with no other VM starting)
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$passt_pid/status")
pss=$(awk '/^Pss:/ {print $2}' "/proc/$passt_pid/smaps_rollup")
fds=$(ls "/proc/$passt_pid/fd" | wc -l)

printf '%-44s %-26s %s\n' "what (one node, $(nproc) cores, guest under TCG)" "pod -> guest (passt)" "pod -> pod"
printf '%-44s %-26s %s\n' "TCP throughput, HTTP GET of $mib MiB x3" "$(fmt "$thr_vm" 3 "$mib")" "$(fmt "$thr_pod" 3 "$mib")"
printf '%-44s %-26s %s\n' "connection + small GET, mean of $conns" "$(fmt "$lat_vm" "$conns" 0)" "$(fmt "$lat_pod" "$conns" 0)"
printf '%-44s %s\n' "passt per VM: RSS / PSS / open files" "$((rss / 1024)) MiB / $((pss / 1024)) MiB / $fds"
