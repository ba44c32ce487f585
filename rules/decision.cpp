#include "rules/decision.hpp"

#include "rules/suppression.hpp"

#include "rules/limiter_keys.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <limits>
#include <utility>

namespace sg {

namespace {

// How a refusal reads for each list shipped with streamguard; a list the
// operator adds is named as it is. "{who}" stands for "stream trucking", or
// "every stream" in the backstop map.
struct ListWording {
  std::string_view list;
  std::string_view says;
};
constexpr std::array kListWording = {
    ListWording{"yahoo_family", "is in the Yahoo/AOL/Verizon mail family, which {who} excludes"},
    ListWording{"dead_isp", "is a dead ISP domain that only hard-bounces, which {who} excludes"},
    ListWording{"consumer", "is consumer webmail, which {who} excludes"},
    ListWording{"direct_hisp",
                "is a Direct/HISP secure-messaging domain that cannot take cold mail, which {who} "
                "excludes"},
};

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

// Every refusal names streamguard, so a sender reading Listmonk's error log
// or Postfix's "NOQUEUE: hold:" line can tell a local refusal from a remote
// one.
std::string refusal(Action action, const std::string& text) {
  switch (action) {
    case Action::defer:
      return "DEFER_IF_PERMIT 4.7.1 streamguard: " + text;
    case Action::hold:
      return "HOLD streamguard: " + text;
    case Action::reject:
      return "REJECT 5.7.1 streamguard: " + text;
    case Action::dunno:
      return "DUNNO";
  }
  return "DUNNO";
}

// What follows the reason, by what the client is told: a held message is
// accepted (nothing to retry); a deferred one should come back.
std::string outcome(Action action, const std::string& when_deferred, const std::string& when_held) {
  switch (action) {
    case Action::defer:
      return "; " + when_deferred;
    case Action::hold:
      return "; accepted and held: " + when_held;
    case Action::reject:
      return "; refused";
    case Action::dunno:
      break;
  }
  return "";
}

// The same for a stream's mail. With [rampd] drain off nothing releases
// held mail but the operator, and the reply (in the Postfix log and in
// explain) must not promise otherwise.
std::string outcome(const StreamConfig& stream, Action action, const std::string& when_deferred,
                    const std::string& when_held) {
  if (action == Action::hold && !stream.held_released)
    return outcome(action, when_deferred,
                   "it stays held until released by hand (postsuper -H; [rampd] drain is off)");
  return outcome(action, when_deferred, when_held);
}

// A breaker's reason as rampd writes it (rampd/breaker_feed.cpp): "NAME:
// CAUSE"; the name alone when there is no cause.
std::pair<std::string, std::string> breaker_parts(const std::string& reason) {
  const auto colon = reason.find(": ");
  if (colon == std::string::npos) return {reason, ""};
  return {reason.substr(0, colon), reason.substr(colon + 2)};
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
// says the rate, or "over its hourly cap of 50 (1 used)" would read like a bug.
std::string hourly_pace(int64_t cap, int64_t burst) {
  const int64_t every_ms = 3'600'000 / std::max<int64_t>(cap, 1);
  const int64_t at_once = burst > 0 ? burst : std::max<int64_t>(1, cap / 60);
  std::string pace = "sent evenly: ";
  pace += every_ms >= 1000 ? "one message every " + format_duration_ms(every_ms)
                           : "about " + std::to_string((cap + 30) / 60) + " a minute";
  if (at_once > 1) pace += ", up to " + std::to_string(at_once) + " at once";
  return pace;
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
  v.reply = refusal(action, "no stream takes mail submitted on port " + std::to_string(port) +
                                outcome(action, "try again later",
                                        "no stream's caps apply, so it waits to be "
                                        "released by hand (postsuper -H)"));
  return v;
}

std::string exclusion_text(std::string_view list, const std::string& domain,
                           const std::string& who) {
  std::string says = "is on the " + std::string(list) + " list, which {who} excludes";
  for (const auto& w : kListWording)
    if (w.list == list) says = std::string(w.says);
  if (auto at = says.find("{who}"); at != std::string::npos) says.replace(at, 5, who);
  return domain + " " + says;
}

std::optional<Verdict> decide_exclusion(const StreamConfig& stream, const Classification& c) {
  // Exclusions are checked in the stream's own order so the reason names the
  // list the operator wrote first.
  for (const auto& list : stream.exclude) {
    if (!c.on(list)) continue;
    std::string text = exclusion_text(list, c.domain, "stream " + stream.name);
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
  std::string who = "stream " + stream.name;
  if (r.breaker == Action::defer || r.breaker == Action::hold) {
    if (!plan.op.empty()) who += "'s mail to mailbox provider " + plan.op;
    const auto [name, cause] = breaker_parts(r.breaker_reason);
    const std::string why = cause.empty() ? name : name + ", which " + cause;
    const std::string text =
        who + " is paused for another " + format_duration_ms(r.breaker_until_ms - now_ms) +
        (why.empty() ? std::string(" by a breaker (no reason given)") : " by breaker " + why) +
        outcome(stream, r.breaker, "try again after the pause",
                "streamguard-rampd releases it once the pause is over");
    return enforce_or_shadow(stream, r.breaker, refusal(r.breaker, text), "breaker");
  }
  if (r.allowed) return dunno("ok");
  const std::size_t which = governing_refusal(r);
  const auto& spec = plan.limiters.at(which);
  const auto& st = r.states.at(which);
  if (!spec.op.empty()) who += "'s mail to mailbox provider " + spec.op;
  // A recovering breaker cut this cap when it covers it: a stream-wide one
  // every cap, an operator's that operator's caps only.
  const bool was_cut = r.recovering && (!r.recovering_op_only || !spec.op.empty());
  const int64_t cut_left = r.breaker_until_ms - now_ms;
  const std::string cut = was_cut
                              ? " (cut while breaker " + breaker_parts(r.breaker_reason).first +
                                    " recovers, for another " + format_duration_ms(cut_left) + ")"
                              : "";
  const std::string held = "streamguard-rampd releases held mail as the cap allows";
  std::string text;
  if (st.cap == 0) {
    text = who + " is closed: its " + spec.window + " cap is 0" + cut +
           // A cap of 0 may stay 0 (operator_daily = { google = 0 }): no promise.
           outcome(stream, stream.over_cap, "try again later",
                   "it stays held until the cap is raised above 0 (streamguard-rampd then "
                   "releases it), or is released or removed by hand");
  } else if (spec.window == "hourly") {
    const std::string next = format_duration_ms(st.retry_ms);
    text = who + " is at its hourly cap of " + std::to_string(st.cap) + "/h" + cut + ", " +
           hourly_pace(st.cap, spec.burst) +
           outcome(stream, stream.over_cap, "the next slot is in " + next + ", try again then",
                   held + " (the next slot is in " + next + ")");
  } else {
    // A cut daily cap comes back whole when the cut ends, maybe before midnight.
    const bool cut_first = was_cut && cut_left < st.retry_ms;
    text = who + " has reached its " + spec.window + " cap of " + std::to_string(st.cap) + cut +
           ", " + std::to_string(st.used) + " accepted today; " +
           (cut_first ? "the whole cap returns in " + format_duration_ms(cut_left)
                      : "the count starts over in " + format_duration_ms(st.retry_ms)) +
           outcome(stream, stream.over_cap, "try again then", held);
  }
  std::string reason = "over_cap:" + spec.window + (spec.op.empty() ? "" : ":operator");
  return enforce_or_shadow(stream, stream.over_cap, refusal(stream.over_cap, text), reason);
}

Verdict decide_store_error(const StreamConfig& stream, Action on_error, const std::string& store) {
  const std::string text = "cannot reach " + store + " to check stream " + stream.name + "'s caps" +
                           outcome(stream, on_error, "try again later",
                                   "streamguard-rampd releases it once the caps can be charged");
  return enforce_or_shadow(stream, on_error, refusal(on_error, text), "store_error");
}

Verdict decide_store_unkept(const StreamConfig& stream, Action on_error, const std::string& store) {
  const std::string text =
      store +
      " has lost the day's counts (no streamguard-rampd mark: emptied, or rampd has not "
      "run on it yet), so stream " +
      stream.name + "'s caps cannot be checked" +
      outcome(stream, on_error, "try again later",
              "streamguard-rampd releases it once it has put the counts back");
  return enforce_or_shadow(stream, on_error, refusal(on_error, text), "store_unkept");
}

Verdict decide_dns_failure(const StreamConfig& stream, Action on_failure, const std::string& domain,
                           const std::string& error) {
  const std::string text = "cannot tell which mailbox provider receives mail for " + domain +
                           " (MX lookup: " + error + ")" +
                           outcome(stream, on_failure, "try again later",
                                   "streamguard-rampd releases it once the lookup answers");
  return enforce_or_shadow(stream, on_failure, refusal(on_failure, text), "dns_failure");
}

}  // namespace sg
