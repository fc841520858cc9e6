#include "api/v1/codec.hpp"

#include <catch2/catch.hpp>

#include "api/pool/pool.hpp"
#include "api/v1/replicaset.hpp"
#include "api/v1/validation.hpp"
#include "test_support.hpp"

using namespace kv::api::v1;
using kv::api::v1::test::load;
using kv::api::v1::test::one;
using kv::api::v1::test::source_path;
using kv::api::v1::test::testdata;
using kv::api::v1::test::yaml_files;
namespace json = kv::core::json;

namespace {

// decode -> encode of one VM or VMI document.
json::Document round_trip(const json::Value& doc, FieldErrors& errors) {
  json::Document out;
  auto kind = json::get_string(doc, "kind").value_or("");
  if (kind == "VirtualMachineInstanceReplicaSet") {
    auto rs = decode_replica_set(doc, errors);
    static_cast<json::Value&>(out) = encode(rs, out.GetAllocator());
  } else if (kind == "VirtualMachinePool") {
    auto p = kv::api::pool::decode_pool(doc, errors);
    static_cast<json::Value&>(out) = kv::api::pool::encode(p, out.GetAllocator());
  } else if (kind == "VirtualMachine") {
    auto vm = decode_vm(doc, errors);
    static_cast<json::Value&>(out) = encode(vm, out.GetAllocator());
  } else {
    auto vmi = decode_vmi(doc, errors);
    static_cast<json::Value&>(out) = encode(vmi, out.GetAllocator());
  }
  return out;
}

std::vector<std::string> messages(const FieldErrors& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) {
    out.push_back(e.to_string());
  }
  return out;
}

// The one object of a round-trip file, once decode + encode gave it back unchanged.
json::Document round_tripped(const std::string& name) {
  INFO(name);
  auto docs = load(testdata(name));
  REQUIRE(docs.size() == 1);
  FieldErrors errors;
  auto out = round_trip(docs[0], errors);
  CHECK(messages(errors).empty());
  INFO("encoded: " << json::to_pretty_string(out));
  CHECK(json::equal(out, docs[0]));
  return std::move(docs[0]);
}

}  // namespace

TEST_CASE("every example manifest round-trips through the codec and is valid") {
  auto files = yaml_files(source_path("manifests/examples"));
  REQUIRE(files.size() >= 5);
  for (const auto& file : files) {
    for (const auto& doc : load(file)) {
      INFO(file);
      if (json::get_string(doc, "apiVersion") == "v1")
        continue;  // the ConfigMaps and Secrets an example uses
      FieldErrors errors;
      auto out = round_trip(doc, errors);
      CHECK(messages(errors).empty());
      INFO("encoded: " << json::to_pretty_string(out));
      CHECK(json::equal(out, doc));
      auto admitted = admit(doc);
      CHECK(messages(admitted.errors).empty());
    }
  }
}

TEST_CASE("objects with every field, status included, round-trip") {
  for (const char* name : {"roundtrip/vmi-full.yaml", "roundtrip/vm-full.yaml"})
    round_tripped(name);
}

TEST_CASE("decoded fields land in the C++ types") {
  auto docs = load(testdata("roundtrip/vmi-full.yaml"));
  auto vmi = decode_vmi(docs[0]);
  REQUIRE(vmi.ok());
  const auto& spec = vmi->spec;
  CHECK(vmi->metadata.name == "full");
  CHECK(vmi->metadata.generation == 3);
  CHECK(vmi->metadata.labels.at("kubevirt.io/vm") == "full");
  CHECK(spec.domain.cpu->cores == 2u);
  CHECK(spec.domain.memory->guest->value() == 1073741824);
  CHECK(spec.domain.resources->requests.at("cpu").milli_value() == 100);
  CHECK(spec.domain.firmware->kernel_boot->container->kernel_path == "/boot/vmlinuz");
  REQUIRE(spec.domain.devices.disks.size() == 6);
  CHECK(spec.domain.devices.disks[0].disk->bus == DiskBus::virtio);
  CHECK(spec.domain.devices.disks[1].cdrom->tray == "closed");
  CHECK(spec.domain.devices.interfaces[0].masquerade.has_value());
  CHECK_FALSE(spec.domain.devices.interfaces[0].bridge.has_value());
  CHECK(spec.domain.devices.interfaces[0].ports[1].protocol == Protocol::udp);
  CHECK(spec.volumes[2].empty_disk->capacity.value() == 10737418240);
  CHECK(spec.volumes[3].cloud_init_no_cloud->network_data == "version: 2\n");
  CHECK(spec.eviction_strategy == EvictionStrategy::external);
  CHECK(spec.tolerations.size() == 1);
  CHECK(spec.affinity->text.find("podAntiAffinity") != std::string::npos);
  CHECK(vmi->status->phase == VmiPhase::running);
  CHECK(vmi->status->phase_transition_timestamps[1].phase == VmiPhase::running);
  CHECK(vmi->status->interfaces[0].ip_address == "10.244.0.12");
  CHECK(vmi->status->active_pods.size() == 1);
}

TEST_CASE("quantities are written back in Kubernetes' canonical form") {
  auto doc = one(R"(
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: q}
spec:
  domain:
    memory: {guest: 1024Mi}
    resources:
      requests: {memory: 1073741824, cpu: 0.5}
    devices: {}
)");
  auto vmi = decode_vmi(doc);
  REQUIRE(vmi.ok());
  json::Document out;
  auto v = encode(vmi.value(), out.GetAllocator());
  CHECK(json::get_string(*json::find_path(v, {"spec", "domain", "memory"}), "guest") == "1Gi");
  const auto* requests = json::find_path(v, {"spec", "domain", "resources", "requests"});
  REQUIRE(requests != nullptr);
  CHECK(json::get_string(*requests, "memory") == "1073741824");
  CHECK(json::get_string(*requests, "cpu") == "500m");
}

TEST_CASE("null reads as absent, like Go's encoding/json") {
  auto doc = one(R"(
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: nulls}
spec:
  running: null
  template:
    metadata:
      creationTimestamp: null
    spec:
      domain: {devices: {}, memory: {guest: 64Mi}}
)");
  auto vm = decode_vm(doc);
  INFO((vm.ok() ? "" : vm.error().message));
  REQUIRE(vm.ok());
  CHECK_FALSE(vm->spec.running.has_value());
  CHECK_FALSE(vm->spec.template_.metadata->creation_timestamp.has_value());
}

TEST_CASE("decode reports every problem with its path, not just the first") {
  auto doc = one(R"(
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: e, labels: {a: 1}}
spec:
  domain:
    cpu: {cores: 1.5, sockets: 99999999999}
    memory: {guest: [1]}
    devices:
      disks:
        - {name: a, disk: {bus: ide}, typo: 1}
        - {disk: {}}
  volumes: {}
  hostname: 7
)");
  FieldErrors errors;
  (void)decode_vmi(doc, errors);
  CHECK(messages(errors) ==
        std::vector<std::string>{
            "metadata.labels[a]: expected string, got integer",
            "spec.domain.cpu.cores: 1.5 is not an integer",
            "spec.domain.cpu.sockets: 99999999999 is out of range; allowed: 0 to 4294967295",
            "spec.domain.memory.guest: expected quantity (string or number), got array",
            "spec.domain.devices.disks[0].disk.bus: \"ide\" is not supported; allowed: virtio, "
            "sata, scsi, usb",
            "spec.domain.devices.disks[0].typo: unknown field; allowed: name, disk, cdrom, "
            "bootOrder, serial, dedicatedIOThread, cache, io",
            "spec.domain.devices.disks[1].name: required field is missing",
            "spec.volumes: expected array, got object",
            "spec.hostname: expected string, got integer",
        });
  auto r = decode_vmi(doc);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == kv::core::Errc::invalid);
  CHECK(r.error().get("field_error") == "metadata.labels[a]: expected string, got integer");
  CHECK_THAT(r.error().message, Catch::Contains("spec.hostname: expected string"));
}

TEST_CASE("the kind and apiVersion must be the ones asked for") {
  auto doc = one("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {domain: {devices: {}}}\n");
  FieldErrors errors;
  (void)decode_vmi(doc, errors);
  CHECK(messages(errors) ==
        std::vector<std::string>{"apiVersion: \"v1\" is not served; allowed: kubevirt.io/v1",
                                 "kind: \"Pod\" is not allowed here; allowed: "
                                 "VirtualMachineInstance"});
}

TEST_CASE("encode writes only what is set") {
  VirtualMachineInstance vmi;
  vmi.metadata.name = "tiny";
  vmi.spec.domain.memory.emplace().guest =
      Quantity::from_int(64 << 20, Quantity::Format::binary_si);
  CHECK(
      to_json_string(vmi) ==
      R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance","metadata":{"name":"tiny"},)"
      R"("spec":{"domain":{"memory":{"guest":"64Mi"},"devices":{}}}})");
  CHECK(to_string(RunStrategy::rerun_on_failure) == "RerunOnFailure");
  CHECK(to_string(VmiPhase::scheduled) == "Scheduled");
}

TEST_CASE("the domain fields of upstream's DomainSpec round-trip and pass admission") {
  auto doc = round_tripped("roundtrip/vmi-domain.yaml");
  CHECK(messages(admit(doc).errors).empty());
  auto vmi = decode_vmi(doc);
  REQUIRE(vmi.ok());
  const auto& d = vmi->spec.domain;
  CHECK(d.cpu->features[1].policy == "disable");
  CHECK(d.chassis->sku == "sku-9");
  CHECK(d.clock->utc->offset_seconds == -3600);
  CHECK(d.clock->timer->hpet->present == false);
  CHECK(d.clock->timer->rtc->track == "guest");
  CHECK(d.features->apic->end_of_interrupt == true);
  CHECK(d.features->hyperv->spinlocks->retries == 8191u);
  CHECK(d.features->hyperv->vendorid->vendor_id == "KubeVirt");
  CHECK(d.features->hyperv->tlbflush->extended->enabled == false);
  CHECK(d.features->kvm->hidden == true);
  CHECK(d.io_threads_policy == "auto");
  CHECK(d.devices.rng.has_value());
  CHECK(d.devices.watchdog->i6300esb->action == "poweroff");
  CHECK(d.devices.inputs[1].bus == "virtio");
  CHECK(d.devices.block_multi_queue == true);
  CHECK(d.devices.disks[0].cache == "none");
  CHECK(d.devices.disks[0].io == "native");
  CHECK(d.devices.disks[0].dedicated_io_thread == true);
  CHECK(d.devices.disks[1].cdrom->tray == "open");
}

TEST_CASE("serviceAccount, downwardAPI, sysprep and cloudInitConfigDrive volumes round-trip") {
  auto doc = round_tripped("roundtrip/vmi-volumes.yaml");
  auto vmi = decode_vmi(doc);
  REQUIRE(vmi.ok());
  const auto& v = vmi->spec.volumes;
  CHECK(v[0].service_account->service_account_name == "reader");
  CHECK(v[1].downward_api->fields[1].resource_field_ref->divisor->value() == 1048576);
  CHECK(v[1].downward_api->fields[1].mode == 0444);
  CHECK(v[2].sysprep->secret->name == "unattend");
  CHECK(v[3].cloud_init_config_drive->user_data_secret_ref->name == "user-data");
  CHECK(validate(*vmi).empty());
}

TEST_CASE("probes round-trip, a port as a number or a name, and pass admission") {
  auto doc = round_tripped("roundtrip/vmi-probes.yaml");
  CHECK(messages(admit(doc).errors).empty());
  auto vmi = decode_vmi(doc);
  REQUIRE(vmi.ok());
  const auto& s = vmi->spec;
  REQUIRE(s.readiness_probe);
  CHECK(s.readiness_probe->http_get->port == IntOrString{1500, {}});
  CHECK(s.readiness_probe->success_threshold == 2);
  REQUIRE(s.liveness_probe);
  CHECK(s.liveness_probe->http_get->port == IntOrString{std::nullopt, "http"});
  CHECK(s.liveness_probe->http_get->http_headers[0].value == "1");
  CHECK(s.liveness_probe->initial_delay_seconds == 120);
  FieldErrors errors;
  decode_vmi(json::parse(R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",
    "metadata":{"name":"p"},"spec":{"domain":{"devices":{}},
    "readinessProbe":{"httpGet":{"port":4294967296}}}})")
                 .value(),
             errors);
  CHECK(messages(errors) ==
        std::vector<std::string>{"spec.readinessProbe.httpGet.port: 4294967296 is out of range; "
                                 "allowed: -2147483648 to 2147483647"});
}
