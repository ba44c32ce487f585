// PolicyService on the fake caps store (tests/fakes/fake_cap_store.hpp): the
// glue between a policy request, the decision engine and the store, without
// a Redis server. What the store is asked, what Postfix is answered, what is
// counted. (The limiter scripts themselves, and the service over a real
// Redis, are the integration tests'.)
#include "policyd/policy_service.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "tests/fakes/fake_cap_store.hpp"
#include "tests/fakes/fake_clock.hpp"
#include "tests/unit/config_text.hpp"

namespace sg {
namespace {

namespace net = boost::asio;

const std::string kLists = std::string(SG_SOURCE_DIR) + "/deploy/lists/";

std::string config_text(std::string_view trucking_extra = {}) {
  return R"(
[dns]
enabled = false
[policyd]
commit = "end_of_message"
[lists]
yahoo_family = ")" +
         kLists + R"(yahoo-family.txt"
consumer = ")" +
         kLists + R"(consumer-webmail.txt"
[operators.google]
domains = ["gmail.com"]
[[stream]]
name = "trucking"
ports = [25]
exclude = ["yahoo_family"]
over_cap = "hold"
hourly_cap = 1000
daily_cap = 2
operator_daily = { google = 1 }
)" + std::string(trucking_extra) +
         R"(
[[stream]]
name = "healthcare"
ports = [2526]
exclude = ["yahoo_family", "consumer"]
over_cap = "defer"
hourly_cap = 1000
daily_cap = 100
)";
}

struct ServiceTest : ::testing::Test {
  net::io_context io;
  testing::FakeClock clock{1'767'225'600'000};  // 2026-01-01 00:00 UTC
  testing::FakeCapStore store;
  metrics::Registry registry;
  std::unique_ptr<PolicyService> service;

  void start(std::string_view trucking_extra = {}) {
    auto parsed = testing::parse_text(config_text(trucking_extra));
    ASSERT_TRUE(parsed.config) << testing::all_errors(parsed);
    auto rt = build_runtime(parsed.config);
    ASSERT_TRUE(rt.runtime);
    service = std::make_unique<PolicyService>(io, rt.runtime, store, clock, registry);
  }

  // The action line for one request, the loop run until it is answered.
  std::string ask(std::vector<std::pair<std::string, std::string>> attrs) {
    policy::Request req;
    for (auto& [k, v] : attrs) req.set(k, v);
    std::string reply;
    bool done = false;
    net::co_spawn(io, service->handle(req), [&](std::exception_ptr e, std::string r) {
      EXPECT_FALSE(e);
      reply = std::move(r);
      done = true;
    });
    io.restart();
    io.run();
    EXPECT_TRUE(done);
    return reply;
  }

  std::string rcpt(uint16_t port, const std::string& to, const std::string& instance = "i1") {
    return ask({{"request", "smtpd_access_policy"},
                {"protocol_state", "RCPT"},
                {"server_port", std::to_string(port)},
                {"recipient", to},
                {"instance", instance}});
  }
  // How many requests of the healthcare stream were answered DUNNO for this
  // reason (streamguard_policy_requests_total).
  int answered(const std::string& reason) {
    const std::string series =
        "streamguard_policy_requests_total{stream=\"healthcare\",action=\"dunno\",reason=\"" +
        reason + "\"} ";
    const std::string text = registry.render();
    const auto at = text.find(series);
    return at == std::string::npos ? 0 : std::stoi(text.substr(at + series.size()));
  }
  // Postfix names the queue file at END-OF-MESSAGE: "queue_id" is set.
  std::string end_of_message(uint16_t port, const std::string& instance,
                             const std::string& queue_id = "4A1B2C3D5E") {
    return ask({{"request", "smtpd_access_policy"},
                {"protocol_state", "END-OF-MESSAGE"},
                {"server_port", std::to_string(port)},
                {"queue_id", queue_id},
                {"instance", instance}});
  }
};

bool starts_with(const std::string& s, std::string_view p) {
  return s.rfind(p, 0) == 0;
}

TEST_F(ServiceTest, AnExcludedRecipientIsRefusedWithoutAskingTheStore) {
  start();
  EXPECT_TRUE(starts_with(rcpt(25, "someone@yahoo.com"), "REJECT 5.7.1 streamguard: yahoo.com"));
  EXPECT_TRUE(starts_with(rcpt(2526, "someone@gmail.com"), "REJECT 5.7.1 streamguard: gmail.com"));
  EXPECT_TRUE(store.calls.empty());
}

TEST_F(ServiceTest, ARecipientWithinItsCapsIsChargedOnceAndPasses) {
  start();
  EXPECT_EQ(rcpt(2526, "dr@clinic.example"), "DUNNO");
  ASSERT_EQ(store.calls, std::vector<std::string>{"charge healthcare"});
  EXPECT_EQ(store.used["healthcare/daily/"], 1);
  EXPECT_EQ(store.used["trucking/daily/"], 0) << "one stream charged another's budget";
}

TEST_F(ServiceTest, OverTheStreamsDailyCapTheStreamsOverCapActionAnswers) {
  start();
  EXPECT_EQ(rcpt(25, "a@carrier.example"), "DUNNO");
  EXPECT_EQ(rcpt(25, "b@carrier.example"), "DUNNO");
  const std::string third = rcpt(25, "c@carrier.example");
  EXPECT_TRUE(starts_with(third, "HOLD ")) << third;
  EXPECT_NE(third.find("daily cap"), std::string::npos) << third;
  EXPECT_EQ(store.used["trucking/daily/"], 2);
}

TEST_F(ServiceTest, AnOperatorsCapRefusesOnlyThatOperator) {
  start();
  EXPECT_EQ(rcpt(25, "a@gmail.com"), "DUNNO");
  const std::string second = rcpt(25, "b@gmail.com");
  EXPECT_TRUE(starts_with(second, "HOLD ")) << second;
  EXPECT_NE(second.find("google"), std::string::npos) << second;
  EXPECT_EQ(rcpt(25, "c@carrier.example"), "DUNNO");
}

TEST_F(ServiceTest, AnUnreachableStoreAnswersOnErrorWithoutACall) {
  start();
  store.up = false;
  const std::string reply = rcpt(2526, "dr@clinic.example");
  EXPECT_TRUE(starts_with(reply, "HOLD ")) << reply;  // [redis] on_error defaults to hold
  EXPECT_TRUE(store.calls.empty());
  // Exclusions still apply without the store.
  EXPECT_TRUE(starts_with(rcpt(2526, "x@yahoo.com"), "REJECT 5.7.1"));
}

TEST_F(ServiceTest, AFailingStoreAnswersOnErrorNeverAllows) {
  start();
  store.fail_with = "redis: timeout";
  const std::string reply = rcpt(2526, "dr@clinic.example");
  EXPECT_TRUE(starts_with(reply, "HOLD ")) << reply;
  EXPECT_EQ(store.calls, std::vector<std::string>{"charge healthcare"});
}

TEST_F(ServiceTest, AnOpenBreakerAnswersItsActionAndChargesNothing) {
  start();
  store.breaker = Action::defer;
  const std::string reply = rcpt(2526, "dr@clinic.example");
  EXPECT_TRUE(starts_with(reply, "DEFER_IF_PERMIT 4.7.1")) << reply;
  EXPECT_EQ(store.used["healthcare/daily/"], 0);
}

TEST_F(ServiceTest, EndOfMessageCommitsTheTransactionsReservations) {
  start();
  EXPECT_EQ(rcpt(2526, "a@clinic.example", "tx1"), "DUNNO");
  EXPECT_EQ(rcpt(2526, "b@clinic.example", "tx1"), "DUNNO");
  EXPECT_EQ(store.reserved["healthcare/tx1"], 2);
  EXPECT_EQ(end_of_message(2526, "tx1"), "DUNNO");
  EXPECT_EQ(store.committed["healthcare/tx1"], 2);
  // Kept under the queue id: a milter may still refuse the message.
  EXPECT_EQ(store.calls.back(), "commit healthcare tx1 queue_id=4A1B2C3D5E");
  EXPECT_EQ(store.accepted["healthcare/4A1B2C3D5E"].size(), 4u);  // 2 x (hourly + daily)
  // Every END-OF-MESSAGE answers DUNNO (the message is accepted whatever the
  // store says); why is in the metrics and the log line.
  EXPECT_EQ(answered("committed"), 1);
  // A transaction with nothing reserved (its recipients were all refused).
  EXPECT_EQ(end_of_message(2526, "tx0"), "DUNNO");
  EXPECT_EQ(answered("nothing_reserved"), 1);
  // A failed commit still accepts the message (its reservation expires).
  EXPECT_EQ(rcpt(2526, "c@clinic.example", "tx2"), "DUNNO");
  store.fail_with = "redis: down";
  EXPECT_EQ(end_of_message(2526, "tx2"), "DUNNO");
  EXPECT_EQ(answered("commit_failed"), 1);
  EXPECT_EQ(store.reserved["healthcare/tx2"], 1) << "left for the sweep to return";
  EXPECT_EQ(answered("committed"), 1);
}

TEST_F(ServiceTest, AnUnknownPortIsDeferredAndOtherStagesPass) {
  start();
  const std::string reply = rcpt(587, "someone@clinic.example");
  EXPECT_TRUE(starts_with(reply, "DEFER_IF_PERMIT 4.7.1")) << reply;
  EXPECT_NE(reply.find("587"), std::string::npos) << reply;
  EXPECT_EQ(
      ask({{"request", "smtpd_access_policy"}, {"protocol_state", "DATA"}, {"server_port", "25"}}),
      "DUNNO");
  EXPECT_TRUE(store.calls.empty());
}

TEST_F(ServiceTest, AStreamInShadowAnswersDunnoButStillCounts) {
  start("mode = \"shadow\"\n");
  EXPECT_EQ(rcpt(25, "a@carrier.example"), "DUNNO");
  EXPECT_EQ(rcpt(25, "b@carrier.example"), "DUNNO");
  EXPECT_EQ(rcpt(25, "c@carrier.example"), "DUNNO");  // would have been held
  EXPECT_EQ(rcpt(25, "x@yahoo.com"), "DUNNO");        // would have been refused
  EXPECT_EQ(store.used["trucking/daily/"], 2);
}

// /status as streamguardctl status and enforce read it.
TEST_F(ServiceTest, StatusNamesTheDaemonItsStreamsAndWhatItAnswered) {
  start("mode = \"shadow\"\n");
  EXPECT_EQ(rcpt(2526, "dr@clinic.example"), "DUNNO");
  const auto j = nlohmann::json::parse(service->status_json());
  EXPECT_EQ(j["daemon"], "streamguard-policyd");
  EXPECT_EQ(j["pid"], ::getpid());
  EXPECT_EQ(j["redis_ready"], true);
  EXPECT_EQ(j["answered"], 1);
  EXPECT_EQ(j["dns"], false);
  ASSERT_EQ(j["streams"].size(), 2u);
  EXPECT_EQ(j["streams"][0]["name"], "trucking");
  EXPECT_EQ(j["streams"][0]["mode"], "shadow");
  EXPECT_EQ(j["streams"][0]["ports"], nlohmann::json::array({25}));
  EXPECT_EQ(j["streams"][1]["name"], "healthcare");
  EXPECT_EQ(j["streams"][1]["mode"], "enforce");
  store.up = false;
  EXPECT_EQ(nlohmann::json::parse(service->status_json())["redis_ready"], false);
}

}  // namespace
}  // namespace sg
