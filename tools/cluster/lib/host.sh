# shellcheck shell=bash disable=SC2034
# What the cluster changes on the host outside its state directory, recorded before the
# first `up` (the baseline) and put back by `down`.

KV_SYSCTLS=(net.ipv4.ip_forward net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables
	net.bridge.bridge-nf-call-ip6tables vm.overcommit_memory vm.panic_on_oom kernel.panic
	kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes
	net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
	net.netfilter.nf_conntrack_tcp_timeout_close_wait)
# Fixed paths that containerd, CNI and the kubelet use whatever their configuration says
# (shim sockets and fifos, libcni's result cache, the kubelet's device-plugin socket and
# its /var/log/containers links). Entries that appear in these trees while the cluster
# runs are removed by `down`; what was there before is left alone.
KV_FIXED_TREES=(/run/containerd /var/lib/cni /var/lib/kubelet /var/log/containers /var/run/netns)

kv_iptables_chains() {
	local tool=$1
	command -v "$tool-save" >/dev/null || return 0
	"$tool-save" 2>/dev/null | awk '/^\*/{t=substr($0,2)} /^:/{print t, substr($1,2)}'
}

# Saved once per cluster lifetime: a later `up` (after a crash) must not take the
# leftovers of the crashed run for the host's own state.
kv_baseline_save() {
	local b=$KV_STATE/baseline s v d
	[[ -e $b/done ]] && return 0
	mkdir -p "$b"
	: >"$b/sysctl"
	for s in "${KV_SYSCTLS[@]}"; do
		v=$(sysctl -n "$s" 2>/dev/null) && printf '%s=%s\n' "$s" "$v" >>"$b/sysctl"
	done
	{ find "${KV_FIXED_TREES[@]}" 2>/dev/null || true; } | LC_ALL=C sort >"$b/fixed-trees"
	kv_iptables_chains iptables >"$b/iptables"
	kv_iptables_chains ip6tables >"$b/ip6tables"
	ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort >"$b/links"
	touch "$b/done"
}

# Removes chains named KUBE-*, CNI-* or KVCPP-* (lib/nodes.sh) that were not there before `up`, together with
# every rule that jumps to them.
kv_iptables_clean() {
	local tool=$1 base script
	base=$KV_STATE/baseline/$tool
	command -v "$tool-save" >/dev/null || return 0
	[[ -e $base ]] || base=/dev/null
	script=$("$tool-save" 2>/dev/null | awk -v basefile="$base" '
		BEGIN { while ((getline l < basefile) > 0) old[l] = 1 }
		/^\*/ { t = substr($0, 2); tables[++nt] = t; next }
		/^:/ { c = substr($1, 2); if (c ~ /^(KUBE-|CNI-|KVCPP-)/ && !((t " " c) in old)) { ours[t " " c] = 1; chains[t] = chains[t] " " c } next }
		/^-A / { rules[t] = rules[t] "\n" $0; next }
		END {
			for (i = 1; i <= nt; i++) {
				t = tables[i]; if (chains[t] == "") continue
				print "*" t
				n = split(rules[t], rl, "\n")
				for (j = 1; j <= n; j++) {
					if (rl[j] == "") continue
					split(rl[j], f, " ")
					if ((t " " f[2]) in ours) continue
					if (match(rl[j], / -j [^ ]+/) || match(rl[j], / -g [^ ]+/)) {
						target = substr(rl[j], RSTART + 4, RLENGTH - 4)
						if ((t " " target) in ours) { sub(/^-A /, "-D ", rl[j]); print rl[j] }
					}
				}
				m = split(chains[t], cl, " ")
				for (j = 1; j <= m; j++) if (cl[j] != "") print "-F " cl[j]
				for (j = 1; j <= m; j++) if (cl[j] != "") print "-X " cl[j]
				print "COMMIT"
			}
		}')
	[[ -n $script ]] || return 0
	kv_log "removing $tool chains: $(grep -c '^-X' <<<"$script")"
	"$tool-restore" --noflush <<<"$script" || kv_log "WARNING: $tool-restore failed; rules left: see $tool-save"
}

kv_sysctl_restore() {
	local f=$KV_STATE/baseline/sysctl line k v cur
	[[ -e $f ]] || return 0
	while IFS= read -r line; do
		k=${line%%=*} v=${line#*=}
		cur=$(sysctl -n "$k" 2>/dev/null) || continue
		[[ $cur == "$v" ]] && continue
		sysctl -q -w "$k=$v" >/dev/null 2>&1 || kv_log "WARNING: could not restore $k=$v (now $cur)"
	done <"$f"
}

kv_mounts_under() {
	# mountinfo field 5 is the mount point (octal escapes for spaces are fine here).
	awk -v p="$1" '$5 == p || index($5, p "/") == 1 {print $5}' /proc/self/mountinfo | sort -r
}

kv_unmount_all() {
	local m
	for _ in 1 2 3; do
		local left=0
		while IFS= read -r m; do
			[[ -n $m ]] || continue
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || left=1
		done < <(for p in "$@"; do kv_mounts_under "$p"; done)
		((left)) || break
	done
}

# Every pid in our pod cgroups (all hierarchies).
kv_cgroup_pids() {
	local d
	for d in $(kv_cgroup_dirs); do
		if [[ -d $d ]]; then find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
	done | sort -un
}

kv_cgroup_remove() {
	local d
	for d in $(kv_cgroup_dirs); do
		[[ -d $d ]] || continue
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
		if [[ -d $d ]]; then kv_log "WARNING: cgroup $d could not be removed"; fi
	done
	return 0
}

# containerd-shim processes that belong to our containerd (they outlive it).
kv_shim_pids() {
	local p sock
	sock=$(KV_CTRD_SOCK)
	for p in /proc/[0-9]*; do
		[[ $(cat "$p/comm" 2>/dev/null) == containerd-shim* ]] || continue
		local cmd
		cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
		[[ $cmd == *"-address $sock "* ]] && echo "${p#/proc/}"
	done
	return 0
}

# Whether a new entry in a fixed tree is ours to delete. Another containerd or kubelet may
# run on the machine at the same time and use the same fixed paths, so: sockets nobody
# listens on, links into our state directory, files that name it (CNI results hold the
# netns path), and fifos and files that no process has open.
kv_ours() {
	local e=$1
	if [[ -S $e ]]; then
		! awk -v p="$e" '$NF == p {f = 1} END {exit !f}' /proc/net/unix
	elif [[ -L $e ]]; then
		[[ $(readlink "$e") == "$KV_STATE"/* ]]
	elif [[ -f $e ]] && grep -qF -- "$KV_STATE/" "$e" 2>/dev/null; then
		return 0
	elif [[ $e == /var/lib/cni/* ]]; then
		return 1
	else
		[[ -z $(find /proc/[0-9]*/fd -lname "$e" -print -quit 2>/dev/null) ]]
	fi
}

# kv_host_restore NODE: NODE=1 when this state directory ran the node (bridge, fixed paths).
kv_host_restore() {
	local b=$KV_STATE/baseline node=$1
	# Without a node nothing here was touched (etcd, apiserver and controller-manager
	# change no host state); another cluster's node may own these chains and sysctls now.
	((node)) || return 0
	kv_iptables_clean iptables
	kv_iptables_clean ip6tables
	# Veths still on our bridge (their pod netns normally took them along), then the bridge.
	if ip link show "$KV_BRIDGE" >/dev/null 2>&1; then
		local l
		for l in $(ip -o link show master "$KV_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
			ip link delete "$l" 2>/dev/null || true
		done
		ip link delete "$KV_BRIDGE" || true
	fi
	# New entries in the fixed trees, deepest first; directories only when empty.
	local e
	if [[ ! -e $b/fixed-trees ]]; then
		kv_log "WARNING: no baseline in $b: leaving ${KV_FIXED_TREES[*]} alone"
	else
		{ find "${KV_FIXED_TREES[@]}" 2>/dev/null || true; } | LC_ALL=C sort -r | while IFS= read -r e; do
			grep -qxF -- "$e" "$b/fixed-trees" && continue
			if [[ -d $e && ! -L $e ]]; then
				rmdir "$e" 2>/dev/null || kv_log "WARNING: $e appeared while the cluster ran but is not empty"
			elif kv_ours "$e"; then
				rm -f "$e"
			fi
		done
	fi
	kv_sysctl_restore
}
