// virt-handler: the node agent. Flags -> Options -> run().
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "core/log.hpp"
#include "handler/handler.hpp"

namespace {

const char* kUsage =
    "usage: virt-handler --node-name NAME [flags]\n"
    "  --node-name NAME           this node (required)\n"
    "  --kubeconfig PATH          kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)\n"
    "  --kubelet-root DIR         the kubelet's root dir (/var/lib/kubelet)\n"
    "  --socket-subpath PATH      launcher sockets under <kubelet-root>/pods/<uid>/\n"
    "                             (volumes/kubernetes.io~empty-dir/sockets)\n"
    "  --listen-address ADDR      stream server address (0.0.0.0)\n"
    "  --stream-port PORT         stream server port for virt-api, 0 disables (8186)\n"
    "  --tls-cert FILE            stream server certificate chain (PEM)\n"
    "  --tls-key FILE             its key (PEM)\n"
    "  --client-ca FILE           CA that virt-api's client certificate must chain to\n"
    "  --metrics-address ADDR     /metrics and /healthz address (0.0.0.0)\n"
    "  --metrics-port PORT        plain HTTP, 0 disables (8185)\n"
    "  --heartbeat-interval SECS  node heartbeat period (60)\n"
    "  --resync-period SECS       informer resync (300)\n"
    "  --workers N                reconcile threads (2)\n"
    "  --log-level LEVEL          debug, info, warn, error (info)\n";

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "virt-handler: %s\n%s", msg.c_str(), kUsage);
  std::exit(64);
}

long long parse_int(const std::string& flag, const std::string& v, long long min, long long max) {
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < min || n > max)
    usage_error(flag + ": \"" + v + "\" is not a number between " + std::to_string(min) + " and " +
                std::to_string(max));
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  kv::handler::Options o;
  std::map<std::string, std::string*> strings{
      {"--node-name", &o.node_name},
      {"--kubeconfig", &o.kubeconfig},
      {"--kubelet-root", &o.kubelet_root},
      {"--socket-subpath", &o.socket_subpath},
      {"--listen-address", &o.listen_address},
      {"--tls-cert", &o.tls_cert_file},
      {"--tls-key", &o.tls_key_file},
      {"--client-ca", &o.client_ca_file},
      {"--metrics-address", &o.metrics_address},
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
    } else if (arg == "--stream-port") {
      o.stream_port = static_cast<int>(parse_int(arg, take(), 0, 65535));
    } else if (arg == "--metrics-port") {
      o.metrics_port = static_cast<int>(parse_int(arg, take(), 0, 65535));
    } else if (arg == "--heartbeat-interval") {
      o.heartbeat_interval = std::chrono::seconds(parse_int(arg, take(), 1, 86400));
    } else if (arg == "--resync-period") {
      o.resync_period = std::chrono::seconds(parse_int(arg, take(), 0, 86400));
    } else if (arg == "--workers") {
      o.workers = static_cast<int>(parse_int(arg, take(), 1, 64));
    } else {
      usage_error("unknown flag " + arg);
    }
  }
  auto level = kv::core::log::parse_level(o.log_level);
  if (!level.ok())
    usage_error("--log-level: \"" + o.log_level + "\" is not debug, info, warn or error");
  kv::core::log::init("virt-handler", *level);
  if (auto st = kv::handler::validate(o); !st.ok())
    usage_error(st.error().message);
  return kv::handler::run(o);
}
