// streamguard-milter: options, the engine the config names (libmilter or
// Asio), signals and reloads (SIGHUP, SIGUSR1 and OpenDKIM file changes),
// status socket.
#include "milter/milter_app.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "common/cli.hpp"
#include "milter/asio_milter_server.hpp"
#include "milter/libmilter_engine.hpp"
#include "milter/milter_daemon.hpp"
#include "preflight/preflight.hpp"
#include "server/daemon.hpp"
#include "server/systemd_notify.hpp"

namespace sg {

namespace {

constexpr const char* kHelp = R"(NAME
    streamguard-milter - Postfix milter that refuses mail which would leave
    DKIM-unsigned, checks content hygiene and tags each message's stream

SYNOPSIS
    streamguard-milter --config FILE [--listen ADDR] [--status ADDR]...
                       [--opendkim-conf FILE] [--log-level LEVEL]
    streamguard-milter --config FILE --check-config
    streamguard-milter --help | --version

DESCRIPTION
    Runs in Postfix's smtpd_milters AFTER OpenDKIM. The stream of a message
    is chosen by the submission port ({daemon_port}; the milter asks Postfix
    for it, and the rendered main.cf also lists it in milter_connect_macros)
    or by {daemon_name} when it names a stream. At the end of each message:

    dkim         Reads OpenDKIM's own configuration ([milter] opendkim_conf:
                 SigningTable, KeyTable, InternalHosts, ExternalIgnoreList,
                 SubDomains, Mode) and predicts whether OpenDKIM signs this
                 message: the client must be internal (or authenticated) and
                 the From address matched by the SigningTable. It then checks
                 that a DKIM-Signature with d= aligned to the From domain is
                 really among the headers (OpenDKIM added it before us). If
                 not, the reply names the client address or the From domain
                 and the table that lacks it.
    message_id   Message-ID missing, or on a local domain (localhost,
                 localdomain, a bare container name).
    html_only    A text/html part with no text/plain alternative.
    unsubscribe  No List-Unsubscribe with List-Unsubscribe-Post:
                 List-Unsubscribe=One-Click (RFC 8058).
    from_domain  From domain not among the stream's from_domains.

    Each check has its own action per stream (a stream's milter = { ... }):
    off, warn (log and count only), tempfail (451 4.7.0) or reject
    (550 5.7.0). The most severe finding answers. An accepted message gets
    the header [milter] header (X-Streamguard-Stream: <stream>).

    [milter] engine picks how Postfix is served: "asio" (the default:
    streamguard's own milter-protocol server on one thread, about half the
    CPU per message) or "libmilter" (Sendmail's libmilter, a thread per
    connection); both answer, log and count alike.

OPTIONS
    --config FILE         The TOML configuration (required); see
                          docs/configuration.md, [milter].
    --check-config        Read FILE and OpenDKIM's configuration, then check
                          the other files FILE names as the daemons will
                          need them (lists, warmup stamps, Listmonk token
                          files, the maillog; the same check in every
                          streamguard daemon), print each problem naming
                          its file, and exit: 0 when valid, 1 when not.
    --listen ADDR         Serve Postfix here instead of [milter] listen:
                          unix:/path or inet:IP:PORT.
    --status ADDR         Serve /metrics and /status here instead of
                          [milter] status; repeatable.
    --opendkim-conf FILE  Read this opendkim.conf instead of
                          [milter] opendkim_conf.
    --log-level L         trace, debug, info (default: the config's), warn,
                          error.
    --help                This text.
    --version             The version.

SIGNALS
    SIGHUP, SIGUSR1       Reload FILE and OpenDKIM's files, with either
                          engine. An invalid new configuration is reported
                          and the running one is kept. OpenDKIM's files are
                          also re-read when they change ([milter]
                          reload_check_s).
    SIGTERM, SIGINT       Stop.

EXIT STATUS
    0 on a clean stop or a valid --check-config; 1 on an invalid
    configuration; 2 on a usage error or a socket that cannot be opened.

EXAMPLES
    streamguard-milter --config /etc/streamguard/streamguard.toml --check-config

    In Postfix main.cf (rendered by streamguardctl postfix-conf):
        smtpd_milters = unix:opendkim/opendkim.sock, unix:private/streamguard-milter
        milter_default_action = tempfail
        milter_connect_macros = j {daemon_name} {daemon_addr} {daemon_port} v _
)";

// Returns nullopt after --help, --version or a usage error (printed).
std::optional<MilterOptions> parse_args(int argc, char** argv, int& exit_code) {
  MilterOptions o;
  auto extra = [&o](std::string_view a, const std::function<const char*()>& value) {
    if (a != "--opendkim-conf") return cli::Extra::unknown;
    const char* v = value();
    if (!v) return cli::Extra::error;
    o.opendkim_conf = v;
    o.opendkim_conf_set = true;
    return cli::Extra::taken;
  };
  auto common =
      cli::parse(argc, argv, "streamguard-milter", kHelp, STREAMGUARD_VERSION, extra, exit_code);
  if (!common) return std::nullopt;
  static_cast<cli::DaemonOptions&>(o) = std::move(*common);
  if (o.listen.size() > 1) {
    std::cerr << "streamguard-milter: --listen takes one address (libmilter serves one)\n";
    exit_code = 2;
    return std::nullopt;
  }
  return o;
}

void print_summary(const MilterRuntime& rt, std::size_t files, const std::string& config) {
  std::cout << config << ": configuration is valid\n"
            << "  OpenDKIM: " << rt.config->milter.opendkim_conf << " (" << files
            << " file(s) read)\n";
  for (const auto& s : rt.config->streams)
    std::cout << "  stream " << s.name << ": dkim " << to_string(s.milter.dkim) << ", message_id "
              << to_string(s.milter.message_id) << ", html_only " << to_string(s.milter.html_only)
              << ", unsubscribe " << to_string(s.milter.unsubscribe) << ", from_domain "
              << to_string(s.milter.from_domain) << "\n";
}

// The milter socket and the status sockets: the command line's, else the
// config's. nullopt after printing a usage error.
std::optional<std::pair<Endpoint, std::vector<Endpoint>>> addresses(const MilterOptions& opts,
                                                                    const Config& cfg) {
  Endpoint listen = cfg.milter.listen;
  if (!opts.listen.empty()) {
    std::string err;
    auto e = parse_endpoint(opts.listen.front(), err);
    if (!e) {
      std::cerr << "streamguard-milter: --listen: " << err << "\n";
      return std::nullopt;
    }
    listen = *e;
  }
  const auto status = cli::endpoints(opts.status, "streamguard-milter", "--status");
  if (!status) return std::nullopt;
  return std::make_pair(listen, status->empty() ? cfg.milter.status : *status);
}

// The config and OpenDKIM's files, their errors printed; --check-config's
// summary. nullptr: exit with exit_code.
std::shared_ptr<const MilterRuntime> load(const MilterOptions& o, std::vector<std::string>& files,
                                          int& exit_code) {
  std::vector<std::string> errors;
  auto rt = load_milter_runtime(o, errors, files);
  if (!rt || !rt->opendkim) {
    exit_code = daemon::config_failed("streamguard-milter", o.config, errors,
                                      rt ? "OpenDKIM's configuration" : "");
    if (!rt || o.check_only || !rt->opendkim_error.empty()) return nullptr;
  } else {
    for (const auto& e : errors) std::cerr << e << "\n";
  }
  if (o.check_only) {
    if (auto problems = preflight::check(*rt->config, std::time(nullptr)); !problems.empty()) {
      exit_code =
          daemon::config_failed("streamguard-milter", o.config, problems, "in the files it names");
      return nullptr;
    }
    print_summary(*rt, files.size(), o.config);
    exit_code = 0;
    return nullptr;
  }
  return rt;
}

// Signals. With libmilter every one is blocked here, before any thread
// starts, and the main thread takes them (serve_libmilter). With the Asio
// engine the loop takes SIGHUP, SIGTERM and SIGINT (server/daemon.hpp) and
// a thread of ours SIGUSR1 (Reloaders).
void block_signals(bool libmilter) {
  sigset_t blocked = libmilter_signals();
  if (!libmilter) {
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGUSR1);
  }
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
}

// The reloads that do not come through the engine's loop: SIGUSR1 taken by
// a thread of ours (Asio engine; with libmilter the main thread takes it),
// and OpenDKIM's files re-read when they change. Started by the
// constructor, stopped and joined by the destructor.
class Reloaders {
 public:
  Reloaders(MilterDaemon& d, bool take_usr1, std::chrono::seconds check_every)
      : d_(d), take_usr1_(take_usr1), check_every_(check_every) {
    sigemptyset(&usr1_);
    sigaddset(&usr1_, SIGUSR1);
    signal_thread_ = std::thread([this] {
      int sig = 0;
      while (take_usr1_ && sigwait(&usr1_, &sig) == 0 && !stopping_)
        reload_and_count(d_, "SIGUSR1");
    });
    watch_thread_ = std::thread([this] { watch(); });
  }
  ~Reloaders() {
    stopping_ = true;
    cv_.notify_all();
    if (take_usr1_) ::pthread_kill(signal_thread_.native_handle(), SIGUSR1);
    signal_thread_.join();
    watch_thread_.join();
  }
  Reloaders(const Reloaders&) = delete;
  Reloaders& operator=(const Reloaders&) = delete;

 private:
  void watch() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, check_every_, [this] { return stopping_.load(); })) {
      {
        std::lock_guard rl(d_.reload_mu);
        std::vector<std::string> paths;
        for (const auto& [p, t] : d_.watched) paths.push_back(p);
        if (file_stamps(paths) == d_.watched) continue;
      }
      reload_and_count(d_, "OpenDKIM files changed");
    }
  }

  MilterDaemon& d_;
  const bool take_usr1_;
  const std::chrono::seconds check_every_;
  sigset_t usr1_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread signal_thread_;
  std::thread watch_thread_;
};

}  // namespace

int run_milter(int argc, char** argv) {
  int exit_code = 2;
  auto opts = parse_args(argc, argv, exit_code);
  if (!opts) return exit_code;

  MilterDaemon app;
  app.opts = *opts;
  std::vector<std::string> files;
  auto rt = load(app.opts, files, exit_code);
  if (!rt) return exit_code;
  app.runtime.store(rt);
  app.watched = file_stamps(files);
  app.stats.opendkim_ok.set(1);
  const auto& cfg = *rt->config;
  const auto addr = addresses(app.opts, cfg);
  if (!addr) return 2;
  const Endpoint& listen = addr->first;

  const bool libmilter = cfg.milter.engine != MilterEngine::asio;
  block_signals(libmilter);
  if (!daemon::start_process("streamguard-milter", app.opts.log_level, cfg.log_level, cfg.timezone))
    return 2;

  boost::asio::io_context io(1);
  daemon::build_info(app.registry, "streamguard-milter", STREAMGUARD_VERSION);
  std::unique_ptr<StatusServer> status_server;
  try {
    status_server = daemon::serve_status(
        io, addr->second, [&app] { return app.registry.render(); },
        [&app] { return milter_status_json(app); });
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  auto guard = boost::asio::make_work_guard(io);
  // libmilter runs its own loop; the status thread's loop pings systemd's
  // watchdog instead (destroyed after that thread is joined).
  std::optional<daemon::Watchdog> watchdog;
  if (libmilter) watchdog.emplace(io);
  std::thread status_thread([&io] { io.run(); });
  int rc = 0;
  {
    Reloaders reloaders(app, !libmilter, std::chrono::seconds(cfg.milter.reload_check_s));
    auto announce = [&] {
      spdlog::info("serving Postfix milter requests on {} ({}); OpenDKIM configuration {}",
                   listen.to_string(), libmilter ? "libmilter" : "asio", cfg.milter.opendkim_conf);
      // The Asio engine tells systemd from its loop (daemon::Signals).
      if (libmilter) daemon::notify("READY=1\nSTATUS=serving (libmilter)");
    };
    // A reload from the main thread runs on the status thread: the main
    // thread must be back in sigwait at once (see serve_libmilter).
    auto reload = [&](const char* why) {
      boost::asio::post(io, [&app, why] { reload_and_count(app, why); });
    };
    rc = libmilter ? serve_libmilter(app, listen, announce, reload)
                   : run_asio_milter(app, listen, announce);
    if (libmilter) daemon::notify("STOPPING=1");
  }
  status_server.reset();
  guard.reset();
  io.stop();
  status_thread.join();
  return rc;
}

}  // namespace sg
