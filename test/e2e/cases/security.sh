# shellcheck shell=bash
# Least privilege (issue 17 item 3, docs/security.md): the test namespace enforces Pod Security
# "restricted" and still admits launcher pods; each component's ServiceAccount may do what it
# needs and not more (a must / must-not table); console, VNC, port-forward and the lifecycle
# actions are refused without their RBAC and allowed with kubevirt.io:edit; virt-handler's stream
# port refuses a client certificate not signed by the add-on's CA.
# Sourced by vm_test.sh (test/e2e/cases/README.md).

SEC_VM=e2e-sec
SEC_VIEWER=e2e-vm-getter # a ServiceAccount with get/list/watch on VMs and VMIs only
SEC_EDITOR=e2e-vm-editor # a ServiceAccount with kubevirt.io:edit in $NS

sec_cleanup() {
	k -n "$NS" delete rolebinding,role,serviceaccount -l kubevirt-cpp.io/e2e-security=true --wait=false >/dev/null 2>&1
}
cleanup_hooks+=(sec_cleanup)

# --- Pod Security restricted ----------------------------------------------------------------------
# A pod that restricted (and baseline) forbids: privileged, root, host namespaces.
sec_privileged_pod() {
	cat <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: e2e-sec-privileged
  namespace: $NS
spec:
  hostPID: true
  containers:
    - name: busybox
      image: $IMG_BUSYBOX
      imagePullPolicy: Never
      command: [sleep, "3600"]
      securityContext: {privileged: true}
EOF
}

case_sec_pod_security() {
	local labels out
	labels=$(k get ns "$NS" -o jsonpath='{.metadata.labels}')
	[[ $labels == *'"pod-security.kubernetes.io/enforce":"restricted"'* && $labels == *'"pod-security.kubernetes.io/enforce-version":"latest"'* ]] ||
		fail "namespace $NS does not enforce restricted:latest: $labels"
	# The check can fail: kube-apiserver's PodSecurity admission (default-on; tools/cluster does
	# not disable it) refuses a privileged pod here. A server-side dry run goes through admission.
	if out=$(sec_privileged_pod | k apply --dry-run=server -f - 2>&1); then
		fail "a privileged pod was admitted in $NS (is PodSecurity admission off?): $out"
	fi
	log "privileged pod: $out"
	[[ $out == *'violates PodSecurity "restricted:latest"'* && $out == *'privileged'* ]] ||
		fail "the privileged pod was refused, but not by PodSecurity restricted: $out"
	# A VM's launcher pod is admitted and runs.
	vm_yaml "$SEC_VM" Always >"$WORK/vm-sec.yaml"
	k apply -f "$WORK/vm-sec.yaml" >&2
	wait_running_and_ready "$SEC_VM"
	local pod
	pod=$(launcher_pod "$NS" "$(vmi_uid "$NS" "$SEC_VM")")
	[[ -n $pod ]] || fail "VMI $SEC_VM has no launcher pod"
	k -n "$NS" get "$pod" -o json >"$WORK/sec-pod.json"
	# What restricted asks of every container, and no service account token.
	local problems
	problems=$(jq -r '
		.spec as $s
		| ($s.securityContext // {}) as $p
		| [($s.initContainers // [])[], $s.containers[]] | .[]
		| . as $c | ($c.securityContext // {}) as $sc
		| (if (($sc.runAsNonRoot // $p.runAsNonRoot) != true) then "\($c.name): runAsNonRoot is not true" else empty end),
		  (if (($sc.runAsUser // $p.runAsUser // 0) == 0) then "\($c.name): runs as uid 0" else empty end),
		  (if ($sc.allowPrivilegeEscalation != false) then "\($c.name): allowPrivilegeEscalation is not false" else empty end),
		  (if (($sc.capabilities.drop // []) | index("ALL")) == null then "\($c.name): capabilities do not drop ALL" else empty end),
		  (if (($sc.capabilities.add // []) | length) > 0 then "\($c.name): adds capabilities \($sc.capabilities.add)" else empty end),
		  (if ((($sc.seccompProfile // $p.seccompProfile).type // "") | IN("RuntimeDefault", "Localhost") | not) then "\($c.name): seccompProfile is not RuntimeDefault or Localhost" else empty end),
		  (if ([$c.volumeMounts[]?.mountPath] | index("/var/run/secrets/kubernetes.io/serviceaccount")) != null then "\($c.name): mounts a service account token" else empty end)
		' "$WORK/sec-pod.json")
	[[ $(jq -r '.spec.automountServiceAccountToken' "$WORK/sec-pod.json") == false ]] ||
		problems+=$'\npod: automountServiceAccountToken is not false'
	[[ $(jq -r '[.spec.hostPID, .spec.hostNetwork, .spec.hostIPC] | map(. == true) | any' "$WORK/sec-pod.json") == false ]] ||
		problems+=$'\npod: uses a host namespace'
	[[ -z $problems ]] || fail "launcher pod $pod: $(tr '\n' ';' <<<"$problems")"
	log "launcher pod $pod: $(jq -c '{pod: .spec.securityContext, compute: (.spec.containers[] | select(.name == "compute") | .securityContext), automountServiceAccountToken: .spec.automountServiceAccountToken}' "$WORK/sec-pod.json")"
}

# --- ServiceAccounts: must / must-not ------------------------------------------------------------
# COMPONENT must|must-not VERB RESOURCE [kubectl auth can-i flags...]. Each row is what the code
# calls (docs/security.md "ServiceAccounts") or what it must never be able to do.
SEC_RBAC_TABLE='
virt-controller must     create pods -n kv-e2e
virt-controller must     delete pods -n kv-e2e
virt-controller must     create virtualmachineinstances.kubevirt.io -n kv-e2e
virt-controller must     patch virtualmachines.kubevirt.io --subresource=status -n kv-e2e
virt-controller must     patch nodes
virt-controller must     get configmaps/kubevirt-config -n kubevirt
virt-controller must-not create pods --subresource=exec -n kv-e2e
virt-controller must-not create pods --subresource=attach -n kv-e2e
virt-controller must-not patch pods -n kv-e2e
virt-controller must-not get secrets -n kv-e2e
virt-controller must-not get secrets -n kubevirt
virt-controller must-not delete nodes
virt-controller must-not update configmaps/kubevirt-config -n kubevirt
virt-controller must-not create rolebindings.rbac.authorization.k8s.io -n kv-e2e
virt-handler    must     list virtualmachineinstances.kubevirt.io -A
virt-handler    must     patch virtualmachineinstances.kubevirt.io --subresource=status -n kv-e2e
virt-handler    must     list pods -A
virt-handler    must     patch nodes
virt-handler    must     get secrets/virt-handler-certs -n kubevirt
virt-handler    must-not create pods -n kv-e2e
virt-handler    must-not delete pods -n kv-e2e
virt-handler    must-not create pods --subresource=exec -n kv-e2e
virt-handler    must-not get secrets -n kv-e2e
virt-handler    must-not list secrets -A
virt-handler    must-not get secrets/kubevirt-ca -n kubevirt
virt-handler    must-not get secrets/virt-api-certs -n kubevirt
virt-handler    must-not update virtualmachineinstances.kubevirt.io -n kv-e2e
virt-handler    must-not delete virtualmachineinstances.kubevirt.io -n kv-e2e
virt-handler    must-not patch virtualmachines.kubevirt.io -n kv-e2e
virt-handler    must-not delete nodes
virt-api        must     patch virtualmachines.kubevirt.io -n kv-e2e
virt-api        must     create subjectaccessreviews.authorization.k8s.io
virt-api        must     get secrets/kubevirt-ca -n kubevirt
virt-api        must     patch apiservices.apiregistration.k8s.io/v1.subresources.kubevirt.io
virt-api        must     patch virtualmachines.kubevirt.io --subresource=status -n kv-e2e
virt-api        must-not update virtualmachines.kubevirt.io -n kv-e2e
virt-api        must-not update virtualmachines.kubevirt.io --subresource=status -n kv-e2e
virt-api        must-not delete virtualmachines.kubevirt.io -n kv-e2e
virt-api        must-not create virtualmachines.kubevirt.io -n kv-e2e
virt-api        must-not delete virtualmachineinstances.kubevirt.io -n kv-e2e
virt-api        must-not create pods -n kv-e2e
virt-api        must-not create pods --subresource=exec -n kv-e2e
virt-api        must-not get secrets -n kv-e2e
virt-api        must-not list secrets -A
virt-api        must-not patch apiservices.apiregistration.k8s.io/v1.apps
virt-api        must-not patch validatingwebhookconfigurations.admissionregistration.k8s.io/some-other-webhook
virt-api        must-not patch nodes
'

case_sec_service_accounts() {
	local sa want rest got bad=0 rows=0
	while read -r sa want rest; do
		[[ -n $sa ]] || continue
		rows=$((rows + 1))
		# shellcheck disable=SC2086 # the row's words are kubectl's arguments
		# (can-i exits 1 for "no"; its stderr has warnings such as "not namespace scoped")
		got=$(k auth can-i $rest --as="system:serviceaccount:kubevirt:$sa" 2>/dev/null) || true
		case $want:$got in
		must:yes | must-not:no) ;;
		*)
			log "$sa $want $rest: kubectl auth can-i says '$got'"
			bad=$((bad + 1))
			;;
		esac
	done <<<"$SEC_RBAC_TABLE"
	log "$rows rows of the must / must-not table checked, $bad wrong"
	((rows > 40)) || fail "the table has only $rows rows"
	((bad == 0)) || fail "$bad rows of the must / must-not table are wrong (above)"
}

# --- subresources with and without their RBAC -------------------------------------------------
# sec_request SERVICEACCOUNT METHOD PATH: the HTTP status of a request to kube-apiserver with a
# token of SERVICEACCOUNT (in $NS); the body is kept in $WORK/sec-body. Streams are asked for with
# a WebSocket upgrade, so an allowed one answers 101.
sec_request() {
	local sa=$1 method=$2 path=$3 server token
	server=$(k config view --minify -o jsonpath='{.clusters[0].cluster.server}')
	token=$(k -n "$NS" create token "$sa") || return 1
	local -a args=(-sS -o "$WORK/sec-body" -w '%{http_code}' -m 10 --http1.1
		--cacert "$KV_CLUSTER_STATE/pki/ca.crt" -H "Authorization: Bearer $token" -X "$method")
	if [[ $method == GET ]]; then
		args+=(-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13'
			-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Sec-WebSocket-Protocol: plain.kubevirt.io')
	else
		args+=(-H 'Content-Type: application/json' -d '{}')
	fi
	# A 101 leaves the connection open until -m: curl's exit status says nothing here.
	curl "${args[@]}" "$server$path" 2>/dev/null || true
}

SEC_VMI_PATH=/apis/subresources.kubevirt.io/v1/namespaces/$NS/virtualmachineinstances/$SEC_VM
SEC_VM_PATH=/apis/subresources.kubevirt.io/v1/namespaces/$NS/virtualmachines/$SEC_VM

case_sec_subresources() {
	k apply -f - >&2 <<EOF
apiVersion: v1
kind: ServiceAccount
metadata:
  name: $SEC_VIEWER
  namespace: $NS
  labels: {kubevirt-cpp.io/e2e-security: "true"}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: $SEC_EDITOR
  namespace: $NS
  labels: {kubevirt-cpp.io/e2e-security: "true"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: e2e-vm-getter
  namespace: $NS
  labels: {kubevirt-cpp.io/e2e-security: "true"}
rules:
  - apiGroups: [kubevirt.io]
    resources: [virtualmachines, virtualmachineinstances]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: e2e-vm-getter
  namespace: $NS
  labels: {kubevirt-cpp.io/e2e-security: "true"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: e2e-vm-getter}
subjects: [{kind: ServiceAccount, name: $SEC_VIEWER, namespace: $NS}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: e2e-vm-editor
  namespace: $NS
  labels: {kubevirt-cpp.io/e2e-security: "true"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kubevirt.io:edit}
subjects: [{kind: ServiceAccount, name: $SEC_EDITOR, namespace: $NS}]
EOF
	vmi_phase_is "$NS" "$SEC_VM" Running || fail "VMI $SEC_VM is not Running (the previous case starts it)"
	# The getter reads the VM (so the refusals below are about the subresources, not the user).
	k --as="system:serviceaccount:$NS:$SEC_VIEWER" -n "$NS" get vm "$SEC_VM" >/dev/null || fail "$SEC_VIEWER cannot get VM $SEC_VM"
	local what method path code bad=0
	local -a requests=(
		"console GET $SEC_VMI_PATH/console"
		"vnc GET $SEC_VMI_PATH/vnc"
		"port-forward GET $SEC_VMI_PATH/portforward/8080"
		"pause PUT $SEC_VMI_PATH/pause"
		"restart PUT $SEC_VM_PATH/restart"
		"stop PUT $SEC_VM_PATH/stop"
		"start PUT $SEC_VM_PATH/start"
	)
	local r
	for r in "${requests[@]}"; do
		read -r what method path <<<"$r"
		code=$(sec_request "$SEC_VIEWER" "$method" "$path")
		log "$SEC_VIEWER $what: $code"
		[[ $code == 403 ]] || { log "$what as $SEC_VIEWER: HTTP $code, want 403: $(head -c 300 "$WORK/sec-body")"; bad=1; }
	done
	((bad == 0)) || fail "a user with only get on VMs was not refused every subresource (above)"
	vmi_phase_is "$NS" "$SEC_VM" Running || fail "VMI $SEC_VM is no longer Running after the refused requests"
	[[ -z $(vmi_field "$NS" "$SEC_VM" '{.status.conditions[?(@.type=="Paused")].status}' | grep True) ]] ||
		fail "VMI $SEC_VM is paused after a refused pause"
	# With kubevirt.io:edit: the streams upgrade (101), the actions are accepted (2xx).
	for r in "console GET $SEC_VMI_PATH/console" "vnc GET $SEC_VMI_PATH/vnc" "port-forward GET $SEC_VMI_PATH/portforward/8080"; do
		read -r what method path <<<"$r"
		code=$(sec_request "$SEC_EDITOR" "$method" "$path")
		log "$SEC_EDITOR $what: $code"
		[[ $code == 101 ]] || fail "$what as $SEC_EDITOR (kubevirt.io:edit): HTTP $code, want 101 Switching Protocols: $(head -c 300 "$WORK/sec-body")"
	done
	local uid
	code=$(sec_request "$SEC_EDITOR" PUT "$SEC_VMI_PATH/pause")
	[[ $code == 2?? ]] || fail "pause as $SEC_EDITOR: HTTP $code, want 2xx"
	wait_until 60 "VMI $SEC_VM condition Paused=True" \
		bash -c "[[ \$('$KV_CLUSTER' kubectl -n $NS get vmi $SEC_VM -o jsonpath='{.status.conditions[?(@.type==\"Paused\")].status}') == True ]]"
	code=$(sec_request "$SEC_EDITOR" PUT "$SEC_VMI_PATH/unpause")
	[[ $code == 2?? ]] || fail "unpause as $SEC_EDITOR: HTTP $code, want 2xx"
	wait_until 60 "VMI $SEC_VM without Paused=True" \
		bash -c "[[ \$('$KV_CLUSTER' kubectl -n $NS get vmi $SEC_VM -o jsonpath='{.status.conditions[?(@.type==\"Paused\")].status}') != True ]]"
	uid=$(vmi_uid "$NS" "$SEC_VM")
	code=$(sec_request "$SEC_EDITOR" PUT "$SEC_VM_PATH/restart")
	[[ $code == 2?? ]] || fail "restart as $SEC_EDITOR: HTTP $code, want 2xx"
	wait_until 120 "a new VMI $SEC_VM (not $uid)" bash -c "uid=\$('$KV_CLUSTER' kubectl -n $NS get vmi $SEC_VM -o jsonpath='{.metadata.uid}' 2>/dev/null); [[ -n \$uid && \$uid != $uid ]]"
	code=$(sec_request "$SEC_EDITOR" PUT "$SEC_VM_PATH/stop")
	[[ $code == 2?? ]] || fail "stop as $SEC_EDITOR: HTTP $code, want 2xx"
	wait_until 120 "VM $SEC_VM printableStatus Stopped" vm_printable_is "$NS" "$SEC_VM" Stopped
	code=$(sec_request "$SEC_EDITOR" PUT "$SEC_VM_PATH/start")
	[[ $code == 2?? ]] || fail "start as $SEC_EDITOR: HTTP $code, want 2xx"
	wait_until 120 "VMI $SEC_VM back (started by $SEC_EDITOR)" bash -c "'$KV_CLUSTER' kubectl -n $NS get vmi $SEC_VM"
}

# --- virt-api -> virt-handler mTLS ------------------------------------------------------------
# sec_handler_answer IP [CERT KEY]: what virt-handler's stream port answers an HTTP request over
# TLS with that client certificate (none without CERT): its status line, or openssl's error.
sec_handler_answer() {
	local -a auth=()
	[[ -n ${2:-} ]] && auth=(-cert "$2" -key "$3")
	local out
	out=$(printf 'GET /healthz HTTP/1.1\r\nHost: virt-handler\r\nConnection: close\r\n\r\n' |
		timeout $((15 * KV_TIMEOUT_SCALE)) openssl s_client -connect "$1:8186" -CAfile "$WORK/mtls/ca.crt" \
			"${auth[@]}" -quiet 2>&1)
	grep -m1 -E '^HTTP/1\.[01] [0-9]+' <<<"$out" || grep -m1 -E 'alert|error|errno' <<<"$out" || true
}

case_sec_handler_mtls() {
	local dir=$WORK/mtls ip out name
	mkdir -p "$dir"
	ip=$(k -n kubevirt get pods -l kubevirt.io=virt-handler -o jsonpath='{.items[0].status.podIP}')
	[[ -n $ip ]] || fail "no virt-handler pod IP"
	k -n kubevirt get secret kubevirt-ca -o jsonpath='{.data.ca\.crt}' | base64 -d >"$dir/ca.crt"
	k -n kubevirt get secret kubevirt-ca -o jsonpath='{.data.ca\.key}' | base64 -d >"$dir/ca.key"
	[[ -s $dir/ca.crt && -s $dir/ca.key ]] || fail "cannot read the CA from Secret kubevirt/kubevirt-ca"
	# A throwaway CA of the same name; a client certificate from each CA, alike but for the signer.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
		-subj "$(openssl x509 -in "$dir/ca.crt" -noout -subject -nameopt compat | sed 's/^subject=//')" \
		-keyout "$dir/rogue-ca.key" -out "$dir/rogue-ca.crt" >/dev/null 2>&1 || fail "openssl cannot make a CA"
	printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n' >"$dir/client.ext"
	for name in good rogue; do
		local ca=$dir/ca
		[[ $name == rogue ]] && ca=$dir/rogue-ca
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=virt-api \
			-keyout "$dir/$name.key" -out "$dir/$name.csr" >/dev/null 2>&1 &&
			openssl x509 -req -in "$dir/$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial -days 1 \
				-extfile "$dir/client.ext" -out "$dir/$name.crt" >/dev/null 2>&1 || fail "openssl cannot sign the $name client certificate"
	done
	# The check can fail: a certificate from the add-on's CA gets an HTTP answer.
	out=$(sec_handler_answer "$ip" "$dir/good.crt" "$dir/good.key")
	log "virt-handler $ip:8186 with a client certificate from kubevirt-ca: $out"
	[[ $out == HTTP/1.* ]] || fail "virt-handler did not answer a client with a certificate from the add-on's CA: $out"
	out=$(sec_handler_answer "$ip" "$dir/rogue.crt" "$dir/rogue.key")
	log "virt-handler $ip:8186 with a client certificate from a throwaway CA: $out"
	[[ -n $out && $out != HTTP/1.* ]] || fail "virt-handler answered a client whose certificate is not from the add-on's CA: ${out:-nothing}"
	out=$(sec_handler_answer "$ip")
	log "virt-handler $ip:8186 without a client certificate: $out"
	[[ -n $out && $out != HTTP/1.* ]] || fail "virt-handler answered a client without a certificate: ${out:-nothing}"
}

run_case "security: namespace $NS enforces Pod Security restricted (a privileged pod is refused) and a VM's launcher pod is admitted: non-root, no capabilities, no privilege escalation, seccomp, no service account token" case_sec_pod_security keep
run_case "security: a user with only get on VMs is refused console, VNC, port-forward, pause, restart, stop, start (403); with kubevirt.io:edit they are allowed" case_sec_subresources
run_case "security: the ServiceAccounts of virt-controller, virt-handler and virt-api may do what the code calls and nothing in the must-not table (kubectl auth can-i)" case_sec_service_accounts
run_case "security: virt-handler's stream port refuses a client certificate not signed by the add-on's CA, and a client without one" case_sec_handler_mtls
