// virt-controller: flags -> Options -> run().
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "controller/run.hpp"

namespace {

const char* kUsage =
    "usage: virt-controller [flags]\n"
    "  --kubeconfig PATH          kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)\n"
    "  --install-namespace NS     where kubevirt-config and the leader Lease live (kubevirt)\n"
    "  --http-address ADDR        address of /metrics, /healthz, /readyz, /leader (0.0.0.0)\n"
    "  --http-port PORT           their port; 0 picks a free one (8443)\n"
    "  --leader-elect BOOL        elect a leader through a Lease (true)\n"
    "  --lease-name NAME          the Lease's name (virt-controller)\n"
    "  --identity ID              this replica's name in the Lease (hostname_random)\n"
    "  --vm-workers N             VirtualMachine workers (4)\n"
    "  --vmi-workers N            VirtualMachineInstance workers (4)\n"
    "  --resync SECONDS           re-reconcile everything this often (300)\n"
    "  --qps N  --burst N         client-side API rate limit (50, 100)\n"
    "  --log-level LEVEL          debug, info, warn, error (info)\n";

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "virt-controller: %s\n%s", msg.c_str(), kUsage);
  std::exit(64);
}

long long parse_int(const std::string& flag, const std::string& v, long long min, long long max) {
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < min || n > max)
    usage_error(flag + ": \"" + v + "\" is not an integer in [" + std::to_string(min) + ", " +
                std::to_string(max) + "]");
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  kv::controller::Options o;
  std::map<std::string, std::string*> strings{
      {"--kubeconfig", &o.kubeconfig},     {"--install-namespace", &o.install_namespace},
      {"--http-address", &o.http_address}, {"--lease-name", &o.lease_name},
      {"--identity", &o.identity},         {"--log-level", &o.log_level},
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
    } else if (arg == "--http-port") {
      o.http_port = static_cast<unsigned short>(parse_int(arg, take(), 0, 65535));
    } else if (arg == "--leader-elect") {
      std::string v = has_value ? value : take();
      if (v != "true" && v != "false")
        usage_error("--leader-elect: \"" + v + "\" is not true or false");
      o.leader_elect = v == "true";
    } else if (arg == "--vm-workers") {
      o.vm_workers = static_cast<int>(parse_int(arg, take(), 1, 256));
    } else if (arg == "--vmi-workers") {
      o.vmi_workers = static_cast<int>(parse_int(arg, take(), 1, 256));
    } else if (arg == "--resync") {
      o.resync = std::chrono::seconds(parse_int(arg, take(), 0, 86400));
    } else if (arg == "--qps") {
      o.qps = static_cast<double>(parse_int(arg, take(), 0, 100000));
    } else if (arg == "--burst") {
      o.burst = static_cast<int>(parse_int(arg, take(), 1, 100000));
    } else {
      usage_error("unknown flag " + arg);
    }
  }
  return kv::controller::run(o);
}
