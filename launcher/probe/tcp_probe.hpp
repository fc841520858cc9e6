#pragma once
// A TCP probe of the guest through the pod's own forwarder (passt). passt accepts a connection on
// the pod IP itself and only then opens it to the guest; when nothing listens in the guest, the
// guest answers passt's SYN with a reset and passt closes the accepted connection. So "connect
// succeeded" says nothing; "the connection stayed open (or brought data) for a short while" says
// the guest accepted it. virt-probe runs this as the compute container's exec probe for a VMI's
// tcpSocket probe (docs/controller.md "Probes").

#include <chrono>
#include <string>

#include "core/result.hpp"

namespace kv::launcher::probe {

struct TcpProbe {
  std::string host;  // IPv4 or IPv6 literal
  int port = 0;
  std::chrono::milliseconds timeout{1000};  // whole probe: connect + the watch below
  // How long the connection must stay open: the guest's reset reaches passt in well under a
  // millisecond on an idle node; this leaves room for a loaded one.
  std::chrono::milliseconds settle{300};
};

// Ok when the guest accepted the connection; an error saying what happened otherwise.
core::Result<void> run_tcp_probe(const TcpProbe& p);

}  // namespace kv::launcher::probe
