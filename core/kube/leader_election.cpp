#include "core/kube/leader_election.hpp"

#include <cmath>
#include <random>

#include "core/log.hpp"

namespace kv::core::kube {

LeaseRecord lease_record_from(const json::Value& lease) {
  LeaseRecord r;
  const json::Value* spec = json::find(lease, "spec");
  if (!spec)
    return r;
  r.holder = std::string(json::get_string(*spec, "holderIdentity").value_or(""));
  r.lease_duration_seconds =
      static_cast<int>(json::get_int(*spec, "leaseDurationSeconds").value_or(0));
  r.acquire_time = std::string(json::get_string(*spec, "acquireTime").value_or(""));
  r.renew_time = std::string(json::get_string(*spec, "renewTime").value_or(""));
  r.lease_transitions = static_cast<int>(json::get_int(*spec, "leaseTransitions").value_or(0));
  return r;
}

void lease_record_to(const LeaseRecord& r, json::Value& lease, json::Allocator& a) {
  json::Value& spec = json::ensure_object(lease, "spec", a);
  json::set(spec, "holderIdentity", r.holder, a);
  json::set(spec, "leaseDurationSeconds", json::Value(r.lease_duration_seconds), a);
  if (!r.acquire_time.empty())
    json::set(spec, "acquireTime", r.acquire_time, a);
  if (!r.renew_time.empty())
    json::set(spec, "renewTime", r.renew_time, a);
  json::set(spec, "leaseTransitions", json::Value(r.lease_transitions), a);
}

bool may_acquire(const LeaseRecord& current, Clock::time_point observed_at, Clock::time_point now,
                 const std::string& identity, std::chrono::seconds lease_duration) {
  if (current.holder.empty() || current.holder == identity)
    return true;
  auto d = current.lease_duration_seconds > 0 ? std::chrono::seconds(current.lease_duration_seconds)
                                              : lease_duration;
  return now >= observed_at + d;
}

LeaderElector::LeaderElector(KubeClient& client, LeaderElectionConfig config)
    : client_(client), cfg_(std::move(config)), clock_(cfg_.clock ? *cfg_.clock : real_clock()) {}

Status LeaderElector::validate(const LeaderElectionConfig& c) {
  if (c.lease_name.empty() || c.lease_namespace.empty())
    return Error(Errc::invalid, "leader election: lease_name and lease_namespace are required");
  if (c.identity.empty())
    return Error(Errc::invalid, "leader election: identity is required");
  if (!(c.lease_duration > c.renew_deadline))
    return Error(Errc::invalid,
                 "leader election: lease_duration must be greater than renew_deadline");
  if (!(c.renew_deadline > c.retry_period) || c.retry_period.count() <= 0)
    return Error(Errc::invalid,
                 "leader election: renew_deadline must be greater than retry_period (> 0)");
  return {};
}

bool LeaderElector::is_leader() const {
  std::lock_guard lock(mu_);
  return leading_;
}

std::string LeaderElector::leader() const {
  std::lock_guard lock(mu_);
  return leader_;
}

void LeaderElector::stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  cv_.notify_all();
}

bool LeaderElector::sleep(Clock::duration d) {
  std::unique_lock lock(mu_);
  auto deadline = clock_.now() + d;
  while (!stopped_ && clock_.now() < deadline)
    clock_.wait_until(lock, cv_, deadline);
  return !stopped_;
}

bool LeaderElector::try_acquire_or_renew() {
  const Resource leases = resources::leases();
  auto now = clock_.now();
  std::string stamp = format_rfc3339_micro(clock_.wall_now());
  LeaseRecord desired;
  desired.holder = cfg_.identity;
  desired.lease_duration_seconds =
      static_cast<int>(std::ceil(std::chrono::duration<double>(cfg_.lease_duration).count()));
  desired.acquire_time = stamp;
  desired.renew_time = stamp;
  auto lease_seconds = std::chrono::seconds(desired.lease_duration_seconds);
  std::string new_leader;

  auto got = client_.get(leases, cfg_.lease_namespace, cfg_.lease_name);
  if (!got.ok()) {
    if (got.error().code != Errc::not_found) {
      log::warn("leader election: cannot read the lease",
                {{"lease", cfg_.lease_name}, {"error", got.error().to_string()}});
      return false;
    }
    json::Document d;
    d.SetObject();
    auto& a = d.GetAllocator();
    json::set(d, "apiVersion", "coordination.k8s.io/v1", a);
    json::set(d, "kind", "Lease", a);
    json::Value& m = json::ensure_object(d, "metadata", a);
    json::set(m, "name", cfg_.lease_name, a);
    json::set(m, "namespace", cfg_.lease_namespace, a);
    lease_record_to(desired, d, a);
    auto created = client_.create(leases, cfg_.lease_namespace, d);
    if (!created.ok())
      return false;  // another candidate created it first
    std::lock_guard lock(mu_);
    observed_ = desired;
    observed_at_ = now;
    observed_rv_ = std::string(meta::resource_version(*created));
    new_leader = leader_ != cfg_.identity ? cfg_.identity : "";
    leader_ = cfg_.identity;
  } else {
    LeaseRecord current = lease_record_from(*got);
    bool free_to_take;
    {
      std::lock_guard lock(mu_);
      if (!observed_ || !(current == *observed_)) {
        observed_ = current;
        observed_at_ = now;
      }
      observed_rv_ = std::string(meta::resource_version(*got));
      if (current.holder != leader_) {
        leader_ = current.holder;
        new_leader = current.holder;
      }
      free_to_take = may_acquire(current, observed_at_, now, cfg_.identity, lease_seconds);
      // Someone else holds it while we think we lead: we lost it; do not fight for it.
      if (leading_ && current.holder != cfg_.identity && !current.holder.empty())
        free_to_take = false;
    }
    if (!new_leader.empty() && cfg_.on_new_leader)
      cfg_.on_new_leader(new_leader);
    new_leader.clear();
    if (!free_to_take)
      return false;
    if (current.holder == cfg_.identity) {
      desired.acquire_time = current.acquire_time;
      desired.lease_transitions = current.lease_transitions;
    } else {
      desired.lease_transitions = current.lease_transitions + 1;
    }
    json::Document d;
    d.CopyFrom(*got, d.GetAllocator());
    lease_record_to(desired, d, d.GetAllocator());
    auto updated = client_.update(leases, cfg_.lease_namespace, d);
    if (!updated.ok())
      return false;  // conflict: someone else wrote it first
    std::lock_guard lock(mu_);
    observed_ = desired;
    observed_at_ = now;
    observed_rv_ = std::string(meta::resource_version(*updated));
    if (leader_ != cfg_.identity)
      new_leader = cfg_.identity;
    leader_ = cfg_.identity;
  }
  if (!new_leader.empty() && cfg_.on_new_leader)
    cfg_.on_new_leader(new_leader);
  return true;
}

void LeaderElector::release() {
  const Resource leases = resources::leases();
  auto got = client_.get(leases, cfg_.lease_namespace, cfg_.lease_name);
  if (!got.ok())
    return;
  LeaseRecord current = lease_record_from(*got);
  if (current.holder != cfg_.identity)
    return;
  std::string stamp = format_rfc3339_micro(clock_.wall_now());
  LeaseRecord r;
  r.holder = "";
  r.lease_duration_seconds = 1;  // lets followers take over at once
  r.acquire_time = stamp;
  r.renew_time = stamp;
  r.lease_transitions = current.lease_transitions;
  json::Document d;
  d.CopyFrom(*got, d.GetAllocator());
  lease_record_to(r, d, d.GetAllocator());
  auto updated = client_.update(leases, cfg_.lease_namespace, d);
  if (!updated.ok())
    log::warn("leader election: cannot release the lease",
              {{"lease", cfg_.lease_name}, {"error", updated.error().to_string()}});
}

void LeaderElector::run() {
  if (auto v = validate(cfg_); !v.ok()) {
    log::error(v.error().message);
    return;
  }
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(1.0, 1.2);
  auto jittered = [&](std::chrono::milliseconds d) {
    return std::chrono::duration_cast<Clock::duration>(d * jitter(rng));
  };
  while (true) {
    if (try_acquire_or_renew())
      break;
    if (!sleep(jittered(cfg_.retry_period)))
      return;
  }
  {
    std::lock_guard lock(mu_);
    if (stopped_) {
      // Acquired just as we were told to stop: hand it back.
      if (cfg_.release_on_stop)
        release();
      return;
    }
    leading_ = true;
  }
  log::info("leader election: became the leader",
            {{"lease", cfg_.lease_name}, {"identity", cfg_.identity}});
  if (cfg_.on_started_leading)
    cfg_.on_started_leading();
  auto last_renew = clock_.now();
  bool stopped = false;
  while (true) {
    if (!sleep(cfg_.retry_period)) {
      stopped = true;
      break;
    }
    if (try_acquire_or_renew()) {
      last_renew = clock_.now();
      continue;
    }
    bool taken;
    {
      std::lock_guard lock(mu_);
      taken = !leader_.empty() && leader_ != cfg_.identity;
    }
    if (taken || clock_.now() - last_renew >= cfg_.renew_deadline) {
      log::warn("leader election: lost the lease", {{"lease", cfg_.lease_name},
                                                    {"identity", cfg_.identity},
                                                    {"taken_by_other", taken ? "true" : "false"}});
      break;
    }
  }
  {
    std::lock_guard lock(mu_);
    leading_ = false;
  }
  if (stopped && cfg_.release_on_stop)
    release();
  if (cfg_.on_stopped_leading)
    cfg_.on_stopped_leading();
}

}  // namespace kv::core::kube
