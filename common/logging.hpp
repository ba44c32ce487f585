// One logger setup for every daemon: spdlog to stderr (journald or the
// terminal), with the program name on each line.
#pragma once

#include <string>

namespace sg {

// level: trace, debug, info, warn, error. Returns false for an unknown level.
bool init_logging(const std::string& program, const std::string& level);
bool set_log_level(const std::string& level);

}  // namespace sg
