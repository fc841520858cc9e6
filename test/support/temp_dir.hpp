#pragma once
// A fresh directory under /tmp for one test, removed with everything in it when the owner goes
// (STYLE.md "Resources": every temp dir a test creates is owned by an object that removes it).

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace kv::test {

struct TempDir {
  std::filesystem::path path;

  // Creates /tmp/<prefix>-XXXXXX. Throws std::system_error when mkdtemp fails, so a test (or a
  // shared fixture built outside a test case) fails at once instead of writing into "".
  explicit TempDir(const std::string& prefix) {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (!::mkdtemp(tmpl.data()))
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + tmpl);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;  // a destructor must not throw; a leftover dir is only litter
    std::filesystem::remove_all(path, ignored);
  }
  // One owner: a copy would remove the directory under the other.
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace kv::test
