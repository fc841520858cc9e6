#include "addon/labels.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstdio>

namespace kv::addon {

std::string vmi_id(std::string_view vmi_name) {
  constexpr size_t kMaxLabelValue = 63;  // validation.DNS1035LabelMaxLength
  constexpr size_t kHashDigits = 8;
  if (vmi_name.size() <= kMaxLabelValue)
    return std::string(vmi_name);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  EVP_Digest(vmi_name.data(), vmi_name.size(), digest.data(), &len, EVP_sha1(), nullptr);
  std::string hex;
  for (size_t i = 0; i < kHashDigits / 2; ++i) {
    char b[3];
    std::snprintf(b, sizeof b, "%02x", digest[i]);
    hex += b;
  }
  return std::string(vmi_name.substr(0, kMaxLabelValue - kHashDigits - 1)) + "-" + hex;
}

}  // namespace kv::addon
