#pragma once
// The build's version, the same in every component (virt-api's /version, virtctl version, the
// daemons' start-up log): upstream's version.Info fields.

#include <string>

namespace kv::core {

struct VersionInfo {
  std::string git_version;     // "v" + the meson project version, e.g. "v0.1.0"
  std::string git_commit;      // the commit built, 40 hex digits; "unknown" outside git
  std::string git_tree_state;  // "clean" or "dirty" (uncommitted changes); "unknown" outside git
  std::string build_date;      // the commit's date, RFC 3339 UTC (reproducible builds)
  std::string compiler;        // "gcc" or "clang"
  std::string platform;        // "linux/amd64", "linux/arm64"
};

const VersionInfo& version();
// Upstream's version.Info as JSON (gitVersion, gitCommit, gitTreeState, buildDate, compiler,
// platform): the body of virt-api's /version.
std::string version_json(const VersionInfo& v = version());

}  // namespace kv::core
