// What both milter engines (libmilter's callbacks in milter_app.cpp and the
// Asio server in asio_milter_server.cpp) share: the daemon's state (runtime,
// metrics, reloads) and the steps each engine takes at negotiation, connect,
// MAIL FROM and end of message, so that both answer, count and log alike.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/cli.hpp"
#include "common/metrics.hpp"
#include "milter/milter_session.hpp"
#include "server/daemon_record.hpp"

namespace sg {

struct MilterOptions : cli::DaemonOptions {
  std::string opendkim_conf;
  bool opendkim_conf_set = false;
};

struct MilterMetrics {
  explicit MilterMetrics(metrics::Registry& r);
  metrics::Family<metrics::Counter>& messages;
  metrics::Family<metrics::Counter>& findings;
  metrics::Family<metrics::Counter>& dkim_refusals;
  metrics::Family<metrics::Counter>& shadow;
  metrics::Gauge& connections;
  metrics::Family<metrics::Counter>& reloads;
  metrics::Gauge& opendkim_ok;
};

using FileStamps = std::map<std::string, std::filesystem::file_time_type>;

struct MilterDaemon {
  MilterOptions opts;
  std::atomic<std::shared_ptr<const MilterRuntime>> runtime;
  metrics::Registry registry;
  MilterMetrics stats{registry};
  std::atomic<uint64_t> decided{0};
  daemon::DaemonRecord record;  // pid, start, reloads: on /status
  std::mutex reload_mu;
  FileStamps watched;  // OpenDKIM's files, under reload_mu
};

FileStamps file_stamps(const std::vector<std::string>& files);

// Builds a runtime from the config file and OpenDKIM's files; errors are
// returned, the config's first (they make the runtime unusable: nullptr).
std::shared_ptr<const MilterRuntime> load_milter_runtime(const MilterOptions& o,
                                                         std::vector<std::string>& errors,
                                                         std::vector<std::string>& files);

// Re-reads everything; an invalid config keeps the running one (false),
// broken OpenDKIM files keep the last good reading. Thread-safe.
bool reload_milter(MilterDaemon& d, const char* why);
// reload_milter, counted in streamguard_config_reloads_total{result}.
void reload_and_count(MilterDaemon& d, const char* why);

std::string milter_status_json(const MilterDaemon& d);

// ---------------------------------------------------------------- per connection

// What we ask of the MTA at option negotiation: the actions (add headers),
// the steps it need not send (HELO, RCPT, DATA, unknown commands) and the
// replies it need not wait for (every step but end of message: we never
// refuse earlier), each only if the MTA offered it.
struct Negotiated {
  uint32_t actions = 0;
  uint32_t protocol = 0;
  uint32_t no_reply = 0;  // the no-reply bits of `protocol`
};
Negotiated negotiate_milter(uint32_t mta_actions, uint32_t mta_protocol);

// The macros asked for at negotiation (Postfix sends {daemon_port} only when
// asked or listed in milter_connect_macros).
inline constexpr const char* kConnectMacros = "{daemon_port} {daemon_name} {client_addr} j _";
inline constexpr const char* kMailMacros = "{auth_authen} i";

// A macro's value, "" when Postfix did not send it.
using MacroLookup = std::function<std::string(const char* name)>;

// A new session on the runtime now in force, connected (client_addr "" falls
// back to {client_addr}); counted in the connections gauge until
// close_session.
std::unique_ptr<MilterSession> open_session(MilterDaemon& d, std::string client_addr,
                                            std::string_view client_name, const MacroLookup& macro);
void close_session(MilterDaemon& d, std::unique_ptr<MilterSession>& s);

void session_mail_from(MilterSession& s, std::string_view sender, const MacroLookup& macro);

// Decides the message, counts it and logs it; the caller answers the MTA
// from the decision (add_headers when accepted, else rcode/xcode and
// reply_text(d)).
MessageDecision finish_message(MilterDaemon& d, MilterSession& s, const MacroLookup& macro);

// The reply text: no '%' (libmilter passes it through a format), no line
// breaks, at most 900 bytes.
std::string reply_text(const MessageDecision& d);

}  // namespace sg
