// streamguard-milter: libmilter callbacks over MilterSession, options,
// signals and reloads (SIGHUP, SIGUSR1 and OpenDKIM file changes), status
// socket.
#include "milter/milter_app.hpp"

#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "common/cli.hpp"
#include "common/logging.hpp"
#include "common/metrics.hpp"
#include "formats/milter_protocol.hpp"
#include "milter/asio_milter_server.hpp"
#include "milter/milter_daemon.hpp"
#include "milter/milter_session.hpp"
#include "server/daemon.hpp"

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

    [milter] engine picks how Postfix is served: "libmilter" (the default,
    a thread per connection) or "asio" (streamguard's own milter-protocol
    server on one thread); both answer, log and count alike.

OPTIONS
    --config FILE         The TOML configuration (required); see
                          docs/configuration.md, [milter].
    --check-config        Read FILE and OpenDKIM's configuration, print each
                          problem as FILE:LINE: message, and exit: 0 when
                          valid, 1 when not.
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

MilterDaemon* g_app = nullptr;

// ---------------------------------------------------------------- libmilter callbacks

// One milter connection: the session, and the steps Postfix agreed not to
// wait for a reply to (every step but end of message: we never refuse
// earlier, so a round trip per header would be pure latency).
struct Conn {
  unsigned long no_reply = 0;
  std::unique_ptr<MilterSession> session;
};

Conn* conn(SMFICTX* ctx) {
  return static_cast<Conn*>(smfi_getpriv(ctx));
}

MilterSession* session(SMFICTX* ctx) {
  auto* c = conn(ctx);
  return c ? c->session.get() : nullptr;
}

// SMFIS_CONTINUE, or SMFIS_NOREPLY where Postfix agreed not to wait.
sfsistat go_on(SMFICTX* ctx, unsigned long step) {
  auto* c = conn(ctx);
  return c && (c->no_reply & step) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

std::string sym(SMFICTX* ctx, const char* name) {
  const char* v = smfi_getsymval(ctx, const_cast<char*>(name));
  return v ? v : "";
}

std::string address_text(const sockaddr* sa) {
  if (!sa) return "";
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  return buf;
}

// The protocol constants formats/milter_protocol.hpp repeats are libmilter's.
static_assert(milter_proto::kActAddHeaders == SMFIF_ADDHDRS);
static_assert(milter_proto::kNoHelo == SMFIP_NOHELO && milter_proto::kNoRcpt == SMFIP_NORCPT &&
              milter_proto::kNoUnknown == SMFIP_NOUNKNOWN && milter_proto::kNoData == SMFIP_NODATA);
static_assert(milter_proto::kNoReplyConnect == SMFIP_NR_CONN &&
              milter_proto::kNoReplyMail == SMFIP_NR_MAIL &&
              milter_proto::kNoReplyHeader == SMFIP_NR_HDR &&
              milter_proto::kNoReplyEndOfHeaders == SMFIP_NR_EOH &&
              milter_proto::kNoReplyBody == SMFIP_NR_BODY);
static_assert(milter_proto::kStageConnect == SMFIM_CONNECT &&
              milter_proto::kStageMail == SMFIM_ENVFROM);

MacroLookup macros_of(SMFICTX* ctx) {
  return [ctx](const char* name) { return sym(ctx, name); };
}

sfsistat on_negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long,
                      unsigned long, unsigned long* pf0, unsigned long* pf1, unsigned long* pf2,
                      unsigned long* pf3) {
  const auto n = negotiate_milter(static_cast<uint32_t>(f0), static_cast<uint32_t>(f1));
  *pf0 = n.actions;
  *pf1 = n.protocol;
  auto* c = new Conn;
  c->no_reply = n.no_reply;
  smfi_setpriv(ctx, c);
  *pf2 = 0;
  *pf3 = 0;
  smfi_setsymlist(ctx, SMFIM_CONNECT, const_cast<char*>(kConnectMacros));
  smfi_setsymlist(ctx, SMFIM_ENVFROM, const_cast<char*>(kMailMacros));
  return SMFIS_CONTINUE;
}

sfsistat on_connect(SMFICTX* ctx, char* hostname, _SOCK_ADDR* hostaddr) {
  auto* c = conn(ctx);
  if (!c) {  // an MTA that did not negotiate
    c = new Conn;
    smfi_setpriv(ctx, c);
  }
  close_session(*g_app, c->session);
  c->session =
      open_session(*g_app, address_text(hostaddr), hostname ? hostname : "", macros_of(ctx));
  return go_on(ctx, SMFIP_NR_CONN);
}

sfsistat on_envfrom(SMFICTX* ctx, char** argv) {
  if (auto* s = session(ctx)) session_mail_from(*s, argv && argv[0] ? argv[0] : "", macros_of(ctx));
  return go_on(ctx, SMFIP_NR_MAIL);
}

sfsistat on_header(SMFICTX* ctx, char* name, char* value) {
  if (auto* s = session(ctx)) s->header(name ? name : "", value ? value : "");
  return go_on(ctx, SMFIP_NR_HDR);
}

sfsistat on_eoh(SMFICTX* ctx) {
  if (auto* s = session(ctx)) s->end_of_headers();
  return go_on(ctx, SMFIP_NR_EOH);
}

sfsistat on_body(SMFICTX* ctx, unsigned char* data, size_t len) {
  if (auto* s = session(ctx)) s->body({reinterpret_cast<const char*>(data), len});
  return go_on(ctx, SMFIP_NR_BODY);
}

sfsistat on_eom(SMFICTX* ctx) {
  auto* s = session(ctx);
  if (!s) return SMFIS_TEMPFAIL;
  auto d = finish_message(*g_app, *s, macros_of(ctx));
  if (d.verdict == MilterVerdict::accept) {
    for (const auto& [name, value] : d.add_headers)
      smfi_addheader(ctx, const_cast<char*>(name.c_str()), const_cast<char*>(value.c_str()));
    return SMFIS_CONTINUE;
  }
  std::string text = reply_text(d);
  smfi_setreply(ctx, d.rcode.data(), d.xcode.data(), text.data());
  return d.verdict == MilterVerdict::tempfail ? SMFIS_TEMPFAIL : SMFIS_REJECT;
}

sfsistat on_abort(SMFICTX* ctx) {
  if (auto* s = session(ctx)) s->abort();
  return SMFIS_CONTINUE;
}

sfsistat on_close(SMFICTX* ctx) {
  if (auto* c = conn(ctx)) {
    close_session(*g_app, c->session);
    delete c;
    smfi_setpriv(ctx, nullptr);
  }
  return SMFIS_CONTINUE;
}

std::string milter_socket(const Endpoint& e) {
  if (e.kind == Endpoint::Kind::unix_socket) return "unix:" + e.path;
  bool v6 = e.host.find(':') != std::string::npos;
  return std::string(v6 ? "inet6:" : "inet:") + std::to_string(e.port) + "@" + e.host;
}

// The signals the libmilter engine's main thread takes (see serve_libmilter).
sigset_t libmilter_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGHUP, SIGTERM, SIGINT, SIGUSR1, SIGUSR2}) sigaddset(&set, sig);
  return set;
}

// Serves until SIGTERM or SIGINT (or libmilter stops on its own); the exit
// status. libmilter's loop runs in a thread of its own and this, the main
// thread, waits for the signals (blocked in every thread by run_milter).
// libmilter's own signal thread also waits for SIGHUP, SIGTERM and SIGINT,
// and stops the milter on any of them; Linux hands a signal sent to the
// process to its main thread first whenever that thread waits for it, so
// SIGHUP reloads here, and the main thread only hands a reload on (`reload`
// must not block) before it waits again.
int serve_libmilter(const Endpoint& listen, const std::function<void()>& announce,
                    const std::function<void(const char* why)>& reload) {
  smfiDesc desc{};
  desc.xxfi_name = const_cast<char*>("streamguard-milter");
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_flags = SMFIF_ADDHDRS;
  desc.xxfi_connect = on_connect;
  desc.xxfi_envfrom = on_envfrom;
  desc.xxfi_header = on_header;
  desc.xxfi_eoh = on_eoh;
  desc.xxfi_body = on_body;
  desc.xxfi_eom = on_eom;
  desc.xxfi_abort = on_abort;
  desc.xxfi_close = on_close;
  desc.xxfi_negotiate = on_negotiate;

  const std::string conn = milter_socket(listen);
  if (smfi_register(desc) == MI_FAILURE ||
      smfi_setconn(const_cast<char*>(conn.c_str())) == MI_FAILURE) {
    spdlog::error("libmilter: cannot register on {}", conn);
    return 2;
  }
  // Postfix's smtpd (user postfix) must be able to connect to the socket.
  mode_t old = ::umask(0111);
  bool opened = smfi_opensocket(1) == MI_SUCCESS;
  ::umask(old);
  if (!opened) {
    spdlog::error("libmilter: cannot open {} (is the folder there, is another milter on it?)",
                  conn);
    return 2;
  }
  announce();
  std::atomic<int> rc{-1};
  const pthread_t main_thread = ::pthread_self();
  std::thread loop([&rc, main_thread] {
    rc = smfi_main() == MI_SUCCESS ? 0 : 1;
    ::pthread_kill(main_thread, SIGUSR2);  // wakes the sigwait below
  });
  const sigset_t set = libmilter_signals();
  for (int sig = 0; rc < 0;) {
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP || sig == SIGUSR1) {
      reload(sig == SIGHUP ? "SIGHUP" : "SIGUSR1");
    } else if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("{}: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      smfi_stop();
      break;
    }
  }
  loop.join();
  spdlog::info("stopped");
  return rc;
}

}  // namespace

int run_milter(int argc, char** argv) {
  int exit_code = 2;
  auto opts = parse_args(argc, argv, exit_code);
  if (!opts) return exit_code;

  MilterDaemon app;
  app.opts = *opts;
  g_app = &app;
  std::vector<std::string> errors, files;
  auto rt = load_milter_runtime(app.opts, errors, files);
  if (!rt || !rt->opendkim) {
    const int rc = daemon::config_failed("streamguard-milter", app.opts.config, errors,
                                         rt ? "OpenDKIM's configuration" : "");
    if (!rt || app.opts.check_only || !rt->opendkim_error.empty()) return rc;
  } else {
    for (const auto& e : errors) std::cerr << e << "\n";
  }
  if (app.opts.check_only) {
    std::cout << app.opts.config << ": configuration is valid\n"
              << "  OpenDKIM: " << rt->config->milter.opendkim_conf << " (" << files.size()
              << " file(s) read)\n";
    for (const auto& s : rt->config->streams)
      std::cout << "  stream " << s.name << ": dkim " << to_string(s.milter.dkim) << ", message_id "
                << to_string(s.milter.message_id) << ", html_only " << to_string(s.milter.html_only)
                << ", unsubscribe " << to_string(s.milter.unsubscribe) << ", from_domain "
                << to_string(s.milter.from_domain) << "\n";
    return 0;
  }
  app.runtime.store(rt);
  app.watched = file_stamps(files);
  app.stats.opendkim_ok.set(1);

  const auto& cfg = *rt->config;

  Endpoint listen = cfg.milter.listen;
  if (!app.opts.listen.empty()) {
    std::string err;
    auto e = parse_endpoint(app.opts.listen.front(), err);
    if (!e) {
      std::cerr << "streamguard-milter: --listen: " << err << "\n";
      return 2;
    }
    listen = *e;
  }
  const auto status_opt = cli::endpoints(app.opts.status, "streamguard-milter", "--status");
  if (!status_opt) return 2;
  const std::vector<Endpoint> status = status_opt->empty() ? cfg.milter.status : *status_opt;

  // Signals. With libmilter every one is blocked here, before any thread
  // starts, and the main thread takes them (serve_libmilter). With the Asio
  // engine the loop takes SIGHUP, SIGTERM and SIGINT (server/daemon.hpp) and
  // a thread of ours SIGUSR1.
  const bool libmilter = cfg.milter.engine != MilterEngine::asio;
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  const sigset_t blocked = libmilter ? libmilter_signals() : usr1;
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  if (!daemon::start_process("streamguard-milter", app.opts.log_level, cfg.log_level, cfg.timezone))
    return 2;

  boost::asio::io_context io(1);
  std::unique_ptr<StatusServer> status_server;
  try {
    status_server = daemon::serve_status(
        io, status, [&app] { return app.registry.render(); },
        [&app] { return milter_status_json(app); });
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  auto guard = boost::asio::make_work_guard(io);
  std::thread status_thread([&io] { io.run(); });

  std::atomic<bool> stopping{false};
  std::thread signal_thread([&] {
    int sig = 0;
    while (!libmilter && sigwait(&usr1, &sig) == 0 && !stopping) reload_and_count(app, "SIGUSR1");
  });
  std::mutex watch_mu;
  std::condition_variable watch_cv;
  std::thread watch_thread([&] {
    std::unique_lock lock(watch_mu);
    while (!watch_cv.wait_for(lock, std::chrono::seconds(cfg.milter.reload_check_s),
                              [&] { return stopping.load(); })) {
      {
        std::lock_guard rl(app.reload_mu);
        std::vector<std::string> paths;
        for (const auto& [p, t] : app.watched) paths.push_back(p);
        const FileStamps now = file_stamps(paths);
        if (now == app.watched) continue;
      }
      reload_and_count(app, "OpenDKIM files changed");
    }
  });

  auto announce = [&] {
    spdlog::info("serving Postfix milter requests on {} ({}); OpenDKIM configuration {}",
                 listen.to_string(), cfg.milter.engine == MilterEngine::asio ? "asio" : "libmilter",
                 cfg.milter.opendkim_conf);
  };
  // A reload from the main thread runs on the status thread: the main
  // thread must be back in sigwait at once (see serve_libmilter).
  auto reload = [&](const char* why) {
    boost::asio::post(io, [&app, why] { reload_and_count(app, why); });
  };
  const int rc = libmilter ? serve_libmilter(listen, announce, reload)
                           : run_asio_milter(app, listen, announce);

  stopping = true;
  watch_cv.notify_all();
  if (!libmilter) ::pthread_kill(signal_thread.native_handle(), SIGUSR1);
  signal_thread.join();
  watch_thread.join();
  status_server.reset();
  guard.reset();
  io.stop();
  status_thread.join();
  g_app = nullptr;
  return rc;
}

}  // namespace sg
