# Domain fields as upstream KubeVirt users write them (issue 13, item 1): one VM carrying rng,
# features (acpi, apic, smm, kvm.hidden and the Hyper-V set QEMU's emulator can do), a clock in a
# time zone with timers, a watchdog, tablets, chassis and firmware serial, disk cache/io/serial/
# bootOrder, IO threads and block multi-queue; the guest reports what it sees.

# Asia/Tokyo is UTC+9 all year: a guest whose RTC runs in that zone reads it as UTC and so runs
# 32400 s ahead of the host.
DOMAIN_TZ_OFFSET=32400

domain_vm_yaml() {
	cat <<EOF
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: e2e-domain
  namespace: $NS
spec:
  runStrategy: Always
  template:
    spec:
      domain:
        cpu:
          cores: 2
        memory:
          guest: 256Mi
        resources:
          requests:
            cpu: "1"
        chassis:
          manufacturer: KV-E2E-ACME
          version: "2.0"
          serial: KV-E2E-CHASSIS-$TOKEN
          asset: asset-7
          sku: sku-9
        firmware:
          serial: KV-E2E-SYSTEM-$TOKEN
        clock:
          timezone: Asia/Tokyo
          timer:
            hpet:
              present: false
            pit:
              tickPolicy: delay
            rtc:
              tickPolicy: catchup
            hyperv: {}
        features:
          acpi: {}
          apic: {}
          smm:
            enabled: true
          kvm:
            hidden: true
          hyperv:
            relaxed: {}
            vapic: {}
            spinlocks:
              spinlocks: 8191
            runtime: {}
            reset: {}
            frequencies: {}
            reenlightenment: {}
            vendorid:
              vendorid: KubeVirtCPP
        ioThreadsPolicy: shared
        devices:
          rng: {}
          blockMultiQueue: true
          watchdog:
            name: watchdog
            i6300esb:
              action: reset
          inputs:
            - name: tablet
              type: tablet
              bus: usb
            - name: vtablet
              type: tablet
              bus: virtio
          disks:
            - name: root
              bootOrder: 1
              serial: KVD-$TOKEN
              cache: writethrough
              io: threads
              dedicatedIOThread: true
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
            image: ${IMG_OVERRIDE:-$IMG_DISK}
        - name: cloudinit
          cloudInitNoCloud:
            userData: |
              #!/bin/sh
              echo "KV-DOM rng=\$(cat /sys/class/misc/hw_random/rng_current)"
              echo "KV-DOM chassis_vendor=\$(cat /sys/class/dmi/id/chassis_vendor)"
              echo "KV-DOM chassis_serial=\$(cat /sys/class/dmi/id/chassis_serial)"
              echo "KV-DOM product_serial=\$(cat /sys/class/dmi/id/product_serial)"
              echo "KV-DOM disk_serial=\$(cat /sys/block/vda/serial)"
              echo "KV-DOM epoch=\$(date +%s)"
              for d in /sys/bus/pci/devices/*; do echo "KV-DOM pci=\$(cat \$d/vendor):\$(cat \$d/device)"; done
EOF
}

# The value after "KV-DOM KEY=" on the console of e2e-domain (the first one).
domain_seen() { tr -d '\r' <<<"$(console "$NS" e2e-domain)" | sed -n "s/^KV-DOM $1=//p" | head -1; }

case_domain_fields() {
	local before after epoch
	domain_vm_yaml >"$WORK/vm-domain.yaml"
	before=$(date +%s)
	k apply -f "$WORK/vm-domain.yaml" >&2
	wait_running_and_ready e2e-domain || fail "e2e-domain did not run"
	after=$(date +%s)
	log "the guest reports: $(tr -d '\r' <<<"$(console "$NS" e2e-domain)" | grep '^KV-DOM' | grep -v pci= | tr '\n' ' ')"
	[[ $(domain_seen rng) == virtio_rng* ]] || fail "hw_random uses '$(domain_seen rng)', want virtio_rng (devices.rng)"
	[[ $(domain_seen chassis_vendor) == KV-E2E-ACME ]] || fail "chassis_vendor is '$(domain_seen chassis_vendor)', want KV-E2E-ACME (domain.chassis.manufacturer)"
	[[ $(domain_seen chassis_serial) == "KV-E2E-CHASSIS-$TOKEN" ]] || fail "chassis_serial is '$(domain_seen chassis_serial)' (domain.chassis.serial)"
	[[ $(domain_seen product_serial) == "KV-E2E-SYSTEM-$TOKEN" ]] || fail "product_serial is '$(domain_seen product_serial)' (domain.firmware.serial)"
	[[ $(domain_seen disk_serial) == "KVD-$TOKEN" ]] || fail "/sys/block/vda/serial is '$(domain_seen disk_serial)' (disks[0].serial)"
	epoch=$(domain_seen epoch)
	[[ $epoch =~ ^[0-9]+$ ]] || fail "the guest printed no epoch"
	# The guest printed its clock between `before` and `after`, 9 hours ahead.
	((epoch - DOMAIN_TZ_OFFSET >= before - 5 && epoch - DOMAIN_TZ_OFFSET <= after + 5)) ||
		fail "guest clock $epoch is not host time + $DOMAIN_TZ_OFFSET s (host $before..$after): clock.timezone not honoured"
	local pci
	pci=$(tr -d '\r' <<<"$(console "$NS" e2e-domain)" | sed -n 's/^KV-DOM pci=//p')
	grep -qx '0x8086:0x25ab' <<<"$pci" || fail "no i6300ESB watchdog (8086:25ab) on the guest's PCI bus (devices.watchdog)"
	grep -qx '0x1af4:0x1052' <<<"$pci" || fail "no virtio tablet (1af4:1052) on the guest's PCI bus (devices.inputs bus virtio)"
	grep -qx '0x1b36:0x000d' <<<"$pci" || fail "no USB controller (1b36:000d) for the USB tablet (devices.inputs bus usb)"
	local vm_spec
	vm_spec=$(k -n "$NS" get vmi e2e-domain -o jsonpath='{.spec.domain.features.hyperv.spinlocks.spinlocks} {.spec.domain.clock.timezone} {.spec.domain.devices.inputs[0].bus}')
	[[ $vm_spec == "8191 Asia/Tokyo usb" ]] || fail "the VMI spec lost fields: '$vm_spec'"
	k -n "$NS" delete vm e2e-domain --wait=true >&2
}

# A combination QEMU would refuse at start is refused by virt-api's webhook, naming the field.
case_domain_refused() {
	local out
	domain_vm_yaml >"$WORK/vm-domain.yaml"
	sed -e 's/name: e2e-domain/name: e2e-domain-bad/' "$WORK/vm-domain.yaml" |
		sed -e 's/^\(\s*\)dedicatedIOThread: true/\1dedicatedIOThread: true\n\1cache: writeback\n\1io: native/' \
			-e '/^\s*cache: writethrough/d' -e '/^\s*io: threads/d' >"$WORK/vm-domain-bad.yaml"
	if out=$(k apply -f "$WORK/vm-domain-bad.yaml" 2>&1); then
		k -n "$NS" delete vm e2e-domain-bad --wait=false >&2 || true
		fail "a disk with io native and cache writeback was accepted: $out"
	fi
	log "kubectl apply said: $out"
	[[ $out == *'spec.template.spec.domain.devices.disks[0].io: "native" needs cache "none"'* && $out == *'set cache: none or io: threads'* ]] ||
		fail "the message does not name spec.template.spec.domain.devices.disks[0].io, why and what is allowed: $out"
}

run_case "domain fields in upstream's style: the guest sees the rng, chassis, serials, its clock's time zone, the watchdog and the tablets" case_domain_fields
run_case "domain fields refused: a disk with io native and a host cache, naming the field" case_domain_refused
