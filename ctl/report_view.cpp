#include "ctl/report_view.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <sstream>

#include "common/civil_time.hpp"
#include "rules/decision.hpp"

namespace sg {
namespace {

using nlohmann::json;

// A field of a /status object, or `otherwise` when it is missing or of
// another type (a rampd of another version must not make report fail).
template <typename T>
T field(const json& j, const char* key, T otherwise) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return otherwise;
  try {
    return j[key].get<T>();
  } catch (const json::exception&) {
    return otherwise;
  }
}

const json& member(const json& j, const char* key) {
  static const json kNull;
  return j.is_object() && j.contains(key) ? j[key] : kNull;
}

std::string percent(double share) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", share * 100.0);
  return buf;
}

struct Painter {
  bool on;
  std::string red(const std::string& s) const { return on ? "\033[31m" + s + "\033[0m" : s; }
  std::string yellow(const std::string& s) const { return on ? "\033[33m" + s + "\033[0m" : s; }
  std::string bold(const std::string& s) const { return on ? "\033[1m" + s + "\033[0m" : s; }
};

uint64_t results(const json& c) {
  return field<uint64_t>(c, "sent", 0) + field<uint64_t>(c, "deferred", 0) +
         field<uint64_t>(c, "bounced", 0) + field<uint64_t>(c, "expired", 0);
}

// "97.8%", or "-" with no result; `warn` when under kDeliveryWarn.
std::string delivered(const json& c, bool& warn) {
  warn = false;
  const json& r = member(c, "ratio");
  if (!r.is_number()) return "-";
  warn = r.get<double>() < kDeliveryWarn;
  return percent(r.get<double>());
}

// Columns padded to the widest cell; cells may hold colour codes, so the
// width is taken from the plain text given beside them.
struct Table {
  std::vector<std::vector<std::pair<std::string, std::string>>> rows;  // (plain, shown)
  std::string render(const std::string& indent) const {
    std::vector<std::size_t> width;
    for (const auto& r : rows)
      for (std::size_t i = 0; i < r.size(); ++i) {
        if (width.size() <= i) width.push_back(0);
        width[i] = std::max(width[i], r[i].first.size());
      }
    std::string out;
    for (const auto& r : rows) {
      out += indent;
      for (std::size_t i = 0; i < r.size(); ++i) {
        out += r[i].second;
        if (i + 1 < r.size()) out += std::string(width[i] - r[i].first.size() + 2, ' ');
      }
      out += "\n";
    }
    return out;
  }
};

void delivery_lines(std::ostringstream& out, const json& d, const Painter& p) {
  const json& ops = member(d, "operators");
  if (!ops.is_object() || ops.empty()) {
    out << "  delivery   no delivery result read today or in the last hour\n";
    return;
  }
  Table t;
  t.rows.push_back({{"PROVIDER", "PROVIDER"},
                    {"SENT", "SENT"},
                    {"DEFERRED", "DEFERRED"},
                    {"BOUNCED", "BOUNCED"},
                    {"EXPIRED", "EXPIRED"},
                    {"DELIVERED", "DELIVERED"},
                    {"LAST HOUR", "LAST HOUR"}});
  auto row = [&](const std::string& name, const json& c) {
    const json& today = member(c, "today");
    const json& hour = member(c, "last_hour");
    bool warn_day = false, warn_hour = false;
    const std::string day_share = delivered(today, warn_day);
    const std::string hour_share = delivered(hour, warn_hour);
    const std::string hour_text =
        hour_share == "-" ? "-" : hour_share + " of " + std::to_string(results(hour));
    auto n = [&](const char* k) {
      auto s = std::to_string(field<uint64_t>(today, k, 0));
      return std::pair{s, s};
    };
    t.rows.push_back({{name, name},
                      n("sent"),
                      n("deferred"),
                      n("bounced"),
                      n("expired"),
                      {day_share, warn_day ? p.red(day_share) : day_share},
                      {hour_text, warn_hour ? p.red(hour_text) : hour_text}});
  };
  for (const auto& [op, c] : ops.items()) row(op, c);
  if (ops.size() > 1) row("all", d);
  out << "  delivery   today, by mailbox provider (\"other\": none of [operators]):\n"
      << t.render("             ");
  const json& reasons = member(d, "reasons_today");
  if (reasons.is_array() && !reasons.empty()) {
    std::string line;
    for (const auto& r : reasons) {
      if (!line.empty()) line += ", ";
      line += std::to_string(field<uint64_t>(r, "count", 0)) + " " +
              field<std::string>(r, "status", "?") + " " + field<std::string>(r, "dsn", "?");
    }
    out << "  not sent   " << line << " (today, commonest first)\n";
  }
}

std::string hourly_text(int64_t h) {
  if (h > 0)
    return "hourly " + std::to_string(h) + "/h (one message every " +
           format_duration_ms(3'600'000 / h) + ")";
  return h == 0 ? "hourly 0 (closed: mail is held)" : "no hourly cap";
}

// "11 accepted today of 1000 (1.1%); google 3 of 500 (0.6%)". The stream's
// count: Redis's own when the report could read it; else policyd's as its
// last charge found it or rampd's as its last ramp round read it, both of
// which only lag (held mail rampd released is charged by rampd; policyd sees
// it at its next charge), so the larger of the two. The operators' counts
// are policyd's.
std::string usage_text(const json& s, const json& usage, int64_t daily,
                       std::optional<int64_t> in_redis) {
  auto share = [](int64_t used, int64_t cap) {
    return cap > 0 ? " of " + std::to_string(cap) + " (" + percent(double(used) / double(cap)) + ")"
                   : std::string();
  };
  if ((!usage.is_object() || usage.empty()) && !in_redis) {
    const auto today = field<int64_t>(s, "sent_today", 0);
    return std::to_string(today) + " accepted today" + share(today, daily) +
           ", as rampd last read it";
  }
  const int64_t used = in_redis ? *in_redis
                                : std::max(field<int64_t>(member(usage, "all"), "used", 0),
                                           field<int64_t>(s, "sent_today", 0));
  std::string text = std::to_string(used) + " accepted today" + share(used, daily);
  for (const auto& [op, u] : usage.items())
    if (op != "all" && field<int64_t>(u, "cap", -1) >= 0)
      text += "; " + op + " " + std::to_string(field<int64_t>(u, "used", 0)) +
              share(field<int64_t>(u, "used", 0), field<int64_t>(u, "cap", -1));
  return text;
}

void caps_lines(std::ostringstream& out, const json& s, const json& usage,
                std::optional<int64_t> in_redis, const ConfiguredCaps& conf, const Painter& p) {
  int64_t hourly = -1, daily = -1;
  std::string from;
  if (conf.ramp) {
    if (!field<bool>(s, "ramp_ok", true)) {
      out << "  caps       "
          << p.red("the ramp is not published: " + field<std::string>(s, "ramp_error", "?"))
          << "\n";
      return;
    }
    hourly = field<int64_t>(s, "hourly_cap", -1);
    daily = field<int64_t>(s, "daily_cap", -1);
    from = " (ramp day " + std::to_string(field<int64_t>(s, "ramp_day", 0)) +
           (field<bool>(s, "frozen", false) ? ", frozen by a breaker" : "") + ")";
  } else {
    hourly = conf.hourly ? int64_t(*conf.hourly) : -1;
    daily = conf.daily ? int64_t(*conf.daily) : -1;
    from = " (the configuration's; no ramp)";
  }
  out << "  caps       " << hourly_text(hourly)
      << (daily >= 0 ? "; daily " + std::to_string(daily) : std::string("; no daily cap")) << from
      << "\n";
  out << "  usage      " << usage_text(s, usage, daily, in_redis) << "\n";
}

void held_line(std::ostringstream& out, const json& s, const Painter& p) {
  const json& h = member(s, "held");
  const uint64_t n = field<uint64_t>(h, "messages", 0);
  if (n == 0) {
    out << "  held       none\n";
    return;
  }
  std::string line = std::to_string(n) + " message" + (n > 1 ? "s" : "") + ", the oldest " +
                     format_duration_ms(field<int64_t>(h, "oldest_age_s", 0) * 1000);
  const uint64_t over = field<uint64_t>(h, "over_warn", 0);
  if (over) line += "; " + p.yellow(std::to_string(over) + " held longer than [rampd] held_warn_s");
  if (auto w = field<uint64_t>(h, "waiting", 0))
    line += "; " + std::to_string(w) + " waiting on a provider's cap, a breaker or DNS";
  out << "  held       " << line << "\n";
}

}  // namespace

namespace {

void breaker_lines(std::ostringstream& out, const json& breakers, const std::string& stream,
                   int64_t now_ms, const Painter& p) {
  bool any = false;
  if (breakers.is_array())
    for (const auto& b : breakers) {
      if (field<std::string>(b, "stream", "") != stream) continue;
      const std::string state = field<std::string>(b, "state", "?");
      const int64_t left = field<int64_t>(b, "until_ms", 0) - now_ms;
      std::string head = field<std::string>(b, "rule", "?") + " " + state;
      if (auto op = field<std::string>(b, "operator", ""); !op.empty()) head += " for " + op;
      if (left > 0) head += ", another " + format_duration_ms(left);
      out << (any ? "             " : "  breakers   ")
          << (state == "open" ? p.red(head) : p.yellow(head)) << ": "
          << field<std::string>(b, "reason", "") << "\n";
      any = true;
    }
  if (!any) out << "  breakers   none open\n";
}

}  // namespace

std::string render_report(const ReportInput& in, bool colour) {
  const Painter p{colour};
  std::ostringstream out;
  out << p.bold("streamguard report") << ", " << utc_text(in.now_ms) << ", " << in.config_path
      << "\n";
  std::string daemons;
  for (const auto& d : in.daemons) {
    if (!daemons.empty()) daemons += ", ";
    daemons += d.name + " " + (!d.asked ? "(no status endpoint)" : d.up ? "up" : p.red("DOWN"));
  }
  out << daemons << "\n";
  for (const auto& d : in.daemons)
    if (d.asked && !d.up) out << "  " << d.name << ": " << d.error << "\n";
  if (in.rampd.is_null()) {
    out << "\nWithout streamguard-rampd's /status there is nothing to report: it reads the "
           "Postfix log, publishes the ramp and watches the hold queue.\n";
    return out.str();
  }
  const json& streams = member(in.rampd, "streams");
  const json& delivery = member(in.rampd, "delivery");
  if (streams.is_object())
    for (const auto& [name, s] : streams.items()) {
      out << "\n"
          << p.bold("stream " + name) << " (" << field<std::string>(s, "mode", "?") << ")\n";
      auto conf = in.configured.find(name);
      const auto counted = in.day_counts.find(name);
      caps_lines(
          out, s, member(member(in.policyd, "daily_usage"), name.c_str()),
          counted == in.day_counts.end() ? std::nullopt : std::optional<int64_t>(counted->second),
          conf == in.configured.end() ? ConfiguredCaps{} : conf->second, p);
      delivery_lines(out, member(delivery, name.c_str()), p);
      held_line(out, s, p);
      breaker_lines(out, member(in.rampd, "breakers"), name, in.now_ms, p);
    }
  const json& sup = member(in.rampd, "suppression");
  if (sup.is_object()) {
    out << "\nsuppressed: " << field<uint64_t>(sup, "entries", 0) << " ("
        << field<uint64_t>(sup, "addresses", 0) << " addresses, "
        << field<uint64_t>(sup, "domains", 0) << " domains)";
    const json& recent = member(sup, "recent");
    if (recent.is_array() && !recent.empty()) {
      out << "; learned lately:\n";
      std::size_t shown = 0;
      for (const auto& r : recent) {
        if (shown++ == 5) break;
        out << "  " << field<std::string>(r, "key", "?") << " by rule "
            << field<std::string>(r, "rule", "?") << " on stream "
            << field<std::string>(r, "stream", "?") << " (" << field<std::string>(r, "dsn", "")
            << "), " << field<std::string>(r, "learned", "") << "\n";
      }
    } else {
      out << "\n";
    }
  }
  return out.str();
}

json report_json(const ReportInput& in) {
  json j;
  j["config"] = in.config_path;
  j["time"] = utc_text(in.now_ms);
  j["daemons"] = json::array();
  for (const auto& d : in.daemons)
    j["daemons"].push_back({{"daemon", d.name},
                            {"up", d.up},
                            {"asked", d.asked},
                            {"error", d.error.empty() ? json() : json(d.error)}});
  j["streams"] = json::object();
  if (in.rampd.is_null()) return j;
  const json& streams = member(in.rampd, "streams");
  if (streams.is_object())
    for (const auto& [name, s] : streams.items()) {
      json o = s;  // mode, ramp, caps, sent_today, held, listmonk as rampd gives them
      o["delivery"] = member(member(in.rampd, "delivery"), name.c_str());
      o["daily_usage"] = member(member(in.policyd, "daily_usage"), name.c_str());
      // The day's count in Redis (null when Redis did not answer the report).
      if (auto c = in.day_counts.find(name); c != in.day_counts.end())
        o["accepted_today"] = c->second;
      else
        o["accepted_today"] = nullptr;
      o["breakers"] = json::array();
      const json& breakers = member(in.rampd, "breakers");
      if (breakers.is_array())
        for (const auto& b : breakers)
          if (field<std::string>(b, "stream", "") == name) o["breakers"].push_back(b);
      j["streams"][name] = std::move(o);
    }
  j["suppression"] = member(in.rampd, "suppression");
  return j;
}

}  // namespace sg
