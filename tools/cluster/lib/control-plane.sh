# shellcheck shell=bash disable=SC2034
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler.

# --cache-dir: keep discovery caches in the state directory, not in ~/.kube.
kv_kubectl() { "$KV_K8S_BIN/kubectl" --kubeconfig "$KV_STATE/admin.kubeconfig" --cache-dir "$KV_STATE/kubectl-cache" "$@"; }

kv_start_etcd() {
	local url=http://127.0.0.1:$KV_ETCD_PORT peer=http://127.0.0.1:$KV_ETCD_PEER_PORT
	mkdir -p "$KV_STATE/etcd"
	chmod 700 "$KV_STATE/etcd"
	# --unsafe-no-fsync: a disposable test cluster; data still survives a process crash.
	kv_start etcd "$KV_ETCD_BIN/etcd" --name kv --data-dir "$KV_STATE/etcd/data" \
		--listen-client-urls "$url" --advertise-client-urls "$url" \
		--listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
		--initial-cluster "kv=$peer" --initial-cluster-state new \
		--unsafe-no-fsync --log-level warn
	kv_wait etcd "etcd health on $url" 60 curl -fsS "$url/health"
}

# --enable-admission-plugins adds to the default set, which has PodSecurity (namespaces labelled
# pod-security.kubernetes.io/enforce are enforced; test/e2e/cases/security.sh checks it).
kv_start_apiserver() {
	local p=$KV_STATE/pki
	kv_start kube-apiserver "$KV_K8S_BIN/kube-apiserver" \
		--etcd-servers="http://127.0.0.1:$KV_ETCD_PORT" \
		--bind-address=0.0.0.0 --secure-port="$KV_APISERVER_PORT" --advertise-address="$KV_NODE_IP" \
		--service-cluster-ip-range="$KV_SERVICE_CIDR" --service-node-port-range=30000-32767 \
		--client-ca-file="$p/ca.crt" --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
		--kubelet-client-certificate="$p/apiserver-kubelet-client.crt" \
		--kubelet-client-key="$p/apiserver-kubelet-client.key" \
		--kubelet-preferred-address-types=InternalIP,Hostname \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
		--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
		--allow-privileged=true \
		--requestheader-client-ca-file="$p/front-proxy-ca.crt" \
		--requestheader-allowed-names=front-proxy-client \
		--requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
		--requestheader-extra-headers-prefix=X-Remote-Extra- \
		--proxy-client-cert-file="$p/front-proxy-client.crt" --proxy-client-key-file="$p/front-proxy-client.key" \
		--enable-aggregator-routing=true --feature-gates=ImageVolume=true \
		--profiling=false --v=1
	kv_wait kube-apiserver "kube-apiserver /readyz" 120 kv_kubectl get --raw /readyz
}

kv_start_controller_manager() {
	local p=$KV_STATE/pki k=$KV_STATE/controller-manager.kubeconfig
	kv_start kube-controller-manager "$KV_K8S_BIN/kube-controller-manager" \
		--kubeconfig="$k" --authentication-kubeconfig="$k" --authorization-kubeconfig="$k" \
		--bind-address=127.0.0.1 --secure-port="$KV_CM_PORT" \
		--service-account-private-key-file="$p/sa.key" --root-ca-file="$p/ca.crt" \
		--cluster-signing-cert-file="$p/ca.crt" --cluster-signing-key-file="$p/ca.key" \
		--service-cluster-ip-range="$KV_SERVICE_CIDR" \
		--use-service-account-credentials=true --leader-elect=false \
		--controllers='*,bootstrapsigner,tokencleaner' --profiling=false --v=1
}

kv_start_scheduler() {
	local k=$KV_STATE/scheduler.kubeconfig
	kv_start kube-scheduler "$KV_K8S_BIN/kube-scheduler" \
		--kubeconfig="$k" --authentication-kubeconfig="$k" --authorization-kubeconfig="$k" \
		--bind-address=127.0.0.1 --secure-port="$KV_SCHEDULER_PORT" --leader-elect=false \
		--profiling=false --v=1
}

kv_default_sa_exists() { kv_kubectl -n default get serviceaccount default; }
