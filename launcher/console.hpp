#pragma once
// Copies the guest's serial console to the launcher's stdout, so `kubectl logs` shows it.
//
// QEMU writes the console to a log file (<serial><log file=.../> in the domain XML) as well as
// to the console socket; we follow that file from a thread of our own. The guest can never be
// blocked by a slow stdout reader: QEMU only ever writes to a file. Output is line-buffered (a
// line longer than 4 KiB is written in pieces); CRLF from the guest tty becomes LF.

#include <atomic>
#include <string>
#include <thread>

#include "core/result.hpp"

namespace kv::launcher {

class ConsoleCopier {
 public:
  // Starts following `log_path` (which may not exist yet) and writing complete lines to `out_fd`.
  static core::Result<std::unique_ptr<ConsoleCopier>> start(std::string log_path, int out_fd);
  // Copies what is left, flushes a trailing partial line, and stops.
  ~ConsoleCopier();

 private:
  ConsoleCopier() = default;
  void loop();

  std::string path_;
  int out_fd_ = 1;
  int inotify_fd_ = -1;
  int stop_fd_ = -1;
  std::thread thread_;
};

}  // namespace kv::launcher
