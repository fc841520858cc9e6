#pragma once
// The validator's rules, one function per concern, each over the typed spec with the JSON path of
// what it checks passed in; validation.cpp composes them. Each appends FieldErrors (path and what
// is allowed) in the order the fields are read, so messages and their order are stable.
// Internal to api/v1: the public entry points are in validation.hpp.

#include <map>
#include <string>
#include <string_view>

#include "api/v1/codec.hpp"
#include "api/v1/types.hpp"

namespace kv::api::v1::check {

// --- shared helpers

inline std::string quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

// path.member (member alone when path is empty).
inline std::string at(const std::string& path, std::string_view member) {
  return path.empty() ? std::string(member) : path + "." + std::string(member);
}

// path[i]
inline std::string index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

inline void add(FieldErrors& errors, std::string path, std::string message) {
  errors.push_back({std::move(path), std::move(message)});
}

// RFC 1123 label: what Kubernetes requires of names that become host names.
bool is_dns_label(const std::string& s);
// RFC 1123 subdomain: object names.
bool is_dns_subdomain(const std::string& s);
bool is_base64(const std::string& s);
bool is_ipv4_cidr(const std::string& s);
bool is_ipv6_cidr(const std::string& s);
bool is_pci_address(const std::string& s);  // dddd:bb:ss.f (hex)

// The name of element i of `list` (disks, interfaces, volumes, networks) at path p: not empty and
// not used by an earlier element (seen: name -> index, updated).
void unique_name(const std::string& name, size_t i, std::string_view list,
                 std::map<std::string, size_t>& seen, const std::string& p, FieldErrors& errors);

// --- metadata (metadata.name or generateName)
void metadata(const ObjectMeta& meta, FieldErrors& errors);

// --- domain: machine type, CPU topology, memory and resources, firmware (path: ...domain)
void domain(const DomainSpec& d, const std::string& path, FieldErrors& errors);

// --- devices (path: ...domain.devices): disks, interfaces; boot orders across both
void devices(const Devices& devices, const std::string& path, FieldErrors& errors);
void boot_orders(const Devices& devices, const std::string& path, FieldErrors& errors);

// --- volumes and their disks (path: the spec)
void volumes(const VirtualMachineInstanceSpec& s, const std::string& path, FieldErrors& errors);

// --- networks and their interfaces (path: the spec)
void networks(const VirtualMachineInstanceSpec& s, const std::string& path, FieldErrors& errors);

// --- livenessProbe and readinessProbe (path: the spec)
void probes(const VirtualMachineInstanceSpec& s, const std::string& path, FieldErrors& errors);

}  // namespace kv::api::v1::check
