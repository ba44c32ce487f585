// The one TOML configuration shared by every streamguard program, parsed once
// into validated, immutable structs. See docs/configuration.md for every key.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/endpoint.hpp"
#include "common/redis_url.hpp"

namespace sg {

// One name table per enum: how the config spells each value, read by the
// parser and printed by to_string(), so the two cannot drift apart.
template <class E>
struct EnumName {
  std::string_view name;
  E value;
};
// The table's name for `v` ("?" for a value the table lacks).
template <class E, std::size_t N>
constexpr const char* name_of(const EnumName<E> (&table)[N], E v) {
  for (const auto& e : table)
    if (e.value == v) return e.name.data();  // the tables hold string literals
  return "?";
}

// What policyd answers when it cannot or must not accept a recipient now.
// Printed by this table; each config key that takes an Action accepts its
// own subset, with "allow" or "unknown" for dunno (common/config_services.cpp).
enum class Action { dunno, defer, hold, reject };
inline constexpr EnumName<Action> kActionNames[] = {{"dunno", Action::dunno},
                                                    {"defer", Action::defer},
                                                    {"hold", Action::hold},
                                                    {"reject", Action::reject}};
inline const char* to_string(Action a) {
  return name_of(kActionNames, a);
}

enum class StreamMode { enforce, shadow };
inline constexpr EnumName<StreamMode> kStreamModeNames[] = {{"enforce", StreamMode::enforce},
                                                            {"shadow", StreamMode::shadow}};
inline const char* to_string(StreamMode m) {
  return name_of(kStreamModeNames, m);
}
enum class RampCount { calendar_days, send_days };
inline constexpr EnumName<RampCount> kRampCountNames[] = {
    {"calendar_days", RampCount::calendar_days}, {"send_days", RampCount::send_days}};
inline const char* to_string(RampCount c) {
  return name_of(kRampCountNames, c);
}
// When a recipient's charge against the caps becomes final: at RCPT (the
// charge is final at once), or at END-OF-MESSAGE (RCPT reserves; the
// reservation is committed when Postfix reports the message accepted, and
// returned to the budget when the transaction never completes).
enum class Commit { rcpt, end_of_message };
inline constexpr EnumName<Commit> kCommitNames[] = {{"rcpt", Commit::rcpt},
                                                    {"end_of_message", Commit::end_of_message}};
inline const char* to_string(Commit c) {
  return name_of(kCommitNames, c);
}

struct RedisConfig {
  std::string url;  // as written, for messages (redact_redis_url before printing)
  RedisUrl target;  // the url parsed: a node, or a master found by sentinels
  Action on_error = Action::hold;
  uint32_t timeout_ms = 250;  // deadline of one Redis call
  std::string key_prefix = "sg";
  // policyd charges a stream's caps only in a Redis where streamguard-rampd
  // has left its mark (store/lua/limiter.lua): a Redis that came back empty
  // would otherwise hand the stream a second daily cap. false: a policyd
  // without rampd, whose counters start over when Redis loses them.
  bool expect_rampd = true;
};

struct PolicydConfig {
  std::vector<Endpoint> listen;
  std::vector<Endpoint> status;
  Action unknown_port = Action::defer;
  uint32_t max_connections = 1024;
  uint32_t idle_timeout_s = 300;  // close a policy connection idle this long
  Commit commit = Commit::rcpt;
  uint32_t reserve_ttl_s = 900;  // a reservation not committed by then returns to the budget
};

// MX lookups that tell a custom domain's receiving operator.
struct DnsConfig {
  bool enabled = true;
  std::vector<std::string> servers;  // "IP" or "IP:PORT"; empty: /etc/resolv.conf
  uint32_t timeout_ms = 1500;        // per try
  uint32_t tries = 2;
  // Lookup timed out or failed (SERVFAIL, refused, network): defer or hold the
  // recipient, or "unknown" (dunno): go on as a domain of no known operator.
  Action on_failure = Action::defer;
  uint32_t min_ttl_s = 60;          // floor for answers with a tiny TTL
  uint32_t max_ttl_s = 86400;       // ceiling for answers with a huge TTL
  uint32_t negative_ttl_s = 900;    // NXDOMAIN / no MX, when the SOA gives none
  uint32_t failure_ttl_s = 30;      // how long a failure is remembered
  uint32_t cache_entries = 100000;  // least recently used dropped beyond this
};

struct OperatorConfig {
  std::string name;
  std::vector<std::string> domains;      // static map: recipient domain -> operator
  std::vector<std::string> mx_suffixes;  // MX host suffixes (used by MX lookup)
  // A list every domain this operator hosts counts as being on, e.g. yahoo ->
  // "yahoo_family": a custom domain on Yahoo's MX is refused like yahoo.com.
  std::string list;
};

// A cap of nullopt means "no limit of that kind"; 0 means "send nothing".
struct OperatorCaps {
  std::map<std::string, uint64_t> hourly;  // operator name or "default" -> cap
  std::map<std::string, uint64_t> daily;
};

struct RampStep {
  uint32_t day = 0;
  uint64_t cap = 0;
};

struct RampConfig {
  std::string stamp;  // file holding the warmup start, epoch seconds
  RampCount count = RampCount::calendar_days;
  std::vector<RampStep> hourly;  // ascending by day, first step day 0
  std::vector<RampStep> daily;   // optional
  uint64_t send_day_minimum = 1;
  // count = "send_days": send days the warmup had already made before
  // streamguard kept its history (a warmup in progress when streamguard was
  // installed); added to the send days counted since.
  uint32_t send_days_before = 0;
  // Optional per-operator daily caps by ramp day (operator name -> steps,
  // ascending, first day 0), e.g. google held at 0 until day 30.
  std::map<std::string, std::vector<RampStep>> operators;
};

// [postfix]: what `streamguardctl postfix-conf` renders into main.cf.
struct PostfixConfig {
  std::string policy_service = "unix:private/streamguard";  // as smtpd connects to it
  std::string policy_timeout = "10s";                       // Postfix time, e.g. "10s", "1m"
  std::string default_action = "DEFER_IF_PERMIT";           // when policyd cannot answer
  std::string backstop_dir = "/etc/postfix";                // where the backstop map lives
  std::string listen_address;  // submission services bind here; empty: inet_interfaces
  bool chroot = true;          // the master.cf chroot column of the rendered services
  // How smtpd reaches streamguard-milter (rendered when the config has a
  // [milter] table), and the milters that must run before it: OpenDKIM, so
  // that its signature is there when streamguard-milter checks.
  std::string milter = "unix:private/streamguard-milter";
  std::vector<std::string> milters_before;
};

// A stream's `postfix = { ... }`: its master.cf services.
struct StreamPostfixConfig {
  std::string transport;     // egress transport (master.cf service); default "sg-<stream>"
  std::string syslog_name;   // of its submission services; default "postfix/<stream>"
  std::string helo_name;     // smtp_helo_name of the transport; empty: myhostname
  std::string bind_address;  // smtp_bind_address(6) of the transport; empty: the system's pick
};

// What the milter does when a check finds a problem.
enum class CheckAction { off, warn, tempfail, reject };
inline constexpr EnumName<CheckAction> kCheckActionNames[] = {{"off", CheckAction::off},
                                                              {"warn", CheckAction::warn},
                                                              {"tempfail", CheckAction::tempfail},
                                                              {"reject", CheckAction::reject}};
inline const char* to_string(CheckAction a) {
  return name_of(kCheckActionNames, a);
}

// A stream's `milter = { ... }`: the checks streamguard-milter makes.
struct StreamMilterConfig {
  // The message would leave without an aligned DKIM signature (OpenDKIM will
  // not sign it, or did not).
  CheckAction dkim = CheckAction::tempfail;
  CheckAction message_id = CheckAction::warn;       // missing, or on a local domain
  CheckAction html_only = CheckAction::warn;        // text/html without text/plain
  CheckAction unsubscribe = CheckAction::warn;      // no one-click List-Unsubscribe (RFC 8058)
  CheckAction from_domain = CheckAction::tempfail;  // From not in from_domains
  std::vector<std::string> from_domains;            // allowed From domains; empty: any
};

// [milter]: streamguard-milter's own settings.
// How streamguard-milter serves Postfix: libmilter (a thread per
// connection) or its own milter-protocol server on one Asio loop.
enum class MilterEngine { libmilter, asio };
inline constexpr EnumName<MilterEngine> kMilterEngineNames[] = {
    {"libmilter", MilterEngine::libmilter}, {"asio", MilterEngine::asio}};

struct MilterConfig {
  bool configured = false;                             // the file has a [milter] table
  Endpoint listen;                                     // where Postfix connects (smtpd_milters)
  std::vector<Endpoint> status;                        // /metrics and /status
  std::string opendkim_conf = "/etc/opendkim.conf";    // "": an error (milter)
  std::string header = "X-Streamguard-Stream";         // added to every accepted message
  CheckAction unknown_stream = CheckAction::tempfail;  // a port no stream owns
  uint32_t reload_check_s = 5;  // how often the OpenDKIM files are checked for changes
  // asio by default: the lower CPU per message (docs/benchmarks.md, issue 14).
  MilterEngine engine = MilterEngine::asio;
};

// A stream's `listmonk = { ... }`: the Listmonk instance that feeds it, whose
// sliding-window setting streamguard-rampd keeps a little under the stream's
// hourly cap (Listmonk paces itself; the MTA cap is the backstop).
struct ListmonkConfig {
  std::string dsn;             // libpq connection string or URI of Listmonk's database
  double fraction = 0.9;       // Listmonk's rate = floor(hourly cap x fraction)
  std::string window = "1h";   // app.message_sliding_window_duration (the cap is per hour)
  std::string reload_url;      // "http://127.0.0.1:9000/api/admin/reload"; "": no reload call
  std::string api_user;        // Listmonk API user for the reload call
  std::string api_token_file;  // file holding that user's API token (absolute)
  uint32_t timeout_ms = 5000;  // connect + query, and the reload call
  // Suppressed addresses rampd learns are blocklisted in this Listmonk too
  // (rampd/listmonk_blocklist.hpp); with blocklist_domains, every
  // subscriber of a suppressed domain as well.
  bool blocklist = true;
  bool blocklist_domains = false;
};

// [rampd]: streamguard-rampd's own settings.
struct RampdConfig {
  std::vector<Endpoint> status;     // /metrics and /status
  uint32_t interval_s = 60;         // ramp caps and Listmonk recomputed this often
  std::string maillog;              // the Postfix log to follow (a maillog_file); "": no breakers
  bool maillog_from_start = false;  // at start, read the file from its beginning (default: end)
  uint32_t drain_interval_s = 5;    // held mail looked at this often
  bool drain = true;                // release held mail as the caps allow
  uint32_t held_warn_s = 86400;     // mail held longer than this is reported
  std::string postfix_config_dir;   // -c DIR for postqueue/postsuper/postcat; "": Postfix's default
  std::string postfix_command_dir = "/usr/sbin";  // where postqueue, postsuper and postcat are
  // streamguard-queue-helper's socket: postsuper -H/-f and postcat -q go
  // through it (root) and rampd runs as its own user. Empty: rampd runs
  // them itself, which needs root.
  std::optional<Endpoint> queue_helper;
  // What rampd keeps outside Redis to put back a Redis that came back empty:
  // today's counts, the send history and the ramp state (rampd/store_keeper).
  std::string state_file = "/var/lib/streamguard/rampd-state.json";
};

struct StreamConfig {
  std::string name;
  std::vector<uint16_t> ports;
  std::vector<std::string> exclude;  // list names
  StreamMode mode = StreamMode::enforce;
  Action over_cap = Action::defer;     // defer or hold
  std::optional<uint64_t> hourly_cap;  // fallback when Redis holds none
  std::optional<uint64_t> daily_cap;
  uint32_t burst = 0;  // hourly burst in messages; 0: derived (cap/60, at least 1)
  OperatorCaps operator_caps;
  std::optional<RampConfig> ramp;
  StreamPostfixConfig postfix;
  StreamMilterConfig milter;
  std::optional<ListmonkConfig> listmonk;
  // [rampd] drain, copied to each stream by parse_config: whether held mail
  // is released by rampd or only by hand, which a HOLD reply must tell.
  bool held_released = true;

  // The hourly cap policyd falls back to when Redis holds none: the explicit
  // hourly_cap, else the first (most cautious) ramp step, else no hourly cap.
  std::optional<uint64_t> fallback_hourly_cap() const;
  uint64_t effective_burst(uint64_t hourly_cap) const;
};

// What a tripped breaker does (see rules/breaker.hpp): policyd defers or
// holds that stream x operator, or rampd stops advancing the stream's ramp.
enum class BreakerAction { defer, hold, freeze_ramp };
inline constexpr EnumName<BreakerAction> kBreakerActionNames[] = {
    {"defer", BreakerAction::defer},
    {"hold", BreakerAction::hold},
    {"freeze_ramp", BreakerAction::freeze_ramp}};
inline const char* to_string(BreakerAction a) {
  return name_of(kBreakerActionNames, a);
}

// The breaker keeps the last `threshold` matching times per stream x operator.
inline constexpr uint32_t kMaxBreakerThreshold = 10000;

// What a [[breaker]] or [[suppress]] rule counts among the delivery results
// of the Postfix log. Every part given must match; a list matches when any
// of its entries does (receivers word the same refusal several ways).
struct ResultMatch {
  std::string op;                 // operator name; "" : any
  std::vector<std::string> dsn;   // enhanced status prefixes by component: "5.7.1", "4.7"; {} : any
  std::vector<std::string> text;  // case-insensitive substrings of the result text; {} : any
  std::vector<std::string> status = {"deferred", "bounced"};  // sent, deferred, bounced, expired

  bool operator==(const ResultMatch&) const = default;
};
// At most this many entries in a rule's `dsn` or `text` list.
inline constexpr std::size_t kMaxMatchEntries = 64;

// [[breaker]]: a rule rampd applies to the delivery results in the Postfix log.
struct BreakerRule : ResultMatch {
  std::string name;
  uint32_t threshold = 0;  // this many matching results (1..kMaxBreakerThreshold) ...
  uint32_t window_s = 0;   // ... within this many seconds trip the breaker
  BreakerAction action = BreakerAction::defer;
  uint32_t cooldown_s = 3600;  // open this long
  uint32_t recovery_s = 0;     // then recovering (a growing share of the cap) this long

  bool operator==(const BreakerRule&) const = default;
};

enum class SuppressScope { address, domain };
inline constexpr EnumName<SuppressScope> kSuppressScopeNames[] = {
    {"address", SuppressScope::address}, {"domain", SuppressScope::domain}};
inline const char* to_string(SuppressScope s) {
  return name_of(kSuppressScopeNames, s);
}

// [[suppress]]: results that show an address (or a whole domain) is dead;
// rampd learns it and every stream refuses it until ttl_s has passed.
struct SuppressRule : ResultMatch {
  std::string name;
  SuppressScope scope = SuppressScope::address;
  uint32_t threshold = 1;     // this many matching results for one address/domain ...
  uint32_t window_s = 86400;  // ... within this many seconds ...
  uint32_t span_s = 0;        // ... the first and the last at least this far apart (a dead tenant
                              // fails for days; an outage of an hour must not teach it)
  uint32_t ttl_s = 0;         // suppressed this long

  bool operator==(const SuppressRule&) const = default;
};

struct Config {
  std::string path;      // the file it came from
  std::string timezone;  // IANA zone for calendar days, e.g. "America/Chicago"
  std::string log_level = "info";
  // Top-level `mode`: the mode of every stream that does not set its own, so
  // a first install can put every stream in shadow with one line.
  StreamMode default_mode = StreamMode::enforce;
  RedisConfig redis;
  PolicydConfig policyd;
  DnsConfig dns;
  PostfixConfig postfix;
  MilterConfig milter;
  RampdConfig rampd;
  std::map<std::string, std::string> lists;  // list name -> file path (absolute)
  std::vector<OperatorConfig> operators;
  std::vector<StreamConfig> streams;
  std::vector<BreakerRule> breakers;
  std::vector<SuppressRule> suppress;

  const StreamConfig* stream_for_port(uint16_t port) const;
  const StreamConfig* stream_named(std::string_view name) const;
  // Operator name -> its [operators.NAME] domains (the static map classifiers take).
  std::map<std::string, std::vector<std::string>> operator_domains() const;
};

struct ConfigError {
  std::string file;
  uint32_t line = 0;
  uint32_t column = 0;
  std::string message;
  std::string to_string() const;  // "file:line:col: message"
};

struct ConfigResult {
  std::shared_ptr<const Config> config;  // null when errors is not empty
  std::vector<ConfigError> errors;
};

// Reads and validates the file. Every problem found is reported, not only the
// first; relative list paths are resolved against the config file's folder.
ConfigResult load_config(const std::string& path);
ConfigResult parse_config(std::string_view text, const std::string& path);

}  // namespace sg
