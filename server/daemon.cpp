#include "server/daemon.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <iostream>

#include "common/civil_time.hpp"
#include "common/logging.hpp"
#include "server/systemd_notify.hpp"

namespace sg::daemon {

namespace net = boost::asio;

std::vector<std::string> error_lines(const std::vector<ConfigError>& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.to_string());
  return out;
}

int config_failed(std::string_view program, const std::string& file,
                  const std::vector<std::string>& errors, std::string_view what) {
  for (const auto& e : errors) std::cerr << e << "\n";
  std::cerr << program << ": " << errors.size() << (errors.size() == 1 ? " error" : " errors")
            << " in " << file;
  if (!what.empty()) std::cerr << " (" << what << ")";
  std::cerr << "\n";
  return 1;
}

bool start_process(std::string_view program, const std::string& cli_level,
                   const std::string& config_level, const std::string& timezone) {
  const std::string& level = cli_level.empty() ? config_level : cli_level;
  if (!init_logging(std::string(program), level)) {
    std::cerr << program << ": unknown log level '" << level << "'\n";
    return false;
  }
  set_process_timezone(timezone);
  // hiredis and libpq write with write(2), which raises SIGPIPE on a closed
  // peer; Asio's own socket writes already use MSG_NOSIGNAL.
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}

std::unique_ptr<StatusServer> serve_status(net::io_context& io,
                                           const std::vector<Endpoint>& endpoints,
                                           StatusServer::Page metrics, StatusServer::Page status) {
  if (endpoints.empty()) return nullptr;
  auto server =
      std::make_unique<StatusServer>(io, endpoints, std::move(metrics), std::move(status));
  server->log_addresses();
  return server;
}

void reload_failed(const std::string& file, const std::vector<std::string>& errors) {
  for (const auto& e : errors) spdlog::error("reload: {}", e);
  spdlog::error("reload: {} has {} error(s); keeping the running configuration", file,
                errors.size());
}

void build_info(metrics::Registry& registry, std::string_view daemon, std::string_view version) {
  registry
      .gauge("streamguard_build_info", "1, labelled with the daemon and its version.",
             {"daemon", "version"})
      .labels({daemon, version})
      .set(1);
}

metrics::Family<metrics::Counter>& reload_counter(metrics::Registry& registry) {
  return registry.counter("streamguard_config_reloads_total", "Config reloads by result.",
                          {"result"});
}

namespace {

// Stops `io` once `drained()` or the limit has passed, checking every 10 ms.
void stop_when_drained(net::io_context& io, const std::function<bool()>& drained,
                       std::chrono::steady_clock::time_point limit) {
  if (!drained || drained() || std::chrono::steady_clock::now() >= limit) {
    io.stop();
    return;
  }
  auto timer = std::make_shared<net::steady_timer>(io, std::chrono::milliseconds(10));
  timer->async_wait([&io, drained, limit, timer](boost::system::error_code) {
    stop_when_drained(io, drained, limit);
  });
}

}  // namespace

Signals::Signals(net::io_context& io)
    : io_(io), set_(std::make_unique<net::signal_set>(io, SIGHUP, SIGTERM, SIGINT)) {}

Signals::~Signals() = default;

static void tell_systemd(std::string_view state) {
  std::string why;
  if (!notify(state, &why)) spdlog::warn("systemd notification failed: {}", why);
}

int Signals::run(const Hooks& hooks, metrics::Family<metrics::Counter>& reloads,
                 std::chrono::milliseconds drain_limit) {
  net::io_context& io = io_;
  net::signal_set& signals = *set_;
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          tell_systemd(reloading_state());
          const bool ok = hooks.reload();
          reloads.labels({ok ? "ok" : "error"}).inc();
          if (hooks.record) hooks.record->reload(ok);
          tell_systemd(ok ? "READY=1\nSTATUS=serving; configuration reloaded"
                          : "READY=1\nSTATUS=serving; the last reload failed, the running "
                            "configuration stays (see the log)");
          signals.async_wait(on_signal);
          return;
        }
        spdlog::info("{}: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        tell_systemd("STOPPING=1\nSTATUS=stopping: finishing the requests in flight");
        if (hooks.stop) hooks.stop();
        stop_when_drained(io, hooks.drained, std::chrono::steady_clock::now() + drain_limit);
      };
  signals.async_wait(on_signal);
  // Pinged from the loop itself: a loop that hangs stops the pings.
  Watchdog watchdog(io);
  // Called once the listeners are bound and the configuration is loaded.
  tell_systemd("READY=1\nSTATUS=serving");
  io.run();
  return 0;
}

}  // namespace sg::daemon
