#pragma once
// How a VM keeps the instancetype and preference it was first given, as upstream does
// (pkg/instancetype/revision): a ControllerRevision (apps/v1) in the VM's namespace, owned by the
// VM, whose data is the whole object as it was then; status.instancetypeRef /
// status.preferenceRef name the object and, in controllerRevisionRef.name, the revision. Later
// edits of the instancetype change neither the running VMI nor the next start; a new revision is
// taken only when the VM's matcher changes (name or kind), or when revisionName names another.
// Pure functions over JSON; controller/instancetype.cpp does the API calls.

#include <optional>
#include <string>
#include <string_view>

#include "api/v1/types.hpp"
#include "core/json.hpp"

namespace kv::api::instancetype {

// Labels upstream puts on the revision.
inline constexpr std::string_view kObjectGenerationLabel =
    "instancetype.kubevirt.io/object-generation";
inline constexpr std::string_view kObjectKindLabel = "instancetype.kubevirt.io/object-kind";
inline constexpr std::string_view kObjectNameLabel = "instancetype.kubevirt.io/object-name";
inline constexpr std::string_view kObjectUidLabel = "instancetype.kubevirt.io/object-uid";
inline constexpr std::string_view kObjectVersionLabel = "instancetype.kubevirt.io/object-version";

// A matcher as the revision logic needs it (spec.instancetype or spec.preference).
struct MatcherView {
  std::string name;
  std::string kind;           // as written; "" for the default
  std::string revision_name;  // "" when unset
};
MatcherView view(const v1::InstancetypeMatcher& m);
MatcherView view(const v1::PreferenceMatcher& m);

// Upstream's syncStatusWithMatcher: brings ref in line with the matcher (a changed name or kind
// drops the revision; a revisionName becomes the revision). True when ref still needs a revision
// (controllerRevisionRef unset): the caller stores one and sets it.
bool sync_status_ref(const MatcherView& m, v1::InstancetypeStatusRef& ref);

// The revision the VM's spec comes from, when it has one for the matcher as it stands: the
// matcher's revisionName, else status's controllerRevisionRef when status names the same object.
std::optional<std::string> revision_to_read(const MatcherView& m,
                                            const std::optional<v1::InstancetypeStatusRef>& ref);

// "<vm>-<object>-<version>-<uid>-<generation>", upstream's GenerateName.
std::string revision_name(std::string_view vm_name, std::string_view object_name,
                          std::string_view version, std::string_view uid, int64_t generation);

// The ControllerRevision for `object` (an instancetype or preference as the API server returned
// it): named by revision_name, owned by the VM (controller), labelled as upstream, data the
// object without labels, annotations, finalizers, owner references and managed fields.
core::json::Document controller_revision(const v1::VirtualMachine& vm,
                                         const core::json::Value& object);

// The object a revision holds (its data), or null when it has none.
const core::json::Value* revision_data(const core::json::Value& revision);

}  // namespace kv::api::instancetype
