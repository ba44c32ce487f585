// One connection of streamguard-queue-helper, start to end: who asks (the
// kernel's SO_PEERCRED, not anything the peer says), one request line,
// the command it names, the answer. Blocking, with socket timeouts: the
// helper serves one connection at a time, and a peer that stalls is cut
// off after `io_timeout_ms`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace sg::queue_helper {

struct ServeOptions {
  uid_t allowed_uid = 0;
  std::string command_dir = "/usr/sbin";
  std::string config_dir;  // "": Postfix's default
  uint32_t command_timeout_ms = 30000;
  uint32_t io_timeout_ms = 5000;
};

// Serves the connection `fd` (which it does not close); returns the log line
// it wrote to stderr.
std::string serve(int fd, const ServeOptions& o);

}  // namespace sg::queue_helper
