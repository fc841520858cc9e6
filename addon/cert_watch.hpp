#pragma once
// Certificate hot reload from Secrets: watches one Secret and hands its data to a callback every
// time it changes, so a server swaps its certificate (core/serve TlsContext::set_certificate)
// without a restart. virt-api watches virt-api-certs, virt-handler virt-handler-certs
// (cert_secrets.hpp names them).
//
// Lists the Secret (field selector metadata.name=<name>), then watches from the list's
// resourceVersion; re-lists when the watch ends (timeout, 410 Gone, dropped connection). API
// errors are retried with backoff (500 ms doubling to 30 s) and logged once per kind.

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/kube/client.hpp"

namespace kv::addon {

class SecretWatch {
 public:
  using Data = std::map<std::string, std::string>;
  // Called on the watch's thread with the Secret's data (base64-decoded) when the Secret exists
  // with every key of `required_keys` non-empty, first as soon as it does, then whenever that
  // data differs from what was last passed. An error returned is logged; the same data is not
  // passed again (a later change of the Secret is).
  using OnChange = std::function<core::Status(const Data&)>;

  // Starts watching on a thread of its own.
  SecretWatch(core::kube::KubeClient& client, std::string ns, std::string name,
              std::vector<std::string> required_keys, OnChange on_change);
  ~SecretWatch();  // stop()
  // Ends the watch and joins the thread; after it returns on_change is not called. Idempotent;
  // not from on_change.
  void stop();
  // Times on_change was called (tests).
  int changes() const;

 private:
  void run();
  // Passes `secret`'s data on when complete and new.
  void offer(const core::json::Value& secret);
  bool sleep_for(std::chrono::milliseconds d);  // false: stopped meanwhile

  core::kube::KubeClient& client_;
  const std::string ns_, name_;
  const std::vector<std::string> required_;
  OnChange on_change_;
  core::kube::Cancel cancel_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  int changes_ = 0;
  Data last_;
  bool has_last_ = false;
  std::thread thread_;
};

}  // namespace kv::addon
