# shellcheck shell=bash disable=SC2034
# Cluster DNS: CoreDNS as a Deployment in kube-system behind the kube-dns Service, as kubeadm
# sets it up, from a binary built here (build.sh) packed into a local image (images.sh).
# Sourced by tools/cluster/cluster; needs common.sh, control-plane.sh, node.sh and images.sh.

KV_COREDNS_IMAGE=${KV_COREDNS_IMAGE:-localhost/kubevirt-cpp/coredns:$COREDNS_VERSION}

# The Corefile: kubeadm's, less the plugins not built in (prometheus, loadbalance). Upstream
# queries go to the node's resolvers (the pod runs with dnsPolicy Default, so its
# /etc/resolv.conf is the kubelet's resolvConf).
kv_corefile() {
	cat <<EOF2
.:53 {
    errors
    log . {
        class error
    }
    health {
        lameduck 5s
    }
    ready
    kubernetes $KV_CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    forward . /etc/resolv.conf {
        max_concurrent 1000
    }
    cache 30 {
        disable success $KV_CLUSTER_DOMAIN
        disable denial $KV_CLUSTER_DOMAIN
    }
    loop
    reload
}
EOF2
}

# The objects, as kubeadm's CoreDNS addon names them. The ClusterRole grants only what the
# kubernetes plugin watches with `pods insecure`: Services, EndpointSlices and Namespaces.
kv_dns_manifests() {
	cat <<EOF2
apiVersion: v1
kind: ServiceAccount
metadata:
  name: coredns
  namespace: kube-system
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:coredns
  labels:
    kubernetes.io/bootstrapping: rbac-defaults
rules:
- apiGroups: [""]
  resources: [services, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: system:coredns
  labels:
    kubernetes.io/bootstrapping: rbac-defaults
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: system:coredns
subjects:
- kind: ServiceAccount
  name: coredns
  namespace: kube-system
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: coredns
  namespace: kube-system
data:
  Corefile: |
$(kv_corefile | sed 's/^/    /')
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
  labels:
    k8s-app: kube-dns
spec:
  replicas: 1
  selector:
    matchLabels:
      k8s-app: kube-dns
  template:
    metadata:
      labels:
        k8s-app: kube-dns
    spec:
      serviceAccountName: coredns
      priorityClassName: system-cluster-critical
      dnsPolicy: Default
      nodeSelector:
        kubernetes.io/os: linux
      tolerations:
      - key: CriticalAddonsOnly
        operator: Exists
      - key: node-role.kubernetes.io/control-plane
        effect: NoSchedule
      containers:
      - name: coredns
        image: $KV_COREDNS_IMAGE
        imagePullPolicy: Never
        args: ["-conf", "/etc/coredns/Corefile"]
        resources:
          limits: {memory: 170Mi}
          requests: {cpu: 100m, memory: 70Mi}
        volumeMounts:
        - name: config-volume
          mountPath: /etc/coredns
          readOnly: true
        ports:
        - {name: dns, containerPort: 53, protocol: UDP}
        - {name: dns-tcp, containerPort: 53, protocol: TCP}
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            add: [NET_BIND_SERVICE]
            drop: [ALL]
          readOnlyRootFilesystem: true
        livenessProbe:
          httpGet: {path: /health, port: 8080, scheme: HTTP}
          initialDelaySeconds: 60
          timeoutSeconds: 5
          successThreshold: 1
          failureThreshold: 5
        readinessProbe:
          httpGet: {path: /ready, port: 8181, scheme: HTTP}
          periodSeconds: 1
      volumes:
      - name: config-volume
        configMap:
          name: coredns
          items:
          - {key: Corefile, path: Corefile}
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels:
    k8s-app: kube-dns
    kubernetes.io/cluster-service: "true"
    kubernetes.io/name: CoreDNS
spec:
  selector:
    k8s-app: kube-dns
  clusterIP: $KV_DNS_IP
  ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
EOF2
}

kv_dns_ready() {
	[[ $(kv_kubectl -n kube-system get deployment coredns -o 'jsonpath={.status.readyReplicas}' 2>/dev/null) == 1 ]]
}

# Imports the image when containerd lacks it, applies the objects (unchanged ones are left
# alone, so a running cluster keeps its pod), and waits until CoreDNS answers its readiness
# probe: the kubernetes plugin has synced its Services.
kv_start_dns() {
	local archive i
	archive=$(kv_image_archive coredns)
	# Into every node: the pod may land on any.
	for ((i = 1; i <= $(kv_node_count); i++)); do
		(
			kv_node_env "$i"
			local images
			images=$(kv_ctr images ls -q 2>/dev/null || true)
			if ! grep -qxF "$KV_COREDNS_IMAGE" <<<"$images"; then
				kv_import "$archive" >/dev/null
				kv_log "imported $KV_COREDNS_IMAGE into $KV_NODE_NAME"
			fi
		)
	done
	local out
	out=$(kv_dns_manifests | kv_kubectl apply -f - 2>&1) || { echo "$out" >&2; kv_die "applying the CoreDNS objects failed"; }
	kv_log "waiting for CoreDNS ($KV_DNS_IP, kube-system/kube-dns)"
	kv_wait - "CoreDNS ready (kubectl -n kube-system describe pod -l k8s-app=kube-dns)" 120 kv_dns_ready
}
