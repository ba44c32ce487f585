#include "policyd/policyd_app.hpp"

#include "common/dns_server.hpp"

#include <spdlog/spdlog.h>

#include <ctime>
#include <iostream>
#include <optional>

#include "common/civil_time.hpp"
#include "common/cli.hpp"
#include "common/logging.hpp"
#include "common/redis_url.hpp"
#include "policyd/policy_server.hpp"
#include "preflight/preflight.hpp"
#include "rules/mx_operator.hpp"
#include "server/daemon.hpp"

namespace sg {

namespace {

constexpr const char* kHelp = R"(NAME
    streamguard-policyd - Postfix policy service that keeps mail streams apart

SYNOPSIS
    streamguard-policyd --config FILE [--listen ADDR]... [--redis URL]
                        [--status ADDR]... [--dns SERVER]... [--log-level LEVEL]
    streamguard-policyd --config FILE --check-config
    streamguard-policyd --help | --version

DESCRIPTION
    Answers Postfix's check_policy_service at the RCPT stage. The stream of a
    recipient is chosen by the submission port Postfix reports (server_port).
    A recipient on a list the stream excludes is rejected (REJECT 5.7.1 with
    the list and the stream named); otherwise every cap that applies (stream
    hourly rate, stream daily count, stream x operator hourly and daily) is
    checked and charged in one atomic Redis call.

    The receiving operator (google, microsoft, ...) of a recipient domain
    comes from the static [operators] domains map, else from its MX hosts:
    the domain is that operator's when every MX host ends in one of the
    operator's mx_suffixes. MX answers are cached for their TTL. An operator
    with `list` set makes its custom domains count as on that list (a domain
    on Yahoo's MX is Yahoo family). A lookup that times out or fails answers
    [dns] on_failure (defer, hold, or "unknown": no operator caps).

    With [policyd] commit = "end_of_message" a charge made at RCPT is a
    reservation of the SMTP transaction (Postfix's instance attribute): the
    END-OF-MESSAGE request (smtpd_end_of_data_restrictions) commits it, and a
    transaction that never gets there gives its charges back after
    reserve_ttl_s. The committed charges stay under the message's queue id
    for an hour: streamguard-rampd gives them back if a milter refuses the
    message after END-OF-MESSAGE. Over a cap, the stream's
    over_cap action answers: DEFER_IF_PERMIT 4.7.1, or HOLD (accepted and
    parked in Postfix's hold queue, nothing lost). If Redis cannot answer
    within its deadline, [redis] on_error answers (hold or defer); exclusions
    still apply. So it does when Redis has lost the day's counts: with
    [redis] expect_rampd (the default) caps are charged only in a Redis
    streamguard-rampd has marked, so one that came back empty (restarted
    without persistence, flushed, a replica promoted) answers on_error until
    rampd has put the counts back from its state file, instead of a second
    daily cap. A stream in shadow mode answers DUNNO and counts what it
    would have done.

OPTIONS
    --config FILE     The TOML configuration (required). See
                      docs/configuration.md.
    --check-config    Read FILE, then check the files it names as the
                      daemons will need them (lists, warmup stamps, Listmonk
                      token files, the maillog, OpenDKIM's configuration;
                      the same check in every streamguard daemon), print
                      each problem naming its file (FILE:LINE:COLUMN: for
                      FILE itself), and exit: 0 when all is valid, 1 when
                      not.
    --listen ADDR     Listen here instead of [policyd] listen; repeatable.
                      ADDR is unix:/path or inet:HOST:PORT (HOST a literal
                      IP address; port 0 picks a free port, logged at start).
    --redis URL       Use this Redis instead of [redis] url:
                      redis://[USER:PASSWORD@]HOST:PORT[/DB],
                      unix://[USER:PASSWORD@]/path[?db=N], or
                      sentinel://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER[/DB]
                      (the master Redis Sentinel names MASTER).
    --status ADDR     Serve /metrics and /status here instead of
                      [policyd] status; repeatable.
    --dns SERVER      Send MX lookups to this DNS server instead of [dns]
                      servers (or /etc/resolv.conf); repeatable. SERVER is
                      IP, IP:PORT or [IPv6]:PORT.
    --log-level L     trace, debug, info (default: the config's), warn, error.
    --help            This text.
    --version         The version.

SIGNALS
    SIGHUP            Reload FILE and its lists. An invalid new configuration
                      is reported and the running one is kept. Listen and
                      status addresses, [redis] url, key_prefix and
                      timeout_ms, and [dns] enabled, servers, timeout_ms
                      and tries change only on restart. A reload empties
                      the MX cache.
                      Reloads are counted in streamguard_config_reloads_total.
    SIGTERM, SIGINT   Stop: close the listeners, let the requests being
                      decided finish (at most 5 s), exit.

EXIT STATUS
    0 on a clean stop or a valid --check-config; 1 on an invalid
    configuration; 2 on a usage error or a listener that cannot be bound
    (among them a unix socket another policyd still serves: it is never
    taken over).

EXAMPLES
    streamguard-policyd --config /etc/streamguard/streamguard.toml --check-config
    streamguard-policyd --config streamguard.toml --listen inet:127.0.0.1:10040 \
        --redis redis://127.0.0.1:6379/0

    In Postfix main.cf:
        smtpd_recipient_restrictions = ...,
            check_policy_service { unix:private/streamguard, timeout=10s,
                                   default_action=DEFER_IF_PERMIT }
)";

struct Options : cli::DaemonOptions {
  std::string redis;
  std::vector<std::string> dns;
};

// Returns nullopt after --help, --version or a usage error (printed).
std::optional<Options> parse_args(int argc, char** argv, int& exit_code) {
  Options o;
  auto extra = [&o](std::string_view a, const std::function<const char*()>& value) {
    const char* v = nullptr;
    if (a == "--redis") {
      if (!(v = value())) return cli::Extra::error;
      o.redis = v;
      return cli::Extra::taken;
    }
    if (a == "--dns") {
      if (!(v = value())) return cli::Extra::error;
      std::string err;
      if (!parse_dns_server(v, err)) {
        std::cerr << "streamguard-policyd: --dns: " << err << "\n";
        return cli::Extra::error;
      }
      o.dns.emplace_back(v);
      return cli::Extra::taken;
    }
    return cli::Extra::unknown;
  };
  auto common =
      cli::parse(argc, argv, "streamguard-policyd", kHelp, STREAMGUARD_VERSION, extra, exit_code);
  if (!common) return std::nullopt;
  static_cast<cli::DaemonOptions&>(o) = std::move(*common);
  return o;
}

void print_summary(const Runtime& rt) {
  const auto& cfg = *rt.config;
  std::cout << cfg.path << ": configuration is valid\n";
  for (const auto& s : cfg.streams) {
    std::cout << "  stream " << s.name << ": ports";
    for (auto p : s.ports) std::cout << ' ' << p;
    auto hourly = s.fallback_hourly_cap();
    std::cout << "; " << to_string(s.mode) << "; over cap: " << to_string(s.over_cap)
              << "; hourly cap " << (hourly ? std::to_string(*hourly) : "none")
              << (hourly && !s.hourly_cap ? " (ramp day 0, until rampd writes the current cap)"
                                          : "")
              << ", daily cap " << (s.daily_cap ? std::to_string(*s.daily_cap) : "none")
              << "; excludes";
    for (const auto& e : s.exclude) std::cout << ' ' << e;
    if (s.exclude.empty()) std::cout << " nothing";
    std::cout << "\n";
  }
  std::cout << "  charges: "
            << (cfg.policyd.commit == Commit::end_of_message
                    ? "reserved at RCPT, committed at END-OF-MESSAGE (returned after " +
                          std::to_string(cfg.policyd.reserve_ttl_s) + " s)"
                    : std::string("final at RCPT"))
            << "\n";
  std::cout << "  Redis: " << redact_redis_url(cfg.redis.url)
            << "; unreachable: " << to_string(cfg.redis.on_error) << "; "
            << (cfg.redis.expect_rampd
                    ? "charged only where streamguard-rampd has marked the day's counts"
                    : "expect_rampd = false: the day's counts start over if Redis loses them")
            << "\n";
  std::cout << "  MX lookups: ";
  if (!cfg.dns.enabled) {
    std::cout << "off";
  } else {
    std::string servers;
    for (const auto& sv : cfg.dns.servers) servers += (servers.empty() ? "" : " ") + sv;
    std::cout << "via " << (servers.empty() ? "/etc/resolv.conf" : servers) << "; on failure: "
              << (cfg.dns.on_failure == Action::dunno ? "unknown" : to_string(cfg.dns.on_failure));
  }
  std::cout << "\n";
  for (const auto& [name, list] : rt.classifier.lists())
    std::cout << "  list " << name << ": " << list.size() << " entries from " << cfg.lists.at(name)
              << "\n";
}

// Warns about the settings a reload read but that only a restart applies.
void warn_restart_only(const Config& old_cfg, const Config& new_cfg) {
  if (old_cfg.policyd.listen != new_cfg.policyd.listen ||
      old_cfg.policyd.status != new_cfg.policyd.status || old_cfg.redis.url != new_cfg.redis.url ||
      old_cfg.redis.key_prefix != new_cfg.redis.key_prefix ||
      old_cfg.redis.timeout_ms != new_cfg.redis.timeout_ms ||
      old_cfg.dns.enabled != new_cfg.dns.enabled || old_cfg.dns.servers != new_cfg.dns.servers ||
      old_cfg.dns.timeout_ms != new_cfg.dns.timeout_ms || old_cfg.dns.tries != new_cfg.dns.tries)
    spdlog::warn(
        "reload: [policyd] listen/status, [redis] url/key_prefix/timeout_ms or [dns] "
        "enabled/servers/timeout_ms/tries changed; they take effect only on restart "
        "(everything else is in effect now)");
}

// The runtime (lists loaded) of a parsed config, with the command line's
// --dns applied.
RuntimeResult runtime_of(const Options& opts, std::shared_ptr<const Config> cfg) {
  if (!opts.dns.empty()) {
    auto with_dns = std::make_shared<Config>(*cfg);
    with_dns->dns.servers = opts.dns;
    cfg = std::move(with_dns);
  }
  return build_runtime(std::move(cfg));
}

// The config file, read and built (at start and at every reload).
RuntimeResult load(const Options& opts) {
  auto parsed = load_config(opts.config);
  if (!parsed.config) return RuntimeResult{nullptr, std::move(parsed.errors)};
  return runtime_of(opts, std::move(parsed.config));
}

// Where to listen, serve status and find Redis: the command line's, else
// the config's. nullopt after printing a usage error.
struct Addresses {
  std::vector<Endpoint> listen, status;
  RedisUrl redis;
};
std::optional<Addresses> addresses(const Options& opts, const Config& cfg) {
  auto listen = cli::endpoints(opts.listen, "streamguard-policyd", "--listen");
  auto status = cli::endpoints(opts.status, "streamguard-policyd", "--status");
  Addresses out{{}, {}, cfg.redis.target};
  bool ok = listen && status;
  if (!opts.redis.empty()) {
    std::string err;
    if (auto u = parse_redis_url(opts.redis, err))
      out.redis = *u;
    else {
      std::cerr << "streamguard-policyd: --redis: " << err << "\n";
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  out.listen = listen->empty() ? cfg.policyd.listen : *listen;
  out.status = status->empty() ? cfg.policyd.status : *status;
  return out;
}

// SIGHUP: the new runtime, or the running one kept (false).
bool reload(const Options& opts, PolicyService& service) {
  auto next = load(opts);
  if (!next.runtime) {
    daemon::reload_failed(opts.config, daemon::error_lines(next.errors));
    return false;
  }
  const auto& new_cfg = *next.runtime->config;
  warn_restart_only(*service.runtime()->config, new_cfg);
  set_process_timezone(new_cfg.timezone);
  if (opts.log_level.empty()) set_log_level(new_cfg.log_level);
  service.set_runtime(next.runtime);
  spdlog::info("reload: {} loaded: {} streams", opts.config, new_cfg.streams.size());
  return true;
}

}  // namespace

int run_policyd(int argc, char** argv) {
  int exit_code = 2;
  const auto opts = parse_args(argc, argv, exit_code);
  if (!opts) return exit_code;
  const auto parsed = load_config(opts->config);
  if (!parsed.config)
    return daemon::config_failed("streamguard-policyd", opts->config,
                                 daemon::error_lines(parsed.errors));
  // --check-config: the files the config names are checked as every
  // daemon checks them (preflight), all problems at once, before the lists
  // are loaded for the summary.
  if (opts->check_only)
    if (auto problems = preflight::check(*parsed.config, std::time(nullptr)); !problems.empty())
      return daemon::config_failed("streamguard-policyd", opts->config, problems,
                                   "in the files it names");
  const auto loaded = runtime_of(*opts, parsed.config);
  if (!loaded.runtime)
    return daemon::config_failed("streamguard-policyd", opts->config,
                                 daemon::error_lines(loaded.errors));
  const auto& runtime = loaded.runtime;
  const Config& cfg = *runtime->config;
  if (opts->check_only) {
    print_summary(*runtime);
    return 0;
  }
  const auto addr = addresses(*opts, cfg);
  if (!addr ||
      !daemon::start_process("streamguard-policyd", opts->log_level, cfg.log_level, cfg.timezone))
    return 2;

  boost::asio::io_context io(1);
  daemon::Signals signals(io);
  SystemClock clock;
  metrics::Registry registry;
  daemon::build_info(registry, "streamguard-policyd", STREAMGUARD_VERSION);
  std::unique_ptr<PolicyService> service;
  std::unique_ptr<PolicyServer> server;
  std::unique_ptr<StatusServer> status_server;
  try {
    service = std::make_unique<PolicyService>(io, runtime, addr->redis, clock, registry);
    server = std::make_unique<PolicyServer>(
        io, *service,
        PolicyServer::Options{addr->listen,
                              cfg.policyd.max_connections,
                              std::chrono::seconds(cfg.policyd.idle_timeout_s),
                              {}});
    for (const auto& shown : server->bound())
      spdlog::info("listening for Postfix policy requests on {}", shown.to_string());
    status_server = daemon::serve_status(
        io, addr->status, [&registry] { return registry.render(); },
        [&service] { return service->status_json(); });
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  spdlog::info("config {} loaded: {} streams, {}, on_error={}", opts->config, cfg.streams.size(),
               redis_location(addr->redis), to_string(cfg.redis.on_error));
  service->start();

  daemon::Hooks hooks;
  hooks.reload = [&] { return reload(*opts, *service); };
  hooks.stop = [&] {
    server->stop();
    status_server.reset();
  };
  hooks.drained = [&] { return server->in_flight() == 0; };
  hooks.record = &service->record();
  return signals.run(hooks, service->stats().reloads);
}

}  // namespace sg
