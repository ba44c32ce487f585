// [[breaker]]: the delivery signals that stop a stream's traffic to an
// operator.
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

// What a rule counts: the operator, the enhanced status (prefix), the reply
// text and the delivery statuses.
void read_match(Reader& r, const toml::table& t, const std::set<std::string>& operators,
                BreakerRule& b) {
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
}

}  // namespace

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

}  // namespace sg::config_detail
