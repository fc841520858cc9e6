#include "api/v1/replicaset.hpp"

#include <algorithm>
#include <regex>

#include "api/v1/codec_generic.hpp"
#include "api/v1/crd_generic.hpp"
#include "api/v1/defaults.hpp"
#include "api/v1/fields.hpp"
#include "api/v1/validation_checks.hpp"
#include "core/names.hpp"

namespace kv::api::v1 {
namespace {

using core::json::Allocator;
using core::json::Value;

// A label's name part (and a label value when not empty): at most 63 characters, alphanumerics,
// '-', '_' and '.', starting and ending alphanumeric.
bool is_label_name(const std::string& s) {
  static const std::regex re("([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]");
  return s.size() <= 63 && std::regex_match(s, re);
}

// Kubernetes' qualified name: [prefix/]name, prefix a DNS subdomain.
bool is_label_key(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos)
    return is_label_name(s);
  return core::is_dns_subdomain(s.substr(0, slash)) && is_label_name(s.substr(slash + 1));
}

constexpr std::string_view kLabelKeyRule =
    "must be a name of at most 63 characters (alphanumerics, '-', '_', '.', starting and ending "
    "alphanumeric), optionally prefixed by a DNS subdomain and '/'";
constexpr std::string_view kLabelValueRule =
    "must be empty or at most 63 characters (alphanumerics, '-', '_', '.', starting and ending "
    "alphanumeric)";

}  // namespace

bool selector_matches(const LabelSelector& s, const StringMap& labels) {
  for (const auto& [k, v] : s.match_labels) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v)
      return false;
  }
  for (const auto& r : s.match_expressions) {
    auto it = labels.find(r.key);
    const bool has = it != labels.end();
    const bool in_values =
        has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    switch (r.operator_) {
      case LabelSelectorOperator::in:
        if (!in_values)
          return false;
        break;
      case LabelSelectorOperator::not_in:
        if (in_values)
          return false;
        break;
      case LabelSelectorOperator::exists:
        if (!has)
          return false;
        break;
      case LabelSelectorOperator::does_not_exist:
        if (has)
          return false;
        break;
    }
  }
  return true;
}

std::string selector_string(const LabelSelector& s) {
  // (key, text) pairs; a stable sort by key keeps matchLabels before expressions of the same key.
  std::vector<std::pair<std::string, std::string>> parts;
  for (const auto& [k, v] : s.match_labels)
    parts.emplace_back(k, k + "=" + v);
  for (const auto& r : s.match_expressions) {
    auto values = r.values;
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    std::string list;
    for (const auto& v : values)
      list += (list.empty() ? "" : ",") + v;
    switch (r.operator_) {
      case LabelSelectorOperator::in:
        parts.emplace_back(r.key, r.key + " in (" + list + ")");
        break;
      case LabelSelectorOperator::not_in:
        parts.emplace_back(r.key, r.key + " notin (" + list + ")");
        break;
      case LabelSelectorOperator::exists:
        parts.emplace_back(r.key, r.key);
        break;
      case LabelSelectorOperator::does_not_exist:
        parts.emplace_back(r.key, "!" + r.key);
        break;
    }
  }
  std::stable_sort(parts.begin(), parts.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  for (const auto& [k, text] : parts)
    out += (out.empty() ? "" : ",") + text;
  return out;
}

FieldErrors validate_selector(const LabelSelector& s, const std::string& path) {
  using check::add;
  using check::at;
  using check::quoted;
  FieldErrors errors;
  for (const auto& [k, v] : s.match_labels) {
    const std::string p = at(path, "matchLabels") + "[" + k + "]";
    if (!is_label_key(k))
      add(errors, p, quoted(k) + " is not a valid label key; " + std::string(kLabelKeyRule));
    if (!v.empty() && !is_label_name(v))
      add(errors, p, quoted(v) + " is not a valid label value; " + std::string(kLabelValueRule));
  }
  for (size_t i = 0; i < s.match_expressions.size(); ++i) {
    const auto& r = s.match_expressions[i];
    const std::string p = check::index(at(path, "matchExpressions"), i);
    if (!is_label_key(r.key))
      add(errors, at(p, "key"),
          quoted(r.key) + " is not a valid label key; " + std::string(kLabelKeyRule));
    const bool takes_values =
        r.operator_ == LabelSelectorOperator::in || r.operator_ == LabelSelectorOperator::not_in;
    if (takes_values && r.values.empty())
      add(errors, at(p, "values"),
          "must not be empty for operator " + std::string(enum_name(r.operator_)));
    if (!takes_values && !r.values.empty())
      add(errors, at(p, "values"),
          "must be empty for operator " + std::string(enum_name(r.operator_)));
    for (size_t j = 0; j < r.values.size(); ++j)
      if (!r.values[j].empty() && !is_label_name(r.values[j]))
        add(errors, check::index(at(p, "values"), j),
            quoted(r.values[j]) + " is not a valid label value; " + std::string(kLabelValueRule));
  }
  return errors;
}

VirtualMachineInstanceReplicaSet decode_replica_set(const Value& v, FieldErrors& errors) {
  return codec::decode_object<VirtualMachineInstanceReplicaSet>(
      v, kApiVersion, kVirtualMachineInstanceReplicaSetKind, errors);
}

core::Result<VirtualMachineInstanceReplicaSet> decode_replica_set(const Value& v) {
  return codec::decode_object<VirtualMachineInstanceReplicaSet>(
      v, kApiVersion, kVirtualMachineInstanceReplicaSetKind);
}

Value encode(const VirtualMachineInstanceReplicaSet& rs, Allocator& a) {
  return codec::encode_value(rs, a);
}
Value encode(const VirtualMachineInstanceReplicaSetStatus& s, Allocator& a) {
  return codec::encode_value(s, a);
}
Value encode(const LabelSelector& s, Allocator& a) {
  return codec::encode_value(s, a);
}

FieldErrors validate(const VirtualMachineInstanceReplicaSet& rs) {
  FieldErrors errors;
  check::metadata(rs.metadata, errors);
  const auto& spec = rs.spec;
  if (spec.replicas && *spec.replicas < 0)
    check::add(errors, "spec.replicas",
               std::to_string(*spec.replicas) + " is negative; allowed: 0 or more");
  // The VMIs are created from the template with the VMI defaults applied by their own webhook;
  // judge the template as they will be.
  auto tmpl = spec.template_.spec;
  apply_defaults(tmpl);
  for (auto& e : validate_spec(tmpl, "spec.template.spec"))
    errors.push_back(std::move(e));
  auto sel = validate_selector(spec.selector, "spec.selector");
  if (!sel.empty()) {
    errors.insert(errors.end(), sel.begin(), sel.end());
  } else {
    const StringMap none;
    const auto& labels = spec.template_.metadata ? spec.template_.metadata->labels : none;
    if (!selector_matches(spec.selector, labels))
      check::add(errors, "spec.selector", "selector does not match labels.");
  }
  return errors;
}

Admission admit_replica_set(const Value& manifest) {
  Admission out;
  out.kind = std::string(core::json::get_string(manifest, "kind").value_or(""));
  if (const auto* meta = core::json::find(manifest, "metadata"))
    out.name =
        std::string(core::json::get_string(*meta, "name")
                        .value_or(core::json::get_string(*meta, "generateName").value_or("")));
  auto rs = decode_replica_set(manifest, out.errors);
  if (out.errors.empty()) {
    out.errors = validate(rs);
    auto& a = out.defaulted.GetAllocator();
    out.defaulted.CopyFrom(encode(rs, a), a);
  }
  return out;
}

core::json::Document virtual_machine_instance_replica_set_crd() {
  return crd::crd_for<VirtualMachineInstanceReplicaSet>({
      .group = kGroup,
      .version = "v1",
      .kind = kVirtualMachineInstanceReplicaSetKind,
      .plural = "virtualmachineinstancereplicasets",
      .singular = "virtualmachineinstancereplicaset",
      .short_names = {"vmirs", "vmirss"},
      .scale = crd::Scale{".spec.replicas", ".status.replicas", ".status.labelSelector"},
      .columns =
          {
              {"Desired", "integer", ".spec.replicas", "Number of desired VirtualMachineInstances"},
              {"Current", "integer", ".status.replicas",
               "Number of managed and not final or deleted VirtualMachineInstances"},
              {"Ready", "integer", ".status.readyReplicas",
               "Number of managed VirtualMachineInstances which are ready to receive traffic"},
              {"Age", "date", ".metadata.creationTimestamp", ""},
          },
  });
}

}  // namespace kv::api::v1
