// Every reply policyd can give, in one table (tests/data/replies.txt) that a
// person reviews as a whole: the wording is read in Postfix's log after
// "NOQUEUE: hold:" and in Listmonk's error log, where each reply must say
// that streamguard gave it, what happened and what happens next.
//
// The table is compared with what the decision functions answer today. After
// a deliberate change of wording, rewrite it with
//   SG_WRITE_REPLIES=1 build/tests/unit_tests --gtest_filter='ReplyTable.*'
// and read the diff.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/config.hpp"
#include "common/redis_url.hpp"
#include "rules/decision.hpp"
#include "rules/suppression.hpp"
#include "tests/unit/limiter_result.hpp"

#ifndef SG_SOURCE_DIR
#error "SG_SOURCE_DIR must name the repository root"
#endif

namespace sg {
namespace {

constexpr const char* kTable = SG_SOURCE_DIR "/tests/data/replies.txt";
constexpr int64_t kNow = 1'780'000'000'000;  // 2026-05-28T20:26:40Z

StreamConfig stream(Action over_cap) {
  StreamConfig s;
  s.name = "trucking";
  s.over_cap = over_cap;
  s.exclude = {"yahoo_family", "dead_isp", "consumer", "direct_hisp", "competitors"};
  return s;
}

using testing::refused_by;

LimiterResult breaker(Action action, std::string reason) {
  LimiterResult r;
  r.allowed = false;
  r.breaker = action;
  r.breaker_until_ms = kNow + 37 * 60'000;
  r.breaker_reason = std::move(reason);
  return r;
}

constexpr const char* kYahooCause =
    "yahoo-tss04: saw 5 deferred/bounced results matching dsn 4.7.0 and text 'TS04' within 600s "
    "(threshold 5)";

using Rows = std::vector<std::pair<std::string, std::string>>;

void caps_rows(Rows& rows) {
  for (Action a : {Action::defer, Action::hold}) {
    const std::string how = std::string(" (over_cap = ") + to_string(a) + ")";
    StreamConfig s = stream(a);
    const auto plan = plan_limits(s, "google");
    rows.emplace_back("hourly cap 50, one message over" + how,
                      decide_caps(s, plan, refused_by(plan, 0, {50, 1, 72'000}), kNow).reply);
    rows.emplace_back(
        "daily cap 4000 reached" + how,
        decide_caps(s, plan, refused_by(plan, 1, {4000, 4000, 7'260'000}), kNow).reply);
    rows.emplace_back("google's hourly cap 600" + how,
                      decide_caps(s, plan, refused_by(plan, 2, {600, 10, 6'000}), kNow).reply);
    rows.emplace_back(
        "google's daily cap 2000" + how,
        decide_caps(s, plan, refused_by(plan, 3, {2000, 2000, 3'600'000}), kNow).reply);
    rows.emplace_back("hourly cap 0 (closed)" + how,
                      decide_caps(s, plan, refused_by(plan, 0, {0, 0, -1}), kNow).reply);
    auto recovering = refused_by(plan, 2, {150, 3, 24'000});
    recovering.recovering = true;
    recovering.breaker_until_ms = kNow + 20 * 60'000;
    recovering.breaker_reason = kYahooCause;
    rows.emplace_back("google's hourly cap cut to 150 by a recovering breaker" + how,
                      decide_caps(s, plan, recovering, kNow).reply);
    rows.emplace_back("breaker open on google" + how,
                      decide_caps(s, plan, breaker(a, kYahooCause), kNow).reply);
  }
  StreamConfig s = stream(Action::hold);
  s.burst = 25;
  const auto plan = plan_limits(s, "");
  rows.emplace_back("hourly cap 10000 with burst = 25 (over_cap = hold)",
                    decide_caps(s, plan, refused_by(plan, 0, {10000, 25, 300}), kNow).reply);
  rows.emplace_back("breaker with no reason (over_cap = hold)",
                    decide_caps(s, plan, breaker(Action::hold, ""), kNow).reply);
}

void other_rows(Rows& rows) {
  for (Action a : {Action::defer, Action::hold, Action::reject})
    rows.emplace_back(std::string("unknown port (unknown_port = ") + to_string(a) + ")",
                      decide_unknown_port(2599, a).reply);
  const StreamConfig s = stream(Action::hold);
  for (const char* list : {"yahoo_family", "dead_isp", "consumer", "direct_hisp", "competitors"}) {
    Classification c;
    c.domain = "example.org";
    c.lists = {list};
    rows.emplace_back(std::string("excluded: ") + list, decide_exclusion(s, c)->reply);
  }
  Classification by_mx;
  by_mx.domain = "fleet-office.example (its MX mta6.am0.yahoodns.net is yahoo's)";
  by_mx.lists = {"yahoo_family"};
  rows.emplace_back("excluded by MX", decide_exclusion(s, by_mx)->reply);
  rows.emplace_back("backstop map (every stream excludes the list)",
                    "REJECT 5.7.1 streamguard: $1 " +
                        exclusion_text("yahoo_family", "", "every stream").substr(1));
  const std::string redis = redis_location("redis://:secret@127.0.0.1:6379/2");
  for (Action a : {Action::defer, Action::hold})
    rows.emplace_back(std::string("Redis down (on_error = ") + to_string(a) + ")",
                      decide_store_error(stream(Action::hold), a, redis).reply);
  for (Action a : {Action::defer, Action::hold})
    rows.emplace_back(std::string("Redis came back empty (on_error = ") + to_string(a) + ")",
                      decide_store_unkept(stream(Action::hold), a, redis).reply);
  for (Action a : {Action::defer, Action::hold})
    rows.emplace_back(std::string("MX lookup failed (on_failure = ") + to_string(a) + ")",
                      decide_dns_failure(s, a, "fleet-office.example", "timed out").reply);

  suppression::Entry e;
  e.key = "old.dispatcher@gmail.com";
  e.rule = "user-unknown";
  e.stream = "healthcare";
  e.dsn = "5.1.1";
  e.text = "550 5.1.1 The email account that you tried to reach does not exist";
  e.learned_ms = kNow - 86'400'000;
  e.until_ms = e.learned_ms + 365 * 86'400'000LL;
  const auto reply = [](const suppression::Entry& x) {
    return "REJECT " + suppression::refusal_text(suppression::entry_field(x.scope, x.key),
                                                 suppression::record_of(x));
  };
  rows.emplace_back("suppressed address, learned", reply(e));
  e.scope = SuppressScope::domain;
  e.key = "closed-practice.example";
  e.rule = "dead-tenant";
  e.text = "550 5.4.1 Recipient address rejected: Access denied";
  rows.emplace_back("suppressed domain, learned", reply(e));
  e.rule = "manual";
  e.stream = "-";
  e.text = "practice closed, said the owner";
  rows.emplace_back("suppressed domain, added by hand", reply(e));
  rows.emplace_back("suppressed, unreadable record",
                    "REJECT " + suppression::refusal_text("a:x@example.org", "garbage"));
}

std::string render(const Rows& rows) {
  std::ostringstream o;
  o << "# Every reply policyd gives (tests/unit/reply_table_test.cpp): the case,\n"
    << "# then the reply as Postfix gets it. Review it as a whole.\n";
  for (const auto& [what, reply] : rows) o << "\n# " << what << "\n" << reply << "\n";
  return o.str();
}

TEST(ReplyTable, EveryReplyIsInTheReviewedTable) {
  Rows rows;
  caps_rows(rows);
  other_rows(rows);
  const std::string now = render(rows);
  if (std::getenv("SG_WRITE_REPLIES")) std::ofstream(kTable) << now;
  std::ifstream in(kTable);
  std::stringstream table;
  table << in.rdbuf();
  // The first line that differs, not two whole tables.
  std::istringstream want(table.str()), got(now);
  std::string w, g;
  for (int n = 1;; ++n) {
    const bool more_want = static_cast<bool>(std::getline(want, w));
    const bool more_got = static_cast<bool>(std::getline(got, g));
    if (!more_want && !more_got) break;
    if (!more_want) w = "(end of the table)";
    if (!more_got) g = "(no more replies)";
    ASSERT_EQ(w, g) << kTable << ":" << n << ": a reply changed: rewrite the table with "
                    << "SG_WRITE_REPLIES=1 and review the diff";
  }
}

// What every reply must do, whatever its wording.
TEST(ReplyTable, EveryReplyNamesStreamguardAndSaysWhatHappensNext) {
  Rows rows;
  caps_rows(rows);
  other_rows(rows);
  for (const auto& [what, reply] : rows) {
    SCOPED_TRACE(what + ": " + reply);
    EXPECT_NE(reply.find("streamguard: "), std::string::npos);
    // policyd logs a reply inside reply="...".
    EXPECT_EQ(reply.find('"'), std::string::npos);
    EXPECT_EQ(reply.find("secret"), std::string::npos);
    for (unsigned char ch : reply) EXPECT_TRUE(ch >= 0x20 && ch < 0x7f);
    if (reply.starts_with("HOLD ")) {
      // A held message was accepted: nothing for the client to retry.
      EXPECT_EQ(reply.find("try again"), std::string::npos);
      EXPECT_NE(reply.find("accepted and held"), std::string::npos);
    }
    if (reply.starts_with("DEFER_IF_PERMIT ")) {
      EXPECT_EQ(reply.find("held"), std::string::npos);
      EXPECT_NE(reply.find("try again"), std::string::npos);
    }
    // "operator" reads as the person running the MTA.
    EXPECT_EQ(reply.find(" to google"), std::string::npos);
  }
}

}  // namespace
}  // namespace sg
