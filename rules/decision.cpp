#include "rules/decision.hpp"

#include "rules/suppression.hpp"

#include "rules/limiter_keys.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <limits>

namespace sg {

namespace {

// How a refusal reads for each list shipped with streamguard; a list the
// operator adds is named as it is. "{stream}" stands for the stream's name.
struct ListWording {
  std::string_view list;
  std::string_view says;
};
constexpr std::array kListWording = {
    ListWording{"yahoo_family", "is in the Yahoo/AOL/Verizon mail family, which no stream mails"},
    ListWording{"dead_isp", "is a dead ISP domain that only hard-bounces; no stream mails it"},
    ListWording{"consumer", "is consumer webmail, which never rides the {stream} stream"},
    ListWording{"direct_hisp",
                "is a Direct/HISP secure-messaging domain, which cannot take cold mail"},
};

std::string exclusion_text(std::string_view list, const std::string& domain,
                           const std::string& stream) {
  std::string says = "is on the " + std::string(list) + " list, excluded from the {stream} stream";
  for (const auto& w : kListWording)
    if (w.list == list) says = std::string(w.says);
  if (auto at = says.find("{stream}"); at != std::string::npos) says.replace(at, 8, stream);
  return domain + " " + says;
}

Verdict enforce_or_shadow(const StreamConfig& stream, Action action, std::string reply,
                          std::string reason) {
  Verdict v;
  v.would = action;
  v.reason = std::move(reason);
  if (stream.mode == StreamMode::shadow && action != Action::dunno) {
    v.action = Action::dunno;
    v.shadow = true;
    v.reply = "DUNNO";
  } else {
    v.action = action;
    v.reply = std::move(reply);
  }
  return v;
}

std::string refusal(Action action, const std::string& text) {
  switch (action) {
    case Action::defer:
      return "DEFER_IF_PERMIT 4.7.1 " + text;
    case Action::hold:
      return "HOLD " + text;
    case Action::reject:
      return "REJECT 5.7.1 " + text;
    case Action::dunno:
      return "DUNNO";
  }
  return "DUNNO";
}

int64_t effective_cap(const std::map<std::string, uint64_t>& caps, const std::string& op) {
  if (auto it = caps.find(op); it != caps.end()) return static_cast<int64_t>(it->second);
  if (auto it = caps.find("default"); it != caps.end()) return static_cast<int64_t>(it->second);
  return -1;
}

// The refusal to report when several caps refuse: a closed cap (0) first,
// since no wait helps; else the one whose budget returns last, since that is
// when the recipient can really go.
std::size_t governing_refusal(const LimiterResult& r) {
  auto wait = [](const LimiterState& s) {
    return s.cap == 0 ? std::numeric_limits<int64_t>::max() : s.retry_ms;
  };
  std::size_t best = static_cast<std::size_t>(r.denied);
  for (std::size_t i = 0; i < r.states.size(); ++i)
    if (r.states[i].refused && wait(r.states[i]) > wait(r.states[best])) best = i;
  return best;
}

}  // namespace

std::string format_duration_ms(int64_t ms) {
  int64_t s = (std::max<int64_t>(ms, 0) + 999) / 1000;
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  else {
    // Minutes round up: "budget returns in" must never promise too early.
    int64_t m = (s + 59) / 60;
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(m / 60),
                  static_cast<long long>(m % 60));
  }
  return buf;
}

// An hourly cap is a pace, not a count per clock hour: a message is
// refused after only a few when they come faster than the pace. The reply
// says so, or "over its hourly cap of 50 (1 used)" would read like a bug.
std::string hourly_pace(int64_t cap, int64_t burst) {
  const int64_t every_ms = 3'600'000 / std::max<int64_t>(cap, 1);
  const int64_t at_once = burst > 0 ? burst : std::max<int64_t>(1, cap / 60);
  const std::string pace = every_ms >= 1000
                               ? "one message every " + format_duration_ms(every_ms)
                               : "about " + std::to_string((cap + 30) / 60) + " a minute";
  return "paced evenly over the hour (" + pace + ", up to " + std::to_string(at_once) + " at once)";
}

Verdict dunno(std::string reason) {
  Verdict v;
  v.reply = "DUNNO";
  v.reason = std::move(reason);
  return v;
}

Verdict decide_unknown_port(uint16_t port, Action action) {
  Verdict v;
  v.action = v.would = action;
  v.reason = "unknown_port";
  v.reply = refusal(action, "streamguard has no stream for submission port " +
                                std::to_string(port) + "; not accepted");
  return v;
}

std::optional<Verdict> decide_exclusion(const StreamConfig& stream, const Classification& c) {
  // Exclusions are checked in the stream's own order so the reason names the
  // list the operator wrote first.
  for (const auto& list : stream.exclude) {
    if (!c.on(list)) continue;
    std::string text = exclusion_text(list, c.domain, stream.name);
    return enforce_or_shadow(stream, Action::reject, refusal(Action::reject, text),
                             "excluded:" + list);
  }
  return std::nullopt;
}

LimiterPlan plan_limits(const StreamConfig& stream, const std::string& op) {
  LimiterPlan plan;
  plan.op = op;
  auto hourly = stream.fallback_hourly_cap();
  plan.limiters.push_back({"hourly", "", keys::cap_field("hourly", ""),
                           hourly ? static_cast<int64_t>(*hourly) : -1,
                           stream.burst > 0 ? static_cast<int64_t>(stream.burst) : -1});
  plan.limiters.push_back({"daily", "", keys::cap_field("daily", ""),
                           stream.daily_cap ? static_cast<int64_t>(*stream.daily_cap) : -1, -1});
  // Operator caps apply to known operators only; mail to domains of no known
  // operator (a practice's own MX) is held to the stream caps alone.
  if (!op.empty()) {
    plan.limiters.push_back({"hourly", op, keys::cap_field("hourly", op),
                             effective_cap(stream.operator_caps.hourly, op), -1});
    plan.limiters.push_back({"daily", op, keys::cap_field("daily", op),
                             effective_cap(stream.operator_caps.daily, op), -1});
  }
  return plan;
}

Verdict decide_caps(const StreamConfig& stream, const LimiterPlan& plan, const LimiterResult& r,
                    int64_t now_ms) {
  if (!r.suppressed_field.empty()) {
    const bool address = r.suppressed_field.starts_with("a:");
    return enforce_or_shadow(
        stream, Action::reject,
        "REJECT " + suppression::refusal_text(r.suppressed_field, r.suppressed_record),
        address ? "suppressed:address" : "suppressed:domain");
  }
  if (r.breaker == Action::defer || r.breaker == Action::hold) {
    std::string who = "stream " + stream.name;
    if (!plan.op.empty()) who += " to " + plan.op;
    std::string text =
        who + " is paused by a breaker (" +
        (r.breaker_reason.empty() ? std::string("no reason given") : r.breaker_reason) +
        ") for another " + format_duration_ms(r.breaker_until_ms - now_ms);
    return enforce_or_shadow(stream, r.breaker, refusal(r.breaker, text), "breaker");
  }
  if (r.allowed) return dunno("ok");
  const std::size_t which = governing_refusal(r);
  const auto& spec = plan.limiters.at(which);
  const auto& st = r.states.at(which);
  std::string who = "stream " + stream.name;
  if (!spec.op.empty()) who += " to " + spec.op;
  std::string text;
  if (st.cap == 0) {
    text = who + " is closed (" + spec.window + " cap 0)";
  } else if (spec.window == "hourly") {
    text = who + " is over its hourly cap of " + std::to_string(st.cap) + ", " +
           hourly_pace(st.cap, spec.burst) + "; the next one fits in " +
           format_duration_ms(st.retry_ms);
  } else {
    text = who + " is over its " + spec.window + " cap of " + std::to_string(st.cap) + " (" +
           std::to_string(st.used) + " used); budget returns in " + format_duration_ms(st.retry_ms);
  }
  std::string reason = "over_cap:" + spec.window + (spec.op.empty() ? "" : ":operator");
  return enforce_or_shadow(stream, stream.over_cap, refusal(stream.over_cap, text), reason);
}

Verdict decide_store_error(const StreamConfig& stream, Action on_error) {
  std::string text =
      "streamguard cannot reach its counter store to check stream " + stream.name + "'s caps";
  if (on_error == Action::defer) text += "; try again later";
  if (on_error == Action::hold) text += "; held until the caps can be charged";
  return enforce_or_shadow(stream, on_error, refusal(on_error, text), "store_error");
}

Verdict decide_dns_failure(const StreamConfig& stream, Action on_failure, const std::string& domain,
                           const std::string& error) {
  std::string text = "streamguard cannot tell which operator receives mail for " + domain +
                     " (MX lookup: " + error + ")";
  if (on_failure == Action::defer) text += "; try again later";
  if (on_failure == Action::hold) text += "; held until it can be checked";
  return enforce_or_shadow(stream, on_failure, refusal(on_failure, text), "dns_failure");
}

}  // namespace sg
