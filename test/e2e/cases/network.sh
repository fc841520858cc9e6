# shellcheck shell=bash
# The pod NIC served by passt (issue 14 item 1): with no ports every port of the pod IP reaches the
# guest (TCP and UDP), with ports only those; the guest's own TCP and UDP leave with the pod IP; the passt binding
# gives the guest the pod IP. Sourced by vm_test.sh (test/e2e/cases/README.md). A busybox pod is
# the "other pod on the cluster"; the three VMs are created together by the first case so their
# boots overlap; the last case empties the namespace.

NET_UDP_PORT=$((20000 + RANDOM % 10000))

# net_vm NAME INTERFACE_YAML [USERDATA_FILE]: a VM of the test guest on the pod network.
net_vm() {
	local userdata=${3:-}
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
$( [[ -n $userdata ]] && printf '            - name: cloudinit\n              disk:\n                bus: virtio\n')
          interfaces:
$2
      networks:
        - name: default
          pod: {}
      terminationGracePeriodSeconds: 10
      volumes:
        - name: root
          containerDisk:
            image: ${IMG_OVERRIDE:-$IMG_DISK}
$( [[ -n $userdata ]] && { printf '        - name: cloudinit\n          cloudInitNoCloud:\n            userData: |\n'; sed 's/^/              /' "$userdata"; })
EOF
}

# from_peer IP PORT: an HTTP GET from the busybox pod (its wget segfaults: static glibc, no NSS).
from_peer() {
	k -n "$NS" exec e2e-net-peer -- sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 $1 $2" 2>/dev/null
}
peer_gets() { [[ $(from_peer "$1" "$2") == *"$3"* ]]; }

case_net_start() {
	# The other pod: serves its caller's address (busybox httpd sets REMOTE_ADDR for CGIs).
	cat >"$WORK/net-peer-cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\nKV-E2E-FROM %s\n' "$REMOTE_ADDR"
EOF
	k -n "$NS" create configmap e2e-net-peer --from-file=peer="$WORK/net-peer-cgi" >&2
	cat >"$WORK/net-peer.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: e2e-net-peer
  namespace: $NS
spec:
  terminationGracePeriodSeconds: 0
  securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: busybox
      image: $IMG_BUSYBOX
      imagePullPolicy: Never
      securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
      command: [sh, -c, 'echo PEER-READY; exec httpd -f -p 9000 -h /www']
      volumeMounts:
        - {name: cgi, mountPath: /www/cgi-bin}
  volumes:
    - name: cgi
      configMap: {name: e2e-net-peer, defaultMode: 0555}
EOF
	k apply -f "$WORK/net-peer.yaml" >&2
	wait_until 120 "pod e2e-net-peer Running" \
		bash -c "[[ \$('$KV_CLUSTER' kubectl -n $NS get pod e2e-net-peer -o jsonpath='{.status.phase}') == Running ]]" || return 1
	local peer node
	peer=$(k -n "$NS" get pod e2e-net-peer -o jsonpath='{.status.podIP}')
	node=$(k get nodes -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}')
	[[ -n $peer && -n $node ]] || fail "no IP for the peer pod ('$peer') or the node ('$node')"
	echo "$peer" >"$WORK/net-peer-ip"
	# UDP from the guest: busybox syslogd forwards to a receiver on the node, which records the
	# datagram and its source address.
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(900)
while True:
    data, addr = s.recvfrom(4096)
    if b"KV-E2E-UDP" in data:
        print(addr[0], data.decode(errors="replace").strip(), flush=True)
' "$NET_UDP_PORT" >"$WORK/net-udp" 2>&1 &
	echo $! >"$WORK/net-udp-pid"
	cat >"$WORK/net-userdata" <<EOF
#!/bin/sh
mkdir -p /run/www80
echo KV-E2E-PORT80-$TOKEN >/run/www80/index.html
httpd -p 80 -h /run/www80
for i in 1 2 3 4 5; do
  out=\$(wget -q -O - http://$peer:9000/cgi-bin/peer) && break
  sleep 1
done
echo "\$out"
syslogd -R $node:$NET_UDP_PORT
for i in 1 2 3 4 5; do [ -S /dev/log ] && break; sleep 1; done
logger KV-E2E-UDP-$TOKEN
# A UDP server the test can see: busybox udhcpd logs each DHCPDISCOVER it gets.
printf 'start 10.0.2.100\nend 10.0.2.110\ninterface eth0\nlease_file /run/leases\n' >/run/udhcpd.conf
touch /run/leases
udhcpd -f /run/udhcpd.conf >/dev/console 2>&1 &
EOF
	net_vm e2e-net-all "            - name: default
              masquerade: {}" "$WORK/net-userdata" >"$WORK/net-all.yaml"
	net_vm e2e-net-ports "            - name: default
              masquerade: {}
              ports:
                - port: 8080" "$WORK/net-userdata" >"$WORK/net-ports.yaml"
	net_vm e2e-net-passt "            - name: default
              passt: {}" >"$WORK/net-passt.yaml"
	k apply -f "$WORK/net-all.yaml" -f "$WORK/net-ports.yaml" -f "$WORK/net-passt.yaml" >&2
	wait_running_and_ready e2e-net-all
}

case_net_all_ports() {
	local ip
	ip=$(pod_ip_of "$NS" e2e-net-all)
	[[ -n $ip ]] || fail "the launcher pod of e2e-net-all has no IP"
	wait_until 30 "port 80 of $ip to answer the peer pod" peer_gets "$ip" 80 "KV-E2E-PORT80-$TOKEN" ||
		fail "no answer from the guest on port 80 at $ip from another pod: '$(from_peer "$ip" 80)'"
	peer_gets "$ip" 8080 "KUBEVIRT-CPP-GUEST hostname=e2e-net-all" ||
		fail "no answer from the guest on port 8080 at $ip from another pod: '$(from_peer "$ip" 8080)'"
	log "ports 80 and 8080 of $ip answer from the guest"
}

case_net_listed_ports() {
	wait_running_and_ready e2e-net-ports
	local ip
	ip=$(pod_ip_of "$NS" e2e-net-ports)
	wait_until 30 "port 8080 of $ip to answer the peer pod" peer_gets "$ip" 8080 "KUBEVIRT-CPP-GUEST hostname=e2e-net-ports" ||
		fail "no answer from the guest on listed port 8080 at $ip"
	# The guest's httpd on 80 runs (the user data started it, as on e2e-net-all), but 80 is not listed.
	console_has "$NS" e2e-net-ports "KUBEVIRT-CPP-USER-DATA-EXIT 0" || fail "the user data of e2e-net-ports did not finish"
	local out
	out=$(from_peer "$ip" 80) || true # refused: nothing listens on 80 of the pod IP
	[[ $out != *KV-E2E-PORT80* ]] || fail "port 80 reached the guest although only 8080 is listed: '$out'"
}

case_net_guest_source() {
	local ip peer line
	ip=$(pod_ip_of "$NS" e2e-net-all)
	peer=$(cat "$WORK/net-peer-ip")
	line=$(tr -d '\r' <<<"$(console "$NS" e2e-net-all)" | grep '^KV-E2E-FROM' | head -1)
	log "the peer pod $peer saw the guest's connection as: $line"
	# busybox httpd listens on a dual-stack socket: an IPv4 peer shows as [::ffff:a.b.c.d].
	[[ $line == "KV-E2E-FROM $ip" || $line == "KV-E2E-FROM [::ffff:$ip]" ]] || fail "the guest's connection to $peer arrived as '$line', want 'KV-E2E-FROM $ip' (the pod IP)"
}

case_net_udp() {
	local ip got
	ip=$(pod_ip_of "$NS" e2e-net-all)
	# Both masquerade VMs send one; the receiver prints "<source> <message>" for each.
	wait_until 30 "the node's UDP receiver to get a datagram from $ip" grep -q "^$ip .*KV-E2E-UDP-$TOKEN" "$WORK/net-udp" ||
		fail "no UDP datagram from the guest arrived from its pod IP $ip; the receiver got: '$(cat "$WORK/net-udp")'"
	got=$(grep "^$ip " "$WORK/net-udp" | head -1)
	log "UDP from the guest: $got"
}

# send_discover IP: one DHCPDISCOVER to IP:67 from the node.
send_discover() {
	python3 -c '
import socket, struct, sys
head = struct.pack("!BBBBIHHIIII", 1, 1, 6, 0, 0x4B564532, 0, 0, 0, 0, 0, 0)
pkt = head + b"\x02\x00\x00\x00\x00\x07" + bytes(10 + 192) + b"\x63\x82\x53\x63" + bytes([53, 1, 1, 255])
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(pkt, (sys.argv[1], 67))
' "$1"
}
# udhcpd answers a DISCOVER with "sending OFFER", or, as here, "OFFER abandoned": it ARP-probes
# each address first and passt answers every ARP request, so none looks free. Either line means
# the datagram arrived.
guest_offered() { send_discover "$1" && console_has "$NS" "$2" "udhcpd: .*OFFER"; }

case_net_udp_inbound() {
	local ip
	ip=$(pod_ip_of "$NS" e2e-net-all)
	wait_until 30 "a DHCPDISCOVER to UDP $ip:67 to reach the guest's udhcpd" guest_offered "$ip" e2e-net-all ||
		fail "UDP port 67 of the pod IP $ip did not reach the guest (its udhcpd printed no OFFER)"
	log "the guest's udhcpd answered a DHCPDISCOVER sent to UDP $ip:67"
}

case_net_passt_binding() {
	wait_running_and_ready e2e-net-passt
	local ip line
	ip=$(pod_ip_of "$NS" e2e-net-passt)
	line=$(tr -d '\r' <<<"$(console "$NS" e2e-net-passt)" | grep '^KUBEVIRT-CPP-GUEST-IP' | head -1)
	log "binding passt: pod IP $ip, the guest says: $line"
	[[ $line == "KUBEVIRT-CPP-GUEST-IP eth0 $ip" ]] || fail "the guest has '$line', want the pod IP $ip"
	# No cloud-init here: the guest keeps its default hostname, and says its address.
	if ! wait_until 60 "port 8080 of $ip to answer the peer pod" peer_gets "$ip" 8080 "KUBEVIRT-CPP-GUEST hostname=kubevirt-cpp-guest ip=$ip"; then
		local pod
		pod=$(launcher_pod "$NS" "$(vmi_uid "$NS" e2e-net-passt)")
		log "the peer's attempt: '$(from_peer "$ip" 8080 || true)'"
		log "the console's last lines: $(console "$NS" e2e-net-passt | grep -v '^{' | tail -15)"
		fail "no answer from the passt-bound guest on port 8080 at $ip"
	fi
}

case_net_cleanup() {
	[[ -f $WORK/net-udp-pid ]] && kill "$(cat "$WORK/net-udp-pid")" 2>/dev/null || true
	k -n "$NS" delete vm e2e-net-all e2e-net-ports e2e-net-passt --wait=false >/dev/null 2>&1
	k -n "$NS" delete pod e2e-net-peer --grace-period=0 --wait=false >/dev/null 2>&1
	k -n "$NS" delete configmap e2e-net-peer >/dev/null 2>&1
	wait_until 120 "the network VMs gone" vmi_gone "$NS" e2e-net-all
}

run_case "network: a VM with no ports, one with ports [8080], one with binding passt, and a peer pod start" case_net_start keep
run_case "network: with no ports, ports 80 and 8080 of the pod IP reach the guest from another pod" case_net_all_ports keep
run_case "network: with ports [8080], 8080 reaches the guest and 80 does not" case_net_listed_ports keep
run_case "network: the guest's connection to another pod arrives from the pod IP" case_net_guest_source keep
run_case "network: UDP from the guest reaches the node from the pod IP" case_net_udp keep
run_case "network: UDP to a port of the pod IP below 1024 reaches the guest" case_net_udp_inbound keep
run_case "network: binding passt gives the guest the pod IP" case_net_passt_binding keep
run_case "network: clean-up" case_net_cleanup
