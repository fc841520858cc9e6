# shellcheck shell=bash disable=SC2034
# Certificates and kubeconfigs for the local cluster, made with openssl.
# Sourced by tools/cluster/cluster; needs common.sh and the KV_* settings from it.
# Keys are ECDSA P-256: every component accepts them and they are made in milliseconds.

kv_ssl() { openssl "$@" >>"$KV_STATE/logs/pki.log" 2>&1 || kv_die "openssl $1 failed; read $KV_STATE/logs/pki.log"; }

kv_key() { [[ -s $1 ]] || { kv_ssl ecparam -name prime256v1 -genkey -noout -out "$1.tmp" && mv "$1.tmp" "$1"; }; }

# kv_ca NAME CN: a self-signed CA in pki/NAME.{crt,key}
kv_ca() {
	local d=$KV_STATE/pki
	[[ -s $d/$1.crt ]] && return 0
	kv_key "$d/$1.key"
	kv_ssl req -x509 -new -key "$d/$1.key" -out "$d/$1.crt" -days 3650 -subj "/CN=$2" -sha256 \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign"
}

# kv_cert CA NAME SUBJECT USAGE [SAN]: pki/NAME.{crt,key} signed by pki/CA.
# USAGE is clientAuth, serverAuth or both. Re-issued when the SAN it was made for changes.
kv_cert() {
	local ca=$1 name=$2 subj=$3 usage=$4 san=${5:-} d=$KV_STATE/pki
	if [[ -s $d/$name.crt && $(cat "$d/$name.san" 2>/dev/null) == "$san" ]]; then return 0; fi
	kv_key "$d/$name.key"
	kv_ssl req -new -key "$d/$name.key" -out "$d/$name.csr" -subj "$subj"
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage=$usage"
		if [[ -n $san ]]; then echo "subjectAltName=$san"; fi
	} >"$d/$name.ext"
	kv_ssl x509 -req -in "$d/$name.csr" -CA "$d/$ca.crt" -CAkey "$d/$ca.key" -CAcreateserial \
		-out "$d/$name.crt" -days 3650 -sha256 -extfile "$d/$name.ext"
	echo "$san" >"$d/$name.san"
	rm -f "$d/$name.csr" "$d/$name.ext"
}

# kv_kubeconfig FILE USER CERTNAME [SERVER]: a kubeconfig with the CA and client cert embedded;
# SERVER defaults to the apiserver on loopback.
kv_kubeconfig() {
	local file=$1 user=$2 cert=$3 server=${4:-https://127.0.0.1:$KV_APISERVER_PORT} d=$KV_STATE/pki
	kv_write_file "$file" <<KC
apiVersion: v1
kind: Config
clusters:
- name: kubevirt-cpp
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 "$d/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 "$d/$cert.crt")
    client-key-data: $(base64 -w0 "$d/$cert.key")
contexts:
- name: kubevirt-cpp
  context:
    cluster: kubevirt-cpp
    user: $user
current-context: kubevirt-cpp
KC
}

kv_pki() {
	local d=$KV_STATE/pki
	mkdir -p "$d"
	chmod 700 "$d"
	kv_ca ca kubevirt-cpp-ca
	kv_ca front-proxy-ca kubevirt-cpp-front-proxy-ca
	kv_key "$d/sa.key"
	[[ -s $d/sa.pub ]] || kv_ssl ec -in "$d/sa.key" -pubout -out "$d/sa.pub"
	kv_cert ca apiserver "/CN=kube-apiserver" serverAuth \
		"DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,DNS:$KV_NODE_NAME,IP:127.0.0.1,IP:$KV_SERVICE_IP,IP:$KV_NODE_IP"
	# system:masters: the kubelet authorizes the apiserver's logs/exec/port-forward calls
	# through a SubjectAccessReview, which that group always passes.
	kv_cert ca apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
	kv_cert front-proxy-ca front-proxy-client "/CN=front-proxy-client" clientAuth
	kv_cert ca admin "/O=system:masters/CN=kubernetes-admin" clientAuth
	kv_cert ca controller-manager "/CN=system:kube-controller-manager" clientAuth
	kv_cert ca scheduler "/CN=system:kube-scheduler" clientAuth
	kv_cert ca kube-proxy "/CN=system:kube-proxy" clientAuth
	kv_cert ca kubelet "/O=system:nodes/CN=system:node:$KV_NODE_NAME" clientAuth
	kv_cert ca kubelet-serving "/CN=$KV_NODE_NAME" serverAuth "DNS:$KV_NODE_NAME,DNS:localhost,IP:127.0.0.1,IP:$KV_NODE_IP"
	kv_kubeconfig "$KV_STATE/admin.kubeconfig" kubernetes-admin admin
	kv_kubeconfig "$KV_STATE/controller-manager.kubeconfig" system:kube-controller-manager controller-manager
	kv_kubeconfig "$KV_STATE/scheduler.kubeconfig" system:kube-scheduler scheduler
	kv_kubeconfig "$KV_STATE/kube-proxy.kubeconfig" system:kube-proxy kube-proxy
	kv_kubeconfig "$KV_STATE/kubelet.kubeconfig" "system:node:$KV_NODE_NAME" kubelet
	chmod 600 "$KV_STATE"/*.kubeconfig
}
