#include "common/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <string>

namespace sg {

bool is_log_level(const std::string& level) {
  // from_str gives off for any name it does not know.
  return spdlog::level::from_str(level) != spdlog::level::off || level == "off";
}

bool set_log_level(const std::string& level) {
  if (!is_log_level(level)) return false;
  spdlog::set_level(spdlog::level::from_str(level));
  return true;
}

bool init_logging(const std::string& program, const std::string& level) {
  auto logger = spdlog::stderr_logger_mt(program);
  // The stamp is in the process's zone, which the daemons set to the
  // config's `timezone` (the day the caps count in); its UTC offset (%z,
  // "-06:00") keeps it unambiguous beside journald's and Postfix's stamps in
  // the host's zone. The pid goes into the pattern as text: spdlog's %P asks
  // the kernel on every line.
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %n[" + std::to_string(::getpid()) + "] %l: %v");
  spdlog::set_default_logger(logger);
  spdlog::flush_on(spdlog::level::warn);
  return set_log_level(level);
}

}  // namespace sg
