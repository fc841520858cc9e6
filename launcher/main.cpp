// virt-launcher: the launcher pod's main process. Flags -> Options -> run().
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/flags.hpp"
#include "launcher/launcher.hpp"

namespace {

const char* kUsage =
    "usage: virt-launcher [flags]\n"
    "  --vmi-file PATH            sync this VMI (JSON) at start instead of waiting for one\n"
    "  --socket-dir DIR           command/console/VNC sockets (/var/run/kubevirt/sockets)\n"
    "  --ephemeral-dir DIR        overlays, cloud-init ISO, libvirt state "
    "(/var/run/kubevirt-private)\n"
    "  --container-disk-dir DIR   <DIR>/<volume>/ holds each containerDisk image's files\n"
    "  --kernel-boot-dir DIR      root of the kernelBoot container image's files\n"
    "  --pvc-dir DIR              <DIR>/<volume>/ is each PVC's mount\n"
    "  --libvirt-cache-dir DIR    keep libvirt's QEMU capabilities cache here\n"
    "  --pod-ip ADDR              address forwarded ports listen on (default: all)\n"
    "  --allow-emulation          use TCG when /dev/kvm is not usable\n"
    "  --grace-period SECONDS     shutdown grace when the VMI sets none (30)\n"
    "  --log-level LEVEL          debug, info, warn, error (info)\n"
    "  --console-to-stdout BOOL   copy the serial console to stdout (true)\n";

}  // namespace

int main(int argc, char** argv) {
  kv::launcher::Options o;
  kv::core::Flags flags("virt-launcher", kUsage);
  flags.text("--vmi-file", &o.vmi_file);
  flags.text("--socket-dir", &o.socket_dir);
  flags.text("--ephemeral-dir", &o.ephemeral_dir);
  flags.text("--container-disk-dir", &o.container_disk_dir);
  flags.text("--kernel-boot-dir", &o.kernel_boot_dir);
  flags.text("--pvc-dir", &o.pvc_dir);
  flags.text("--libvirt-cache-dir", &o.libvirt_cache_dir);
  flags.text("--pod-ip", &o.pod_ip);
  flags.text("--log-level", &o.log_level);
  flags.boolean("--allow-emulation", &o.allow_emulation);
  flags.boolean("--console-to-stdout", &o.console_to_stdout);
  flags.integer("--grace-period", 0, 365LL * 86400,
                [&](long long n) { o.grace_period_seconds = n; });
  flags.parse_or_exit(argc, argv);
  return kv::launcher::run(o);
}
