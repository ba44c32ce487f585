// TOML -> validated Config. Every semantic problem is collected with its
// file:line:col; a TOML syntax error stops the parse (toml++ reports the first).
#include "common/config.hpp"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include <toml++/toml.h>
#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "common/config_reader.hpp"
#include "common/dns_server.hpp"
#include "common/redis_url.hpp"
#include "common/text.hpp"

namespace sg {

const char* to_string(Action a) {
  switch (a) {
    case Action::dunno:
      return "dunno";
    case Action::defer:
      return "defer";
    case Action::hold:
      return "hold";
    case Action::reject:
      return "reject";
  }
  return "?";
}

const char* to_string(CheckAction a) {
  switch (a) {
    case CheckAction::off:
      return "off";
    case CheckAction::warn:
      return "warn";
    case CheckAction::tempfail:
      return "tempfail";
    case CheckAction::reject:
      return "reject";
  }
  return "?";
}

const char* to_string(BreakerAction a) {
  switch (a) {
    case BreakerAction::defer:
      return "defer";
    case BreakerAction::hold:
      return "hold";
    case BreakerAction::freeze_ramp:
      return "freeze_ramp";
  }
  return "?";
}

std::string ConfigError::to_string() const {
  std::ostringstream os;
  os << file;
  if (line > 0) os << ':' << line << ':' << column;
  os << ": " << message;
  return os.str();
}

std::optional<uint64_t> StreamConfig::fallback_hourly_cap() const {
  if (hourly_cap) return hourly_cap;
  if (ramp && !ramp->hourly.empty()) return ramp->hourly.front().cap;
  return std::nullopt;
}

uint64_t StreamConfig::effective_burst(uint64_t cap) const {
  if (burst > 0) return burst;
  return std::max<uint64_t>(1, cap / 60);
}

const StreamConfig* Config::stream_for_port(uint16_t port) const {
  for (const auto& s : streams)
    if (std::find(s.ports.begin(), s.ports.end(), port) != s.ports.end()) return &s;
  return nullptr;
}

std::map<std::string, std::vector<std::string>> Config::operator_domains() const {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& op : operators) out[op.name] = op.domains;
  return out;
}

const StreamConfig* Config::stream_named(std::string_view name) const {
  for (const auto& s : streams)
    if (s.name == name) return &s;
  return nullptr;
}

namespace config_detail {

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::vector<Endpoint> endpoints(Reader& r, const toml::node& n, std::string_view key) {
  std::vector<std::string> texts;
  if (n.is_string())
    texts.push_back(*n.value<std::string>());
  else
    texts = r.strings(n, key);
  std::vector<Endpoint> out;
  for (const auto& text : texts) {
    std::string err;
    if (auto ep = parse_endpoint(text, err))
      out.push_back(*ep);
    else
      r.error(n, "'" + std::string(key) + "': " + err);
  }
  return out;
}

}  // namespace config_detail

namespace {

using namespace config_detail;

const std::initializer_list<std::pair<std::string_view, Action>> kFailActions = {
    {"hold", Action::hold}, {"defer", Action::defer}, {"allow", Action::dunno}};

void read_redis(Reader& r, const toml::table& t, RedisConfig& out) {
  r.only_keys(t, "[redis]", {"url", "on_error", "timeout_ms", "key_prefix"});
  if (auto n = t.get("url")) {
    if (auto s = r.str(*n, "url")) {
      std::string err;
      if (auto u = parse_redis_url(*s, err)) {
        out.endpoint = u->endpoint;
        out.db = u->db;
        out.password = u->password;
        out.url = *s;
      } else {
        r.error(*n, err);
      }
    }
  }
  if (auto n = t.get("on_error"))
    if (auto a = r.choice<Action>(*n, "on_error", kFailActions)) out.on_error = *a;
  if (auto n = t.get("timeout_ms"))
    if (auto v = r.integer(*n, "timeout_ms", 1, 60000)) out.timeout_ms = static_cast<uint32_t>(*v);
  if (auto n = t.get("key_prefix")) {
    if (auto s = r.str(*n, "key_prefix")) {
      if (valid_name(*s))
        out.key_prefix = *s;
      else
        r.error(*n, "'key_prefix' must be 1-32 of a-z 0-9 _ -");
    }
  }
}

void read_policyd(Reader& r, const toml::table& t, PolicydConfig& out) {
  r.only_keys(t, "[policyd]",
              {"listen", "status", "unknown_port", "max_connections", "idle_timeout_s", "commit",
               "reserve_ttl_s"});
  if (auto n = t.get("commit"))
    if (auto c = r.choice<Commit>(
            *n, "commit", {{"rcpt", Commit::rcpt}, {"end_of_message", Commit::end_of_message}}))
      out.commit = *c;
  if (auto n = t.get("reserve_ttl_s"))
    if (auto v = r.integer(*n, "reserve_ttl_s", 10, 86400))
      out.reserve_ttl_s = static_cast<uint32_t>(*v);
  if (auto n = t.get("listen")) out.listen = endpoints(r, *n, "listen");
  if (auto n = t.get("status")) out.status = endpoints(r, *n, "status");
  if (auto n = t.get("unknown_port"))
    if (auto a = r.choice<Action>(*n, "unknown_port",
                                  {{"defer", Action::defer},
                                   {"hold", Action::hold},
                                   {"reject", Action::reject},
                                   {"allow", Action::dunno}}))
      out.unknown_port = *a;
  if (auto n = t.get("max_connections"))
    if (auto v = r.integer(*n, "max_connections", 1, 65535))
      out.max_connections = static_cast<uint32_t>(*v);
  if (auto n = t.get("idle_timeout_s"))
    if (auto v = r.integer(*n, "idle_timeout_s", 1, 86400))
      out.idle_timeout_s = static_cast<uint32_t>(*v);
}

void read_dns(Reader& r, const toml::table& t, DnsConfig& out) {
  r.only_keys(t, "[dns]",
              {"enabled", "servers", "timeout_ms", "tries", "on_failure", "min_ttl_s", "max_ttl_s",
               "negative_ttl_s", "failure_ttl_s", "cache_entries"});
  if (auto n = t.get("enabled")) {
    if (auto b = n->as_boolean())
      out.enabled = b->get();
    else
      r.error(*n, "'enabled' must be true or false");
  }
  if (auto n = t.get("servers")) {
    out.servers = r.strings(*n, "servers");
    for (const auto& s : out.servers) {
      std::string err;
      if (!parse_dns_server(s, err)) r.error(*n, "'servers': " + err);
    }
  }
  auto u32 = [&](const char* key, int64_t lo, int64_t hi, uint32_t& field) {
    if (auto n = t.get(key))
      if (auto v = r.integer(*n, key, lo, hi)) field = static_cast<uint32_t>(*v);
  };
  u32("timeout_ms", 50, 30000, out.timeout_ms);
  u32("tries", 1, 5, out.tries);
  u32("min_ttl_s", 0, 86400, out.min_ttl_s);
  u32("max_ttl_s", 1, 7 * 86400, out.max_ttl_s);
  u32("negative_ttl_s", 0, 86400, out.negative_ttl_s);
  u32("failure_ttl_s", 0, 3600, out.failure_ttl_s);
  u32("cache_entries", 1, 10'000'000, out.cache_entries);
  if (auto n = t.get("on_failure"))
    if (auto a = r.choice<Action>(
            *n, "on_failure",
            {{"defer", Action::defer}, {"hold", Action::hold}, {"unknown", Action::dunno}}))
      out.on_failure = *a;
  if (out.min_ttl_s > out.max_ttl_s)
    r.error_at(t.source().begin, "[dns] min_ttl_s is above max_ttl_s");
}

void read_lists(Reader& r, const toml::table& t, const std::filesystem::path& base,
                std::map<std::string, std::string>& out) {
  for (const auto& [k, v] : t) {
    std::string name(k.str());
    if (!valid_name(name)) {
      r.error(v, "list name '" + name + "' must be 1-32 of a-z 0-9 _ -");
      continue;
    }
    if (auto s = r.str(v, name)) {
      std::filesystem::path p(*s);
      if (p.is_relative()) p = base / p;
      out[name] = p.lexically_normal().string();
    }
  }
}

void read_operators(Reader& r, const toml::table& t,
                    const std::map<std::string, std::string>& lists,
                    std::vector<OperatorConfig>& out) {
  // The classifier maps each domain to one operator: a domain two operators
  // claim is an error here, not a silent pick.
  std::map<std::string, std::string> domain_owner;
  for (const auto& [k, v] : t) {
    OperatorConfig op;
    op.name = std::string(k.str());
    if (!valid_name(op.name) || op.name == "default") {
      r.error(v, "operator name '" + op.name + "' must be 1-32 of a-z 0-9 _ - and not 'default'");
      continue;
    }
    auto ot = r.table(v, "operators." + op.name);
    if (!ot) continue;
    r.only_keys(*ot, "[operators." + op.name + "]", {"domains", "mx_suffixes", "list"});
    if (auto n = ot->get("list")) {
      if (auto l = r.str(*n, "list")) {
        op.list = *l;
        if (!lists.count(op.list))
          r.error(*n, "operator '" + op.name + "' counts as list '" + op.list +
                          "', which [lists] does not define");
      }
    }
    if (auto n = ot->get("domains")) op.domains = r.strings(*n, "domains");
    if (auto n = ot->get("mx_suffixes")) op.mx_suffixes = r.strings(*n, "mx_suffixes");
    for (auto& d : op.domains) text::lower_in_place(d);
    for (auto& d : op.mx_suffixes) text::lower_in_place(d);
    for (const auto& d : op.domains) {
      auto [it, fresh] = domain_owner.emplace(d, op.name);
      if (!fresh && it->second != op.name)  // the same operator twice is harmless
        r.error(*ot->get("domains"), "domain '" + d + "' belongs to both operator '" + it->second +
                                         "' and operator '" + op.name + "'");
    }
    out.push_back(std::move(op));
  }
}

std::map<std::string, uint64_t> operator_caps(Reader& r, const toml::node& n, std::string_view key,
                                              const std::set<std::string>& operators) {
  std::map<std::string, uint64_t> out;
  auto t = r.table(n, key);
  if (!t) return out;
  for (const auto& [k, v] : *t) {
    std::string name(k.str());
    if (name != "default" && !operators.count(name)) {
      r.error(v, "'" + std::string(key) + "' names operator '" + name + "', which no [operators." +
                     name + "] table defines");
      continue;
    }
    if (auto cap = r.integer(v, name, 0, 100'000'000)) out[name] = static_cast<uint64_t>(*cap);
  }
  return out;
}

std::vector<RampStep> ramp_steps(Reader& r, const toml::node& n, std::string_view key) {
  std::vector<RampStep> out;
  auto arr = n.as_array();
  if (!arr || arr->empty()) {
    r.error(n, "'" + std::string(key) + "' must be a non-empty array of [day, cap] pairs");
    return out;
  }
  for (const auto& e : *arr) {
    auto pair = e.as_array();
    if (!pair || pair->size() != 2) {
      r.error(e, "each '" + std::string(key) + "' step must be [day, cap]");
      continue;
    }
    auto day = r.integer(*pair->get(0), "day", 0, 3650);
    auto cap = r.integer(*pair->get(1), "cap", 0, 100'000'000);
    if (!day || !cap) continue;
    if (out.empty() && *day != 0)
      r.error(e, "the first '" + std::string(key) + "' step must be day 0");
    if (!out.empty() && static_cast<uint32_t>(*day) <= out.back().day)
      r.error(e, "'" + std::string(key) + "' days must be in ascending order");
    out.push_back({static_cast<uint32_t>(*day), static_cast<uint64_t>(*cap)});
  }
  return out;
}

std::optional<RampConfig> read_ramp(Reader& r, const toml::node& n,
                                    const std::set<std::string>& operators) {
  auto t = r.table(n, "ramp");
  if (!t) return std::nullopt;
  r.only_keys(*t, "ramp", {"stamp", "count", "hourly", "daily", "send_day_minimum", "operators"});
  RampConfig ramp;
  if (auto s = t->get("stamp")) {
    if (auto v = r.str(*s, "stamp")) ramp.stamp = *v;
  } else {
    r.error(n, "ramp needs 'stamp', the file holding the warmup start (epoch seconds)");
  }
  if (auto c = t->get("count"))
    if (auto v = r.choice<RampCount>(
            *c, "count",
            {{"calendar_days", RampCount::calendar_days}, {"send_days", RampCount::send_days}}))
      ramp.count = *v;
  if (auto h = t->get("hourly"))
    ramp.hourly = ramp_steps(r, *h, "hourly");
  else
    r.error(n, "ramp needs 'hourly', the [day, cap] steps");
  if (auto d = t->get("daily")) ramp.daily = ramp_steps(r, *d, "daily");
  if (auto m = t->get("send_day_minimum"))
    if (auto v = r.integer(*m, "send_day_minimum", 1, 1'000'000))
      ramp.send_day_minimum = static_cast<uint64_t>(*v);
  // operators = { google = [[0, 0], [30, 20]] }: day -> daily cap per operator.
  if (auto o = t->get("operators")) {
    if (auto ot = r.table(*o, "operators")) {
      for (const auto& [k, v] : *ot) {
        std::string name(k.str());
        if (!operators.count(name)) {
          r.error(v, "ramp 'operators' names operator '" + name + "', which no [operators." + name +
                         "] table defines");
          continue;
        }
        ramp.operators[name] = ramp_steps(r, v, "operators." + name);
      }
    }
  }
  return ramp;
}

// ---- [postfix] and a stream's `postfix = { ... }`: what streamguardctl
// postfix-conf renders. Values land verbatim in main.cf and master.cf, so each
// is held to the characters Postfix takes there (no spaces, commas, braces).

bool postfix_chars(std::string_view s, std::string_view extra) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           extra.find(c) != std::string_view::npos;
  });
}

bool ip_literal(const std::string& s) {
  in_addr a4{};
  in6_addr a6{};
  return ::inet_pton(AF_INET, s.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

// A host name for smtp_helo_name: dot-separated labels of letters, digits and
// '-' (not first or last), at most 63 bytes each and 253 in all.
bool host_name(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.back() == '.') return false;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto dot = s.find('.', start);
    auto label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
        !postfix_chars(label, "-"))
      return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

// Service names of a stock master.cf: an egress transport must not take one.
constexpr std::array<std::string_view, 34> kPostfixServices = {
    "smtp",     "smtpd",      "relay",       "lmtp",    "local",   "virtual",    "pipe",
    "error",    "retry",      "discard",     "bounce",  "defer",   "trace",      "verify",
    "flush",    "proxymap",   "proxywrite",  "cleanup", "qmgr",    "pickup",     "rewrite",
    "showq",    "anvil",      "scache",      "tlsmgr",  "postlog", "postscreen", "dnsblog",
    "tlsproxy", "submission", "submissions", "smtps",   "uucp",    "maildrop"};

// A master.cf service name usable as `content_filter=NAME:`.
std::string transport_problem(const std::string& s) {
  if (s.empty() || s.size() > 32 || !(std::isalpha(static_cast<unsigned char>(s[0]))) ||
      !postfix_chars(s, "_-."))
    return "must be 1-32 of A-Z a-z 0-9 _ - . starting with a letter (a master.cf service name)";
  if (std::find(kPostfixServices.begin(), kPostfixServices.end(), s) != kPostfixServices.end())
    return "is a service of Postfix's own master.cf; pick a name of its own (e.g. \"out05\")";
  return "";
}

// "unix:private/streamguard" (relative to the queue directory, or absolute)
// or "inet:HOST:PORT".
bool policy_service_ok(std::string_view s) {
  if (s.starts_with("unix:")) return postfix_chars(s.substr(5), "/._-");
  if (!s.starts_with("inet:")) return false;
  s.remove_prefix(5);
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  auto host = s.substr(0, colon), port = s.substr(colon + 1);
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
      std::stoul(std::string(port)) == 0 || std::stoul(std::string(port)) > 65535)
    return false;
  return postfix_chars(host, ".-:[]");
}

void read_postfix(Reader& r, const toml::table& t, PostfixConfig& out) {
  r.only_keys(t, "[postfix]",
              {"policy_service", "policy_timeout", "default_action", "backstop_dir",
               "listen_address", "chroot", "milter", "milters_before"});
  // Milter addresses as Postfix writes them: unix:PATH (relative to the queue
  // directory) or inet:HOST:PORT; no spaces or commas (they separate milters).
  auto milter_ok = [](const std::string& v) {
    bool form = v.starts_with("unix:") || v.starts_with("inet:") || v.starts_with("inet6:");
    return form && v.find_first_of(" \t,{}") == std::string::npos;
  };
  if (auto n = t.get("milter")) {
    if (auto s = r.str(*n, "milter")) {
      if (milter_ok(*s))
        out.milter = *s;
      else
        r.error(*n, "'milter' is \"" + *s + "\", must be unix:PATH or inet:HOST:PORT");
    }
  }
  if (auto n = t.get("milters_before")) {
    out.milters_before = r.strings(*n, "milters_before");
    for (const auto& m : out.milters_before)
      if (!milter_ok(m))
        r.error(*n, "'milters_before' has \"" + m + "\", each must be unix:PATH or inet:HOST:PORT");
  }
  if (auto n = t.get("policy_service")) {
    if (auto s = r.str(*n, "policy_service")) {
      if (policy_service_ok(*s))
        out.policy_service = *s;
      else
        r.error(*n, "'policy_service' is \"" + *s +
                        "\", must be unix:PATH (relative to Postfix's queue_directory, e.g. "
                        "unix:private/streamguard) or inet:HOST:PORT");
    }
  }
  if (auto n = t.get("policy_timeout")) {
    if (auto s = r.str(*n, "policy_timeout")) {
      std::string_view v = *s;
      if (!v.empty() && std::string_view("smhdw").find(v.back()) != std::string_view::npos)
        v.remove_suffix(1);
      if (!v.empty() && v.size() <= 6 && v.front() != '0' &&
          std::all_of(v.begin(), v.end(), ::isdigit))
        out.policy_timeout = *s;
      else
        r.error(*n, "'policy_timeout' is \"" + *s +
                        "\", must be a Postfix time: a number with an optional unit s, m, h, d "
                        "or w (e.g. \"10s\")");
    }
  }
  if (auto n = t.get("default_action"))
    if (auto a = r.choice<std::string>(*n, "default_action",
                                       {{"DEFER_IF_PERMIT", std::string("DEFER_IF_PERMIT")},
                                        {"DEFER", std::string("DEFER")},
                                        {"HOLD", std::string("HOLD")},
                                        {"REJECT", std::string("REJECT")},
                                        {"DUNNO", std::string("DUNNO")}}))
      out.default_action = *a;
  if (auto n = t.get("backstop_dir")) {
    if (auto s = r.str(*n, "backstop_dir")) {
      std::string d = *s;
      while (d.size() > 1 && d.back() == '/') d.pop_back();
      if (d.front() == '/' && postfix_chars(d, "/._-+"))
        out.backstop_dir = d;
      else
        r.error(*n, "'backstop_dir' is \"" + *s +
                        "\", must be an absolute path of A-Z a-z 0-9 / . _ - +");
    }
  }
  if (auto n = t.get("listen_address")) {
    if (auto s = r.str(*n, "listen_address")) {
      if (s->empty() || ip_literal(*s))
        out.listen_address = *s;
      else
        r.error(*n, "'listen_address' is \"" + *s + "\", must be an IP address (e.g. 127.0.0.1)");
    }
  }
  if (auto n = t.get("chroot")) {
    if (auto b = n->as_boolean())  // as_boolean: value<bool>() would take an integer
      out.chroot = b->get();
    else
      r.error(*n, "'chroot' must be true or false");
  }
}

const std::initializer_list<std::pair<std::string_view, CheckAction>> kCheckActions = {
    {"off", CheckAction::off},
    {"warn", CheckAction::warn},
    {"tempfail", CheckAction::tempfail},
    {"reject", CheckAction::reject}};

void read_milter(Reader& r, const toml::table& t, MilterConfig& out) {
  r.only_keys(t, "[milter]",
              {"listen", "status", "opendkim_conf", "header", "unknown_stream", "reload_check_s",
               "engine"});
  if (auto n = t.get("listen")) {
    auto eps = endpoints(r, *n, "listen");
    if (eps.size() > 1) r.error(*n, "[milter] 'listen' takes one address (libmilter serves one)");
    if (!eps.empty()) out.listen = eps.front();
  }
  if (auto n = t.get("status")) out.status = endpoints(r, *n, "status");
  if (auto n = t.get("opendkim_conf"))
    if (auto v = r.str(*n, "opendkim_conf")) out.opendkim_conf = *v;
  if (auto n = t.get("header")) {
    if (auto v = r.str(*n, "header")) {
      bool ok = !v->empty() && v->size() <= 64 && std::all_of(v->begin(), v->end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-';
      });
      if (ok)
        out.header = *v;
      else
        r.error(*n, "'header' is \"" + *v + "\", must be a header name: 1-64 of A-Z a-z 0-9 -");
    }
  }
  if (auto n = t.get("unknown_stream"))
    if (auto a = r.choice<CheckAction>(*n, "unknown_stream", kCheckActions))
      out.unknown_stream = *a;
  if (auto n = t.get("reload_check_s"))
    if (auto v = r.integer(*n, "reload_check_s", 1, 3600))
      out.reload_check_s = static_cast<uint32_t>(*v);
  if (auto n = t.get("engine"))
    if (auto e = r.choice<MilterEngine>(
            *n, "engine", {{"libmilter", MilterEngine::libmilter}, {"asio", MilterEngine::asio}}))
      out.engine = *e;
}

StreamMilterConfig read_stream_milter(Reader& r, const toml::node& n) {
  StreamMilterConfig out;
  auto t = r.table(n, "milter");
  if (!t) return out;
  r.only_keys(*t, "a stream's milter",
              {"dkim", "message_id", "html_only", "unsubscribe", "from_domain", "from_domains"});
  auto action = [&](const char* key, CheckAction& field) {
    if (auto v = t->get(key))
      if (auto a = r.choice<CheckAction>(*v, key, kCheckActions)) field = *a;
  };
  action("dkim", out.dkim);
  action("message_id", out.message_id);
  action("html_only", out.html_only);
  action("unsubscribe", out.unsubscribe);
  action("from_domain", out.from_domain);
  if (auto v = t->get("from_domains")) {
    out.from_domains = r.strings(*v, "from_domains");
    for (auto& d : out.from_domains) text::lower_in_place(d);
  }
  return out;
}

StreamPostfixConfig read_stream_postfix(Reader& r, const toml::node& n) {
  StreamPostfixConfig out;
  auto t = r.table(n, "postfix");
  if (!t) return out;
  r.only_keys(*t, "a stream's postfix", {"transport", "syslog_name", "helo_name", "bind_address"});
  if (auto v = t->get("transport")) {
    if (auto s = r.str(*v, "transport")) {
      if (auto problem = transport_problem(*s); problem.empty())
        out.transport = *s;
      else
        r.error(*v, "'transport' \"" + *s + "\" " + problem);
    }
  }
  if (auto v = t->get("syslog_name")) {
    if (auto s = r.str(*v, "syslog_name")) {
      if (s->size() <= 64 && postfix_chars(*s, "/._-"))
        out.syslog_name = *s;
      else
        r.error(*v, "'syslog_name' is \"" + *s + "\", must be 1-64 of A-Z a-z 0-9 / . _ -");
    }
  }
  if (auto v = t->get("helo_name")) {
    if (auto s = r.str(*v, "helo_name")) {
      if (host_name(*s))
        out.helo_name = *s;
      else
        r.error(*v, "'helo_name' is \"" + *s + "\", must be a host name (e.g. mta05.example.com)");
    }
  }
  if (auto v = t->get("bind_address")) {
    if (auto s = r.str(*v, "bind_address")) {
      if (ip_literal(*s))
        out.bind_address = *s;
      else
        r.error(*v, "'bind_address' is \"" + *s +
                        "\", must be an IP address of this host (e.g. 192.0.2.94)");
    }
  }
  return out;
}

// Two streams cannot share an egress transport: each would be one master.cf
// service, and mail of both would leave with one IP and HELO.
void check_postfix(Reader& r, const toml::array& arr, const Config& cfg) {
  std::map<std::string, std::string> owner;  // transport -> stream
  for (std::size_t i = 0; i < cfg.streams.size() && i < arr.size(); ++i) {
    const auto& s = cfg.streams[i];
    auto [it, fresh] = owner.emplace(s.postfix.transport, s.name);
    // Two streams of one name share "sg-NAME": the name is reported already.
    if (fresh || s.postfix.transport.empty() || it->second == s.name) continue;
    const auto& t = *arr.get(i)->as_table();
    const toml::node* at = t.get("name");
    if (auto p = t.get("postfix"); p && p->as_table() && p->as_table()->get("transport"))
      at = p->as_table()->get("transport");
    std::string msg = "transport '" + s.postfix.transport + "' belongs to both stream '" +
                      it->second + "' and stream '" + s.name + "'";
    if (at)
      r.error(*at, msg);
    else
      r.error_at(t.source().begin, msg);
  }
}

StreamConfig read_stream(Reader& r, const toml::table& t, const Config& cfg,
                         const std::set<std::string>& operators) {
  r.only_keys(t, "[[stream]]",
              {"name", "ports", "exclude", "mode", "over_cap", "hourly_cap", "daily_cap", "burst",
               "operator_hourly", "operator_daily", "ramp", "postfix", "milter", "listmonk"});
  StreamConfig s;
  if (auto n = t.get("name")) {
    if (auto v = r.str(*n, "name")) {
      s.name = *v;
      if (!valid_name(s.name))
        r.error(*n, "stream name '" + s.name + "' must be 1-32 of a-z 0-9 _ -");
    }
  } else {
    r.error_at(t.source().begin, "[[stream]] needs a 'name'");
  }
  if (auto n = t.get("ports")) {
    auto arr = n->as_array();
    if (!arr || arr->empty())
      r.error(*n, "'ports' must be a non-empty array of port numbers");
    else
      for (const auto& p : *arr)
        if (auto v = r.integer(p, "ports", 1, 65535)) s.ports.push_back(static_cast<uint16_t>(*v));
  } else {
    r.error_at(t.source().begin, "stream '" + s.name + "' needs 'ports', its submission port(s)");
  }
  if (auto n = t.get("exclude")) {
    s.exclude = r.strings(*n, "exclude");
    for (const auto& name : s.exclude)
      if (!cfg.lists.count(name))
        r.error(*n, "'exclude' names list '" + name + "', which [lists] does not define");
  }
  if (auto n = t.get("mode"))
    if (auto v = r.choice<StreamMode>(
            *n, "mode", {{"enforce", StreamMode::enforce}, {"shadow", StreamMode::shadow}}))
      s.mode = *v;
  if (auto n = t.get("over_cap"))
    if (auto v =
            r.choice<Action>(*n, "over_cap", {{"defer", Action::defer}, {"hold", Action::hold}}))
      s.over_cap = *v;
  if (auto n = t.get("hourly_cap"))
    if (auto v = r.integer(*n, "hourly_cap", 0, 100'000'000)) s.hourly_cap = *v;
  if (auto n = t.get("daily_cap"))
    if (auto v = r.integer(*n, "daily_cap", 0, 100'000'000)) s.daily_cap = *v;
  if (auto n = t.get("burst"))
    if (auto v = r.integer(*n, "burst", 1, 1'000'000)) s.burst = static_cast<uint32_t>(*v);
  if (auto n = t.get("operator_hourly"))
    s.operator_caps.hourly = operator_caps(r, *n, "operator_hourly", operators);
  if (auto n = t.get("operator_daily"))
    s.operator_caps.daily = operator_caps(r, *n, "operator_daily", operators);
  if (auto n = t.get("ramp")) s.ramp = read_ramp(r, *n, operators);
  if (auto n = t.get("postfix")) s.postfix = read_stream_postfix(r, *n);
  if (auto n = t.get("milter")) s.milter = read_stream_milter(r, *n);
  if (auto n = t.get("listmonk")) s.listmonk = read_listmonk(r, *n, cfg.path);
  if (s.postfix.transport.empty() && valid_name(s.name)) s.postfix.transport = "sg-" + s.name;
  if (s.postfix.syslog_name.empty() && valid_name(s.name))
    s.postfix.syslog_name = "postfix/" + s.name;
  return s;
}

// A [[breaker]] dsn prefix: "5", "5.7" or "5.7.1" (class 2, 4 or 5; 1-3 digits a part).
bool dsn_prefix(std::string_view s) {
  if (s.empty() || (s[0] != '2' && s[0] != '4' && s[0] != '5')) return false;
  std::size_t parts = 1, digits = 0;
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (s[i] == '.') {
      if (i > 1 && digits == 0) return false;
      if (++parts > 3) return false;
      digits = 0;
    } else if (std::isdigit(static_cast<unsigned char>(s[i])) && i > 1 && ++digits <= 3) {
      continue;
    } else {
      return false;
    }
  }
  return s.back() != '.';
}

BreakerRule read_breaker(Reader& r, const toml::table& t, const std::set<std::string>& operators) {
  r.only_keys(t, "[[breaker]]",
              {"name", "operator", "dsn", "text", "status", "threshold", "window_s", "action",
               "cooldown_s", "recovery_s"});
  BreakerRule b;
  if (auto n = t.get("name")) {
    if (auto v = r.str(*n, "name")) {
      b.name = *v;
      if (!valid_name(b.name))
        r.error(*n, "breaker name '" + b.name + "' must be 1-32 of a-z 0-9 _ -");
    }
  } else {
    r.error_at(t.source().begin, "[[breaker]] needs a 'name'");
  }
  if (auto n = t.get("operator")) {
    if (auto v = r.str(*n, "operator")) {
      if (*v == "any")
        b.op.clear();
      else if (operators.count(*v))
        b.op = *v;
      else
        r.error(*n, "'operator' names operator '" + *v + "', which no [operators." + *v +
                        "] table defines (or \"any\")");
    }
  }
  if (auto n = t.get("dsn")) {
    if (auto v = r.str(*n, "dsn")) {
      if (dsn_prefix(*v))
        b.dsn = *v;
      else
        r.error(*n, "'dsn' is \"" + *v +
                        "\", must be an enhanced status or a prefix of one (e.g. \"5.7.1\", "
                        "\"4.7\")");
    }
  }
  if (auto n = t.get("text")) {
    if (auto v = r.str(*n, "text")) {
      if (!v->empty() && v->size() <= 200)
        b.text = *v;
      else
        r.error(*n, "'text' must be 1-200 characters");
    }
  }
  if (auto n = t.get("status")) {
    auto list = r.strings(*n, "status");
    b.status.clear();
    for (const auto& s : list) {
      if (s != "sent" && s != "deferred" && s != "bounced" && s != "expired")
        r.error(*n, "'status' names \"" + s +
                        "\", must be \"sent\", \"deferred\", \"bounced\" or \"expired\"");
      else if (std::find(b.status.begin(), b.status.end(), s) == b.status.end())
        b.status.push_back(s);
    }
    if (list.empty() && n->as_array()) r.error(*n, "'status' must name at least one status");
  }
  auto u32 = [&](const char* key, int64_t lo, int64_t hi, uint32_t& field, bool required) {
    if (auto n = t.get(key)) {
      if (auto v = r.integer(*n, key, lo, hi)) field = static_cast<uint32_t>(*v);
    } else if (required) {
      r.error_at(t.source().begin, "breaker '" + b.name + "' needs '" + key + "'");
    }
  };
  u32("threshold", 1, kMaxBreakerThreshold, b.threshold, true);
  u32("window_s", 1, 7 * 86400, b.window_s, true);
  u32("cooldown_s", 1, 30 * 86400, b.cooldown_s, false);
  u32("recovery_s", 0, 30 * 86400, b.recovery_s, false);
  if (auto n = t.get("action"))
    if (auto a = r.choice<BreakerAction>(*n, "action",
                                         {{"defer", BreakerAction::defer},
                                          {"hold", BreakerAction::hold},
                                          {"freeze_ramp", BreakerAction::freeze_ramp}}))
      b.action = *a;
  return b;
}

bool valid_timezone(const std::string& tz) {
  if (tz == "UTC") return true;
  if (tz.empty() || tz.front() == '/' || tz.find("..") != std::string::npos) return false;
  struct stat st {};
  return ::stat(("/usr/share/zoneinfo/" + tz).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Cross-stream checks, each reported at the offending stream's own node.
// `arr` holds the [[stream]] tables in the order cfg.streams was read from.
void check_streams(Reader& r, const toml::array& arr, const Config& cfg) {
  std::map<uint16_t, std::size_t> port_owner;  // port -> index of the stream that has it
  std::set<std::string> names;
  std::map<std::string, std::string> listmonk_owner;  // dsn -> stream
  for (std::size_t i = 0; i < cfg.streams.size() && i < arr.size(); ++i) {
    const auto& s = cfg.streams[i];
    const auto& t = *arr.get(i)->as_table();
    if (!s.name.empty() && !names.insert(s.name).second)
      r.error(*t.get("name"), "stream name '" + s.name + "' is used twice");
    if (s.listmonk && !s.listmonk->dsn.empty()) {
      auto [it, fresh] = listmonk_owner.emplace(s.listmonk->dsn, s.name);
      if (!fresh)
        r.error(*t.get("listmonk"), "streams '" + it->second + "' and '" + s.name +
                                        "' name the same Listmonk database; each Listmonk "
                                        "instance paces one stream");
    }
    const toml::array* ports = t.get("ports") ? t.get("ports")->as_array() : nullptr;
    if (!ports) continue;
    for (const auto& node : *ports) {
      auto v = node.as_integer();
      if (!v || v->get() < 1 || v->get() > 65535) continue;  // already reported
      auto p = static_cast<uint16_t>(v->get());
      auto [it, fresh] = port_owner.emplace(p, i);
      if (fresh) continue;
      if (it->second == i)
        r.error(node, "port " + std::to_string(p) + " is listed twice in stream '" + s.name + "'");
      else
        r.error(node, "port " + std::to_string(p) + " belongs to both stream '" +
                          cfg.streams[it->second].name + "' and stream '" + s.name + "'");
    }
  }
}

}  // namespace

ConfigResult parse_config(std::string_view text, const std::string& path) {
  ConfigResult result;
  Reader r(path);
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    result.errors.push_back({path, b.line, b.column, std::string(e.description())});
    return result;
  }
  auto cfg = std::make_shared<Config>();
  cfg->path = path;
  cfg->timezone = "UTC";
  r.only_keys(root, "the top level",
              {"timezone", "log_level", "redis", "policyd", "dns", "lists", "operators", "postfix",
               "milter", "rampd", "stream", "breaker"});
  if (auto n = root.get("timezone")) {
    if (auto v = r.str(*n, "timezone")) {
      if (valid_timezone(*v))
        cfg->timezone = *v;
      else
        r.error(*n, "unknown time zone '" + *v + "' (an IANA name such as America/Chicago)");
    }
  }
  if (auto n = root.get("log_level"))
    if (auto v = r.choice<std::string>(*n, "log_level",
                                       {{"trace", std::string("trace")},
                                        {"debug", std::string("debug")},
                                        {"info", std::string("info")},
                                        {"warn", std::string("warn")},
                                        {"error", std::string("error")}}))
      cfg->log_level = *v;

  std::string err;
  cfg->redis.url = "redis://127.0.0.1:6379/0";
  cfg->redis.endpoint = parse_redis_url(cfg->redis.url, err)->endpoint;
  if (auto n = root.get("redis"))
    if (auto t = r.table(*n, "redis")) read_redis(r, *t, cfg->redis);
  if (auto n = root.get("policyd"))
    if (auto t = r.table(*n, "policyd")) read_policyd(r, *t, cfg->policyd);
  if (cfg->policyd.listen.empty()) {
    cfg->policyd.listen.push_back(
        *parse_endpoint("unix:/var/spool/postfix/private/streamguard", err));
  }
  if (auto n = root.get("dns"))
    if (auto t = r.table(*n, "dns")) read_dns(r, *t, cfg->dns);
  auto base = std::filesystem::path(path).parent_path();
  if (auto n = root.get("lists"))
    if (auto t = r.table(*n, "lists")) read_lists(r, *t, base, cfg->lists);
  if (auto n = root.get("operators"))
    if (auto t = r.table(*n, "operators")) read_operators(r, *t, cfg->lists, cfg->operators);
  std::set<std::string> operator_names;
  for (const auto& op : cfg->operators) operator_names.insert(op.name);

  if (auto n = root.get("postfix"))
    if (auto t = r.table(*n, "postfix")) read_postfix(r, *t, cfg->postfix);
  cfg->milter.listen = *parse_endpoint("unix:/var/spool/postfix/private/streamguard-milter", err);
  if (auto n = root.get("milter"))
    if (auto t = r.table(*n, "milter")) {
      cfg->milter.configured = true;
      read_milter(r, *t, cfg->milter);
      if (!cfg->milter.opendkim_conf.empty()) {
        std::filesystem::path p(cfg->milter.opendkim_conf);
        if (p.is_relative()) p = std::filesystem::path(path).parent_path() / p;
        cfg->milter.opendkim_conf = p.lexically_normal().string();
      }
    }

  if (auto n = root.get("rampd"))
    if (auto t = r.table(*n, "rampd")) read_rampd(r, *t, path, cfg->rampd);

  if (auto n = root.get("stream")) {
    auto arr = n->as_array();
    if (!arr || !arr->is_array_of_tables()) {
      r.error(*n, "'stream' must be an array of tables: write [[stream]]");
    } else {
      for (const auto& e : *arr)
        cfg->streams.push_back(read_stream(r, *e.as_table(), *cfg, operator_names));
      check_streams(r, *arr, *cfg);
      check_postfix(r, *arr, *cfg);
    }
  } else {
    r.error_at(root.source().begin, "no [[stream]] is defined: nothing to enforce");
  }

  if (auto n = root.get("breaker")) {
    auto arr = n->as_array();
    if (!arr || !arr->is_array_of_tables()) {
      r.error(*n, "'breaker' must be an array of tables: write [[breaker]]");
    } else {
      std::set<std::string> names;
      for (const auto& e : *arr) {
        const auto& t = *e.as_table();
        cfg->breakers.push_back(read_breaker(r, t, operator_names));
        const auto& name = cfg->breakers.back().name;
        if (!name.empty() && !names.insert(name).second)
          r.error(*t.get("name"), "breaker name '" + name + "' is used twice");
      }
    }
  }

  result.errors = std::move(r.errors());
  if (result.errors.empty()) result.config = std::move(cfg);
  return result;
}

ConfigResult load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ConfigResult result;
    result.errors.push_back({path, 0, 0, std::string("cannot read: ") + std::strerror(errno)});
    return result;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

}  // namespace sg
