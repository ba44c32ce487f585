#include "common/cli.hpp"

#include <iostream>

#include "common/logging.hpp"

namespace sg::cli {

std::optional<DaemonOptions> parse(int argc, char** argv, std::string_view program,
                                   std::string_view help, std::string_view version,
                                   const ExtraHandler& extra, int& exit_code) {
  DaemonOptions o;
  exit_code = 2;  // until the options are read
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::cerr << program << ": " << a << " needs a value (see --help)\n";
        return nullptr;
      }
      return argv[++i];
    };
    const char* v = nullptr;
    if (a == "--help" || a == "-h") {
      std::cout << help;
      exit_code = 0;
      return std::nullopt;
    } else if (a == "--version") {
      std::cout << program << " " << version << "\n";
      exit_code = 0;
      return std::nullopt;
    } else if (a == "--check-config") {
      o.check_only = true;
    } else if (a == "--config" || a == "-c") {
      if (!(v = value())) return std::nullopt;
      o.config = v;
    } else if (a == "--listen") {
      if (!(v = value())) return std::nullopt;
      o.listen.emplace_back(v);
    } else if (a == "--status") {
      if (!(v = value())) return std::nullopt;
      o.status.emplace_back(v);
    } else if (a == "--log-level") {
      if (!(v = value())) return std::nullopt;
      // Checked here, so that --check-config refuses a level the daemon
      // itself would refuse at start.
      if (!is_log_level(v)) {
        std::cerr << program << ": --log-level: '" << v
                  << "' is not a log level (trace, debug, info, warn, error)\n";
        return std::nullopt;
      }
      o.log_level = v;
    } else {
      switch (extra ? extra(a, value) : Extra::unknown) {
        case Extra::taken:
          continue;
        case Extra::error:
          return std::nullopt;
        case Extra::unknown:
          std::cerr << program << ": unknown option '" << a << "' (see --help)\n";
          return std::nullopt;
      }
    }
  }
  if (o.config.empty()) {
    std::cerr << program << ": --config FILE is required (see --help)\n";
    return std::nullopt;
  }
  return o;
}

std::optional<std::vector<Endpoint>> endpoints(const std::vector<std::string>& texts,
                                               std::string_view program, std::string_view option) {
  std::vector<Endpoint> out;
  bool ok = true;
  for (const auto& t : texts) {
    std::string err;
    if (auto ep = parse_endpoint(t, err)) {
      out.push_back(*ep);
    } else {
      std::cerr << program << ": " << option << ": " << err << "\n";
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace sg::cli
