#pragma once
// Whole-file reads and whole-buffer writes, the two loops every component wrote for itself.

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace kv::core {

// The file's bytes; not_found (with the path) when it cannot be opened.
Result<std::string> read_file(const std::string& path);

// Writes all of `data` to `fd`, retrying after EINTR and short writes. `what` names the file in
// the error (errno's words follow it).
Status write_all(int fd, std::string_view data, const std::string& what);

}  // namespace kv::core
