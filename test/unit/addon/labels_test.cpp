// The vmi.kubevirt.io/id label value: the VMI's name, or for names longer than a label value
// allows, upstream's truncated name plus a SHA-1 prefix (vectors computed with Python's hashlib).
#include "addon/labels.hpp"

#include <catch2/catch.hpp>
#include <string>

using kv::addon::vmi_id;

TEST_CASE("vmi_id: names that fit a label value are used as they are") {
  CHECK(vmi_id("vm1") == "vm1");
  const std::string max(63, 'b');
  CHECK(vmi_id(max) == max);
}

TEST_CASE("vmi_id: longer names are truncated to 54 characters plus 8 hex digits of SHA-1") {
  CHECK(vmi_id(std::string(70, 'a')) ==
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-ed6c69d9");
  const std::string id =
      vmi_id("vm-with-a-rather-long-name-that-goes-on-and-on-beyond-sixty-three-chars");
  CHECK(id == "vm-with-a-rather-long-name-that-goes-on-and-on-beyond--a13b9269");
  CHECK(id.size() == 63);
}
