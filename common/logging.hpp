// One logger setup for every daemon: spdlog to stderr (journald or the
// terminal), with the program name on each line.
#pragma once

#include <string>

namespace sg {

// level: trace, debug, info, warn, error. Returns false for an unknown level.
bool init_logging(const std::string& program, const std::string& level);
bool set_log_level(const std::string& level);
// Whether set_log_level takes it (the five above, and spdlog's own warning,
// err, critical and off): what --log-level is checked against.
bool is_log_level(const std::string& level);

}  // namespace sg
