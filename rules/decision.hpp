// The decision engine: pure functions, no I/O, no clock, no logging. They
// return a verdict and its reason; the caller answers, logs and counts.
//
// A recipient is decided in two steps:
//   1. decide_exclusion(): lists alone, no Redis. An excluded recipient is
//      rejected here and never counted.
//   2. plan_limits() says which caps apply; the caller charges them all in one
//      atomic Redis call, which first checks the suppressed addresses and
//      domains; decide_caps() turns that result into the answer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "rules/classifier.hpp"

namespace sg {

struct Verdict {
  Action action = Action::dunno;  // what Postfix is told (dunno in shadow mode)
  Action would = Action::dunno;   // what enforcement would have answered
  std::string reply;              // the whole action line, e.g. "REJECT 5.7.1 ..."
  std::string reason;             // a short label for metrics and logs, e.g. "excluded:consumer"
  bool shadow = false;
};

// One cap that applies to a recipient. Windows: "hourly" (smooth rate with a
// bounded burst) or "daily" (exact count per calendar day).
struct LimiterSpec {
  std::string window;     // "hourly" or "daily"
  std::string op;         // "" for the stream itself, else the operator
  std::string cap_field;  // field in the Redis caps hash that overrides the fallback
  int64_t fallback = -1;  // cap from the config; -1: none unless Redis sets one
  int64_t burst = -1;     // hourly only: configured burst; -1: derived from the cap
};

struct LimiterPlan {
  std::vector<LimiterSpec> limiters;
  std::string op;  // the recipient's operator ("" when none): its breaker is checked
  // The suppression entries that would refuse this recipient ("a:ADDRESS",
  // "d:DOMAIN"; rules/suppression.hpp), checked in the same call before
  // anything is charged. Empty: not checked.
  std::vector<std::string> suppress_fields;
  // Charge only in a Redis streamguard-rampd has marked as kept ([redis]
  // expect_rampd); without the mark nothing is charged (LimiterResult::not_kept).
  bool require_kept = false;
  // Answer as a charge would, write nothing (streamguardctl explain).
  bool dry_run = false;
};

// What the Redis limiter reports for each LimiterSpec, in plan order.
struct LimiterState {
  int64_t cap = -1;       // the cap in force (-1: no cap applied)
  int64_t used = 0;       // daily: count today; hourly: messages in the current burst
  int64_t retry_ms = -1;  // when refused: ms until budget returns (-1: not while cap is 0)
  bool refused = false;
};

struct LimiterResult {
  // A suppression entry in force refused before anything was charged: its
  // field ("a:…" / "d:…") and record (rules/suppression.hpp, parse_record).
  std::string suppressed_field;
  std::string suppressed_record;
  // An open breaker (streamguard-rampd's, in the caps hash) refused before
  // any cap was looked at: defer or hold, until when, and why. Or, with
  // `recovering`, a breaker past its pause cut the caps it covers (the
  // states hold the cut caps) until breaker_until_ms.
  Action breaker = Action::dunno;
  bool recovering = false;
  bool recovering_op_only = false;  // an operator's breaker: it cut that operator's caps only
  // The Redis has no streamguard-rampd mark: it came back empty (or rampd
  // has never run on it); nothing was looked at or charged.
  bool not_kept = false;
  int64_t breaker_until_ms = 0;
  std::string breaker_reason;
  bool allowed = true;
  int denied = -1;  // index of the first limiter that refused, -1 when allowed
  // Every limiter is evaluated even after one refuses, so states tell them all.
  std::vector<LimiterState> states;
};

Verdict decide_unknown_port(uint16_t port, Action action);
std::optional<Verdict> decide_exclusion(const StreamConfig& stream, const Classification& c);
LimiterPlan plan_limits(const StreamConfig& stream, const std::string& op);
// now_ms: only to say how long an open breaker has left.
Verdict decide_caps(const StreamConfig& stream, const LimiterPlan& plan, const LimiterResult& r,
                    int64_t now_ms = 0);
// store: where the counters live, as a person should look for it
// ("Redis at 127.0.0.1:6379", the password never shown).
Verdict decide_store_error(const StreamConfig& stream, Action on_error, const std::string& store);
// The Redis has no streamguard-rampd mark (LimiterResult::not_kept): its
// counts of the day are gone until rampd puts them back.
Verdict decide_store_unkept(const StreamConfig& stream, Action on_error, const std::string& store);
// The MX lookup that would tell the recipient's operator failed and the
// config says defer or hold (on_failure = "unknown" never gets here).
Verdict decide_dns_failure(const StreamConfig& stream, Action on_failure, const std::string& domain,
                           const std::string& error);
Verdict dunno(std::string reason);

// "DOMAIN is in the Yahoo/AOL/Verizon mail family, which WHO excludes": how
// a refusal names a list; who is "stream trucking" or "every stream" (the
// backstop map).
std::string exclusion_text(std::string_view list, const std::string& domain,
                           const std::string& who);

// "12s", "4m05s", "2h10m".
std::string format_duration_ms(int64_t ms);

}  // namespace sg
