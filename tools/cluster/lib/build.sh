# shellcheck shell=bash disable=SC2034
# Building the pinned etcd, Kubernetes and CoreDNS binaries from their Go modules.
# Sourced by tools/cluster/cluster; needs common.sh.

K8S_COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

kv_go() {
	local go=${KV_GO:-}
	if [[ -z $go ]]; then
		go=$(command -v go || true)
		[[ -n $go ]] || go=/usr/local/go/bin/go
	fi
	[[ -x $go ]] || kv_die "no Go toolchain found (set KV_GO or put go on PATH)"
	GOMODCACHE=$KV_CACHE/go/mod GOCACHE=$KV_CACHE/go/build GOFLAGS=-mod=mod \
		GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 "$go" "$@"
}

kv_k8s_present() {
	local c
	for c in "${K8S_COMPONENTS[@]}"; do [[ -x $KV_K8S_BIN/$c ]] || return 1; done
}

kv_containerd_present() {
	[[ -x $KV_CONTAINERD_BIN/containerd && -x $KV_CONTAINERD_BIN/containerd-shim-runc-v2 ]]
}

kv_binaries_present() {
	kv_k8s_present && [[ -x $KV_ETCD_BIN/etcd && -x $KV_COREDNS_BIN/coredns ]] &&
		{ [[ $KV_CONTAINERD != 2 ]] || kv_containerd_present; }
}

# containerd's Makefile sets these -X flags (version, revision, package); the proxy gives no
# commit, so the revision says where the binary came from.
kv_containerd_ldflags() {
	local pkg=github.com/containerd/containerd/v2/version
	echo "-s -w -X $pkg.Version=$CONTAINERD_VERSION -X $pkg.Revision=go-module -X $pkg.Package=github.com/containerd/containerd/v2"
}

# -X flags that upstream's hack/lib/version.sh sets, in both packages that carry them.
kv_k8s_ldflags() {
	local date major minor pkg flags="-s -w" info
	# The module's .info file holds the tag's commit time; the proxy gives no commit hash.
	info=$(kv_go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"Info": "\(.*\)".*/\1/p')
	date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info" 2>/dev/null | head -1)
	major=${K8S_VERSION#v}; major=${major%%.*}
	minor=${K8S_VERSION#v*.}; minor=${minor%%.*}
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		flags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
		flags+=" -X $pkg.gitCommit=unknown -X $pkg.gitTreeState=clean"
		flags+=" -X $pkg.buildDate=${date:-1970-01-01T00:00:00Z}"
	done
	echo "$flags"
}

# Builds into a temporary directory and renames it into place, so that an interrupted
# build never leaves a half-filled bin directory that a later run would trust.
kv_build() {
	if kv_binaries_present && [[ ${1:-} != --force ]]; then
		kv_log "binaries for Kubernetes $K8S_VERSION, etcd $ETCD_VERSION, CoreDNS $COREDNS_VERSION${KV_CONTAINERD/#2/ and containerd $CONTAINERD_VERSION} are cached in $KV_CACHE"
		return 0
	fi
	local log=$KV_CACHE/build-$K8S_VERSION.log start=$SECONDS
	mkdir -p "$KV_CACHE"
	: >"$log"
	if [[ ! -x $KV_ETCD_BIN/etcd ]]; then
		kv_log "building etcd $ETCD_VERSION (log: $log)"
		rm -rf "$KV_ETCD_BIN.tmp" && mkdir -p "$KV_ETCD_BIN.tmp"
		(cd "$KV_CLUSTER_DIR/go/etcd" &&
			kv_go build -trimpath -ldflags "-s -w" -o "$KV_ETCD_BIN.tmp/etcd" go.etcd.io/etcd/server/v3) \
			>>"$log" 2>&1 || kv_die "building etcd failed; read $log"
		rm -rf "$KV_ETCD_BIN" && mv "$KV_ETCD_BIN.tmp" "$KV_ETCD_BIN"
	fi
	if [[ ! -x $KV_COREDNS_BIN/coredns || ${1:-} == --force ]]; then
		# Only the plugins the Corefile uses (go/coredns/main.go); CGO off: a static binary
		# for an image that holds nothing else.
		kv_log "building CoreDNS $COREDNS_VERSION (log: $log)"
		rm -rf "$KV_COREDNS_BIN.tmp" && mkdir -p "$KV_COREDNS_BIN.tmp"
		(cd "$KV_CLUSTER_DIR/go/coredns" &&
			kv_go build -trimpath -ldflags "-s -w" -o "$KV_COREDNS_BIN.tmp/coredns" .) \
			>>"$log" 2>&1 || kv_die "building CoreDNS failed; read $log"
		rm -rf "$KV_COREDNS_BIN" && mv "$KV_COREDNS_BIN.tmp" "$KV_COREDNS_BIN"
		# Builds for other versions or plugin lists are of no further use.
		find "$KV_CACHE/coredns" -mindepth 1 -maxdepth 1 ! -path "${KV_COREDNS_BIN%/bin}" -exec rm -rf {} +
	fi
	if [[ $KV_CONTAINERD == 2 ]] && { ! kv_containerd_present || [[ ${1:-} == --force ]]; }; then
		# CGO off: no btrfs/devmapper snapshotters (disabled in the config anyway); the shim
		# needs no cgo, runc does the seccomp work.
		kv_log "building containerd $CONTAINERD_VERSION (log: $log)"
		rm -rf "$KV_CONTAINERD_BIN.tmp" && mkdir -p "$KV_CONTAINERD_BIN.tmp"
		(cd "$KV_CLUSTER_DIR/go/containerd" &&
			kv_go build -trimpath -ldflags "$(kv_containerd_ldflags)" -o "$KV_CONTAINERD_BIN.tmp/" \
				github.com/containerd/containerd/v2/cmd/containerd \
				github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2) \
			>>"$log" 2>&1 || kv_die "building containerd failed; read $log"
		rm -rf "$KV_CONTAINERD_BIN" && mv "$KV_CONTAINERD_BIN.tmp" "$KV_CONTAINERD_BIN"
		find "$KV_CACHE/containerd" -mindepth 1 -maxdepth 1 ! -path "${KV_CONTAINERD_BIN%/bin}" -exec rm -rf {} +
	fi
	if ! kv_k8s_present || [[ ${1:-} == --force ]]; then
		kv_log "building Kubernetes $K8S_VERSION: ${K8S_COMPONENTS[*]} (cold: tens of minutes on 2 cores; log: $log)"
		local ldflags pkgs=() c
		ldflags=$(cd "$KV_CLUSTER_DIR/go/k8s" && kv_k8s_ldflags) || kv_die "resolving k8s.io/kubernetes@$K8S_VERSION failed"
		for c in "${K8S_COMPONENTS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
		rm -rf "$KV_K8S_BIN.tmp" && mkdir -p "$KV_K8S_BIN.tmp"
		(cd "$KV_CLUSTER_DIR/go/k8s" &&
			kv_go build -trimpath -ldflags "$ldflags" -o "$KV_K8S_BIN.tmp/" "${pkgs[@]}") \
			>>"$log" 2>&1 || kv_die "building Kubernetes failed; read $log"
		rm -rf "$KV_K8S_BIN" && mv "$KV_K8S_BIN.tmp" "$KV_K8S_BIN"
	fi
	kv_log "build done in $((SECONDS - start)) s"
}
