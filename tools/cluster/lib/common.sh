# shellcheck shell=bash disable=SC2034
# Shared settings and helpers for tools/cluster/cluster. Sourced, not executed.

KV_CLUSTER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/versions.sh
. "$KV_CLUSTER_DIR/lib/versions.sh"

KV_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/kubevirt-cpp
KV_K8S_BIN=$KV_CACHE/k8s/$K8S_VERSION/bin
KV_ETCD_BIN=$KV_CACHE/etcd/$ETCD_VERSION/bin
# Keyed by the version and the wrapper module (its plugin list), so a changed main.go rebuilds.
KV_COREDNS_BIN=$KV_CACHE/coredns/$COREDNS_VERSION-$(cat "$KV_CLUSTER_DIR"/go/coredns/{go.mod,go.sum,main.go} 2>/dev/null | sha256sum | cut -c1-12)/bin
# containerd 2.x (cmd/containerd and its runc shim), keyed like CoreDNS by the wrapper module.
KV_CONTAINERD_BIN=$KV_CACHE/containerd/$CONTAINERD_VERSION-$(cat "$KV_CLUSTER_DIR"/go/containerd/{go.mod,go.sum} 2>/dev/null | sha256sum | cut -c1-12)/bin
# Which containerd runs the node: 2 (built from its Go module; Kubernetes image volumes work)
# or debian (the host's 1.6, which cannot mount image volumes).
KV_CONTAINERD=${KV_CONTAINERD:-2}

KV_STATE=${KV_CLUSTER_STATE:-/var/tmp/kubevirt-cpp-cluster}
# Registries' hosts.toml directories: containerd's CRI registry config_path.
KV_REGISTRY_HOSTS_DIR=${KV_REGISTRY_HOSTS_DIR:-$KV_STATE/containerd/certs.d}
KV_APISERVER_PORT=${KV_APISERVER_PORT:-16443}
KV_ETCD_PORT=${KV_ETCD_PORT:-12379}
KV_ETCD_PEER_PORT=${KV_ETCD_PEER_PORT:-12380}
KV_KUBELET_PORT=${KV_KUBELET_PORT:-20250}
KV_KUBELET_HEALTHZ_PORT=${KV_KUBELET_HEALTHZ_PORT:-20248}
KV_PROXY_HEALTHZ_PORT=${KV_PROXY_HEALTHZ_PORT:-20256}
KV_PROXY_METRICS_PORT=${KV_PROXY_METRICS_PORT:-20249}
KV_CM_PORT=${KV_CM_PORT:-20257}
KV_SCHEDULER_PORT=${KV_SCHEDULER_PORT:-20259}
# The registry (lib/registry.sh): its port on 127.0.0.1, and the name images are pulled by.
KV_REGISTRY_PORT=${KV_REGISTRY_PORT:-15000}
KV_REGISTRY_NAME=${KV_REGISTRY_NAME:-registry.kubevirt-cpp.local}
KV_NODE_NAME=${KV_NODE_NAME:-kv-node}
KV_SERVICE_CIDR=${KV_SERVICE_CIDR:-10.96.0.0/16}
# Every node's pods are in KV_CLUSTER_CIDR: node 1's in KV_POD_CIDR, node N's in the Nth /24.
KV_CLUSTER_CIDR=10.244.0.0/16
KV_POD_CIDR=${KV_POD_CIDR:-10.244.0.0/24}
KV_BRIDGE=${KV_BRIDGE:-kvbr0}
# cgroup (in every v1 hierarchy) that holds all pods: kubelet's cgroupRoot.
KV_CGROUP_ROOT=${KV_CGROUP_ROOT:-kubevirt-cpp}
# More nodes (up --nodes N, lib/nodes.sh): node N runs in its own network and mount namespaces,
# linked to this host by a veth pair, $KV_NODE_NET.N.1 on the host's end, $KV_NODE_NET.N.2 on the
# node's.
KV_NODE_NET=${KV_NODE_NET:-10.245}
KV_MAX_NODES=4
# The node the node functions (lib/node.sh) act on; kv_node_env (lib/nodes.sh) selects another.
# Node 1 is this host's own namespaces and keeps its files directly in the state directory.
KV_NODE_INDEX=1
KV_NODE_DIR=$KV_STATE
KV_NODE_SUFFIX=
KV_NODE_EXEC=()
KV_CNI_NETWORK=kubevirt-cpp
# Ports each component listens on: `up` refuses to start it while another process has one.
declare -A KV_PORTS=([etcd]="$KV_ETCD_PORT $KV_ETCD_PEER_PORT" [kube-apiserver]=$KV_APISERVER_PORT
	[kube-controller-manager]=$KV_CM_PORT [kube-scheduler]=$KV_SCHEDULER_PORT
	[kubelet]="$KV_KUBELET_PORT $KV_KUBELET_HEALTHZ_PORT" [kube-proxy]="$KV_PROXY_HEALTHZ_PORT $KV_PROXY_METRICS_PORT"
	[registry]=$KV_REGISTRY_PORT)

# kv_service_ip N: the Nth address of the service CIDR.
kv_service_ip() { local b=${KV_SERVICE_CIDR%/*}; echo "${b%.*}.$((${b##*.} + $1))"; }
KV_SERVICE_IP=$(kv_service_ip 1)
# The kube-dns Service (kubeadm's choice: the tenth address), the kubelet's clusterDNS.
KV_DNS_IP=$(kv_service_ip 10)
KV_CLUSTER_DOMAIN=cluster.local

# The node's address: pods reach the apiserver through the kubernetes Service, which
# kube-proxy DNATs to this address, so it must not be loopback.
kv_node_ip() {
	if [[ -n ${KV_NODE_IP:-} ]]; then echo "$KV_NODE_IP"; return; fi
	local ip
	ip=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -1)
	[[ -n $ip ]] || ip=$(ip -4 -o addr show scope global 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -1)
	[[ -n $ip ]] || kv_die "cannot find a non-loopback IPv4 address for the node (set KV_NODE_IP)"
	echo "$ip"
}

kv_log() { printf '[cluster %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
kv_die() { printf '[cluster %(%H:%M:%S)T] ERROR: %s\n' -1 "$*" >&2; exit 1; }

# kv_write_file PATH < CONTENT: replaces PATH only when the content differs (kube-proxy
# exits when its configuration file changes, even to the same bytes).
kv_write_file() {
	local tmp=$1.tmp.$$
	cat >"$tmp"
	if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; fi
}
