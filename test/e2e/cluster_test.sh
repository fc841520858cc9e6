#!/usr/bin/env bash
# e2e acceptance test for tools/cluster: `up --nodes 2` from cold, both nodes are Ready, a pod
# from a locally built busybox image runs on each, `kubectl logs` and `kubectl exec` work on
# each, a ClusterIP Service reaches a pod on node 1 from the host and from a pod on node 2,
# pods reach each other across nodes by pod IP, node 2 pulls from the cluster's registry, pods
# resolve Services (and names outside the cluster) through CoreDNS, the pods are deleted, and
# `down` leaves no process, mount, netns, link, iptables rule/chain or sysctl behind.
# Needs root. Uses its own state directory; the cluster's fixed ports must be free.
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
CLUSTER=$ROOT/tools/cluster/cluster
export KV_CLUSTER_STATE=${KV_CLUSTER_STATE:-/var/tmp/kubevirt-cpp-e2e-cluster}
KV_ROOT=$ROOT
# shellcheck source=lib.sh
. "$ROOT/test/e2e/lib.sh"
SNAP=$(mktemp -d "${TMPDIR:-/tmp}/cluster-e2e.XXXXXX")
FAILED=0

say() { printf '[e2e %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() {
	say "FAIL: $*"
	FAILED=1
	exit 1
}
pass() { say "ok: $*"; }
kc() { "$CLUSTER" kubectl "$@"; }

# wait_for DESCRIPTION TIMEOUT_S COMMAND...: polls until COMMAND succeeds or fails the test.
wait_for() {
	local what=$1 timeout=$(($2 * KV_TIMEOUT_SCALE)) deadline
	shift 2
	deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || fail "timed out after ${timeout}s waiting for: $what"
		sleep 0.5
	done
}

# What `down` must put back. Only this cluster's footprint is compared for processes,
# since other work may run on the machine at the same time.
snapshot() {
	local out=$1
	mkdir -p "$out"
	for t in iptables ip6tables; do
		if command -v "$t-save" >/dev/null; then
			"$t-save" 2>/dev/null | grep -v '^#' | sed 's/ \[[0-9]*:[0-9]*\]$//' >"$out/$t"
		fi
	done
	ip netns list 2>/dev/null | sort >"$out/netns"
	ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort >"$out/links"
	awk '{print $5}' /proc/self/mountinfo | sort >"$out/mounts"
	for s in net.ipv4.ip_forward net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables \
		vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops \
		kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.netfilter.nf_conntrack_max; do
		echo "$s=$(sysctl -n "$s" 2>/dev/null)"
	done >"$out/sysctl"
	{ find /run/containerd /var/lib/cni /var/lib/kubelet /var/log/containers /var/run/netns 2>/dev/null ||
		true; } | LC_ALL=C sort >"$out/dirs"
	ls -d /sys/fs/cgroup/*/kubevirt-cpp* 2>/dev/null >"$out/cgroups" || true
}

# Processes that belong to this cluster: every component, and the containerd shims (by
# their -address), name the state directory in their arguments. Pod processes live in the
# pod cgroups, which the snapshot checks.
cluster_processes() {
	local p cmd
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
		if [[ $cmd == *"$KV_CLUSTER_STATE/"* ]]; then
			echo "${p#/proc/} $cmd"
		fi
	done
}

cleanup() {
	local rc=$?
	if [[ -d $KV_CLUSTER_STATE ]]; then
		if ((FAILED || rc != 0)); then
			say "test failed: cluster status and logs (kept in $KV_CLUSTER_STATE/logs)"
			"$CLUSTER" status >&2 || true
			"$CLUSTER" kubectl get pods -A -o wide >&2 || true
			"$CLUSTER" kubectl describe pods >&2 || true
			"$CLUSTER" down --keep-state || true
		else
			"$CLUSTER" down || true
		fi
	fi
	rm -rf "$SNAP"
	release_cluster_state
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ $(id -u) == 0 ]] || fail "needs root"
# A cluster of a killed e2e run goes first; this run's own deadline is below meson's 3600 s
# (lib.sh: the watchdog also tears down if this script is killed).
reclaim_stale_clusters
if [[ -d $KV_CLUSTER_STATE ]]; then
	say "a previous run left $KV_CLUSTER_STATE: tearing it down first"
	"$CLUSTER" down
fi
claim_cluster_state
start_watchdog "${KV_E2E_DEADLINE:-3300}"

say "building (cached after the first run)"
"$CLUSTER" build
BUSYBOX_TAR=$("$CLUSTER" image-archive busybox)
snapshot "$SNAP/before"

say "check: up --nodes 2 from cold"
t0=$SECONDS
"$CLUSTER" up --nodes 2
say "cold up took $((SECONDS - t0)) s"

say "check: both nodes are Ready and kubectl is the pinned version"
kc get nodes -o wide
for n in kv-node kv-node2; do
	[[ $(kc get node "$n" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}') == True ]] ||
		fail "node $n is not Ready"
done
node2_ip=$(kc get node kv-node2 -o 'jsonpath={.status.addresses[?(@.type=="InternalIP")].address}')
[[ $node2_ip == 10.245.2.2 ]] || fail "kv-node2's InternalIP is '$node2_ip', want 10.245.2.2 (its own network namespace)"
kc version >/dev/null || fail "kubectl version failed (client and server should both be stamped)"
pass "kv-node and kv-node2 ($node2_ip) Ready; $(kc version 2>/dev/null | tr '\n' ' ')"

[[ -s $("$CLUSTER" kubeconfig) ]] || fail "cluster kubeconfig: $("$CLUSTER" kubeconfig) is missing"
kc -n default get serviceaccount default >/dev/null || fail "the default ServiceAccount does not exist after up"
pass "kubeconfig at $("$CLUSTER" kubeconfig); default ServiceAccount exists"

say "check: a second up is harmless (and keeps both nodes)"
"$CLUSTER" up
[[ $(kc get nodes -o name | wc -l) == 2 ]] || fail "after a second up: $(kc get nodes -o name)"
if "$CLUSTER" up --nodes 1 2>"$SNAP/fewer.err"; then fail "up --nodes 1 on a two-node cluster succeeded"; fi
grep -q "fewer needs a cluster down first" "$SNAP/fewer.err" || fail "up --nodes 1 said: $(cat "$SNAP/fewer.err")"
pass "second up; fewer nodes refused: $(cat "$SNAP/fewer.err")"

say "check: load-image imports the busybox archive under its full name (into both nodes)"
names=$("$CLUSTER" load-image "$BUSYBOX_TAR")
grep -qx 'docker.io/library/busybox:local' <<<"$names" || fail "load-image printed '$names', want docker.io/library/busybox:local"
pass "load-image: $names"

say "check: a pod from the local image runs on each node"
kc apply -f - <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: e2e-web
  labels: {app: e2e-web}
spec:
  terminationGracePeriodSeconds: 1
  nodeSelector: {kubernetes.io/hostname: kv-node}
  containers:
  - name: web
    image: docker.io/library/busybox:local
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo e2e-web-started; mkdir -p /www; echo hello-from-e2e-web >/www/index.html; exec httpd -f -p 8080 -h /www"]
    ports: [{containerPort: 8080}]
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: e2e-web
spec:
  selector: {app: e2e-web}
  ports: [{port: 80, targetPort: 8080}]
EOF
# On node 2, with the kubelet root as virt-handler mounts it: hostPath, HostToContainer (the
# runtime refuses that propagation unless the path is a shared mount in the node's namespace).
kc apply -f - <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: e2e-client
spec:
  terminationGracePeriodSeconds: 1
  nodeSelector: {kubernetes.io/hostname: kv-node2}
  containers:
  - name: client
    image: docker.io/library/busybox:local
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    volumeMounts: [{name: kubelet-root, mountPath: /kubelet, mountPropagation: HostToContainer}]
  volumes: [{name: kubelet-root, hostPath: {path: $KV_CLUSTER_STATE/kubelet/root, type: Directory}}]
EOF
kc wait --for=condition=Ready pod/e2e-web pod/e2e-client --timeout=$((180 * KV_TIMEOUT_SCALE))s ||
	fail "pods did not become Ready"
pod_ip=$(kc get pod e2e-web -o 'jsonpath={.status.podIP}')
[[ $pod_ip == 10.244.0.* ]] || fail "pod IP '$pod_ip' is not in kv-node's pod CIDR 10.244.0.0/24"
client_ip=$(kc get pod e2e-client -o 'jsonpath={.status.podIP}')
[[ $client_ip == 10.244.1.* ]] || fail "pod IP '$client_ip' is not in kv-node2's pod CIDR 10.244.1.0/24"
pass "pods Ready, e2e-web on kv-node has IP $pod_ip, e2e-client on kv-node2 $client_ip"

say "check: kubectl logs"
logs_ok() { [[ $(kc logs e2e-web) == *e2e-web-started* ]]; }
wait_for "'e2e-web-started' in kubectl logs" 30 logs_ok
pass "kubectl logs shows the container's output"

say "check: kubectl exec"
out=$(kc exec e2e-web -- cat /www/index.html) || fail "kubectl exec failed"
[[ $out == hello-from-e2e-web ]] || fail "kubectl exec printed '$out'"
out=$(kc exec e2e-client -- hostname) || fail "kubectl exec into the pod on kv-node2 failed"
[[ $out == e2e-client ]] || fail "kubectl exec on kv-node2 printed '$out'"
pass "kubectl exec on both nodes"

say "check: the kubelet root hostPath on kv-node2 is kv-node2's own (its pods, not kv-node's)"
client_uid=$(kc get pod e2e-client -o 'jsonpath={.metadata.uid}')
web_uid=$(kc get pod e2e-web -o 'jsonpath={.metadata.uid}')
kc exec e2e-client -- test -d "/kubelet/pods/$client_uid" || fail "kv-node2's kubelet root has no directory for its own pod $client_uid"
if kc exec e2e-client -- test -e "/kubelet/pods/$web_uid"; then fail "kv-node2's kubelet root shows kv-node's pod $web_uid"; fi
pass "hostPath $KV_CLUSTER_STATE/kubelet/root (HostToContainer) on kv-node2 holds its own pods only"

say "check: pods reach each other across nodes by pod IP (no Service)"
direct() {
	local out
	out=$(kc exec e2e-client -- sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 $pod_ip 8080") || return 1
	[[ $out == *hello-from-e2e-web* ]]
}
wait_for "kv-node2's pod -> $pod_ip:8080 on kv-node" 30 direct
pass "pod on kv-node2 -> pod on kv-node by pod IP"

say "check: kv-node2 pulls from the cluster's registry (node credentials)"
reg_image=$("$CLUSTER" push-image --as kubevirt-cpp/e2e-busybox:nodes "$BUSYBOX_TAR") || fail "push-image failed"
kc run e2e-pull --image="$reg_image" --image-pull-policy=Always --restart=Never \
	--overrides='{"spec":{"nodeSelector":{"kubernetes.io/hostname":"kv-node2"},"terminationGracePeriodSeconds":1}}' \
	-- sh -c 'echo pulled-on-node2' >/dev/null
pulled() { [[ $(kc get pod e2e-pull -o 'jsonpath={.status.phase}') == Succeeded ]]; }
wait_for "e2e-pull ($reg_image) Succeeded on kv-node2" 90 pulled
[[ $(kc logs e2e-pull) == pulled-on-node2 ]] || fail "e2e-pull's log: $(kc logs e2e-pull)"
kc delete pod e2e-pull --wait=false >/dev/null
pass "kv-node2 pulled $reg_image and ran it"

say "check: the ClusterIP Service reaches the pod"
svc_ip=$(kc get service e2e-web -o 'jsonpath={.spec.clusterIP}')
[[ $svc_ip == 10.96.* ]] || fail "service IP '$svc_ip' is not in the service CIDR"
has_endpoints() { [[ -n $(kc get endpointslices -l kubernetes.io/service-name=e2e-web -o 'jsonpath={.items[*].endpoints[*].addresses[*]}') ]]; }
from_host() { [[ $(curl -fsS -m 3 "http://$svc_ip/") == hello-from-e2e-web ]]; }
# busybox-static's wget segfaults inside the image (static glibc without NSS): use nc.
from_pod() {
	local out
	out=$(kc exec "$1" -- sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 $svc_ip 80") || return 1
	[[ $out == *hello-from-e2e-web* ]]
}
# busybox has no TLS client that works here: a plain HTTP request gets Go's TLS server's
# "Client sent an HTTP request to an HTTPS server" answer, which proves the path.
api_from_pod() {
	local out
	out=$(kc exec e2e-client -- sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 3 10.96.0.1 443') || return 1
	[[ $out == *"HTTPS server"* ]]
}
wait_for "service endpoints" 60 has_endpoints
# kube-proxy programs the rules asynchronously: poll.
wait_for "http://$svc_ip/ from the host" 60 from_host
pass "host -> $svc_ip:80 -> pod"
wait_for "http://$svc_ip/ from another pod" 60 from_pod e2e-client
pass "pod on kv-node2 -> $svc_ip:80 -> pod on kv-node"
wait_for "http://$svc_ip/ from the service's own pod (hairpin)" 60 from_pod e2e-web
pass "hairpin through the service"
# Pods reach the API server through the kubernetes Service (DNAT to the node's address).
wait_for "the kubernetes Service from a pod" 30 api_from_pod
pass "pod -> kubernetes Service -> kube-apiserver"

say "check: cluster DNS (CoreDNS behind kube-system/kube-dns)"
resolv=$(kc exec e2e-client -- cat /etc/resolv.conf) || fail "reading the pod's resolv.conf failed"
[[ $resolv == *"nameserver 10.96.0.10"* && $resolv == *"search default.svc.cluster.local svc.cluster.local cluster.local"* ]] ||
	fail "the pod's resolv.conf does not name the cluster DNS: $resolv"
# resolves POD NAME WANT_ADDRESS: glibc's resolver in POD (getent in the test image; it applies
# the search list and ndots as applications do) answers NAME with WANT_ADDRESS.
resolves() {
	local out
	out=$(kc exec "$1" -- getent ahostsv4 "$2") || return 1
	[[ $(awk '{print $1; exit}' <<<"$out") == "$3" ]]
}
wait_for "kubernetes.default.svc.cluster.local from a pod" 30 resolves e2e-client kubernetes.default.svc.cluster.local 10.96.0.1
pass "pod resolves kubernetes.default.svc.cluster.local to 10.96.0.1"
resolves e2e-client e2e-web.default.svc "$svc_ip" || fail "e2e-web.default.svc (search list) does not resolve to $svc_ip"
resolves e2e-client e2e-web "$svc_ip" || fail "e2e-web (the pod's namespace) does not resolve to $svc_ip"
pass "pod resolves e2e-web.default.svc and e2e-web to $svc_ip"
# Names outside the cluster go to the host's resolvers (forward . /etc/resolv.conf): a name the
# host resolves must resolve in the pod too.
ext=${KV_E2E_DNS_NAME:-deb.debian.org}
if ext_ip=$(getent ahostsv4 "$ext" | awk '{print $1; exit}') && [[ -n $ext_ip ]]; then
	resolves e2e-client "$ext." "$ext_ip" || fail "$ext (resolved by the host to $ext_ip) does not resolve in a pod"
	pass "pod resolves $ext through the host's resolvers"
else
	say "skipped: the host cannot resolve $ext (set KV_E2E_DNS_NAME to a name it resolves)"
fi

say "check: an aggregated API served by a pod (front-proxy client certificate, aggregator routing)"
# A TLS server image made here: Debian's openssl and the libraries it links.
tls_root=$SNAP/tls-root
mkdir -p "$tls_root/bin" "$tls_root/tmp"
cp /usr/bin/openssl "$tls_root/bin/"
for lib in $(ldd /usr/bin/openssl | grep -o '/[^ ]*'); do
	mkdir -p "$tls_root$(dirname "$lib")"
	cp -L "$lib" "$tls_root$lib"
done
"$ROOT/tools/cluster/oci-pack" -o "$SNAP/tls.tar" --entrypoint /bin/openssl docker.io/kubevirtcpp/e2e-tls:1 "$tls_root" >/dev/null
"$CLUSTER" load-image "$SNAP/tls.tar" >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=e2e-agg \
	-keyout "$SNAP/tls.key" -out "$SNAP/tls.crt" 2>/dev/null
kc create secret generic e2e-agg-tls --from-file=tls.crt="$SNAP/tls.crt" --from-file=tls.key="$SNAP/tls.key" \
	--from-file=ca.crt="$KV_CLUSTER_STATE/pki/front-proxy-ca.crt" >/dev/null
# -Verify: the server demands a client certificate from the front-proxy CA, so a response
# proves the apiserver proxied with its front-proxy client certificate, to the pod's IP.
kc apply -f - <<'EOF2'
apiVersion: v1
kind: Pod
metadata:
  name: e2e-agg
  labels: {app: e2e-agg}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: tls
    image: docker.io/kubevirtcpp/e2e-tls:1
    imagePullPolicy: IfNotPresent
    args: ["s_server", "-www", "-accept", "8443", "-cert", "/tls/tls.crt", "-key", "/tls/tls.key", "-Verify", "1", "-CAfile", "/tls/ca.crt"]
    volumeMounts: [{name: tls, mountPath: /tls}]
  volumes: [{name: tls, secret: {secretName: e2e-agg-tls}}]
---
apiVersion: v1
kind: Service
metadata:
  name: e2e-agg
spec:
  selector: {app: e2e-agg}
  ports: [{port: 443, targetPort: 8443}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1.e2e.example.com
spec:
  group: e2e.example.com
  version: v1
  service: {namespace: default, name: e2e-agg, port: 443}
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 1000
  versionPriority: 15
EOF2
kc wait --for=condition=Ready pod/e2e-agg --timeout=$((120 * KV_TIMEOUT_SCALE))s || fail "the aggregated API pod did not become Ready"
agg_ok() {
	local out
	out=$(kc get --raw /apis/e2e.example.com/v1) || return 1
	[[ $out == *"CN=front-proxy-client"* ]]
}
wait_for "GET /apis/e2e.example.com/v1 through the aggregator" 60 agg_ok
pass "aggregated API: the apiserver reached the pod with its front-proxy client certificate"
kc delete apiservice v1.e2e.example.com >/dev/null
kc delete service e2e-agg >/dev/null
kc delete secret e2e-agg-tls >/dev/null

say "component memory (RSS):"
"$CLUSTER" status >&2

say "check: pods are deleted"
kc delete service e2e-web
kc delete pod e2e-web e2e-client e2e-agg e2e-pull --ignore-not-found --wait=true --timeout=$((60 * KV_TIMEOUT_SCALE))s || fail "deleting the pods failed"
[[ -z $(kc get pods -o name) ]] || fail "pods remain: $(kc get pods -o name)"
pass "pods deleted"

say "check: down leaves the host as it was"
t0=$SECONDS
"$CLUSTER" down
say "down took $((SECONDS - t0)) s"
snapshot "$SNAP/after"
for f in iptables ip6tables netns links mounts sysctl dirs cgroups; do
	[[ -e $SNAP/before/$f ]] || continue
	if ! diff -u "$SNAP/before/$f" "$SNAP/after/$f" >&2; then
		fail "down did not restore $f (diff above: - before up, + after down)"
	fi
done
left=$(cluster_processes)
[[ -z $left ]] || fail "processes left after down: $left"
[[ ! -e $KV_CLUSTER_STATE ]] || fail "$KV_CLUSTER_STATE still exists"
pass "no process, mount, netns, link, iptables rule, sysctl change or cgroup left"
say "PASS"
