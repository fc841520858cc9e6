#include "core/version.hpp"

#include "core/json.hpp"
#include "version_info.h"

namespace kv::core {

const VersionInfo& version() {
  static const VersionInfo v {
    KV_GIT_VERSION, KV_GIT_COMMIT, KV_GIT_TREE_STATE, KV_BUILD_DATE,
#if defined(__clang__)
        "clang",
#else
        "gcc",
#endif
#if defined(__x86_64__)
        "linux/amd64",
#elif defined(__aarch64__)
        "linux/arm64",
#else
        "linux/unknown",
#endif
  };
  return v;
}

std::string version_json(const VersionInfo& v) {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  json::set(d, "gitVersion", v.git_version, a);
  json::set(d, "gitCommit", v.git_commit, a);
  json::set(d, "gitTreeState", v.git_tree_state, a);
  json::set(d, "buildDate", v.build_date, a);
  json::set(d, "compiler", v.compiler, a);
  json::set(d, "platform", v.platform, a);
  return json::to_string(d);
}

}  // namespace kv::core
