#include "rules/decision.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "rules/classifier.hpp"

#ifndef SG_SOURCE_DIR
#error "SG_SOURCE_DIR must name the repository root"
#endif

namespace sg {
namespace {

// The shipped example: trucking (port 25) and healthcare (port 2526).
const Config& example() {
  static const std::shared_ptr<const Config> cfg = [] {
    auto r = load_config(SG_SOURCE_DIR "/deploy/examples/streamguard.toml");
    for (const auto& e : r.errors) ADD_FAILURE() << e.to_string();
    return r.config;
  }();
  if (!cfg) throw std::runtime_error("example config does not load");
  return *cfg;
}

const StreamConfig& trucking() {
  return *example().stream_named("trucking");
}
const StreamConfig& healthcare() {
  return *example().stream_named("healthcare");
}

Classification classified(std::string domain, std::vector<std::string> lists, std::string op = "") {
  Classification c;
  c.domain = std::move(domain);
  std::sort(lists.begin(), lists.end());  // Classification::on() expects them sorted
  c.lists = std::move(lists);
  c.op = std::move(op);
  return c;
}

void expect_verdict(const Verdict& v, Action action, Action would, const std::string& reply,
                    const std::string& reason, bool shadow) {
  EXPECT_EQ(v.action, action) << to_string(v.action);
  EXPECT_EQ(v.would, would) << to_string(v.would);
  EXPECT_EQ(v.reply, reply);
  EXPECT_EQ(v.reason, reason);
  EXPECT_EQ(v.shadow, shadow);
}

// ---------------------------------------------------------------- decide_exclusion

struct ExclusionCase {
  const char* stream;
  const char* domain;
  std::vector<std::string> lists;
  std::optional<std::string> reply;  // nullopt: not excluded
  std::string reason;
};

class ExclusionTable : public ::testing::TestWithParam<ExclusionCase> {};

TEST_P(ExclusionTable, Decides) {
  const auto& tc = GetParam();
  const StreamConfig* stream = example().stream_named(tc.stream);
  ASSERT_NE(stream, nullptr);
  auto v = decide_exclusion(*stream, classified(tc.domain, tc.lists));
  if (!tc.reply) {
    EXPECT_FALSE(v.has_value()) << v->reply;
    return;
  }
  ASSERT_TRUE(v.has_value());
  expect_verdict(*v, Action::reject, Action::reject, *tc.reply, tc.reason, false);
}

INSTANTIATE_TEST_SUITE_P(
    ShippedListWording, ExclusionTable,
    ::testing::Values(
        ExclusionCase{"healthcare",
                      "gmail.com",
                      {"consumer"},
                      "REJECT 5.7.1 streamguard: gmail.com is consumer webmail, which stream "
                      "healthcare excludes",
                      "excluded:consumer"},
        ExclusionCase{"trucking", "gmail.com", {"consumer"}, std::nullopt, ""},
        ExclusionCase{"trucking",
                      "yahoo.com",
                      {"yahoo_family", "consumer"},
                      "REJECT 5.7.1 streamguard: yahoo.com is in the Yahoo/AOL/Verizon mail "
                      "family, which stream trucking excludes",
                      "excluded:yahoo_family"},
        ExclusionCase{"healthcare",
                      "aol.com",
                      {"yahoo_family", "consumer"},
                      "REJECT 5.7.1 streamguard: aol.com is in the Yahoo/AOL/Verizon mail family, "
                      "which stream healthcare excludes",
                      "excluded:yahoo_family"},
        ExclusionCase{"trucking",
                      "adelphia.net",
                      {"dead_isp"},
                      "REJECT 5.7.1 streamguard: adelphia.net is a dead ISP domain that only "
                      "hard-bounces, which stream trucking excludes",
                      "excluded:dead_isp"},
        ExclusionCase{"healthcare",
                      "adelphia.net",
                      {"dead_isp"},
                      "REJECT 5.7.1 streamguard: adelphia.net is a dead ISP domain that only "
                      "hard-bounces, which stream healthcare excludes",
                      "excluded:dead_isp"},
        ExclusionCase{
            "trucking",
            "direct.clinic.org",
            {"direct_hisp"},
            "REJECT 5.7.1 streamguard: direct.clinic.org is a Direct/HISP secure-messaging domain "
            "that cannot take cold mail, which stream trucking excludes",
            "excluded:direct_hisp"},
        ExclusionCase{
            "healthcare",
            "direct.clinic.org",
            {"direct_hisp"},
            "REJECT 5.7.1 streamguard: direct.clinic.org is a Direct/HISP secure-messaging domain "
            "that cannot take cold mail, which stream healthcare excludes",
            "excluded:direct_hisp"},
        ExclusionCase{"trucking", "smithclinic.org", {}, std::nullopt, ""},
        ExclusionCase{"healthcare", "smithclinic.org", {}, std::nullopt, ""},
        // A list the stream does not exclude does not count.
        ExclusionCase{"healthcare", "example.net", {"unused_list"}, std::nullopt, ""},
        // On several excluded lists: the stream's own exclude order names the reason
        // (healthcare lists direct_hisp before consumer).
        ExclusionCase{
            "healthcare",
            "directmail.example",
            {"consumer", "direct_hisp"},
            "REJECT 5.7.1 streamguard: directmail.example is a Direct/HISP secure-messaging domain "
            "that cannot take cold mail, which stream healthcare excludes",
            "excluded:direct_hisp"}),
    [](const auto& tc) {
      // "healthcare_gmail_com_1": the stream, the domain, the case's index
      // (one domain appears with different lists). Stable run to run.
      std::string name =
          std::string(tc.param.stream) + "_" + tc.param.domain + "_" + std::to_string(tc.index);
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

TEST(DecideExclusion, CustomListIsNamedAsItIs) {
  StreamConfig s;
  s.name = "trucking";
  s.exclude = {"competitors"};
  auto v = decide_exclusion(s, classified("rival.example", {"competitors"}));
  ASSERT_TRUE(v.has_value());
  expect_verdict(*v, Action::reject, Action::reject,
                 "REJECT 5.7.1 streamguard: rival.example is on the competitors list, which stream "
                 "trucking excludes",
                 "excluded:competitors", false);
}

TEST(DecideExclusion, ShadowModeOnlyReportsWhatItWouldDo) {
  StreamConfig s = healthcare();
  s.mode = StreamMode::shadow;
  auto v = decide_exclusion(s, classified("gmail.com", {"consumer"}, "google"));
  ASSERT_TRUE(v.has_value());
  expect_verdict(*v, Action::dunno, Action::reject, "DUNNO", "excluded:consumer", true);

  EXPECT_FALSE(decide_exclusion(s, classified("smithclinic.org", {})).has_value());
}

TEST(DecideExclusion, ShippedListsThroughTheRealClassifier) {
  const Config& cfg = example();
  std::map<std::string, DomainList> lists;
  std::vector<ListError> errors;
  for (const auto& [name, path] : cfg.lists) lists.emplace(name, DomainList::load(path, errors));
  for (const auto& e : errors) ADD_FAILURE() << e.file << ":" << e.line << ": " << e.message;
  std::map<std::string, std::vector<std::string>> op_domains;
  for (const auto& op : cfg.operators) op_domains[op.name] = op.domains;
  Classifier classifier(std::move(lists), op_domains);

  auto gmail = classifier.classify("gmail.com");
  EXPECT_EQ(gmail.op, "google");
  auto hc = decide_exclusion(healthcare(), gmail);
  ASSERT_TRUE(hc.has_value());
  EXPECT_EQ(
      hc->reply,
      "REJECT 5.7.1 streamguard: gmail.com is consumer webmail, which stream healthcare excludes");
  EXPECT_FALSE(decide_exclusion(trucking(), gmail).has_value());

  for (const char* d : {"yahoo.com", "aol.com", "yahoo.co.uk"}) {
    auto c = classifier.classify(d);
    for (const StreamConfig* s : {&trucking(), &healthcare()}) {
      auto v = decide_exclusion(*s, c);
      ASSERT_TRUE(v.has_value()) << d << " on " << s->name;
      EXPECT_EQ(v->reason, "excluded:yahoo_family") << d << " on " << s->name;
    }
  }
  auto clinic = classifier.classify("smithclinic.org");
  EXPECT_TRUE(clinic.institutional());
  EXPECT_FALSE(decide_exclusion(healthcare(), clinic).has_value());
  EXPECT_FALSE(decide_exclusion(trucking(), clinic).has_value());
}

// ---------------------------------------------------------------- plan_limits

void expect_spec(const LimiterSpec& s, const std::string& window, const std::string& op,
                 const std::string& cap_field, int64_t fallback, int64_t burst) {
  EXPECT_EQ(s.window, window);
  EXPECT_EQ(s.op, op);
  EXPECT_EQ(s.cap_field, cap_field);
  EXPECT_EQ(s.fallback, fallback) << cap_field;
  EXPECT_EQ(s.burst, burst) << cap_field;
}

TEST(PlanLimits, StreamOnlyWhenNoOperator) {
  auto plan = plan_limits(trucking(), "");
  ASSERT_EQ(plan.limiters.size(), 2u);
  expect_spec(plan.limiters[0], "hourly", "", "hourly", 50, -1);  // first ramp step
  expect_spec(plan.limiters[1], "daily", "", "daily", 4000, -1);
}

TEST(PlanLimits, TruckingGoogleIsClosedDaily) {
  auto plan = plan_limits(trucking(), "google");
  ASSERT_EQ(plan.limiters.size(), 4u);
  expect_spec(plan.limiters[0], "hourly", "", "hourly", 50, -1);
  expect_spec(plan.limiters[1], "daily", "", "daily", 4000, -1);
  expect_spec(plan.limiters[2], "hourly", "google", "op:google:hourly", -1, -1);
  expect_spec(plan.limiters[3], "daily", "google", "op:google:daily", 0, -1);
}

TEST(PlanLimits, OperatorWithoutEntryTakesDefault) {
  auto plan = plan_limits(trucking(), "microsoft");
  ASSERT_EQ(plan.limiters.size(), 4u);
  expect_spec(plan.limiters[2], "hourly", "microsoft", "op:microsoft:hourly", -1, -1);
  expect_spec(plan.limiters[3], "daily", "microsoft", "op:microsoft:daily", 120, -1);
}

TEST(PlanLimits, NoOperatorCapsConfigured) {
  auto plan = plan_limits(healthcare(), "google");
  ASSERT_EQ(plan.limiters.size(), 4u);
  expect_spec(plan.limiters[0], "hourly", "", "hourly", 100, -1);
  expect_spec(plan.limiters[1], "daily", "", "daily", 10000, -1);
  expect_spec(plan.limiters[2], "hourly", "google", "op:google:hourly", -1, -1);
  expect_spec(plan.limiters[3], "daily", "google", "op:google:daily", -1, -1);
}

TEST(PlanLimits, ExplicitCapsBurstAndNoDefault) {
  StreamConfig s;
  s.name = "x";
  s.hourly_cap = 600;  // wins over the ramp
  s.ramp = RampConfig{};
  s.ramp->hourly = {{0, 10}, {3, 20}};
  s.burst = 25;
  s.operator_caps.hourly = {{"google", 30}};
  s.operator_caps.daily = {{"yahoo", 7}};
  auto plan = plan_limits(s, "google");
  ASSERT_EQ(plan.limiters.size(), 4u);
  expect_spec(plan.limiters[0], "hourly", "", "hourly", 600, 25);
  expect_spec(plan.limiters[1], "daily", "", "daily", -1, -1);
  expect_spec(plan.limiters[2], "hourly", "google", "op:google:hourly", 30, -1);
  expect_spec(plan.limiters[3], "daily", "google", "op:google:daily", -1, -1);

  auto none = plan_limits(StreamConfig{}, "");
  ASSERT_EQ(none.limiters.size(), 2u);
  expect_spec(none.limiters[0], "hourly", "", "hourly", -1, -1);
  expect_spec(none.limiters[1], "daily", "", "daily", -1, -1);
}

// ---------------------------------------------------------------- decide_caps

LimiterResult denied_at(int index, std::size_t n, LimiterState st) {
  LimiterResult r;
  r.allowed = false;
  r.denied = index;
  r.states.resize(n);
  st.refused = true;
  r.states[static_cast<std::size_t>(index)] = st;
  return r;
}

TEST(DecideCaps, AllowedIsDunnoOk) {
  auto plan = plan_limits(trucking(), "google");
  LimiterResult r;
  r.states.resize(plan.limiters.size());
  expect_verdict(decide_caps(trucking(), plan, r), Action::dunno, Action::dunno, "DUNNO", "ok",
                 false);
}

TEST(DecideCaps, HourlyDeniedDefers) {
  StreamConfig s = trucking();
  s.over_cap = Action::defer;
  auto plan = plan_limits(s, "");
  auto v = decide_caps(s, plan, denied_at(0, 2, {50, 4, 72'000}));
  expect_verdict(v, Action::defer, Action::defer,
                 "DEFER_IF_PERMIT 4.7.1 streamguard: stream trucking is at its hourly cap of 50/h, "
                 "sent evenly: one message every 1m12s; the next slot is in 1m12s, try again then",
                 "over_cap:hourly", false);
}

TEST(DecideCaps, HourlyDeniedHolds) {
  auto plan = plan_limits(trucking(), "");
  ASSERT_EQ(trucking().over_cap, Action::hold);
  auto v = decide_caps(trucking(), plan, denied_at(0, 2, {150, 3, 1'500}));
  expect_verdict(v, Action::hold, Action::hold,
                 "HOLD streamguard: stream trucking is at its hourly cap of 150/h, sent evenly: "
                 "one message every 24s, up to 2 at once; accepted and held: streamguard-rampd "
                 "releases held mail as the cap allows (the next slot is in 2s)",
                 "over_cap:hourly", false);
}

// [rampd] drain = false: nothing releases held mail but the operator, and
// the reply says so instead of promising rampd's release.
TEST(DecideCaps, HeldWithoutDrainSaysItWaitsForAHand) {
  StreamConfig s = trucking();
  s.held_released = false;
  auto v = decide_caps(s, plan_limits(s, ""), denied_at(0, 2, {150, 3, 1'500}));
  expect_verdict(v, Action::hold, Action::hold,
                 "HOLD streamguard: stream trucking is at its hourly cap of 150/h, sent evenly: "
                 "one message every 24s, up to 2 at once; accepted and held: it stays held until "
                 "released by hand (postsuper -H; [rampd] drain is off)",
                 "over_cap:hourly", false);
  auto err = decide_store_error(s, Action::hold, "Redis at unix:/run/redis.sock");
  EXPECT_TRUE(
      err.reply.ends_with("it stays held until released by hand (postsuper -H; [rampd] "
                          "drain is off)"))
      << err.reply;
}

// A large hourly cap is a rate per minute; a configured burst is the one said.
TEST(DecideCaps, HourlyPaceOfALargeCapAndAConfiguredBurst) {
  StreamConfig s = trucking();
  s.burst = 25;
  auto v = decide_caps(s, plan_limits(s, ""), denied_at(0, 2, {10000, 25, 300}));
  expect_verdict(v, Action::hold, Action::hold,
                 "HOLD streamguard: stream trucking is at its hourly cap of 10000/h, sent evenly: "
                 "about 167 a minute, up to 25 at once; accepted and held: streamguard-rampd "
                 "releases held mail as the cap allows (the next slot is in 1s)",
                 "over_cap:hourly", false);
}

TEST(DecideCaps, DailyDenied) {
  auto plan = plan_limits(healthcare(), "");
  auto v = decide_caps(healthcare(), plan, denied_at(1, 2, {10000, 10000, 7'260'000}));
  expect_verdict(v, Action::hold, Action::hold,
                 "HOLD streamguard: stream healthcare has reached its daily cap of 10000, 10000 "
                 "accepted today; the count starts over in 2h01m; accepted and held: "
                 "streamguard-rampd releases held mail as the cap allows",
                 "over_cap:daily", false);
}

TEST(DecideCaps, CapZeroSaysClosed) {
  auto plan = plan_limits(trucking(), "google");
  auto v = decide_caps(trucking(), plan, denied_at(3, 4, {0, 0, -1}));
  expect_verdict(
      v, Action::hold, Action::hold,
      "HOLD streamguard: stream trucking's mail to mailbox provider google is closed: "
      "its daily cap is 0; accepted and held: it stays held until the cap is raised above "
      "0 (streamguard-rampd then releases it), or is released or removed by hand",
      "over_cap:daily:operator", false);

  StreamConfig s = trucking();
  s.over_cap = Action::defer;
  auto stream_closed = decide_caps(s, plan_limits(s, ""), denied_at(0, 2, {0, 0, -1}));
  expect_verdict(stream_closed, Action::defer, Action::defer,
                 "DEFER_IF_PERMIT 4.7.1 streamguard: stream trucking is closed: its hourly cap is "
                 "0; try again later",
                 "over_cap:hourly", false);
}

TEST(DecideCaps, OperatorDailyDenied) {
  auto plan = plan_limits(trucking(), "microsoft");
  auto v = decide_caps(trucking(), plan, denied_at(3, 4, {120, 120, 3'600'000}));
  expect_verdict(v, Action::hold, Action::hold,
                 "HOLD streamguard: stream trucking's mail to mailbox provider microsoft has "
                 "reached its daily cap of 120, 120 accepted today; the count starts over in "
                 "1h00m; accepted and held: streamguard-rampd releases held mail as the cap allows",
                 "over_cap:daily:operator", false);
}

TEST(DecideCaps, OperatorHourlyDenied) {
  StreamConfig s = trucking();
  s.over_cap = Action::defer;
  auto plan = plan_limits(s, "apple");
  auto v = decide_caps(s, plan, denied_at(2, 4, {60, 1, 59'999}));
  expect_verdict(v, Action::defer, Action::defer,
                 "DEFER_IF_PERMIT 4.7.1 streamguard: stream trucking's mail to mailbox provider "
                 "apple is at its hourly cap of 60/h, sent evenly: one message every 1m00s; the "
                 "next slot is in 1m00s, try again then",
                 "over_cap:hourly:operator", false);
}

TEST(DecideCaps, SeveralRefusalsReportTheLatestBudget) {
  auto plan = plan_limits(trucking(), "microsoft");
  // The stream hourly cap refuses first, but the operator's daily cap keeps the
  // recipient out far longer: that is the one to report.
  auto r = denied_at(0, 4, {50, 2, 30'000});
  r.states[1] = {4000, 10, -1, false};
  r.states[3] = {120, 120, 7'800'000, true};
  expect_verdict(decide_caps(trucking(), plan, r), Action::hold, Action::hold,
                 "HOLD streamguard: stream trucking's mail to mailbox provider microsoft has "
                 "reached its daily cap of 120, 120 accepted today; the count starts over in "
                 "2h10m; accepted and held: streamguard-rampd releases held mail as the cap allows",
                 "over_cap:daily:operator", false);
}

TEST(DecideCaps, SeveralRefusalsReportAClosedCapFirst) {
  auto plan = plan_limits(trucking(), "google");
  auto r = denied_at(1, 4, {4000, 4000, 50'000'000});
  r.states[3] = {0, 0, -1, true};
  expect_verdict(
      decide_caps(trucking(), plan, r), Action::hold, Action::hold,
      "HOLD streamguard: stream trucking's mail to mailbox provider google is closed: "
      "its daily cap is 0; accepted and held: it stays held until the cap is raised above "
      "0 (streamguard-rampd then releases it), or is released or removed by hand",
      "over_cap:daily:operator", false);
}

TEST(DecideCaps, ShadowAnswersDunnoButReportsTheRefusal) {
  StreamConfig s = trucking();
  s.mode = StreamMode::shadow;
  auto plan = plan_limits(s, "google");
  auto v = decide_caps(s, plan, denied_at(3, 4, {0, 0, -1}));
  expect_verdict(v, Action::dunno, Action::hold, "DUNNO", "over_cap:daily:operator", true);

  LimiterResult ok;
  ok.states.resize(4);
  expect_verdict(decide_caps(s, plan, ok), Action::dunno, Action::dunno, "DUNNO", "ok", false);
}

// An open breaker in shadow mode: Postfix is told DUNNO, the metrics and the
// log say what enforcement would have answered.
TEST(DecideCaps, ShadowBreakerAnswersDunnoButReportsTheBreaker) {
  StreamConfig s = trucking();
  s.mode = StreamMode::shadow;
  auto plan = plan_limits(s, "google");
  LimiterResult r;
  r.allowed = false;
  r.breaker = Action::hold;
  r.breaker_until_ms = 600'000;
  r.breaker_reason = "gmail-rate: saw 3 deferred results within 600s (threshold 3)";
  r.states.resize(plan.limiters.size());
  const auto v = decide_caps(s, plan, r, 0);
  EXPECT_EQ(v.action, Action::dunno);
  EXPECT_EQ(v.would, Action::hold);
  EXPECT_EQ(v.reply, "DUNNO");
  EXPECT_EQ(v.reason, "breaker");
  EXPECT_TRUE(v.shadow);
  s.mode = StreamMode::enforce;
  EXPECT_EQ(
      decide_caps(s, plan, r, 0).reply,
      "HOLD streamguard: stream trucking's mail to mailbox provider google is paused for another "
      "10m00s by breaker gmail-rate, which saw 3 deferred results within 600s (threshold 3); "
      "accepted and held: streamguard-rampd releases it once the pause is over");
}

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
