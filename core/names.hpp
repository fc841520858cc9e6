#pragma once
// Kubernetes' name rules (apimachinery's validation.IsDNS1123Label / IsDNS1123Subdomain), once
// for the tree: namespaces, object names, host names.

#include <string_view>

namespace kv::core {

// RFC 1123 label: lower-case alphanumerics and '-', starting and ending alphanumeric, at most 63
// characters. Namespaces, host names, Service names.
bool is_dns_label(std::string_view s);
// RFC 1123 subdomain: dot-separated labels, at most 253 characters. Most object names.
bool is_dns_subdomain(std::string_view s);

}  // namespace kv::core
