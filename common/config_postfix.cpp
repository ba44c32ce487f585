// [postfix] and a stream's `postfix = { ... }`: what streamguardctl renders
// into Postfix, checked against what Postfix accepts.
#include <arpa/inet.h>

#include <array>
#include <cctype>
#include <map>
#include <set>

#include <toml++/toml.h>

#include "common/config_reader.hpp"

namespace sg::config_detail {

namespace {

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

// A Postfix time: a number with an optional unit s, m, h, d or w ("10s").
bool postfix_time(std::string_view v) {
  if (!v.empty() && std::string_view("smhdw").find(v.back()) != std::string_view::npos)
    v.remove_suffix(1);
  return !v.empty() && v.size() <= 6 && v.front() != '0' &&
         std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

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
  r.checked_str(t, "milter", milter_ok, out.milter, "unix:PATH or inet:HOST:PORT");
  if (auto n = t.get("milters_before")) {
    out.milters_before = r.strings(*n, "milters_before");
    for (const auto& m : out.milters_before)
      if (!milter_ok(m))
        r.error(*n, "'milters_before' has \"" + m + "\", each must be unix:PATH or inet:HOST:PORT");
  }
  r.checked_str(t, "policy_service", policy_service_ok, out.policy_service,
                "unix:PATH (relative to Postfix's queue_directory, e.g. "
                "unix:private/streamguard) or inet:HOST:PORT");
  r.checked_str(t, "policy_timeout", postfix_time, out.policy_timeout,
                "a Postfix time: a number with an optional unit s, m, h, d or w (e.g. \"10s\")");
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
  r.checked_str(
      t, "listen_address", [](const std::string& s) { return s.empty() || ip_literal(s); },
      out.listen_address, "an IP address (e.g. 127.0.0.1)");
  if (auto n = t.get("chroot")) {
    if (auto b = n->as_boolean())  // as_boolean: value<bool>() would take an integer
      out.chroot = b->get();
    else
      r.error(*n, "'chroot' must be true or false");
  }
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

}  // namespace sg::config_detail
