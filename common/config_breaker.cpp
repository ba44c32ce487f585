// [[breaker]] (the delivery signals that stop a stream's traffic to an
// operator) and [[suppress]] (those that show an address or domain is dead):
// both count delivery results by the same match (ResultMatch).
#include <algorithm>
#include <cctype>
#include <set>

#include <toml++/toml.h>

#include "common/config_reader.hpp"

namespace sg::config_detail {

namespace {

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

// A string or an array of strings, each checked by `ok` (which reports its
// own error and returns false). A list may not be empty, nor longer than
// kMaxMatchEntries; repeats are dropped.
template <class Ok>
std::vector<std::string> one_or_more(Reader& r, const toml::node& n, const char* key, Ok ok) {
  std::vector<std::string> out;
  std::vector<std::string> given;
  if (n.as_string()) {
    if (auto v = r.str(n, key)) given.push_back(*v);
  } else if (n.as_array()) {
    given = r.strings(n, key);
    if (given.empty() && n.as_array()->empty())
      r.error(n, "'" + std::string(key) + "' must name at least one entry");
    if (given.size() > kMaxMatchEntries)
      r.error(n, "'" + std::string(key) + "' has " + std::to_string(given.size()) +
                     " entries, at most " + std::to_string(kMaxMatchEntries));
  } else {
    r.error(n, "'" + std::string(key) + "' must be a string or an array of strings");
  }
  for (auto& v : given)
    if (ok(v) && std::find(out.begin(), out.end(), v) == out.end()) out.push_back(std::move(v));
  return out;
}

// What a rule counts: the operator, the enhanced status (prefixes), the
// reply text (substrings) and the delivery statuses.
void read_match(Reader& r, const toml::table& t, const std::set<std::string>& operators,
                ResultMatch& b) {
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
    b.dsn = one_or_more(r, *n, "dsn", [&](const std::string& v) {
      if (dsn_prefix(v)) return true;
      r.error(*n, "'dsn' is \"" + v +
                      "\", must be an enhanced status or a prefix of one (e.g. \"5.7.1\", "
                      "\"4.7\")");
      return false;
    });
  }
  if (auto n = t.get("text")) {
    b.text = one_or_more(r, *n, "text", [&](const std::string& v) {
      if (!v.empty() && v.size() <= 200) return true;
      r.error(*n, "'text' must be 1-200 characters");
      return false;
    });
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
}

// The rule's `name`: required, 1-32 of a-z 0-9 _ -.
std::string read_rule_name(Reader& r, const toml::table& t, const char* kind) {
  if (auto n = t.get("name")) {
    if (auto v = r.str(*n, "name")) {
      if (!valid_name(*v))
        r.error(*n, std::string(kind) + " name '" + *v + "' must be 1-32 of a-z 0-9 _ -");
      return *v;
    }
  } else {
    r.error_at(t.source().begin, "[[" + std::string(kind) + "]] needs a 'name'");
  }
  return {};
}

}  // namespace

BreakerRule read_breaker(Reader& r, const toml::table& t, const std::set<std::string>& operators) {
  r.only_keys(t, "[[breaker]]",
              {"name", "operator", "dsn", "text", "status", "threshold", "window_s", "action",
               "cooldown_s", "recovery_s"});
  BreakerRule b;
  b.name = read_rule_name(r, t, "breaker");
  read_match(r, t, operators, b);
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
    if (auto a = r.choice(*n, "action", kBreakerActionNames)) b.action = *a;
  return b;
}

SuppressRule read_suppress(Reader& r, const toml::table& t,
                           const std::set<std::string>& operators) {
  r.only_keys(t, "[[suppress]]",
              {"name", "scope", "operator", "dsn", "text", "status", "threshold", "window_s",
               "span_s", "ttl_s"});
  SuppressRule s;
  s.name = read_rule_name(r, t, "suppress");
  // Entries name the rule that made them; these two are streamguardctl's.
  if (s.name == "manual" || s.name == "import")
    r.error(*t.get("name"), "suppress rule name '" + s.name +
                                "' is reserved (entries added by hand or imported carry it)");
  read_match(r, t, operators, s);
  if (auto n = t.get("scope")) {
    if (auto v = r.choice(*n, "scope", kSuppressScopeNames)) s.scope = *v;
  } else {
    r.error_at(t.source().begin,
               "suppress rule '" + s.name + "' needs 'scope' (\"address\" or \"domain\")");
  }
  auto u32 = [&](const char* key, int64_t lo, int64_t hi, uint32_t& field) {
    if (auto n = t.get(key))
      if (auto v = r.integer(*n, key, lo, hi)) field = static_cast<uint32_t>(*v);
  };
  u32("threshold", 1, kMaxBreakerThreshold, s.threshold);
  u32("window_s", 1, 30 * 86400, s.window_s);
  u32("span_s", 0, 30 * 86400, s.span_s);
  if (auto n = t.get("ttl_s")) {
    if (auto v = r.integer(*n, "ttl_s", 60, 3 * 366 * 86400)) s.ttl_s = static_cast<uint32_t>(*v);
  } else {
    r.error_at(t.source().begin,
               "suppress rule '" + s.name + "' needs 'ttl_s' (how long an entry it learns lasts)");
  }
  if (s.span_s > s.window_s)
    r.error_at(t.source().begin, "suppress rule '" + s.name + "': span_s (" +
                                     std::to_string(s.span_s) + ") is longer than window_s (" +
                                     std::to_string(s.window_s) + "); it could never trip");
  // Reputation replies (x.7.x: security or policy) are the breakers' to count;
  // the address is alive, the sender is not trusted.
  for (const auto& d : s.dsn)
    if (d.size() >= 3 && d[2] == '7')
      r.error(*t.get("dsn"), "suppress rule '" + s.name + "' matches dsn " + d +
                                 ", a security or policy status (a reputation reply, not a dead "
                                 "address): use a [[breaker]] for it");
  return s;
}

}  // namespace sg::config_detail
