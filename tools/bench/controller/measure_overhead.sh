#!/usr/bin/env bash
# Measures what one launcher really uses (virt-launcher + its session libvirtd + QEMU) with the
# project's test guest under TCG: a private memory cgroup (v1) around it, a private network
# namespace, run as uid 65534 (a non-root user with a passwd entry, as the launcher needs), the
# guest booted to its ready line, then 5 s idle. Prints the cgroup's usage and each process's
# RSS/PSS. The figures behind docs/controller.md "Memory overhead".
#   LAUNCHER=BUILD/launcher/virt-launcher measure_overhead.sh [GUEST_MEMORY [VCPUS [GRAPHICS]]]
# Needs root, cgroup v1 memory at /sys/fs/cgroup/memory, the test guest (test/guests/build-guest).
set -euo pipefail
mem=${1:-256Mi}; vcpus=${2:-1}; gfx=${3:-true}
root=$(mktemp -d /tmp/kv-ovh-XXXX)
guest=${KV_GUEST_DIR:-$("$(dirname "$0")/../../../test/guests/build-guest" | tail -n1)}
mkdir -p $root/cd/root $root/eph $root/sock $root/kb $root/pvc
cp -r $guest/containerdisk/disk $root/cd/root/
cat > $root/vmi.json <<J
{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",
 "metadata":{"name":"m","namespace":"default","uid":"u1"},
 "spec":{"domain":{"cpu":{"cores":$vcpus},"memory":{"guest":"$mem"},
   "devices":{"autoattachGraphicsDevice":$gfx,"disks":[{"name":"root","disk":{"bus":"virtio"}}]}},
   "volumes":[{"name":"root","containerDisk":{"image":"x"}}]}}
J
chown -R 65534:65534 $root
cg=/sys/fs/cgroup/memory/kv-ovh-$$
mkdir $cg
cleanup() {
  # The launcher shuts its guest down on SIGTERM; whatever is left in our cgroup is killed.
  if [[ -n ${pid:-} ]]; then kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; fi
  for p in $(cat $cg/cgroup.procs 2>/dev/null); do kill -KILL $p 2>/dev/null || true; done
  sleep 1; rmdir $cg 2>/dev/null || true; rm -rf $root
}
trap cleanup EXIT
sh -c "echo \$\$ > $cg/cgroup.procs; exec unshare -n -- sh -c 'ip link set lo up && exec setpriv --reuid=65534 --regid=65534 --clear-groups \"\$@\"' sh $LAUNCHER --vmi-file=$root/vmi.json --socket-dir=$root/sock --ephemeral-dir=$root/eph --container-disk-dir=$root/cd --kernel-boot-dir=$root/kb --pvc-dir=$root/pvc --allow-emulation" > $root/out 2> $root/err &
pid=$!
for i in $(seq 1 120); do grep -q KUBEVIRT-CPP-GUEST-READY $root/out 2>/dev/null && break; sleep 1; done
grep -q KUBEVIRT-CPP-GUEST-READY $root/out || { echo "guest not ready"; tail -5 $root/err; exit 1; }
sleep 5
usage=$(cat $cg/memory.usage_in_bytes)
rss=$(awk '/^total_rss /{print $2}' $cg/memory.stat)
cache=$(awk '/^total_cache /{print $2}' $cg/memory.stat)
echo "guest=$mem vcpus=$vcpus graphics=$gfx: cgroup usage $((usage>>20)) MiB (rss $((rss>>20)) MiB, page cache $((cache>>20)) MiB)"
for p in $(cat $cg/cgroup.procs); do
  printf "  %-14s rss %5d MiB pss %5d MiB\n" "$(cat /proc/$p/comm)" $(( $(awk '/^Rss:/{print $2}' /proc/$p/smaps_rollup) >> 10 )) $(( $(awk '/^Pss:/{print $2}' /proc/$p/smaps_rollup) >> 10 ))
done
