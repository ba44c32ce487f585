// One recipient of one stream, up to its caps: the steps policyd answers RCPT
// with and rampd's drainer releases held mail with, so held mail meets the
// same lists, operators, exclusions and DNS policy as live mail (one path,
// not a copy).
//
//   1. The domain's lists (static): a list the stream excludes refuses.
//   2. A custom domain whose MX hosts can change the answer for this stream
//      (Runtime::needs_mx): the operator they name, and the stream's
//      exclusions of the list that operator's domains count as (a custom
//      domain on Yahoo's MX is Yahoo family). A failed lookup answers
//      [dns] on_failure.
//   3. The limiter plan for the operator found: the caps and the breaker the
//      caller charges in one store call (store/cap_store.hpp), and turns into
//      an answer with decide_caps() (rules/decision.hpp).
#pragma once

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>

#include "recipient/mx_resolver.hpp"
#include "recipient/runtime.hpp"
#include "rules/decision.hpp"

namespace sg {

struct RecipientCheck {
  std::string domain;       // lowercased; the raw part after '@' when it does not parse
  std::string op;           // the operator ("" when none)
  const char* op_by = "-";  // how it was found: static, mx, mx-cache, mx-failed
  // Answered before any cap (excluded, or the MX lookup failed and
  // on_failure says so): nothing is charged. In shadow mode an exclusion is
  // a DUNNO verdict with `would` set.
  std::optional<Verdict> verdict;
  LimiterPlan plan;  // the caps to charge when there is no verdict
};

// `mx` null: no MX lookups ([dns] enabled = false), a custom domain has no
// operator. The runtime and the stream must outlive the coroutine.
boost::asio::awaitable<RecipientCheck> check_recipient(const Runtime& rt, const StreamConfig& s,
                                                       std::string recipient, MxLookup* mx);

}  // namespace sg
