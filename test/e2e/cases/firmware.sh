# shellcheck shell=bash
# Firmware and TPM cases (issue 13 item 2 and devices.tpm): the EFI test disk
# (test-guest-containerdisk-efi: Debian's signed shim + GRUB on an EFI system partition) boots
# under OVMF with and without Secure Boot, the guest says which firmware it saw, and an emulated
# TPM appears in the guest. Sourced by vm_test.sh.

IMG_EFI_DISK=$IMG_PREFIX/test-guest-containerdisk-efi:$VERSION

# efi_vm_yaml NAME SECURE_BOOT SMM MEMORY [EXTRA_DEVICES_YAML]: a VM in upstream's style booting the
# EFI disk. SMM is "true", "false" or "" (features left out).
efi_vm_yaml() {
	local name=$1 secure_boot=$2 smm=$3 memory=$4 devices=${5:-}
	cat <<EOF
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: $name
  namespace: $NS
spec:
  runStrategy: Always
  template:
    spec:
      domain:
        memory:
          guest: $memory
$( [[ -n $smm ]] && printf '        features:\n          smm:\n            enabled: %s\n' "$smm")
        firmware:
          bootloader:
            efi:
              secureBoot: $secure_boot
        devices:
$devices
          disks:
            - name: root
              disk:
                bus: virtio
      terminationGracePeriodSeconds: 10
      volumes:
        - name: root
          containerDisk:
            image: $IMG_EFI_DISK
EOF
}

# The firmware and TPM lines the guest's /init prints before its ready line (test/guests/build-guest).
wait_firmware_line() { # NAME LINE SECONDS
	wait_until 180 "VMI $1 phase Running" vmi_phase_is "$NS" "$1" Running || return 1
	wait_until "$3" "the console of $1 to print $GUEST_READY" console_has "$NS" "$1" "$GUEST_READY" || return 1
	local line
	line=$(console "$NS" "$1" | grep -a 'KUBEVIRT-CPP-GUEST-FIRMWARE' | tail -1)
	log "$1: $line"
	[[ $line == *"$2"* ]] || fail "the guest of $1 says '$line', expected '$2'"
}

case_efi_boot() {
	efi_vm_yaml e2e-efi false "" 256Mi '          tpm: {}' | k apply -f - >/dev/null
	wait_firmware_line e2e-efi "KUBEVIRT-CPP-GUEST-FIRMWARE efi secureboot=disabled" 240
}

case_tpm() {
	local line
	line=$(console "$NS" e2e-efi | grep -a 'KUBEVIRT-CPP-GUEST-TPM' | tail -1)
	log "e2e-efi: ${line:-no TPM line}"
	[[ $line == "KUBEVIRT-CPP-GUEST-TPM /dev/tpm0 version 2"* ]] || fail "the guest has no TPM 2.0 at /dev/tpm0: '$line'"
}

# Secure Boot is real: OVMF's SMM build with Microsoft's keys enrolled runs Microsoft-signed shim,
# which checks Debian's GRUB and kernel; the kernel reports "Secure boot enabled". The SMM OVMF build
# does not boot a 256Mi guest, so this one has 1Gi.
case_secure_boot() {
	efi_vm_yaml e2e-secureboot true true 1Gi | k apply -f - >/dev/null
	wait_firmware_line e2e-secureboot "KUBEVIRT-CPP-GUEST-FIRMWARE efi secureboot=enabled" 420
}

# Upstream's rule (vmi-create-admitter.go): Secure Boot without SMM is refused.
case_secure_boot_without_smm() {
	local out
	efi_vm_yaml e2e-nosmm true false 256Mi >"$WORK/vm-nosmm.yaml"
	if out=$(k apply -f "$WORK/vm-nosmm.yaml" 2>&1); then
		fail "a VM with secureBoot and features.smm.enabled false was accepted: $out"
	fi
	log "kubectl apply said: $out"
	[[ $out == *'spec.template.spec.domain: has EFI SecureBoot enabled. SecureBoot requires SMM, which is currently disabled.'* ]] ||
		fail "the message does not name the field and the rule: $out"
	! k -n "$NS" get vm e2e-nosmm >/dev/null 2>&1 || fail "the refused VM exists"
}

run_case "EFI without Secure Boot: the EFI disk boots under OVMF to the ready line and the guest reports EFI" case_efi_boot keep
run_case "devices.tpm: the guest sees a TPM 2.0 at /dev/tpm0 (swtpm in the launcher pod)" case_tpm
run_case "EFI with Secure Boot and SMM: signed shim, GRUB and kernel boot and the guest reports Secure Boot enabled" case_secure_boot
run_case "secureBoot with features.smm disabled is refused by the webhook naming spec.template.spec.domain" case_secure_boot_without_smm
