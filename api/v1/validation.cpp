#include "api/v1/validation.hpp"

#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "api/pool/pool.hpp"
#include "api/v1/defaults.hpp"
#include "api/v1/migration.hpp"
#include "api/v1/replicaset.hpp"
#include "api/v1/validation_checks.hpp"
#include "core/names.hpp"

namespace kv::api::v1 {
namespace check {

bool is_dns_label(const std::string& s) {
  return core::is_dns_label(s);
}

bool is_dns_subdomain(const std::string& s) {
  return core::is_dns_subdomain(s);
}

bool is_base64(const std::string& s) {
  static const std::regex re("([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?");
  std::string compact;
  for (char c : s) {
    if (c != '\n' && c != '\r') {
      compact.push_back(c);
    }
  }
  return std::regex_match(compact, re);
}

bool is_ipv4_cidr(const std::string& s) {
  static const std::regex re(
      "((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}"
      "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])/(3[0-2]|[12]?[0-9])");
  return std::regex_match(s, re);
}

bool is_ipv6_cidr(const std::string& s) {
  static const std::regex re("[0-9A-Fa-f:]*:[0-9A-Fa-f:]*/(12[0-8]|1[01][0-9]|[1-9]?[0-9])");
  return std::regex_match(s, re);
}

bool is_pci_address(const std::string& s) {
  static const std::regex re("[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]");
  return std::regex_match(s, re);
}

void unique_name(const std::string& name, size_t i, std::string_view list,
                 std::map<std::string, size_t>& seen, const std::string& p, FieldErrors& errors) {
  if (name.empty()) {
    add(errors, at(p, "name"), "must not be empty");
  } else if (auto [it, fresh] = seen.emplace(name, i); !fresh) {
    add(errors, at(p, "name"),
        quoted(name) + " is already used by " + std::string(list) + "[" +
            std::to_string(it->second) + "]; names must be unique");
  }
}

void metadata(const ObjectMeta& meta, FieldErrors& errors) {
  if (!meta.name && !meta.generate_name) {
    add(errors, "metadata.name", "required field is missing (or set metadata.generateName)");
  } else if (meta.name && !is_dns_subdomain(*meta.name)) {
    add(errors, "metadata.name",
        quoted(*meta.name) +
            " is not a valid name; must be lower-case letters, digits, '-' and '.', start and end "
            "with a letter or digit, at most 253 characters");
  }
}

}  // namespace check

namespace {

constexpr std::string_view kDnsLabelRule =
    "must be lower-case letters, digits and '-', start and end with a letter or digit, at most "
    "63 characters";

// The pod-level settings of the spec: grace period, eviction strategy, start strategy, host name,
// subdomain.
void pod_settings(const VirtualMachineInstanceSpec& s, const std::string& path,
                  FieldErrors& errors) {
  using check::add;
  using check::at;
  using check::quoted;
  if (s.termination_grace_period_seconds && *s.termination_grace_period_seconds < 0) {
    add(errors, at(path, "terminationGracePeriodSeconds"),
        std::to_string(*s.termination_grace_period_seconds) +
            " is negative; allowed: 0 or more seconds");
  }
  if (s.eviction_strategy == EvictionStrategy::live_migrate) {
    add(errors, at(path, "evictionStrategy"),
        "\"LiveMigrate\" is not supported yet (no live migration); allowed: None, "
        "LiveMigrateIfPossible");
  }
  if (s.eviction_strategy == EvictionStrategy::external) {
    add(errors, at(path, "evictionStrategy"),
        "\"External\" is not supported yet (nothing blocks the launcher pod's eviction for an "
        "external controller); allowed: None, LiveMigrateIfPossible (which is None here: no VMI "
        "is live-migratable)");
  }
  if (s.start_strategy == StartStrategy::paused && s.liveness_probe) {
    add(errors, at(path, "startStrategy"),
        "\"Paused\" cannot be combined with " + at(path, "livenessProbe") +
            " (a paused VM cannot answer its probe, so the probe would end it); remove one of "
            "them");
  }
  if (s.hostname && !check::is_dns_label(*s.hostname)) {
    add(errors, at(path, "hostname"),
        quoted(*s.hostname) + " is not a valid host name; " + std::string(kDnsLabelRule));
  }
  if (s.subdomain && !check::is_dns_label(*s.subdomain)) {
    add(errors, at(path, "subdomain"),
        quoted(*s.subdomain) + " is not a valid subdomain; " + std::string(kDnsLabelRule));
  }
}

void spec(const VirtualMachineInstanceSpec& s, const std::string& path, FieldErrors& errors) {
  const std::string domain = check::at(path, "domain");
  check::domain(s.domain, domain, errors);
  check::devices(s.domain.devices, check::at(domain, "devices"), errors);
  check::volumes(s, path, errors);
  check::networks(s, path, errors);
  check::probes(s, path, errors);
  check::boot_orders(s.domain.devices, check::at(path, "domain.devices"), errors);
  pod_settings(s, path, errors);
}

// The VirtualMachine's own fields: running and runStrategy.
void vm_spec(const VirtualMachineSpec& s, FieldErrors& errors) {
  if (s.running && s.run_strategy) {
    check::add(errors, "spec.running",
               "mutually exclusive with spec.runStrategy; set only runStrategy (running: true is "
               "Always, false is Halted)");
  }
}

}  // namespace

FieldErrors validate_spec(const VirtualMachineInstanceSpec& s, const std::string& path) {
  FieldErrors errors;
  spec(s, path, errors);
  return errors;
}

FieldErrors validate(const VirtualMachineInstance& vmi) {
  FieldErrors errors;
  check::metadata(vmi.metadata, errors);
  spec(vmi.spec, "spec", errors);
  return errors;
}

FieldErrors validate(const VirtualMachine& vm) {
  FieldErrors errors;
  check::metadata(vm.metadata, errors);
  vm_spec(vm.spec, errors);
  spec(vm.spec.template_.spec, "spec.template.spec", errors);
  if (vm.spec.instancetype) {
    // The instancetype gives the memory (api/instancetype/apply.hpp); the template need not.
    std::erase_if(errors, [](const FieldError& e) {
      return e.path == "spec.template.spec.domain.memory.guest" &&
             e.message.starts_with("no memory requested");
    });
  }
  return errors;
}

Admission admit(const core::json::Value& manifest) {
  Admission out;
  if (!manifest.IsObject()) {
    out.errors.push_back(
        {"", "expected an object, got " + std::string(core::json::type_name(manifest))});
    return out;
  }
  out.kind = std::string(core::json::get_string(manifest, "kind").value_or(""));
  if (const auto* meta = core::json::find(manifest, "metadata")) {
    out.name =
        std::string(core::json::get_string(*meta, "name")
                        .value_or(core::json::get_string(*meta, "generateName").value_or("")));
  }
  auto& a = out.defaulted.GetAllocator();
  if (out.kind == kVirtualMachineKind) {
    auto vm = decode_vm(manifest, out.errors);
    if (out.errors.empty()) {
      vm = with_defaults(std::move(vm));
      out.errors = validate(vm);
      out.defaulted.CopyFrom(encode(vm, a), a);
    }
  } else if (out.kind == kVirtualMachineInstanceKind) {
    auto vmi = decode_vmi(manifest, out.errors);
    if (out.errors.empty()) {
      vmi = with_defaults(std::move(vmi));
      out.errors = validate(vmi);
      out.defaulted.CopyFrom(encode(vmi, a), a);
    }
  } else if (out.kind == kVirtualMachineInstanceReplicaSetKind) {
    return admit_replica_set(manifest);
  } else if (out.kind == pool::kVirtualMachinePoolKind) {
    return pool::admit(manifest);
  } else if (out.kind == kVirtualMachineInstanceMigrationKind) {
    return admit_migration(manifest);
  } else {
    out.errors.push_back(
        {"kind", (out.kind.empty() ? std::string("missing")
                                   : check::quoted(out.kind) + " is not supported") +
                     "; allowed: VirtualMachine, VirtualMachineInstance, "
                     "VirtualMachineInstanceReplicaSet, VirtualMachineInstanceMigration, "
                     "VirtualMachinePool"});
  }
  return out;
}

}  // namespace kv::api::v1
