// virt-launcher's domain builder (launcher/domain_builder.hpp): a VMI, as the launcher decodes it
// from a sync request, to libvirt domain XML. The VMI is built as it arrives (the launcher does not
// validate) and again after defaulting (what the API server stores), under TCG and under KVM.
// Whatever XML comes out must be well-formed, or libvirt would refuse it with a parse error that
// names nothing the user wrote.

#include <libxml/parser.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/v1/codec.hpp"
#include "api/v1/defaults.hpp"
#include "core/json.hpp"
#include "launcher/domain_builder.hpp"
#include "test/fuzz/check.hpp"
#include "test/support/pod_environment.hpp"

using namespace kv;

namespace {

void build(const api::v1::VirtualMachineInstance& vmi, const launcher::PodEnvironment& env) {
  auto disks = launcher::plan_disks(vmi, env);
  if (!disks.ok())
    return;
  auto net = launcher::plan_network(vmi);
  if (!net.ok())
    return;
  auto xml = launcher::build_domain_xml(vmi, env, *disks, *net);
  if (!xml.ok())
    return;
  xmlDocPtr doc = xmlReadMemory(xml->data(), static_cast<int>(xml->size()), "domain.xml", nullptr,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  const xmlError* err = doc ? nullptr : xmlGetLastError();
  fuzz::check(doc != nullptr, "domain XML is not well-formed",
              (err && err->message ? std::string(err->message) : std::string()) + *xml);
  xmlFreeDoc(doc);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto doc = core::json::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!doc.ok())
    return 0;
  auto vmi = api::v1::decode_vmi(*doc);
  if (!vmi.ok())
    return 0;
  auto defaulted = api::v1::with_defaults(*vmi);
  for (bool kvm : {false, true}) {
    build(*vmi, kv::test::pod_environment(kvm));
    build(defaulted, kv::test::pod_environment(kvm));
  }
  return 0;
}
