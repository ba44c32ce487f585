#include "rampd/rampd_app.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <ctime>
#include <iostream>

#include "common/civil_time.hpp"
#include "common/cli.hpp"
#include "common/clock.hpp"
#include "common/logging.hpp"
#include "preflight/preflight.hpp"
#include "rampd/rampd.hpp"
#include "server/daemon.hpp"
#include "store/redis_durability.hpp"

namespace sg::rampd {
namespace {

constexpr const char* kHelp = R"(NAME
    streamguard-rampd - warmup caps, breakers, suppression, held mail

SYNOPSIS
    streamguard-rampd --config FILE [--redis URL] [--status ADDR]...
                      [--log-level LEVEL]
    streamguard-rampd --config FILE --check-config
    streamguard-rampd --help | --version

DESCRIPTION
    The sidecar of streamguard-policyd, beside Postfix. It shares policyd's
    configuration file and Redis.

    Ramp. Every [rampd] interval_s (default 60 s) and at start, for every
    stream with a ramp: the warmup day is counted from the stream's stamp
    file (epoch seconds) in calendar days, or in send days (days on which
    the stream sent at least send_day_minimum, from policyd's daily counts,
    which rampd copies into its own history). The day in force only moves
    forward, at most one step a day. The caps it gives are written into the
    stream's caps hash in Redis (policyd reads them there) in one atomic
    step, with ramp:day, ramp:reason and ramp:version. A missing or
    unreadable stamp is logged as an error and changes nothing.

    Listmonk. For a stream with `listmonk = { dsn = ... }`, Listmonk's
    settings table gets app.message_sliding_window = true,
    ..._duration = window and ..._rate = floor(hourly cap x fraction), in
    one transaction and only when a value differs; then, if reload_url is
    set, POST reload_url (Listmonk reads its settings only at start). A
    stream in shadow mode gets its caps published, but Listmonk is left as
    it is (the rate it would get is on /status as would_rate).

    Breakers. rampd follows the Postfix log ([rampd] maillog) and feeds
    each delivery result, by stream (the transport that logged it) and
    operator (the MX that answered, or the recipient domain), to the
    [[breaker]] rules. A tripped breaker is written into the stream's caps
    hash as breaker:op:NAME; policyd then defers or holds that operator's
    recipients until the cool-down ends, and lets a growing share of the cap
    through during recovery. freeze_ramp breakers stop the ramp instead.

    Suppression. The same results go to the [[suppress]] rules: an address
    that hard-bounced, or a domain dead for a day, is written to Redis and
    logged once ("suppressed address A until T ..."); every stream's
    policyd refuses it until its ttl ends; reputation replies never
    teach one. Each round removes ended entries and repairs a stream's copy.
    An address learned is also blocklisted in the Listmonk of every
    enforcing stream that has one (subscribers.status = 'blocklisted',
    unsubscribed from its lists; domains too with blocklist_domains = true;
    blocklist = false turns it off), retried with back-off when that fails. streamguardctl suppress show|add|remove|list|
    import|export for the operator.

    Refunds. With [policyd] commit = "end_of_message", policyd commits a
    message's charges when Postfix asks at END-OF-MESSAGE, before the
    milters' verdict. When the log says a milter refused the message after
    all (cleanup's "QID: milter-reject: END-OF-MESSAGE" line), rampd gives
    its charges back (logged "refund: stream S: message QID ...", counted in
    streamguard_rampd_refunded_messages_total).

    One at a time. A rampd works only while it holds the lease in Redis
    (sg:rampd:lease, renewed every 5 s, gone 30 s after its holder stops
    renewing): a second rampd on the same Redis, started by mistake, does
    nothing and says so (log, /status "lease", streamguard_rampd_lease_held
    0) until the first stops (it releases the lease), hangs or dies (a
    holder on this host whose process is gone is replaced at once).

    Held mail. Every [rampd] drain_interval_s, the hold queue is read with
    postqueue -j. Each held message's stream comes from its queue file's
    content_filter (postcat -e). Oldest first, each recipient goes through
    the check policyd answers RCPT with (lists, operator by domain or by MX
    with the same [dns] settings, exclusions, [dns] on_failure) and is
    charged against the same caps and breakers; a message whose recipients
    are all charged is released (postsuper -H, then postqueue -i). One that
    waits for an operator's cap or breaker says why once in the log. A
    message none of whose recipients the stream may mail now is returned to
    its sender (postsuper -f); one with some such recipients stays held and
    is reported. Mail held longer than held_warn_s is reported, never
    expired. Each release is marked in Redis before postsuper runs, and the
    next round settles a release whose end rampd did not see (a crash,
    postsuper timing out): committed if the message left the hold queue,
    given back if not.

OPTIONS
    --config FILE     The TOML configuration (required). See
                      docs/configuration.md.
    --check-config    Read FILE, then check the files it names as the
                      daemons will need them (lists, warmup stamps, Listmonk
                      token files, the maillog, OpenDKIM's configuration;
                      the same check in every streamguard daemon), print
                      each problem naming its file, and exit: 0 when valid,
                      1 when not.
    --redis URL       Use this Redis instead of [redis] url:
                      redis://[USER:PASSWORD@]HOST:PORT[/DB],
                      unix://[USER:PASSWORD@]/path[?db=N], or
                      sentinel://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER[/DB]
                      (the master Redis Sentinel names MASTER).
    --status ADDR     Serve /metrics and /status here instead of [rampd]
                      status; repeatable. ADDR is unix:/path or
                      inet:HOST:PORT.
    --log-level L     trace, debug, info (default: the config's), warn, error.
    --help            This text.
    --version         The version.

SIGNALS
    SIGHUP            Reload FILE. An invalid file is reported and the
                      running configuration kept. Breakers start over when
                      their rules changed (open ones stay in Redis until
                      their cool-down ends). [redis], [rampd] status,
                      interval_s and drain_interval_s change only on
                      restart. Reloads are counted in
                      streamguard_config_reloads_total.
    SIGTERM, SIGINT   Stop.

EXIT STATUS
    0 on a clean stop or a valid --check-config; 1 on an invalid
    configuration; 2 on a usage error or a status address that cannot be
    bound.

FILES
    Redis keys (prefix "sg", {stream} hash tag): sg:{STREAM}:caps (caps,
    breakers, ramp:* fields), sg:{STREAM}:ramp (the ramp state) and
    sg:{STREAM}:sent_days (send history), kept without a TTL;
    sg:{STREAM}:releasing (held messages being released, until settled);
    sg:suppress, sg:suppress:expiry and sg:suppress:domains (the
    suppressed addresses and domains), sg:{STREAM}:suppress (each
    stream's copy); sg:rampd:lease (which rampd works, see below).
    The field rampd:kept of sg:{STREAM}:caps is rampd's mark: policyd
    ([redis] expect_rampd) charges only where it is.
    [rampd] state_file (default /var/lib/streamguard/rampd-state.json):
    today's counts, the send history and the ramp state of every stream,
    written each round; a Redis without the mark gets them back from it
    (what was counted after the last round is lost with Redis).
    /etc/localtime: the zone classic syslog stamps in the maillog are read
    in (not the config's timezone).

EXAMPLES
    streamguard-rampd --config /etc/streamguard/streamguard.toml --check-config
    streamguard-rampd --config streamguard.toml --status inet:127.0.0.1:9103
)";

int64_t now_ms() {
  return SystemClock().now_ms();
}

// Runs `round` now and then every `period`, forever (until the loop stops).
template <class Round>
boost::asio::awaitable<void> every(boost::asio::io_context& io, const char* what,
                                   std::chrono::seconds period, Round round) {
  boost::asio::steady_timer timer(io);
  for (;;) {
    try {
      auto step = round();
      co_await std::move(step);
    } catch (const std::exception& e) {
      // A round that fails must not end the loop (co_spawn's `detached`
      // would drop the exception, and that work would silently stop).
      spdlog::error("{} round failed: {}", what, e.what());
    }
    timer.expires_after(period);
    boost::system::error_code ec;
    auto waiting = timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    co_await std::move(waiting);
    if (ec) co_return;
  }
}

void print_summary(const Config& cfg) {
  std::cout << cfg.path << ": configuration is valid\n";
  for (const auto& s : cfg.streams)
    std::cout << "  stream " << s.name << ": "
              << (s.ramp ? "ramp from " + s.ramp->stamp : std::string("no ramp"))
              << (s.listmonk ? "; Listmonk kept in step" : "") << "\n";
  std::cout << "  breakers: " << cfg.breakers.size() << " rules; suppress: " << cfg.suppress.size()
            << " rules; Postfix log: "
            << (cfg.rampd.maillog.empty() ? "none (breakers idle)" : cfg.rampd.maillog)
            << "\n  held mail: " << (cfg.rampd.drain ? "drained" : "reported only")
            << (cfg.rampd.queue_helper
                    ? "; postsuper and postcat through streamguard-queue-helper at " +
                          cfg.rampd.queue_helper->path
                    : std::string("; postsuper and postcat run by rampd itself (as root)"))
            << "\n  state file: " << cfg.rampd.state_file
            << " (the day's counts, put back into a Redis that lost them)\n";
}

// Redis and the status sockets: the command line's, else the config's.
// nullopt after printing a usage error.
std::optional<std::pair<RedisUrl, std::vector<Endpoint>>> addresses(const cli::DaemonOptions& opts,
                                                                    const std::string& redis_url,
                                                                    const Config& cfg) {
  RedisUrl redis = cfg.redis.target;
  if (!redis_url.empty()) {
    std::string err;
    auto u = parse_redis_url(redis_url, err);
    if (!u) {
      std::cerr << "streamguard-rampd: --redis: " << err << "\n";
      return std::nullopt;
    }
    redis = *u;
  }
  const auto status = cli::endpoints(opts.status, "streamguard-rampd", "--status");
  if (!status) return std::nullopt;
  return std::make_pair(redis, status->empty() ? cfg.rampd.status : *status);
}

void log_started(const std::string& file, const Config& cfg, const RedisUrl& redis) {
  spdlog::info("config {} loaded: {} streams, {}, Postfix log {}, held mail {}", file,
               cfg.streams.size(), redis_location(redis),
               cfg.rampd.maillog.empty() ? "none" : cfg.rampd.maillog,
               cfg.rampd.drain ? "drained" : "reported only");
}

// The three rounds, each on its own period, on the loop.
void spawn_rounds(boost::asio::io_context& io, Rampd& app, const Config& cfg) {
  using std::chrono::seconds;
  auto spawn = [&io](auto loop) {
    boost::asio::co_spawn(io, std::move(loop), boost::asio::detached);
  };
  spawn(every(io, "ramp", seconds(cfg.rampd.interval_s),
              [&app] { return app.ramp_round(now_ms()); }));
  spawn(every(io, "log", seconds(1), [&app] { return app.log_round(now_ms()); }));
  spawn(every(io, "drain", seconds(cfg.rampd.drain_interval_s),
              [&app] { return app.drain_round(now_ms()); }));
}

// SIGHUP: the new configuration, or the running one kept (false).
bool reload(const cli::DaemonOptions& opts, Rampd& app) {
  auto again = load_config(opts.config);
  if (!again.config) {
    daemon::reload_failed(opts.config, daemon::error_lines(again.errors));
    return false;
  }
  set_process_timezone(again.config->timezone);
  if (opts.log_level.empty()) set_log_level(again.config->log_level);
  app.set_config(again.config);
  spdlog::info("reload: {} loaded: {} streams", opts.config, again.config->streams.size());
  return true;
}

// The command line (--redis is rampd's own option); nullopt after --help,
// --version or a usage error (printed), with the exit status.
std::optional<cli::DaemonOptions> parse_args(int argc, char** argv, std::string& redis_url,
                                             int& exit_code) {
  auto extra = [&redis_url](std::string_view a, const std::function<const char*()>& value) {
    if (a != "--redis") return cli::Extra::unknown;
    const char* v = value();
    if (!v) return cli::Extra::error;
    redis_url = v;
    return cli::Extra::taken;
  };
  auto opts =
      cli::parse(argc, argv, "streamguard-rampd", kHelp, STREAMGUARD_VERSION, extra, exit_code);
  if (opts && !opts->listen.empty()) {
    std::cerr << "streamguard-rampd: --listen is not an option of streamguard-rampd (it serves "
                 "only its status socket: --status)\n";
    exit_code = 2;
    return std::nullopt;
  }
  return opts;
}

}  // namespace

int run_rampd(int argc, char** argv) {
  int exit_code = 2;
  std::string redis_url;
  const auto opts = parse_args(argc, argv, redis_url, exit_code);
  if (!opts) return exit_code;
  const auto loaded = load_config(opts->config);
  if (!loaded.config)
    return daemon::config_failed("streamguard-rampd", opts->config,
                                 daemon::error_lines(loaded.errors));
  const auto& cfg = loaded.config;
  if (opts->check_only) {
    if (auto problems = preflight::check(*cfg, std::time(nullptr)); !problems.empty())
      return daemon::config_failed("streamguard-rampd", opts->config, problems,
                                   "in the files it names");
    print_summary(*cfg);
    return 0;
  }
  const auto addr = addresses(*opts, redis_url, *cfg);
  if (!addr ||
      !daemon::start_process("streamguard-rampd", opts->log_level, cfg->log_level, cfg->timezone))
    return 2;
  const RedisUrl& redis = addr->first;

  boost::asio::io_context io(1);
  daemon::Signals signals(io);
  Rampd* app_ptr = nullptr;
  // rampd's calls are few and not on a hot path: a longer deadline than
  // policyd's, at least 2 s.
  RedisClient redis_client(
      io,
      RedisClientOptions{
          redis, std::chrono::milliseconds(std::max<uint32_t>(cfg->redis.timeout_ms, 2000))},
      RedisClientHooks{[&app_ptr, &redis_client] {
                         if (!app_ptr) return;
                         spdlog::info("redis: connected to {}", redis_client.describe());
                         app_ptr->load_scripts();
                         check_durability(redis_client, [&app_ptr](std::vector<std::string> w) {
                           for (const auto& line : w) spdlog::warn("redis: {}", line);
                           if (app_ptr) app_ptr->set_redis_warnings(std::move(w));
                         });
                       },
                       [&redis_client](std::string_view why) {
                         spdlog::warn("redis: connection to {} down ({})", redis_client.describe(),
                                      why);
                       },
                       {}});
  Rampd app(io, redis_client, cfg);
  app_ptr = &app;
  auto& reloads = daemon::reload_counter(app.registry());
  daemon::build_info(app.registry(), "streamguard-rampd", STREAMGUARD_VERSION);
  std::unique_ptr<StatusServer> status_server;
  try {
    status_server = daemon::serve_status(
        io, addr->second, [&app] { return app.metrics_text(); },
        [&app] { return app.status_json(); });
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  log_started(opts->config, *cfg, redis);
  redis_client.start();
  spawn_rounds(io, app, *cfg);

  daemon::Hooks hooks;
  hooks.reload = [&] { return reload(*opts, app); };
  // The lease goes first, so a rampd started next works at once; the loop
  // stops when Redis answered (or at the drain limit).
  bool lease_released = false;
  hooks.stop = [&] {
    status_server.reset();
    app.release_lease([&lease_released] { lease_released = true; });
  };
  hooks.drained = [&lease_released] { return lease_released; };
  hooks.record = &app.record();
  return signals.run(hooks, reloads);
}

}  // namespace sg::rampd
