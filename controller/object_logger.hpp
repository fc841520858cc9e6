#pragma once
// A logger whose every line names the object it is about (namespace, name, uid), for the
// controllers' sync loops.

#include <string>

#include "core/json.hpp"
#include "core/kube/resource.hpp"
#include "core/log.hpp"

namespace kv::controller {

inline core::log::Logger logger_for(const core::json::Value& obj) {
  namespace meta = core::kube::meta;
  return core::log::Logger{
      {std::string(meta::ns(obj)), std::string(meta::name(obj)), std::string(meta::uid(obj))}};
}

}  // namespace kv::controller
