# shellcheck shell=bash disable=SC2034
# Images built on this machine (no registry): the pod sandbox (pause) image, CoreDNS and a
# busybox test image. Sourced by tools/cluster/cluster; needs common.sh (and build.sh for
# CoreDNS's binary).

KV_PAUSE_IMAGE=${KV_PAUSE_IMAGE:-localhost/kubevirt-cpp/pause:3.10}
KV_BUSYBOX_IMAGE=${KV_BUSYBOX_IMAGE:-docker.io/library/busybox:local}

# The shared libraries a dynamically linked program loads, as paths (ldd's list).
kv_libs_of() { ldd "$1" | grep -o '/[^ ]*' | sort -u; }

# Prints the path of an archive for image $1 (pause|coredns|busybox), building it if its inputs
# changed. Cached under $KV_CACHE/images, keyed by a hash of the inputs.
kv_image_archive() {
	local which=$1 key dir out root
	case $which in
	pause) key=$(cat "$KV_CLUSTER_DIR/images/pause.c" "$KV_CLUSTER_DIR/oci-pack" <(echo "$KV_PAUSE_IMAGE") | sha256sum | cut -c1-16) ;;
	coredns)
		[[ -x $KV_COREDNS_BIN/coredns ]] || kv_die "CoreDNS is not built (tools/cluster/cluster build)"
		key=$(cat "$KV_COREDNS_BIN/coredns" "$KV_CLUSTER_DIR/oci-pack" <(echo "$KV_COREDNS_IMAGE") | sha256sum | cut -c1-16) ;;
	busybox)
		[[ -x /bin/busybox ]] || kv_die "busybox test image: /bin/busybox is missing (Debian package busybox-static)"
		[[ -x /usr/bin/getent ]] || kv_die "busybox test image: /usr/bin/getent is missing (Debian package libc-bin)"
		key=$(cat /bin/busybox /usr/bin/getent $(kv_libs_of /usr/bin/getent) "$KV_CLUSTER_DIR/oci-pack" <(echo "$KV_BUSYBOX_IMAGE") | sha256sum | cut -c1-16) ;;
	*) kv_die "unknown image: $which (pause|coredns|busybox)" ;;
	esac
	dir=$KV_CACHE/images
	out=$dir/$which-$key.tar
	if [[ -s $out ]]; then echo "$out"; return 0; fi
	mkdir -p "$dir"
	root=$(mktemp -d "$dir/.$which.XXXXXX")
	case $which in
	pause)
		gcc -static -Os -s -o "$root/pause" "$KV_CLUSTER_DIR/images/pause.c" >&2 ||
			{ rm -rf "$root"; kv_die "compiling pause.c failed (needs gcc and libc6-dev)"; }
		"$KV_CLUSTER_DIR/oci-pack" -o "$out" --entrypoint /pause --user 65535:65535 \
			"$KV_PAUSE_IMAGE" "$root" >/dev/null ||
			{ rm -rf "$root"; kv_die "packing the pause image failed"; } ;;
	coredns)
		# The static binary alone, and the mount points the kubelet fills (the root file
		# system is read-only in the pod).
		mkdir -p "$root"/{etc/coredns,tmp,proc,sys,dev}
		: >"$root/etc/resolv.conf"
		: >"$root/etc/hosts"
		: >"$root/etc/hostname"
		cp "$KV_COREDNS_BIN/coredns" "$root/coredns"
		"$KV_CLUSTER_DIR/oci-pack" -o "$out" --entrypoint /coredns "$KV_COREDNS_IMAGE" "$root" >/dev/null ||
			{ rm -rf "$root"; kv_die "packing the CoreDNS image failed"; } ;;
	busybox)
		mkdir -p "$root"/{bin,etc,tmp,root,proc,sys,dev,var}
		chmod 1777 "$root/tmp"
		cp /bin/busybox "$root/bin/busybox"
		local a
		for a in $(/bin/busybox --list); do
			[[ $a == busybox ]] || ln -s busybox "$root/bin/$a"
		done
		# glibc's getent: a resolver with the search list and ndots, as applications use it
		# (busybox's nslookup appends only the first search domain, and only to names
		# without a dot; the static busybox cannot resolve through NSS).
		local lib
		mkdir -p "$root/usr/bin"
		cp /usr/bin/getent "$root/usr/bin/getent"
		for lib in $(kv_libs_of /usr/bin/getent); do
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		done
		printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
		printf 'root:x:0:\nnobody:x:65534:\n' >"$root/etc/group"
		"$KV_CLUSTER_DIR/oci-pack" -o "$out" --cmd sh --env PATH=/bin:/usr/bin "$KV_BUSYBOX_IMAGE" "$root" >/dev/null ||
			{ rm -rf "$root"; kv_die "packing the busybox image failed"; } ;;
	esac
	rm -rf "$root"
	# Older builds of the same image (other inputs) are of no further use.
	find "$dir" -maxdepth 1 -name "$which-*.tar" ! -path "$out" -delete
	echo "$out"
}
