# Port-forward, ssh and scp to a VM over the Kubernetes API server (issue 14, items 4 and 5):
# `virtctl port-forward` serves a guest port locally, `virtctl ssh` runs a command in the guest
# with a key from cloud-init's ssh_authorized_keys, `virtctl scp` copies a file in and out, and
# upstream's own virtctl does the same against our portforward subresource.
#
# The VM lists no `ports`: virt-handler dials the launcher pod's IP (docs/handler.md "Port
# forwarding"), where passt forwards every port to the guest, 22 included (the launcher pod sets
# net.ipv4.ip_unprivileged_port_start=0), so ssh reaches the guest's dropbear on 22.

UPSTREAM_VIRTCTL=${KV_UPSTREAM_VIRTCTL:-/root/.cache/upstream-kv/virtctl}
SSH_OPTS=(-t "-o StrictHostKeyChecking=no" -t "-o UserKnownHostsFile=/dev/null" -t "-o LogLevel=ERROR")

ssh_vm_yaml() {
	cat <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: e2e-ssh
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
      networks:
        - name: default
          pod: {}
      terminationGracePeriodSeconds: 10
      volumes:
        - name: root
          containerDisk:
            image: $IMG_DISK
        - name: cloudinit
          cloudInitNoCloud:
            userData: |
              #cloud-config
              ssh_authorized_keys:
                - $(cat "$WORK/ssh-key.pub")
YAML
}

# A local TCP port nobody listens on now.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

case_ssh_vm() {
	rm -f "$WORK/ssh-key" "$WORK/ssh-key.pub"
	ssh-keygen -q -t ed25519 -N '' -C "kv-e2e-$TOKEN" -f "$WORK/ssh-key"
	ssh_vm_yaml >"$WORK/vm-ssh.yaml"
	k apply -f "$WORK/vm-ssh.yaml" >&2
	wait_running_and_ready e2e-ssh || fail "e2e-ssh did not run"
	console_has "$NS" e2e-ssh "KUBEVIRT-CPP-GUEST-SSH 22,2222 keys=1" ||
		fail "the guest did not start its ssh server with the one key from ssh_authorized_keys"
}

case_port_forward() {
	local pf port body
	"$VIRTCTL" --kubeconfig "$("$KV_CLUSTER" kubeconfig)" -n "$NS" port-forward vm/e2e-ssh 0:8080 2>"$WORK/pf.err" &
	pf=$!
	wait_until 30 "virtctl port-forward to listen" grep -q '^forwarding tcp 127.0.0.1:' "$WORK/pf.err" ||
		{ kill "$pf"; fail "virtctl port-forward did not listen: $(cat "$WORK/pf.err")"; }
	port=$(sed -n 's/^forwarding tcp 127.0.0.1:\([0-9]*\) to 8080$/\1/p' "$WORK/pf.err")
	body=$(curl -sS -m 30 "http://127.0.0.1:$port/") || { kill "$pf"; fail "no HTTP answer through 127.0.0.1:$port"; }
	log "http://127.0.0.1:$port/ (port-forward to the guest's 8080) -> $body"
	# A second connection gets its own stream.
	curl -sS -m 30 -o /dev/null "http://127.0.0.1:$port/" || { kill "$pf"; fail "a second connection through 127.0.0.1:$port failed"; }
	kill -INT "$pf"
	wait "$pf" || fail "virtctl port-forward exited $? on SIGINT, want 0"
	[[ $body == "KUBEVIRT-CPP-GUEST hostname=e2e-ssh"* ]] || fail "unexpected answer through port-forward: $body"
}

case_ssh_command() {
	local out t0
	t0=$(now)
	out=$(virtctl ssh root@vm/e2e-ssh -i "$WORK/ssh-key" "${SSH_OPTS[@]}" -c 'cat /etc/hostname') ||
		fail "virtctl ssh failed: $out"
	log "virtctl ssh root@vm/e2e-ssh -c 'cat /etc/hostname' -> $out ($(elapsed "$t0" "$(now)") s)"
	[[ $out == e2e-ssh ]] || fail "virtctl ssh printed '$out', want the guest's hostname e2e-ssh"
	# Without the key the guest refuses root (key-only logins).
	if virtctl ssh root@vm/e2e-ssh "${SSH_OPTS[@]}" -t "-o BatchMode=yes" -t "-o IdentitiesOnly=yes" \
		-t "-o IdentityFile=/dev/null" -c true 2>/dev/null; then
		fail "virtctl ssh logged in as root without the authorized key"
	fi
}

case_scp() {
	head -c 200000 /dev/urandom >"$WORK/payload"
	virtctl scp -i "$WORK/ssh-key" "${SSH_OPTS[@]}" "$WORK/payload" root@vm/e2e-ssh:/tmp/payload ||
		fail "virtctl scp into the guest failed"
	virtctl scp -i "$WORK/ssh-key" "${SSH_OPTS[@]}" root@vm/e2e-ssh:/tmp/payload "$WORK/payload.back" ||
		fail "virtctl scp out of the guest failed"
	cmp -s "$WORK/payload" "$WORK/payload.back" || fail "the file copied in and out differs"
	log "scp of 200000 bytes in and out: equal"
}

case_upstream_virtctl() {
	if [[ ! -x $UPSTREAM_VIRTCTL ]]; then
		log "no upstream virtctl at $UPSTREAM_VIRTCTL: nothing to compare (set KV_UPSTREAM_VIRTCTL)"
		return 0
	fi
	local kc out port pf body
	kc=$("$KV_CLUSTER" kubeconfig)
	out=$(KUBECONFIG=$kc "$UPSTREAM_VIRTCTL" -n "$NS" ssh root@vm/e2e-ssh -i "$WORK/ssh-key" \
		--local-ssh-opts="-o StrictHostKeyChecking=no" --local-ssh-opts="-o UserKnownHostsFile=/dev/null" \
		--local-ssh-opts="-o LogLevel=ERROR" -c 'cat /etc/hostname' 2>"$WORK/up-ssh.err") ||
		fail "upstream virtctl ssh failed: $out $(cat "$WORK/up-ssh.err")"
	[[ $out == e2e-ssh ]] || fail "upstream virtctl ssh printed '$out', want e2e-ssh"
	port=$(free_port)
	KUBECONFIG=$kc "$UPSTREAM_VIRTCTL" -n "$NS" port-forward vmi/e2e-ssh "$port:8080" >"$WORK/up-pf.log" 2>&1 &
	pf=$!
	wait_until 30 "upstream virtctl port-forward to serve 127.0.0.1:$port" \
		curl -sS -m 10 -o "$WORK/up-body" "http://127.0.0.1:$port/" || { kill "$pf"; fail "upstream port-forward: $(cat "$WORK/up-pf.log")"; }
	kill -INT "$pf"
	wait "$pf" || true
	body=$(cat "$WORK/up-body")
	[[ $body == "KUBEVIRT-CPP-GUEST hostname=e2e-ssh"* ]] || fail "unexpected answer through upstream port-forward: $body"
	log "upstream virtctl: ssh -> $out; port-forward -> $body"
}

run_case "ssh: a VM whose cloud-init ssh_authorized_keys lists a key starts its ssh server" case_ssh_vm keep
run_case "virtctl port-forward vm/NAME 0:8080 serves the guest's httpd on a local port" case_port_forward keep
run_case "virtctl ssh root@vm/NAME -i KEY -c 'cat /etc/hostname' runs the command in the guest" case_ssh_command keep
run_case "virtctl scp copies a file into the guest and back unchanged" case_scp keep
run_case "upstream's virtctl ssh and port-forward work against our portforward subresource" case_upstream_virtctl
