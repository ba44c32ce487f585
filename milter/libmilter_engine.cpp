// streamguard-milter's default engine: libmilter's callbacks over the shared
// MilterDaemon steps (milter_daemon.hpp), and libmilter's loop run so that
// SIGHUP reloads instead of stopping the milter.
#include "milter/libmilter_engine.hpp"

#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "formats/milter_protocol.hpp"
#include "milter/milter_session.hpp"

namespace sg {

namespace {

// The daemon the callbacks serve (libmilter's callbacks carry no user data).
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

}  // namespace

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
int serve_libmilter(MilterDaemon& d, const Endpoint& listen, const std::function<void()>& announce,
                    const std::function<void(const char* why)>& reload) {
  g_app = &d;
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
  std::atomic<bool> waiting{false};
  const pthread_t main_thread = ::pthread_self();
  std::thread loop([&rc, &waiting, main_thread] {
    // libmilter's signal thread must start waiting after this thread's
    // sigwait, or a SIGHUP sent the moment the socket accepts (it does since
    // smfi_opensocket) goes to it and stops the milter. The main thread sets
    // `waiting` right before sigwait; the pause covers a loaded machine (an
    // ASan build, four e2e tests at once) between the two.
    while (!waiting) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    rc = smfi_main() == MI_SUCCESS ? 0 : 1;
    ::pthread_kill(main_thread, SIGUSR2);  // wakes the sigwait below
  });
  const sigset_t set = libmilter_signals();
  waiting = true;
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

}  // namespace sg
