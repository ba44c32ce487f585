// The other end of the status server (server/status_server.hpp): one GET of
// /status or /metrics from a daemon's status endpoint, for streamguardctl.
// Blocking, with a deadline for the whole exchange: the caller is a
// command-line tool that asks a few daemons in turn.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/endpoint.hpp"

namespace sg {

// The body of a 200 answer to GET `path`; nullopt with `error` set to a
// sentence naming the endpoint otherwise (cannot connect, timed out, an
// answer that is not 200).
std::optional<std::string> status_get(const Endpoint& endpoint, std::string_view path,
                                      std::chrono::milliseconds deadline, std::string& error);

}  // namespace sg
