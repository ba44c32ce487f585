// What the daemons will need at run time from the files a configuration
// names, checked before they run (--check-config): the lists, each ramp's
// warmup stamp, each Listmonk API token file, the Postfix log rampd
// follows, and OpenDKIM's configuration. Every program runs the same
// checks, so every --check-config gives the same verdict on the same file,
// whichever daemon reads which part of it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.hpp"

namespace sg::preflight {

// One problem, as "FILE: message" (FILE:LINE: for a line of a list or of
// OpenDKIM's files).
std::vector<std::string> check(const Config& cfg, int64_t now_s);

}  // namespace sg::preflight
