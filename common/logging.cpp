#include "common/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <string>

namespace sg {

bool set_log_level(const std::string& level) {
  auto l = spdlog::level::from_str(level);
  if (l == spdlog::level::off && level != "off") return false;
  spdlog::set_level(l);
  return true;
}

bool init_logging(const std::string& program, const std::string& level) {
  auto logger = spdlog::stderr_logger_mt(program);
  // The pid goes into the pattern as text: spdlog's %P asks the kernel on
  // every line.
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %n[" + std::to_string(::getpid()) + "] %l: %v");
  spdlog::set_default_logger(logger);
  spdlog::flush_on(spdlog::level::warn);
  return set_log_level(level);
}

}  // namespace sg
