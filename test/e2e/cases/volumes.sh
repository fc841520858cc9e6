# shellcheck shell=bash
# Volumes the guest reads (issue 13 item 4): configMap, secret, serviceAccount and downwardAPI
# disks as labelled ISOs the guest mounts; cloud-init user data from a Secret (NoCloud secretRef);
# cloud-init ConfigDrive. Sourced by vm_test.sh (test/e2e/cases/README.md). The three VMs are
# created together by the first case, so their boots overlap; the last case empties the namespace.

# The guest's user data: mount each config disk by its label and print what the test put there.
cat >"$WORK/volumes-userdata" <<'EOF'
#!/bin/sh
for l in CFGVOL SECVOL cfgdata PODINFO NOCM; do
  d=$(findfs "LABEL=$l") || { echo "KV-E2E-VOL $l missing"; continue; }
  mkdir -p "/mnt/$l" && mount -o ro "$d" "/mnt/$l" || echo "KV-E2E-VOL $l cannot mount $d"
done
echo "KV-E2E-CM $(cat /mnt/CFGVOL/greeting)"
echo "KV-E2E-SECRET $(cat /mnt/SECVOL/password)"
echo "KV-E2E-SA-NS $(cat /mnt/cfgdata/namespace)"
[ -s /mnt/cfgdata/token ] && [ -s /mnt/cfgdata/ca.crt ] && echo "KV-E2E-SA-TOKEN present"
sed -n 's/^e2e-volume=/KV-E2E-LABEL /p' /mnt/PODINFO/labels
echo "KV-E2E-NOCM $(ls -A /mnt/NOCM | wc -l) files"
EOF

# volumes_vm NAME DISKS_YAML VOLUMES_YAML: a VM of the test guest with these extra disks (virtio:
# the test guest's cloud kernel has no SATA) and volumes, labelled e2e-volume=$TOKEN.
volumes_vm() {
	cat <<EOF
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: $1
  namespace: $NS
spec:
  runStrategy: Always
  template:
    metadata:
      labels:
        e2e-volume: "$TOKEN"
    spec:
      domain:
        memory:
          guest: 256Mi
        devices:
          disks:
            - name: root
              disk:
                bus: virtio
$2
      terminationGracePeriodSeconds: 10
      volumes:
        - name: root
          containerDisk:
            image: ${IMG_OVERRIDE:-$IMG_DISK}
$3
EOF
}

virtio_disks() { # NAME...: a virtio disk entry per name
	local d
	for d; do printf '            - name: %s\n              disk:\n                bus: virtio\n' "$d"; done
}

console_line() { # VM LINE: the console of VM has LINE as a whole line
	grep -qxF -- "$2" <<<"$(console "$NS" "$1" | tr -d '\r')"
}

case_volumes_config_disks() {
	k -n "$NS" create configmap e2e-cm --from-literal=greeting="hello-$TOKEN" >&2
	k -n "$NS" create secret generic e2e-secret --from-literal=password="s3cret-$TOKEN" >&2
	k -n "$NS" create secret generic e2e-userdata \
		--from-literal=userdata="$(printf '#!/bin/sh\necho KV-E2E-SECRETREF-%s\n' "$TOKEN")" >&2
	volumes_vm e2e-vol-config "$(virtio_disks cm sec sa info nocm ci)" "$(cat <<EOF
        - name: cm
          configMap:
            name: e2e-cm
            volumeLabel: CFGVOL
        - name: sec
          secret:
            secretName: e2e-secret
            volumeLabel: SECVOL
        - name: sa
          serviceAccount:
            serviceAccountName: default
        - name: info
          downwardAPI:
            volumeLabel: PODINFO
            fields:
              - path: labels
                fieldRef:
                  fieldPath: metadata.labels
        - name: nocm
          configMap:
            name: e2e-no-such-configmap
            optional: true
            volumeLabel: NOCM
        - name: ci
          cloudInitNoCloud:
            userData: |
$(sed 's/^/              /' "$WORK/volumes-userdata")
EOF
)" | k apply -f - >&2
	volumes_vm e2e-vol-secretref "$(virtio_disks ci)" "$(cat <<EOF
        - name: ci
          cloudInitNoCloud:
            secretRef:
              name: e2e-userdata
EOF
)" | k apply -f - >&2
	volumes_vm e2e-vol-configdrive "$(virtio_disks ci)" "$(cat <<EOF
        - name: ci
          cloudInitConfigDrive:
            userDataBase64: $(printf '#!/bin/sh\necho KV-E2E-CONFIGDRIVE-%s\n' "$TOKEN" | base64 -w0)
EOF
)" | k apply -f - >&2

	wait_running_and_ready e2e-vol-config
	local want
	for want in "KV-E2E-CM hello-$TOKEN" "KV-E2E-SECRET s3cret-$TOKEN" "KV-E2E-SA-NS $NS" \
		"KV-E2E-SA-TOKEN present" "KV-E2E-LABEL \"$TOKEN\"" "KV-E2E-NOCM 0 files"; do
		console_line e2e-vol-config "$want" || fail "the guest of e2e-vol-config did not print '$want'"
	done
}

case_volumes_secretref() {
	wait_running_and_ready e2e-vol-secretref
	console_line e2e-vol-secretref "KV-E2E-SECRETREF-$TOKEN" ||
		fail "the user data from Secret e2e-userdata did not run: no KV-E2E-SECRETREF-$TOKEN on the console"
	console_has "$NS" e2e-vol-secretref "KUBEVIRT-CPP-USER-DATA-EXIT 0" || fail "the user data did not exit 0"
}

case_volumes_configdrive() {
	wait_running_and_ready e2e-vol-configdrive
	console_has "$NS" e2e-vol-configdrive "guest: cloud-init config-2" ||
		fail "the guest did not find a config-2 drive"
	console_line e2e-vol-configdrive "KV-E2E-CONFIGDRIVE-$TOKEN" ||
		fail "the ConfigDrive user data did not run: no KV-E2E-CONFIGDRIVE-$TOKEN on the console"
}

volumes_cleanup() {
	k -n "$NS" delete configmap e2e-cm --ignore-not-found >/dev/null 2>&1
	k -n "$NS" delete secret e2e-secret e2e-userdata --ignore-not-found >/dev/null 2>&1
}
cleanup_hooks+=(volumes_cleanup)

run_case "volumes: configMap, secret, serviceAccount and downwardAPI disks are labelled ISOs the guest mounts and reads; a missing optional ConfigMap is an empty disk" case_volumes_config_disks keep
run_case "volumes: cloud-init user data from a Secret (cloudInitNoCloud.secretRef) runs" case_volumes_secretref keep
run_case "volumes: cloud-init ConfigDrive (config-2) user data runs" case_volumes_configdrive
