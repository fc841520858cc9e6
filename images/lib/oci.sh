# shellcheck shell=bash
# OCI image archives from directories, with each layer's blob cached by a key, so an image whose
# big layer did not change (the launcher's Debian rootfs) is re-assembled in a second or two.
# Sourced by images/build. Needs bash, GNU tar, gzip, sha256sum. Byte-reproducible: sorted
# entries, mtime 0, owner 0:0, gzip -n, a fixed creation date.
#
#   oci_layer DIR KEY          -> prints "DIGEST SIZE DIFF_ID UNPACKED_SIZE" of DIR's layer
#                                 (cached as KEY)
#   oci_image OUT NAME CONFIG_JSON_FRAGMENT LAYER_LINE...   writes the archive OUT

: "${KV_IMAGE_CACHE:?}"

oci_tar_opts=(--sort=name --mtime=@0 --format=pax --numeric-owner --owner=0 --group=0
	"--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime")

oci_json_str() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	printf '"%s"' "$s"
}

oci_json_array() {
	local first=1 x
	printf '['
	for x in "$@"; do
		((first)) || printf ','
		first=0
		oci_json_str "$x"
	done
	printf ']'
}

oci_layer() {
	local dir=$1 key=$2 d=$KV_IMAGE_CACHE/layers tmp
	mkdir -p "$d"
	if [[ -s $d/$key.meta && -s $d/$key.tar.gz ]]; then
		cat "$d/$key.meta"
		return 0
	fi
	tmp=$(mktemp "$d/.$key.XXXXXX")
	local diff_id digest size usize
	tar -C "$dir" "${oci_tar_opts[@]}" -cf - . | gzip -n -9 >"$tmp" || { rm -f "$tmp"; return 1; }
	diff_id=$(gzip -dc "$tmp" | sha256sum | cut -d' ' -f1)
	usize=$(gzip -dc "$tmp" | wc -c)
	digest=$(sha256sum "$tmp" | cut -d' ' -f1)
	size=$(stat -c %s "$tmp")
	mv "$tmp" "$d/$key.tar.gz"
	echo "sha256:$digest $size sha256:$diff_id $usize" >"$d/$key.meta"
	cat "$d/$key.meta"
}

# oci_image OUT NAME CONFIG LAYER...
#   CONFIG: the inside of the image config's "config" object without braces, e.g.
#           "Entrypoint":["/x"],"User":"107:107"   (Env PATH is added)
#   LAYER:  "KEY DIGEST SIZE DIFF_ID ..." (KEY names the cached blob)
oci_image() {
	local out=$1 name=$2 config=$3
	shift 3
	local work layers="" diff_ids="" history="" key digest size diff_id
	work=$(mktemp -d "$KV_IMAGE_CACHE/.oci.XXXXXX")
	mkdir -p "$work/blobs/sha256"
	for l in "$@"; do
		read -r key digest size diff_id _ <<<"$l"
		ln "$KV_IMAGE_CACHE/layers/$key.tar.gz" "$work/blobs/sha256/${digest#sha256:}" 2>/dev/null ||
			cp "$KV_IMAGE_CACHE/layers/$key.tar.gz" "$work/blobs/sha256/${digest#sha256:}"
		[[ -n $layers ]] && { layers+=,; diff_ids+=,; history+=,; }
		layers+="{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$digest\",\"size\":$size}"
		diff_ids+="\"$diff_id\""
		history+="{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"images/build ${key%%-*}\"}"
	done
	local cfg man cfg_digest man_digest
	cfg="{\"created\":\"1970-01-01T00:00:00Z\",\"architecture\":\"amd64\",\"os\":\"linux\","
	cfg+="\"config\":{\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"]${config:+,$config}},"
	cfg+="\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$diff_ids]},\"history\":[$history]}"
	cfg_digest=$(printf '%s' "$cfg" | sha256sum | cut -d' ' -f1)
	printf '%s' "$cfg" >"$work/blobs/sha256/$cfg_digest"
	man="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	man+="\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$cfg_digest\",\"size\":${#cfg}},"
	man+="\"layers\":[$layers]}"
	man_digest=$(printf '%s' "$man" | sha256sum | cut -d' ' -f1)
	printf '%s' "$man" >"$work/blobs/sha256/$man_digest"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"
	# containerd takes the name from io.containerd.image.name; skopeo/podman from ref.name.
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"},"platform":{"architecture":"amd64","os":"linux"}}]}' \
		"$man_digest" "${#man}" "$name" "${name##*:}" >"$work/index.json"
	mkdir -p "$(dirname "$out")"
	tar -C "$work" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=pax \
		"--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime" \
		-cf "$out.tmp" oci-layout index.json blobs
	mv "$out.tmp" "$out"
	rm -rf "$work"
}
