#include "handler/node_labeller.hpp"

#include <fstream>
#include <sstream>

#include "core/kube/resource.hpp"

namespace kv::handler {
namespace json = core::json;
using core::Errc;
using core::Error;
using core::Result;

Result<HostCpu> parse_qmp_transcript(std::string_view text) {
  HostCpu cpu;
  cpu.accelerator = "tcg";
  bool have_models = false, have_expansion = false;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos)
      continue;
    auto doc = json::parse(line);
    if (!doc.ok())
      return Error(Errc::parse,
                   "QMP transcript line " + std::to_string(line_no) + ": " + doc.error().message);
    const json::Value* ret = json::find(*doc, "return");
    if (!ret)
      continue;  // greeting, events, errors
    if (ret->IsObject() && json::find(*ret, "enabled") && json::find(*ret, "present")) {
      // query-kvm
      if (json::get_bool(*ret, "enabled").value_or(false))
        cpu.accelerator = "kvm";
    } else if (ret->IsArray()) {
      // query-cpu-definitions
      have_models = true;
      for (const auto& def : ret->GetArray()) {
        const std::string name(json::get_string(def, "name").value_or(""));
        if (name.empty() || name == "max" || name == "host" || name == "base")
          continue;
        const json::Value* missing = json::find(def, "unavailable-features");
        if (missing && missing->IsArray() && missing->Empty())
          cpu.usable_models.push_back(name);
      }
    } else if (const json::Value* props = json::find_path(*ret, {"model", "props"});
               props && props->IsObject()) {
      // query-cpu-model-expansion of "max"
      have_expansion = true;
      for (const auto& m : props->GetObject())
        if (m.value.IsBool() && m.value.GetBool())
          cpu.features.insert(m.name.GetString());
    }
  }
  if (!have_models)
    return Error(Errc::parse, "QMP transcript: no query-cpu-definitions answer");
  if (!have_expansion)
    return Error(Errc::parse, "QMP transcript: no query-cpu-model-expansion answer");
  return cpu;
}

std::set<std::string> parse_libvirt_feature_names(std::string_view xml) {
  std::set<std::string> names;
  constexpr std::string_view tag = "<feature name=";
  for (size_t at = xml.find(tag); at != std::string_view::npos; at = xml.find(tag, at + 1)) {
    size_t q = at + tag.size();
    if (q >= xml.size() || (xml[q] != '\'' && xml[q] != '"'))
      continue;
    size_t end = xml.find(xml[q], q + 1);
    if (end == std::string_view::npos)
      break;
    names.emplace(xml.substr(q + 1, end - q - 1));
  }
  return names;
}

std::string libvirt_feature_name(std::string_view qemu_name) {
  // libvirt's virQEMUCapsCPUFeatureTranslationTable (libvirt name, QEMU name).
  static const std::map<std::string_view, std::string_view> table{
      {"cmp-legacy", "cmp_legacy"},       {"ds-cpl", "ds_cpl"},
      {"fxsr-opt", "fxsr_opt"},           {"kvm-pv-eoi", "kvm_pv_eoi"},
      {"kvm-pv-unhalt", "kvm_pv_unhalt"}, {"lahf-lm", "lahf_lm"},
      {"nodeid-msr", "nodeid_msr"},       {"pclmulqdq", "pclmuldq"},
      {"perfctr-core", "perfctr_core"},   {"perfctr-nb", "perfctr_nb"},
      {"tsc-adjust", "tsc_adjust"},
  };
  auto it = table.find(qemu_name);
  return std::string(it == table.end() ? qemu_name : it->second);
}

const std::set<std::string>& default_obsolete_cpu_models() {
  static const std::set<std::string> models{
      "486",        "486-v1",        "pentium",    "pentium-v1",    "pentium2", "pentium2-v1",
      "pentium3",   "pentium3-v1",   "pentiumpro", "pentiumpro-v1", "coreduo",  "coreduo-v1",
      "n270",       "n270-v1",       "core2duo",   "core2duo-v1",   "Conroe",   "Conroe-v1",
      "athlon",     "athlon-v1",     "phenom",     "phenom-v1",     "qemu64",   "qemu64-v1",
      "qemu32",     "qemu32-v1",     "kvm64",      "kvm64-v1",      "kvm32",    "kvm32-v1",
      "Opteron_G1", "Opteron_G1-v1", "Opteron_G2", "Opteron_G2-v1",
  };
  return models;
}

std::map<std::string, std::string> cpu_labels(const HostCpu& cpu,
                                              const std::set<std::string>& libvirt_features,
                                              const std::set<std::string>& obsolete) {
  std::map<std::string, std::string> labels;
  for (const auto& m : cpu.usable_models)
    if (!obsolete.count(m))
      labels[kCpuModelLabelPrefix + m] = "true";
  for (const auto& f : cpu.features) {
    std::string name = libvirt_feature_name(f);
    if (libvirt_features.empty() || libvirt_features.count(name))
      labels[kCpuFeatureLabelPrefix + name] = "true";
  }
  return labels;
}

bool labeller_owns(std::string_view label) {
  for (std::string_view p : {kCpuModelLabelPrefix, kCpuFeatureLabelPrefix, kHostModelCpuLabelPrefix,
                             kHostModelRequiredFeaturesLabelPrefix})
    if (label.substr(0, p.size()) == p)
      return true;
  return false;
}

std::optional<std::string> node_label_patch(const json::Value& node,
                                            const std::map<std::string, std::string>& want) {
  json::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  json::Value changes(rapidjson::kObjectType);
  const json::Value* have = json::find_path(node, {"metadata", "labels"});
  if (have && have->IsObject()) {
    for (const auto& m : have->GetObject()) {
      const std::string name = m.name.GetString();
      if (labeller_owns(name) && !want.count(name))
        json::set(changes, name, json::Value(rapidjson::kNullType), a);
    }
  }
  for (const auto& [k, v] : want) {
    auto current = have && have->IsObject() ? json::get_string(*have, k) : std::nullopt;
    if (!current || *current != v)
      json::set(changes, k, json::string_value(v, a), a);
  }
  if (changes.ObjectEmpty())
    return std::nullopt;
  json::Value meta(rapidjson::kObjectType);
  json::set(meta, "labels", std::move(changes), a);
  json::set(doc, "metadata", std::move(meta), a);
  return json::to_string(doc);
}

namespace {
std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

Result<std::map<std::string, std::string>> labels_from_dir(const std::string& dir) {
  const std::string qmp_path = dir + "/" + kQmpCapabilitiesFile;
  auto qmp = read_file(qmp_path);
  if (!qmp)
    return Error(Errc::not_found, qmp_path +
                                      " is missing (the node-labeller init container "
                                      "writes it)");
  auto cpu = parse_qmp_transcript(*qmp);
  if (!cpu.ok())
    return Error(Errc::parse, qmp_path + ": " + cpu.error().message);
  std::set<std::string> known;
  if (auto xml = read_file(dir + "/" + kLibvirtFeaturesFile))
    known = parse_libvirt_feature_names(*xml);
  return cpu_labels(*cpu, known, default_obsolete_cpu_models());
}

Result<bool> apply_node_labels(core::kube::KubeClient& client, const std::string& node,
                               const std::map<std::string, std::string>& want) {
  auto obj = client.get(core::kube::resources::nodes(), "", node);
  if (!obj.ok())
    return std::move(obj).error();
  auto patch = node_label_patch(*obj, want);
  if (!patch)
    return false;
  core::kube::PatchOptions po;
  po.field_manager = "virt-handler";
  auto r = client.patch(core::kube::resources::nodes(), "", node, core::kube::PatchType::merge,
                        *patch, po);
  if (!r.ok())
    return std::move(r).error();
  return true;
}

}  // namespace kv::handler
