// rampd's side of streamguard-queue-helper (formats/queue_helper_protocol.hpp):
// one request on a fresh connection to the helper's unix socket, the
// command's result read back whole. Blocking: called off the loop, on the
// pool that runs rampd's other commands.
#pragma once

#include <cstdint>

#include "common/command.hpp"
#include "common/endpoint.hpp"
#include "formats/queue_helper_protocol.hpp"

namespace sg::rampd {

// A helper that cannot be reached, or answers nothing usable within
// `timeout_ms`, gives a Result that was not started, with `error` saying so.
command::Result ask_queue_helper(const Endpoint& helper, const queue_helper::Request& request,
                                 uint32_t timeout_ms);

}  // namespace sg::rampd
