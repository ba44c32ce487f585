// The decisions when no cap decides: a DNS lookup that fails, a store that
// errs, a port of no stream, each answering its configured action with words
// that name the cause; and format_duration_ms for the replies.
#include <gtest/gtest.h>

#include <string>

#include "common/config.hpp"
#include "rules/decision.hpp"
#include "tests/unit/decision_test_support.hpp"

namespace sg {
namespace {

// ---------------------------------------------------------------- decide_dns_failure

TEST(DecideDnsFailure, EachActionNamesTheDomainAndTheLookupError) {
  const std::string why =
      "streamguard: cannot tell which mailbox provider receives mail for clinic.example "
      "(MX lookup: timed out)";
  expect_verdict(decide_dns_failure(trucking(), Action::defer, "clinic.example", "timed out"),
                 Action::defer, Action::defer, "DEFER_IF_PERMIT 4.7.1 " + why + "; try again later",
                 "dns_failure", false);
  expect_verdict(
      decide_dns_failure(trucking(), Action::hold, "clinic.example", "timed out"), Action::hold,
      Action::hold,
      "HOLD " + why + "; accepted and held: streamguard-rampd releases it once the lookup answers",
      "dns_failure", false);
  const auto reject = decide_dns_failure(trucking(), Action::reject, "clinic.example", "timed out");
  EXPECT_EQ(reject.action, Action::reject);
  EXPECT_TRUE(reject.reply.starts_with("REJECT ")) << reject.reply;
  EXPECT_NE(reject.reply.find(why), std::string::npos) << reject.reply;
  StreamConfig s = trucking();
  s.mode = StreamMode::shadow;
  expect_verdict(decide_dns_failure(s, Action::hold, "clinic.example", "timed out"), Action::dunno,
                 Action::hold, "DUNNO", "dns_failure", true);
}

// ---------------------------------------------------------------- decide_store_error

TEST(DecideStoreError, EachAction) {
  expect_verdict(decide_store_error(trucking(), Action::hold, "Redis at 127.0.0.1:6379"),
                 Action::hold, Action::hold,
                 "HOLD streamguard: cannot reach Redis at 127.0.0.1:6379 to check stream "
                 "trucking's caps; accepted and held: streamguard-rampd releases it once the "
                 "caps can be charged",
                 "store_error", false);
  expect_verdict(decide_store_error(healthcare(), Action::defer, "Redis at 127.0.0.1:6379"),
                 Action::defer, Action::defer,
                 "DEFER_IF_PERMIT 4.7.1 streamguard: cannot reach Redis at 127.0.0.1:6379 to "
                 "check stream healthcare's caps; try again later",
                 "store_error", false);
  // on_error = "allow" is Action::dunno.
  expect_verdict(decide_store_error(trucking(), Action::dunno, "Redis at 127.0.0.1:6379"),
                 Action::dunno, Action::dunno, "DUNNO", "store_error", false);
}

TEST(DecideStoreError, Shadow) {
  StreamConfig s = trucking();
  s.mode = StreamMode::shadow;
  expect_verdict(decide_store_error(s, Action::hold, "Redis at 127.0.0.1:6379"), Action::dunno,
                 Action::hold, "DUNNO", "store_error", true);
  expect_verdict(decide_store_error(s, Action::dunno, "Redis at 127.0.0.1:6379"), Action::dunno,
                 Action::dunno, "DUNNO", "store_error", false);
}

// ---------------------------------------------------------------- decide_unknown_port

TEST(DecideUnknownPort, EachAction) {
  expect_verdict(decide_unknown_port(2525, Action::defer), Action::defer, Action::defer,
                 "DEFER_IF_PERMIT 4.7.1 streamguard: no stream takes mail submitted on port 2525; "
                 "try again later",
                 "unknown_port", false);
  expect_verdict(decide_unknown_port(587, Action::reject), Action::reject, Action::reject,
                 "REJECT 5.7.1 streamguard: no stream takes mail submitted on port 587; refused",
                 "unknown_port", false);
  expect_verdict(decide_unknown_port(465, Action::hold), Action::hold, Action::hold,
                 "HOLD streamguard: no stream takes mail submitted on port 465; accepted and held: "
                 "no stream's caps apply, so it waits to be released by hand (postsuper -H)",
                 "unknown_port", false);
  expect_verdict(decide_unknown_port(465, Action::dunno), Action::dunno, Action::dunno, "DUNNO",
                 "unknown_port", false);
}

TEST(Dunno, CarriesTheReason) {
  expect_verdict(dunno("not_rcpt"), Action::dunno, Action::dunno, "DUNNO", "not_rcpt", false);
}

// ---------------------------------------------------------------- format_duration_ms

TEST(FormatDuration, Table) {
  const std::pair<int64_t, const char*> cases[] = {
      {0, "0s"},
      {999, "1s"},
      {1000, "1s"},
      {1001, "2s"},
      {59'000, "59s"},
      {59'999, "1m00s"},
      {60'000, "1m00s"},
      {245'000, "4m05s"},
      {3'599'000, "59m59s"},
      {3'600'000, "1h00m"},
      {3'659'000, "1h01m"},
      {7'260'000, "2h01m"},
      {7'800'000, "2h10m"},
      {90'000'000, "25h00m"},
      {-1, "0s"},
      {-60'000, "0s"},
  };
  for (const auto& [ms, text] : cases) EXPECT_EQ(format_duration_ms(ms), text) << ms;
}

}  // namespace
}  // namespace sg
