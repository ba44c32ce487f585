// The skeleton every streamguard daemon runs in, so that policyd, rampd and
// the milter start, report, reload and stop alike:
//
//   - config_failed()  prints each config error and "PROGRAM: N errors in
//                      FILE" (exit status 1), at start and for --check-config;
//   - start_process()  logging at --log-level else the config's level, the
//                      config's time zone, SIGPIPE ignored (a peer that
//                      closes must cost one failed write, never the daemon);
//   - serve_status()   the status socket (/metrics, /status), its addresses
//                      logged;
//   - Signals          the loop's signals, caught from the start: SIGHUP reloads (an invalid new
//                      config keeps the running one) and is counted in
//                      streamguard_config_reloads_total{result}; SIGTERM and
//                      SIGINT stop accepting, let the requests in flight
//                      finish (bounded), then stop the loop. systemd hears
//                      of each (READY, RELOADING, STOPPING, the watchdog:
//                      server/systemd_notify.hpp).
// The libmilter engine, which runs libmilter's own loop, uses the same
// pieces but its own signal thread (milter/milter_app.cpp).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"
#include "common/endpoint.hpp"
#include "common/metrics.hpp"
#include "server/daemon_record.hpp"
#include "server/status_server.hpp"

namespace sg::daemon {

// Each config error as FILE:LINE:COLUMN: message.
std::vector<std::string> error_lines(const std::vector<ConfigError>& errors);

// Prints each error line, then "PROGRAM: N error(s) in FILE[ (what)]", on
// stderr. Returns 1, the exit status of an invalid configuration.
int config_failed(std::string_view program, const std::string& file,
                  const std::vector<std::string>& errors, std::string_view what = {});

// Logging (cli_level when given, else config_level), the time zone, SIGPIPE
// ignored. False after printing "PROGRAM: unknown log level 'X'".
bool start_process(std::string_view program, const std::string& cli_level,
                   const std::string& config_level, const std::string& timezone);

// The status server on `endpoints` (none: nullptr), addresses logged.
// Throws std::runtime_error naming the endpoint that cannot be bound.
std::unique_ptr<StatusServer> serve_status(boost::asio::io_context& io,
                                           const std::vector<Endpoint>& endpoints,
                                           StatusServer::Page metrics, StatusServer::Page status);

// Logs a reload that failed: each error, then that the running
// configuration stays.
void reload_failed(const std::string& file, const std::vector<std::string>& errors);

struct Hooks {
  // SIGHUP: re-read the configuration; true when the new one is in force.
  std::function<bool()> reload;
  // SIGTERM, SIGINT: stop accepting new work (close the listeners).
  std::function<void()> stop;
  // True when no request is in flight; the loop stops once it is (or when
  // the drain limit has passed). Unset: stop at once.
  std::function<bool()> drained;
  // Where reloads are recorded for /status (unset: counted only).
  DaemonRecord* record = nullptr;
};

// The counter every daemon reports reloads in (ok, error).
metrics::Family<metrics::Counter>& reload_counter(metrics::Registry& registry);
// streamguard_build_info{daemon, version} = 1: which build answers, on /metrics.
void build_info(metrics::Registry& registry, std::string_view daemon, std::string_view version);

// The daemon's signals (SIGHUP, SIGTERM, SIGINT), caught from construction
// on: make it before the daemon binds or says it is serving, so a signal
// sent the moment it is up waits for run() instead of killing it.
class Signals {
 public:
  explicit Signals(boost::asio::io_context& io);
  ~Signals();
  Signals(const Signals&) = delete;
  Signals& operator=(const Signals&) = delete;

  // Runs the loop until SIGTERM or SIGINT (then drains, see Hooks). Returns 0.
  int run(const Hooks& hooks, metrics::Family<metrics::Counter>& reloads,
          std::chrono::milliseconds drain_limit = std::chrono::seconds(5));

 private:
  boost::asio::io_context& io_;
  std::unique_ptr<boost::asio::signal_set> set_;
};

}  // namespace sg::daemon
