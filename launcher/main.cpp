// virt-launcher: the launcher pod's main process. Flags -> Options -> run().
#include "core/flags.hpp"
#include "launcher/launcher.hpp"

int main(int argc, char** argv) {
  kv::launcher::Options o;
  kv::core::Flags flags("virt-launcher");
  flags.text({.name = "--vmi-file",
              .value = "PATH",
              .help = "sync this VMI (JSON) at start instead of waiting for one"},
             &o.vmi_file);
  flags.text({.name = "--socket-dir", .value = "DIR", .help = "command/console/VNC sockets"},
             &o.socket_dir);
  flags.text({.name = "--ephemeral-dir",
              .value = "DIR",
              .help = "overlays, cloud-init ISO, libvirt state"},
             &o.ephemeral_dir);
  flags.text({.name = "--container-disk-dir",
              .value = "DIR",
              .help = "<DIR>/<volume>/ holds each containerDisk image's files"},
             &o.container_disk_dir);
  flags.text({.name = "--kernel-boot-dir",
              .value = "DIR",
              .help = "root of the kernelBoot container image's files"},
             &o.kernel_boot_dir);
  flags.text({.name = "--pvc-dir", .value = "DIR", .help = "<DIR>/<volume>/ is each PVC's mount"},
             &o.pvc_dir);
  flags.text({.name = "--config-map-dir",
              .value = "DIR",
              .help = "<DIR>/<volume>/ is each configMap volume's mount"},
             &o.config_map_dir);
  flags.text(
      {.name = "--secret-dir",
       .value = "DIR",
       .help = "<DIR>/<volume>/ is each secret volume's mount (cloud-init: <volume>-userdata/)"},
      &o.secret_dir);
  flags.text({.name = "--service-account-dir",
              .value = "DIR",
              .help = "the serviceAccount volume's token, ca.crt and namespace"},
             &o.service_account_dir);
  flags.text({.name = "--downward-api-dir",
              .value = "DIR",
              .help = "<DIR>/<volume>/ is each downwardAPI volume's mount"},
             &o.downward_api_dir);
  flags.text({.name = "--sysprep-dir",
              .value = "DIR",
              .help = "<DIR>/<volume>/ is each sysprep volume's mount"},
             &o.sysprep_dir);
  flags.text({.name = "--libvirt-cache-dir",
              .value = "DIR",
              .help = "keep libvirt's QEMU capabilities cache here",
              .shown_default = "inside --ephemeral-dir"},
             &o.libvirt_cache_dir);
  flags.boolean({.name = "--probe-capabilities",
                 .help = "only fill --libvirt-cache-dir with the QEMU capabilities, then exit"},
                &o.probe_capabilities);
  flags.text({.name = "--pod-ip",
              .value = "ADDR",
              .help = "the pod's IP: the address a guest with the passt binding gets",
              .shown_default = "none"},
             &o.pod_ip);
  flags.boolean({.name = "--allow-emulation", .help = "use TCG when /dev/kvm is not usable"},
                &o.allow_emulation);
  flags.integer({.name = "--grace-period",
                 .value = "SECONDS",
                 .help = "shutdown grace when the VMI sets none"},
                &o.grace_period_seconds, 0, 365LL * 86400);
  flags.text({.name = "--log-level", .value = "LEVEL", .help = "debug, info, warn, error"},
             &o.log_level);
  flags.boolean(
      {.name = "--console-to-stdout", .value = "BOOL", .help = "copy the serial console to stdout"},
      &o.console_to_stdout);
  flags.parse_or_exit(argc, argv);
  return kv::launcher::run(o);
}
