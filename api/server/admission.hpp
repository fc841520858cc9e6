#pragma once
// The admission webhooks as pure functions: AdmissionReview (admission.k8s.io/v1, or v1beta1) in,
// AdmissionReview out with the same uid.
//
//   /virtualmachines-validate          CREATE/UPDATE: decode, default, validate (api/v1 admit);
//                                      denied with code 422 and every field error in the message
//   /virtualmachineinstances-validate  CREATE: the same; UPDATE: the spec may not change (as
//                                      upstream) unless the caller is one of our components
//   /virtualmachines-mutate            CREATE/UPDATE: the defaults as a JSONPatch (replace /spec)
//   /virtualmachinereplicaset-validate CREATE/UPDATE: VirtualMachineInstanceReplicaSet
//   /virtualmachinepool-validate       CREATE/UPDATE: VirtualMachinePool (selector and template
//                                      immutable on UPDATE)
//
// Malformed input (not JSON, not an AdmissionReview, no request.uid) gets HTTP 400 and a Status.

#include <string>
#include <string_view>
#include <vector>

namespace kv::apiserver {

enum class Webhook { validate_vm, validate_vmi, mutate_vm, validate_vmirs, validate_vmpool };

struct AdmissionPolicy {
  // Users whose VMI spec updates are allowed: prefixes of userInfo.username, e.g.
  // "system:serviceaccount:kubevirt:" (virt-controller, virt-handler, virt-api itself).
  std::vector<std::string> privileged_user_prefixes;
};

struct HttpReply {
  int status = 200;
  std::string body;
};

HttpReply review(Webhook hook, std::string_view body, const AdmissionPolicy& policy);

}  // namespace kv::apiserver
