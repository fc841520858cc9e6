# shellcheck shell=bash
# e2e cases for VMI probes and status.interfaces (issue 14, items 2 and 6), sourced by
# vm_test.sh. The probed ports are listed in the interface's `ports`, so the cases hold whether
# only listed ports reach the guest or every port does.
#
# The guest's user data prints the MAC it sees and serves a CGI on port 8083 that starts an HTTP
# server on port 8082: the readiness probe's port stays closed until a case asks for it. The
# readiness probe is a tcpSocket one (passt accepts every connection on the pod IP itself, so
# this checks virt-probe, not a bare connect); the liveness case uses httpGet.

cat >"$WORK/probes-userdata" <<EOF
#!/bin/sh
mkdir -p /run/probes/cgi-bin /run/probes-ready
echo ready >/run/probes-ready/index.html
cat >/run/probes/cgi-bin/open <<'CGI'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\nopening 8082\n'
httpd -p 8082 -h /run/probes-ready </dev/null >/dev/null 2>&1
CGI
chmod +x /run/probes/cgi-bin/open
httpd -p 8083 -h /run/probes
echo KV-E2E-PROBES-MAC \$(cat /sys/class/net/eth0/address)
echo KV-E2E-PROBES-$TOKEN
EOF

# probes_vm_yaml NAME PROBES_YAML (the probes, indented for the VMI spec)
probes_vm_yaml() {
	cat <<EOF
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: $1
  namespace: $NS
spec:
  runStrategy: Always
  template:
    spec:
      domain:
        memory:
          guest: 256Mi
        devices:
          disks:
            - name: root
              disk:
                bus: virtio
            - name: cloudinit
              disk:
                bus: virtio
          interfaces:
            - name: default
              masquerade: {}
              ports:
                - port: 8080
                - name: ready
                  port: 8082
                - port: 8083
      networks:
        - name: default
          pod: {}
      terminationGracePeriodSeconds: 10
$2
      volumes:
        - name: root
          containerDisk:
            image: $IMG_DISK
        - name: cloudinit
          cloudInitNoCloud:
            userData: |
$(sed 's/^/              /' "$WORK/probes-userdata")
EOF
}

vmi_ready_status() { vmi_field "$NS" "$1" '{.status.conditions[?(@.type=="Ready")].status}'; }
vmi_ready_reason() { vmi_field "$NS" "$1" '{.status.conditions[?(@.type=="Ready")].reason}'; }
vmi_ready_is() { [[ $(vmi_ready_status "$1") == "$2" ]]; }
# The columns of `kubectl get vmi NAME`: NAME AGE PHASE IP NODENAME READY.
vmi_columns() { k -n "$NS" get vmi "$1" --no-headers 2>/dev/null; }
# The MAC the guest printed on its console (its eth0).
guest_mac() { console "$NS" "$1" | tr -d '\r' | sed -n 's/^KV-E2E-PROBES-MAC \(..:..:..:..:..:..\)$/\1/p' | tail -1; }
guest_mac_known() { [[ -n $(guest_mac "$1") ]]; }
vmi_ready_reason_is() { [[ $(vmi_ready_reason "$1") == "$2" ]]; }
vmi_mac_is() { [[ $(vmi_field "$NS" "$1" '{.status.interfaces[0].mac}') == "$2" ]]; }
vm_ready_is() { [[ $(vm_field "$NS" "$1" '{.status.ready}') == "$2" ]]; }
# A VMI NAME exists and its uid is not UID.
vmi_replaced() {
	local u
	u=$(vmi_uid "$NS" "$1")
	[[ -n $u && $u != "$2" ]]
}

case_probes_readiness_closed() {
	probes_vm_yaml e2e-probes '      readinessProbe:
        tcpSocket:
          port: ready
        periodSeconds: 2
        failureThreshold: 1' >"$WORK/probes.yaml"
	k apply -f "$WORK/probes.yaml" >&2
	wait_running_and_ready e2e-probes
	wait_until 60 "the probes user data to finish" console_has "$NS" e2e-probes "KV-E2E-PROBES-$TOKEN"
	# The kubelet has probed the closed port: the pod says so, and the VMI copies it.
	wait_until 60 "VMI e2e-probes Ready=False with the kubelet's reason ContainersNotReady" \
		vmi_ready_reason_is e2e-probes ContainersNotReady
	vmi_ready_is e2e-probes False || fail "VMI e2e-probes Ready is '$(vmi_ready_status e2e-probes)' with the probed port closed"
	local line
	line=$(vmi_columns e2e-probes)
	log "kubectl get vmi: $line"
	[[ $(awk '{print $3, $6}' <<<"$line") == "Running False" ]] || fail "kubectl get vmi shows '$line', want PHASE Running and READY False"
	[[ $(vm_field "$NS" e2e-probes '{.status.ready}') != true ]] || fail "VM e2e-probes status.ready is true with its VMI not Ready"
	# The guest itself answers on an unprobed port: only the probe keeps it not Ready.
	local ip
	ip=$(pod_ip_of "$NS" e2e-probes)
	curl -sS -m 10 --retry 3 --retry-connrefused "http://$ip:8080/" >/dev/null || fail "the guest does not answer HTTP on $ip:8080"
}

case_probes_readiness_opened() {
	local ip line
	ip=$(pod_ip_of "$NS" e2e-probes)
	curl -sS -m 10 --retry 3 --retry-connrefused "http://$ip:8083/cgi-bin/open" >&2 || fail "the guest's CGI on $ip:8083 did not answer"
	wait_until 60 "VMI e2e-probes Ready=True" vmi_ready_is e2e-probes True
	line=$(vmi_columns e2e-probes)
	log "kubectl get vmi: $line"
	[[ $(awk '{print $3, $6}' <<<"$line") == "Running True" ]] || fail "kubectl get vmi shows '$line', want PHASE Running and READY True"
	wait_until 30 "VM e2e-probes status.ready true" vm_ready_is e2e-probes true
}

case_probes_interfaces() {
	local ip line mac
	ip=$(pod_ip_of "$NS" e2e-probes)
	[[ -n $ip ]] || fail "the launcher pod of e2e-probes has no IP"
	line=$(vmi_columns e2e-probes)
	[[ $(awk '{print $4}' <<<"$line") == "$ip" ]] || fail "kubectl get vmi shows IP '$(awk '{print $4}' <<<"$line")', the pod IP is $ip ($line)"
	log "status.interfaces: $(vmi_field "$NS" e2e-probes '{.status.interfaces}')"
	[[ $(vmi_field "$NS" e2e-probes '{.status.interfaces[0].name}') == default ]] || fail "status.interfaces[0].name is not default"
	[[ $(vmi_field "$NS" e2e-probes '{.status.interfaces[0].ipAddresses[0]}') == "$ip" ]] || fail "status.interfaces[0].ipAddresses does not start with the pod IP $ip"
	[[ $(vmi_field "$NS" e2e-probes '{.status.interfaces[0].infoSource}') == domain ]] || fail "status.interfaces[0].infoSource is not domain"
	mac=$(guest_mac e2e-probes)
	[[ -n $mac ]] || fail "the guest printed no MAC"
	[[ $(vmi_field "$NS" e2e-probes '{.status.interfaces[0].mac}') == "$mac" ]] ||
		fail "status.interfaces[0].mac is '$(vmi_field "$NS" e2e-probes '{.status.interfaces[0].mac}')', the guest sees $mac"
	echo "$mac" >"$WORK/probes-mac"
}

case_probes_mac_stable() {
	local uid mac
	uid=$(vmi_uid "$NS" e2e-probes)
	mac=$(cat "$WORK/probes-mac")
	virtctl restart e2e-probes >&2
	wait_until 180 "a new VMI e2e-probes (not $uid) Running" vmi_replaced_running "$NS" e2e-probes "$uid"
	wait_until 180 "the new guest to print its MAC" guest_mac_known e2e-probes
	[[ $(guest_mac e2e-probes) == "$mac" ]] || fail "the restarted guest sees MAC $(guest_mac e2e-probes), before it was $mac"
	wait_until 60 "status.interfaces[0].mac of the new VMI to be $mac" vmi_mac_is e2e-probes "$mac"
}

# A liveness probe on a port the guest never opens: the kubelet kills the compute container, the
# VMI ends, and the runStrategy Always VM starts a new one.
case_probes_liveness() {
	probes_vm_yaml e2e-liveness '      livenessProbe:
        httpGet:
          port: 8082
        initialDelaySeconds: 20
        periodSeconds: 2
        failureThreshold: 2' >"$WORK/liveness.yaml"
	k apply -f "$WORK/liveness.yaml" >&2
	wait_until 180 "VMI e2e-liveness phase Running" vmi_phase_is "$NS" e2e-liveness Running
	local uid pod w
	uid=$(vmi_uid "$NS" e2e-liveness)
	pod=$(launcher_pod "$NS" "$uid")
	w=$(watch_vmi e2e-liveness "$WORK/watch-liveness")
	wait_until 240 "a new VMI e2e-liveness (not $uid)" vmi_replaced e2e-liveness "$uid" ||
		{ kill "$w"; exit 1; }
	kill "$w" 2>/dev/null
	log "VMI states seen: $(tr '\n' ';' <"$WORK/watch-liveness")"
	grep -Eq "$uid (Succeeded|Failed)" "$WORK/watch-liveness" || fail "VMI $uid never ended after its liveness probe failed"
	local events
	events=$(k -n "$NS" get events --field-selector "involvedObject.name=${pod#pod/}" -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}')
	log "events of $pod: $(tr '\n' ';' <<<"$events")"
	grep -q "Liveness probe failed" <<<"$events" || fail "the kubelet reported no failed liveness probe for $pod"
}

run_case "probes: a readiness probe on a closed guest port keeps the VMI not Ready" case_probes_readiness_closed keep
run_case "probes: opening the probed port in the guest makes the VMI Ready" case_probes_readiness_opened keep
run_case "probes: kubectl get vmi shows the pod IP; status.interfaces has the guest's MAC" case_probes_interfaces keep
run_case "probes: the MAC in status.interfaces survives a VM restart" case_probes_mac_stable
run_case "probes: a failing liveness probe ends the VMI; runStrategy Always starts a new one" case_probes_liveness
