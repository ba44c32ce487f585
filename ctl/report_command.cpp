#include "ctl/report_command.hpp"

#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "common/clock.hpp"
#include "common/config.hpp"
#include "ctl/daemon_status.hpp"
#include "ctl/report_view.hpp"

namespace sg {

int run_report(const std::vector<std::string>& args) {
  std::string config;
  bool as_json = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size() && config.empty()) {
      config = args[++i];
    } else if (args[i] == "--json") {
      as_json = true;
    } else {
      std::cerr << "streamguardctl: unexpected '" << args[i]
                << "'\nusage: streamguardctl report --config FILE [--json]\n";
      return 2;
    }
  }
  if (config.empty()) {
    std::cerr << "streamguardctl: report needs --config FILE\n";
    return 2;
  }
  auto loaded = load_config(config);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
    return 1;
  }
  ReportInput in;
  in.config_path = loaded.config->path;
  in.now_ms = SystemClock().now_ms();
  for (const auto& s : loaded.config->streams)
    in.configured[s.name] = {s.ramp.has_value(), s.hourly_cap, s.daily_cap};
  bool all_up = true;
  for (const auto& d : daemon_endpoints(*loaded.config)) {
    ReportDaemon r{d.name, d.status.has_value(), false, ""};
    if (d.status) {
      auto j = fetch_status(*d.status, r.error);
      r.up = j.has_value();
      if (j && d.name == "streamguard-rampd") in.rampd = std::move(*j);
      if (j && d.name == "streamguard-policyd") in.policyd = std::move(*j);
    }
    all_up = all_up && (!r.asked || r.up);
    in.daemons.push_back(std::move(r));
  }
  if (as_json) {
    std::cout << report_json(in).dump(2) << "\n";
  } else {
    const bool colour = ::isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
    std::cout << render_report(in, colour);
  }
  return all_up ? 0 : 1;
}

}  // namespace sg
