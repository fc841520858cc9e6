#pragma once
// A DomainManager that records calls and lets the test decide outcomes and emit events.

#include <string>
#include <vector>

#include "launcher/domain_manager.hpp"

namespace kv::launcher::testing {

class FakeDomainManager : public DomainManager {
 public:
  std::vector<std::string> calls;
  std::string last_xml;
  DomainInfo state{"none", ""};
  core::Status fail_next;  // returned (once) by the next call when set to an error

  core::Status define_and_start(const std::string& xml, bool paused) override {
    calls.push_back(paused ? "define_and_start(paused)" : "define_and_start");
    last_xml = xml;
    if (auto r = take(); !r.ok())
      return r;
    state = paused ? DomainInfo{"paused", "user"} : DomainInfo{"running", "booted"};
    return {};
  }
  core::Status shutdown() override { return record("shutdown"); }
  core::Status destroy() override { return record("destroy"); }
  core::Status pause() override { return record("pause"); }
  core::Status resume() override { return record("resume"); }
  core::Status reboot() override { return record("reboot"); }
  core::Status reset() override { return record("reset"); }
  core::Result<DomainInfo> info() override { return state; }

 private:
  core::Status take() {
    core::Status r = fail_next;
    fail_next = core::Status{};
    return r;
  }
  core::Status record(const char* c) {
    calls.push_back(c);
    return take();
  }
};

}  // namespace kv::launcher::testing
