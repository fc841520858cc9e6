# shellcheck shell=bash
# e2e cases: a VM behind Services made by `virtctl expose` (docs/virtctl.md "expose"): reached by
# ClusterIP and by its DNS name from another pod, through a NodePort on the node's address, and
# through a Service made by upstream's own virtctl; the guest resolves a Service name through the
# cluster DNS (CoreDNS, tools/cluster). Sourced by vm_test.sh.

EXPOSE_VM=e2e-expose
EXPOSE_SVC=e2e-expose-http
EXPOSE_CLIENT=e2e-expose-client
# Upstream KubeVirt's virtctl, when the machine has one (../shared/notes/upstream-virtctl.md).
EXPOSE_UPSTREAM_VIRTCTL=${KV_E2E_UPSTREAM_VIRTCTL:-/root/.cache/upstream-kv/virtctl}

# The guest's user data: in the background (the guest reaches its ready line first), resolve the
# Service by its full name until it answers, and print the address on the console. The guest's
# resolver is whatever DHCP gave it: slirp's forwarder (which uses the pod's resolv.conf) or
# passt (which hands out the pod's nameservers): the cluster DNS either way.
expose_userdata() {
	cat <<EOF
#!/bin/sh
(
  i=0
  while [ \$i -lt 300 ]; do
    a=\$(nslookup -type=a $EXPOSE_SVC.$NS.svc.cluster.local 2>/dev/null | sed -n '/^Name:/,\$s/^Address: *//p' | head -1)
    if [ -n "\$a" ]; then echo "KV-E2E-GUEST-DNS $EXPOSE_SVC \$a"; break; fi
    i=\$((i + 1))
    sleep 1
  done
) </dev/null >/dev/console 2>&1 &
EOF
}

# resolve_in POD NAME: the IPv4 address glibc's resolver in POD (getent in the test image: the
# pod's search list and ndots, as applications resolve) finds for NAME; empty when none.
resolve_in() {
	k -n "$NS" exec "$1" -- getent ahostsv4 "$2" 2>/dev/null | awk '{print $1; exit}'
}

# guest_answers_from POD IP PORT: an HTTP request sent from POD to IP:PORT gets the test
# guest's page. busybox-static's wget and nc cannot resolve names in the image (static glibc
# without NSS): names are resolved by resolve_in, and nc is given the address.
guest_answers_from() {
	local out
	out=$(k -n "$NS" exec "$1" -- sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 $2 $3") || return 1
	[[ $out == *"KUBEVIRT-CPP-GUEST hostname=$EXPOSE_VM"* ]]
}

# Service NAME's endpoints are exactly the launcher pod's IP.
endpoints_are_launcher() {
	local ip
	ip=$(pod_ip_of "$NS" "$EXPOSE_VM")
	[[ -n $ip && $(k -n "$NS" get endpointslices -l "kubernetes.io/service-name=$1" \
		-o 'jsonpath={.items[*].endpoints[*].addresses[*]}') == "$ip" ]]
}

case_expose_clusterip() {
	local out svc_ip selector name_ip
	expose_userdata >"$WORK/userdata-expose"
	vm_yaml "$EXPOSE_VM" Always "$WORK/userdata-expose" >"$WORK/vm-expose.yaml"
	k apply -f "$WORK/vm-expose.yaml" >&2
	# The Service is made from the VM object alone: the VM need not run yet.
	out=$(virtctl expose vm "$EXPOSE_VM" --port 8080 --name "$EXPOSE_SVC" 2>&1) || fail "virtctl expose failed: $out"
	[[ $out == "Service $EXPOSE_SVC successfully created for vm $EXPOSE_VM" ]] || fail "virtctl expose printed: $out"
	k -n "$NS" apply -f - >&2 <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $EXPOSE_CLIENT
spec:
  terminationGracePeriodSeconds: 1
  securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: client
    image: $IMG_BUSYBOX
    imagePullPolicy: IfNotPresent
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
    command: ["sleep", "3600"]
EOF
	selector=$(k -n "$NS" get service "$EXPOSE_SVC" -o 'jsonpath={.spec.selector}')
	[[ $selector == '{"vmi.kubevirt.io/id":"'"$EXPOSE_VM"'"}' ]] || fail "the Service selects $selector, want upstream's vmi.kubevirt.io/id=$EXPOSE_VM"
	wait_running_and_ready "$EXPOSE_VM"
	k -n "$NS" wait --for=condition=Ready "pod/$EXPOSE_CLIENT" --timeout=$((120 * KV_TIMEOUT_SCALE))s >&2 || fail "the client pod is not Ready"
	wait_until 60 "the endpoints of $EXPOSE_SVC to be the launcher pod" endpoints_are_launcher "$EXPOSE_SVC"
	svc_ip=$(k -n "$NS" get service "$EXPOSE_SVC" -o 'jsonpath={.spec.clusterIP}')
	[[ -n $svc_ip ]] || fail "$EXPOSE_SVC has no ClusterIP"
	wait_until 60 "the guest's HTTP page at $svc_ip:8080 from $EXPOSE_CLIENT" guest_answers_from "$EXPOSE_CLIENT" "$svc_ip" 8080 ||
		fail "the guest does not answer on the Service's ClusterIP $svc_ip:8080 from another pod"
	log "pod -> $svc_ip:8080 (ClusterIP) -> guest"
	# The DNS name: the short form through the pod's search list, and the full one.
	name_ip=$(resolve_in "$EXPOSE_CLIENT" "$EXPOSE_SVC.$NS.svc")
	[[ $name_ip == "$svc_ip" ]] || fail "$EXPOSE_SVC.$NS.svc resolves to '$name_ip' in a pod, want the ClusterIP $svc_ip"
	name_ip=$(resolve_in "$EXPOSE_CLIENT" "$EXPOSE_SVC.$NS.svc.cluster.local")
	[[ $name_ip == "$svc_ip" ]] || fail "$EXPOSE_SVC.$NS.svc.cluster.local resolves to '$name_ip', want $svc_ip"
	guest_answers_from "$EXPOSE_CLIENT" "$name_ip" 8080 || fail "the guest does not answer at $EXPOSE_SVC.$NS.svc ($name_ip):8080"
	log "pod -> $EXPOSE_SVC.$NS.svc ($name_ip):8080 -> guest"
}

case_expose_guest_dns() {
	local svc_ip
	svc_ip=$(k -n "$NS" get service "$EXPOSE_SVC" -o 'jsonpath={.spec.clusterIP}')
	wait_until 120 "the guest to print KV-E2E-GUEST-DNS $EXPOSE_SVC $svc_ip" \
		console_has "$NS" "$EXPOSE_VM" "KV-E2E-GUEST-DNS $EXPOSE_SVC $svc_ip" ||
		fail "the guest did not resolve $EXPOSE_SVC.$NS.svc.cluster.local to $svc_ip: $(console "$NS" "$EXPOSE_VM" | grep -a 'KV-E2E-GUEST-DNS\|nameserver' | tail -3)"
}

case_expose_nodeport() {
	local out port node_ip
	out=$(virtctl expose vmi "$EXPOSE_VM" --port 8080 --name e2e-expose-np --type NodePort 2>&1) ||
		fail "virtctl expose --type NodePort failed: $out"
	port=$(k -n "$NS" get service e2e-expose-np -o 'jsonpath={.spec.ports[0].nodePort}')
	[[ $port =~ ^[0-9]+$ ]] || fail "the NodePort Service has no nodePort: '$port'"
	node_ip=$(cat "$KV_CLUSTER_STATE/node-ip")
	wait_until 60 "the endpoints of e2e-expose-np" endpoints_are_launcher e2e-expose-np
	guest_on_node() { [[ $(curl -sS -m 3 "http://$node_ip:$port/") == *"KUBEVIRT-CPP-GUEST hostname=$EXPOSE_VM"* ]]; }
	wait_until 60 "the guest's page at http://$node_ip:$port/ (NodePort)" guest_on_node ||
		fail "the guest does not answer at the node's address $node_ip:$port"
	log "node $node_ip:$port (NodePort) -> guest"
}

case_expose_upstream_virtctl() {
	local out svc_ip
	out=$("$EXPOSE_UPSTREAM_VIRTCTL" --kubeconfig "$("$KV_CLUSTER" kubeconfig)" -n "$NS" \
		expose vm "$EXPOSE_VM" --port 8080 --name e2e-expose-up 2>&1) || fail "upstream virtctl expose failed: $out"
	log "upstream virtctl: $out"
	wait_until 60 "the endpoints of upstream's Service to be the launcher pod" endpoints_are_launcher e2e-expose-up ||
		fail "the Service made by upstream's virtctl selects $(k -n "$NS" get service e2e-expose-up -o 'jsonpath={.spec.selector}'), which matches no launcher pod"
	svc_ip=$(k -n "$NS" get service e2e-expose-up -o 'jsonpath={.spec.clusterIP}')
	wait_until 60 "the guest through upstream's Service ($svc_ip:8080)" guest_answers_from "$EXPOSE_CLIENT" "$svc_ip" 8080
}

# The Services are owned by the VM or VMI they expose: deleting the VM deletes them.
case_expose_owned() {
	local uid
	uid=$(vmi_uid "$NS" "$EXPOSE_VM")
	k -n "$NS" delete vm "$EXPOSE_VM" --wait=false >&2
	no_services() { [[ -z $(k -n "$NS" get services -o name 2>/dev/null | grep e2e-expose) ]]; }
	wait_until 120 "the exposed Services to be garbage-collected with the VM" no_services ||
		fail "Services left after deleting the VM: $(k -n "$NS" get services -o name | tr '\n' ' ')"
	wait_until 60 "the launcher pod of VMI $uid gone" no_launcher_pods "$NS" "$uid"
}

cleanup_expose() {
	k -n "$NS" delete service "$EXPOSE_SVC" e2e-expose-np e2e-expose-up --ignore-not-found --wait=false >/dev/null 2>&1 || true
}
cleanup_hooks+=(cleanup_expose)

run_case "virtctl expose vm --port 8080 --name S: the Service's ClusterIP and DNS name S.NS.svc reach the guest from another pod" case_expose_clusterip keep
run_case "the guest resolves S.NS.svc.cluster.local to the Service's ClusterIP (cluster DNS)" case_expose_guest_dns keep
run_case "virtctl expose vmi --type NodePort: the guest answers on the node's address" case_expose_nodeport keep
if [[ -x $EXPOSE_UPSTREAM_VIRTCTL ]]; then
	run_case "upstream KubeVirt's virtctl expose vm makes a Service that selects our launcher pod" case_expose_upstream_virtctl keep
else
	log "no upstream virtctl at $EXPOSE_UPSTREAM_VIRTCTL: its expose case is not run"
fi
run_case "deleting the VM deletes the Services virtctl expose made for it (owner references)" case_expose_owned
