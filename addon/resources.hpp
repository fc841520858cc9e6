#pragma once
// The add-on's own API resources, known without discovery. core/kube knows only Kubernetes' own.

#include "core/kube/resource.hpp"

namespace kv::addon::resources {

inline core::kube::Resource virtual_machines() {
  return {"kubevirt.io", "v1", "virtualmachines", "VirtualMachine", true};
}
inline core::kube::Resource virtual_machine_instances() {
  return {"kubevirt.io", "v1", "virtualmachineinstances", "VirtualMachineInstance", true};
}
inline core::kube::Resource virtual_machine_instance_migrations() {
  return {"kubevirt.io", "v1", "virtualmachineinstancemigrations",
          "VirtualMachineInstanceMigration", true};
}

}  // namespace kv::addon::resources
