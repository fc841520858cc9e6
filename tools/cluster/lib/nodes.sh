# shellcheck shell=bash disable=SC2034
# More than one node on this host (up --nodes N). Node 1 is the host's own network and mount
# namespaces, as a single-node cluster always was. Node N > 1 (named ${KV_NODE_NAME}N) has:
#   - its own network namespace, linked to the host by a veth pair ($KV_NODE_NET.N.1 on the
#     host's end, $KV_NODE_NET.N.2 = its node IP inside), its pods on their own bridge in the
#     Nth /24 of KV_CLUSTER_CIDR, routed by the host; its own kube-proxy and iptables there;
#   - its own mount namespace, where its directories are mounted over the paths every kubelet
#     uses whatever its flags say (/var/lib/kubelet, /var/lib/cni, /var/log/containers) and over
#     node 1's kubelet root dir, so virt-handler's hostPaths name the same places on each node;
#   - its own containerd, kubelet, state directory ($KV_STATE/nodes/NAME), cgroup root and
#     client/serving certificates (system:node:NAME).
# The namespaces are held by bind mounts under $KV_STATE/ns (no /var/run/netns entry), so `down`
# ends them by unmounting. Sourced by tools/cluster/cluster; needs common.sh, proc.sh, pki.sh.

KV_NS_DIR=$KV_STATE/ns

kv_node_host_ip() { echo "$KV_NODE_NET.$1.1"; }
kv_node_name() { if (($1 == 1)); then echo "$KV_NODE_NAME"; else echo "$KV_NODE_NAME$1"; fi; }

# How many nodes this state directory runs (recorded by up).
kv_node_count() {
	local n
	n=$(cat "$KV_STATE/node-count" 2>/dev/null) || n=1
	[[ $n =~ ^[1-9]$ ]] || n=1
	echo "$n"
}

# kv_node_env N: selects node N for the node functions (lib/node.sh). Call it in a subshell:
# it rewrites the node settings of this shell.
kv_node_env() {
	local i=$1
	KV_NODE_INDEX=$i
	((i == 1)) && return 0
	KV_NODE_NAME=$(kv_node_name "$i")
	KV_NODE_DIR=$KV_STATE/nodes/$KV_NODE_NAME
	KV_NODE_SUFFIX=-$KV_NODE_NAME
	KV_NODE_IP=$KV_NODE_NET.$i.2
	KV_POD_CIDR=10.244.$((i - 1)).0/24
	KV_BRIDGE=kvbr$((i - 1))
	KV_CGROUP_ROOT=$KV_CGROUP_ROOT-$KV_NODE_NAME
	KV_REGISTRY_HOSTS_DIR=$KV_NODE_DIR/containerd/certs.d
	KV_NODE_VETH=kvnode$i
	KV_NODE_NETNS=$KV_NS_DIR/$KV_NODE_NAME.net
	KV_NODE_MNTNS=$KV_NS_DIR/$KV_NODE_NAME.mnt
	KV_NODE_EXEC=(nsenter "--net=$KV_NODE_NETNS" "--mount=$KV_NODE_MNTNS" --)
}

# The selected node's client and serving certificates and kubeconfigs. The apiserver is reached
# at the host's address (node 1's IP), which its certificate names.
kv_node_pki() {
	local host_ip=$1 server=https://$1:$KV_APISERVER_PORT
	kv_cert ca "kubelet$KV_NODE_SUFFIX" "/O=system:nodes/CN=system:node:$KV_NODE_NAME" clientAuth
	kv_cert ca "kubelet-serving$KV_NODE_SUFFIX" "/CN=$KV_NODE_NAME" serverAuth \
		"DNS:$KV_NODE_NAME,DNS:localhost,IP:127.0.0.1,IP:$KV_NODE_IP"
	mkdir -p "$KV_NODE_DIR"
	kv_kubeconfig "$KV_NODE_DIR/kubelet.kubeconfig" "system:node:$KV_NODE_NAME" "kubelet$KV_NODE_SUFFIX" "$server"
	kv_kubeconfig "$KV_NODE_DIR/kube-proxy.kubeconfig" system:kube-proxy kube-proxy "$server"
	chmod 600 "$KV_NODE_DIR"/*.kubeconfig
}

# The paths every kubelet, CNI and containerd use whatever their configuration says, and node
# 1's kubelet root; each is mounted over with the node's own directory (the same list drives
# kv_node_mounts_ok).
kv_node_overlays() {
	printf '%s %s\n' "$KV_NODE_DIR/kubelet/root" "$KV_STATE/kubelet/root" \
		"$KV_NODE_DIR/fixed/var-lib-kubelet" /var/lib/kubelet \
		"$KV_NODE_DIR/fixed/var-lib-cni" /var/lib/cni \
		"$KV_NODE_DIR/fixed/var-log-containers" /var/log/containers
}

# The selected node's namespaces, veth, routes and host rules; idempotent.
kv_node_net_up() {
	local host_ip veth=$KV_NODE_VETH src dst
	host_ip=$(kv_node_host_ip "$KV_NODE_INDEX")
	mkdir -p "$KV_NS_DIR"
	# Namespace files may only be bind-mounted onto a mount that does not propagate.
	if ! mountpoint -q "$KV_NS_DIR"; then
		mount --bind "$KV_NS_DIR" "$KV_NS_DIR"
		mount --make-private "$KV_NS_DIR"
	fi
	# The mount namespace first: made before the network namespace's bind mount exists, it holds
	# no copy of it (which would keep that namespace alive after `down`).
	if ! mountpoint -q "$KV_NODE_MNTNS"; then
		touch "$KV_NODE_MNTNS"
		local script="set -e"
		while read -r src dst; do
			mkdir -p "$src" "$dst"
			# Shared (within this namespace): containers mount them with HostToContainer
			# propagation, which the runtime refuses on a private mount.
			script+="; mount --bind '$src' '$dst'; mount --make-rshared '$dst'"
		done < <(kv_node_overlays)
		unshare "--mount=$KV_NODE_MNTNS" --propagation private sh -c "$script" ||
			kv_die "$KV_NODE_NAME: could not make its mount namespace"
	fi
	if ! mountpoint -q "$KV_NODE_NETNS"; then
		touch "$KV_NODE_NETNS"
		unshare "--net=$KV_NODE_NETNS" true || kv_die "$KV_NODE_NAME: could not make its network namespace"
	fi
	if ! ip link show "$veth" >/dev/null 2>&1; then
		ip link add "$veth" type veth peer name eth0 netns "$KV_NODE_NETNS" ||
			kv_die "$KV_NODE_NAME: could not make the veth pair $veth/eth0"
	fi
	ip addr replace "$host_ip/24" dev "$veth"
	ip link set "$veth" up
	# Its registry port is forwarded to the registry on the host's loopback (route_localnet on
	# this interface only lets that DNAT through).
	sysctl -q -w "net.ipv4.conf.$veth.route_localnet=1" >/dev/null
	kv_node_in ip link set lo up
	kv_node_in ip addr replace "$KV_NODE_IP/24" dev eth0
	kv_node_in ip link set eth0 up
	kv_node_in ip route replace default via "$host_ip"
	kv_node_in sysctl -q -w net.ipv4.ip_forward=1 >/dev/null
	if kv_node_in test -e /proc/sys/net/bridge/bridge-nf-call-iptables; then
		kv_node_in sysctl -q -w net.bridge.bridge-nf-call-iptables=1 >/dev/null
	fi
	ip route replace "$KV_POD_CIDR" via "$KV_NODE_IP" dev "$veth"
	kv_node_rule nat KVCPP-NODES PREROUTING -i "$veth" -d "$host_ip" -p tcp --dport "$KV_REGISTRY_PORT" \
		-j DNAT --to-destination "127.0.0.1:$KV_REGISTRY_PORT"
	# Its traffic to anywhere but the pods leaves with the host's address.
	kv_node_rule nat KVCPP-NODES-MASQ POSTROUTING -s "$KV_NODE_IP" ! -d "$KV_CLUSTER_CIDR" ! -o "$veth" -j MASQUERADE
}

# kv_node_in COMMAND...: runs COMMAND in the selected node's namespaces.
kv_node_in() { "${KV_NODE_EXEC[@]}" "$@"; }

# kv_node_rule TABLE CHAIN HOOK RULE...: RULE in our CHAIN of the host's TABLE, which HOOK jumps
# to; both added once. `down` removes KVCPP-* chains with the jumps to them (host.sh).
kv_node_rule() {
	local table=$1 chain=$2 hook=$3
	shift 3
	iptables -t "$table" -N "$chain" 2>/dev/null || true
	iptables -t "$table" -C "$hook" -j "$chain" 2>/dev/null || iptables -t "$table" -A "$hook" -j "$chain"
	iptables -t "$table" -C "$chain" "$@" 2>/dev/null || iptables -t "$table" -A "$chain" "$@"
}

# Ends the selected node's namespaces: its bridge, veth and route go with the network namespace,
# its mounts with the mount namespace (its processes must be gone already).
kv_node_net_down() {
	local f
	for f in "$KV_NODE_MNTNS" "$KV_NODE_NETNS"; do
		if mountpoint -q "$f"; then umount "$f" || umount -l "$f" || kv_log "WARNING: could not unmount $f"; fi
		rm -f "$f"
	done
	# Normally gone with the namespace; not when something else still holds it.
	if ip link show "$KV_NODE_VETH" >/dev/null 2>&1; then ip link delete "$KV_NODE_VETH" || true; fi
}

# Starts the selected node N > 1 (node 1: cmd_up does it in the host's namespaces).
kv_node_up() {
	local host_ip=$1 pause=$2 images
	kv_node_pki "$host_ip"
	kv_node_net_up
	kv_write_registry_hosts
	kv_start_containerd
	images=$(kv_ctr images ls -q 2>/dev/null || true)
	grep -qxF "$KV_PAUSE_IMAGE" <<<"$images" || kv_import "$pause" >/dev/null
	kv_start_kubelet
	kv_start_kube_proxy
}

# Stops the selected node N > 1: its agents, its pods and shims, its containerd, its cgroups and
# namespaces.
kv_node_down() {
	kv_stop "kube-proxy$KV_NODE_SUFFIX"
	kv_stop "kubelet$KV_NODE_SUFFIX"
	kv_stop_pods_and_runtime
	kv_cgroup_remove
	kv_node_net_down
}
