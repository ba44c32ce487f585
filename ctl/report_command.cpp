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
  int exit_code = 0;
  auto a = config_and_json("report", args, exit_code);
  if (!a) return exit_code;
  const Config& cfg = *a->config;
  ReportInput in;
  in.config_path = cfg.path;
  in.now_ms = SystemClock().now_ms();
  for (const auto& s : cfg.streams)
    in.configured[s.name] = {s.ramp.has_value(), s.hourly_cap, s.daily_cap};
  bool all_up = true;
  for (const auto& d : daemon_endpoints(cfg)) {
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
  if (a->json) {
    std::cout << report_json(in).dump(2) << "\n";
  } else {
    const bool colour = ::isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
    std::cout << render_report(in, colour);
  }
  return all_up ? 0 : 1;
}

}  // namespace sg
