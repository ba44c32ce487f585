// The command line every streamguard daemon shares: --help, --version,
// --config/-c, --check-config, --listen, --status, --log-level, and a hook
// for the program's own options. Usage errors are printed as
// "PROGRAM: ..." on stderr.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/endpoint.hpp"

namespace sg::cli {

struct DaemonOptions {
  std::string config;
  bool check_only = false;
  std::vector<std::string> listen;  // repeatable
  std::vector<std::string> status;  // repeatable
  std::string log_level;
};

// What the program's own handler did with an option.
enum class Extra { taken, unknown, error };
// value() returns the option's argument (nullptr, after printing the usage
// error, when there is none); the handler prints its own errors.
using ExtraHandler =
    std::function<Extra(std::string_view option, const std::function<const char*()>& value)>;

// nullopt when the program should exit now with exit_code: 0 after --help or
// --version, 2 after a usage error (printed).
std::optional<DaemonOptions> parse(int argc, char** argv, std::string_view program,
                                   std::string_view help, std::string_view version,
                                   const ExtraHandler& extra, int& exit_code);

// The endpoints of a repeatable address option (--listen, --status); nullopt
// after printing "PROGRAM: OPTION: why" for each one that does not parse.
std::optional<std::vector<Endpoint>> endpoints(const std::vector<std::string>& texts,
                                               std::string_view program, std::string_view option);

}  // namespace sg::cli
