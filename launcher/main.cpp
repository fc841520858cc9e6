// virt-launcher: the launcher pod's main process. Flags -> Options -> run().
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

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

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "virt-launcher: %s\n%s", msg.c_str(), kUsage);
  std::exit(64);
}

bool parse_bool(const std::string& flag, const std::string& v) {
  if (v == "true" || v == "1" || v == "yes")
    return true;
  if (v == "false" || v == "0" || v == "no")
    return false;
  usage_error(flag + ": \"" + v + "\" is not true or false");
}

}  // namespace

int main(int argc, char** argv) {
  kv::launcher::Options o;
  std::map<std::string, std::string*> strings{
      {"--vmi-file", &o.vmi_file},
      {"--socket-dir", &o.socket_dir},
      {"--ephemeral-dir", &o.ephemeral_dir},
      {"--container-disk-dir", &o.container_disk_dir},
      {"--kernel-boot-dir", &o.kernel_boot_dir},
      {"--pvc-dir", &o.pvc_dir},
      {"--libvirt-cache-dir", &o.libvirt_cache_dir},
      {"--pod-ip", &o.pod_ip},
      {"--log-level", &o.log_level},
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    std::string value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto take = [&]() -> std::string {
      if (has_value)
        return value;
      if (i + 1 >= argc)
        usage_error(arg + ": needs a value");
      return argv[++i];
    };
    if (auto it = strings.find(arg); it != strings.end()) {
      *it->second = take();
    } else if (arg == "--allow-emulation") {
      o.allow_emulation = has_value ? parse_bool(arg, value) : true;
    } else if (arg == "--console-to-stdout") {
      o.console_to_stdout = parse_bool(arg, take());
    } else if (arg == "--grace-period") {
      std::string v = take();
      char* end = nullptr;
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 0)
        usage_error("--grace-period: \"" + v + "\" is not a non-negative number of seconds");
      o.grace_period_seconds = n;
    } else {
      usage_error("unknown flag " + arg);
    }
  }
  return kv::launcher::run(o);
}
