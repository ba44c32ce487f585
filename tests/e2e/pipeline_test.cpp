// End to end with a real Postfix: each test starts its own throwaway Postfix,
// streamguard-policyd (the binary), redis-server and loopback sink (see
// e2e_harness.hpp), submits with swaks, and looks at what each party saw: the
// SMTP replies, Postfix's log, its queue, Redis's counters and the sink.
#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "tests/e2e/e2e_harness.hpp"
#include "tests/text_match.hpp"

namespace sg::e2e {
namespace {

constexpr const char* kTruckingHelo = "mta05.example.com";
constexpr const char* kHealthcareHelo = "hcmta01.example.com";

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}
using sg::testing::contains;

const QueueEntry* find_queued(const std::vector<QueueEntry>& q, const std::string& id) {
  for (const auto& e : q)
    if (e.queue_id == id) return &e;
  return nullptr;
}

// `postfix -c DIR start` is for root only (CI runs as root). A developer
// running the suite as another user sees these tests skipped, not failed.
class Pipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the end-to-end tests start Postfix: run them as root";
  }
};

// Postfix logs "postfix/hcout1/smtp[PID]: QID: to=<rcpt>, relay=..., status=sent".
void expect_left_via(Harness& h, const std::string& qid, const std::string& rcpt,
                     const std::string& transport, const std::string& other_transport) {
  ASSERT_TRUE(h.postfix().wait_for_log(
      {"postfix/" + transport + "/smtp[", qid + ": to=<" + rcpt + ">", "status=sent"}))
      << "no delivery of " << rcpt << " via " << transport;
  EXPECT_TRUE(h.postfix().log_lines({"postfix/" + other_transport + "/", qid}).empty())
      << qid << " must never touch " << other_transport;
  auto relayed = h.postfix().log_lines({qid + ": to=<" + rcpt + ">", "status=sent"});
  ASSERT_EQ(relayed.size(), 1u);
  EXPECT_TRUE(contains(relayed[0], "relay=127.0.0.1[127.0.0.1]:" + std::to_string(h.sink().port())))
      << relayed[0];
}

TEST_F(Pipeline, PostfixTakesTheFragmentsWithoutComplaint) {
  Harness h;
  auto& pf = h.postfix();
  auto n = pf.command("postconf", {"-n"});
  ASSERT_EQ(n.exit_code, 0) << n.output;
  EXPECT_FALSE(contains(n.output, "warning")) << n.output;
  EXPECT_TRUE(contains(n.output,
                       "check_policy_service { unix:private/streamguard, timeout=10s, "
                       "default_action=DEFER_IF_PERMIT, policy_context=streamguard }"))
      << n.output;
  auto m = pf.command("postconf", {"-M"});
  ASSERT_EQ(m.exit_code, 0) << m.output;
  EXPECT_FALSE(contains(m.output, "warning")) << m.output;
  auto p = pf.command("postconf", {"-P"});
  ASSERT_EQ(p.exit_code, 0) << p.output;
  EXPECT_FALSE(contains(p.output, "warning")) << p.output;
  EXPECT_TRUE(contains(p.output, "127.0.0.1:" + std::to_string(h.port("trucking")) +
                                     "/inet/content_filter = out05:"))
      << p.output;
  EXPECT_TRUE(contains(p.output, "127.0.0.1:" + std::to_string(h.port("healthcare")) +
                                     "/inet/content_filter = hcout1:"))
      << p.output;
  EXPECT_FALSE(contains(pf.start_output(), "warning")) << pf.start_output();
  EXPECT_TRUE(pf.log_lines({"warning:"}).empty()) << pf.log();
  EXPECT_TRUE(pf.log_lines({"fatal:"}).empty()) << pf.log();
  // postlogd writes master's line when it gets to it: wait for it, then count.
  const std::vector<std::string> started = {"postfix/master[", "daemon started", pf.config_dir()};
  EXPECT_TRUE(wait_until([&] { return !pf.log_lines(started).empty(); }, 10s)) << pf.log();
  EXPECT_EQ(pf.log_lines(started).size(), 1u) << pf.log();
}

TEST_F(Pipeline, PracticeDomainLeavesThroughItsOwnStreamTransportOnly) {
  Harness h;
  auto hc = h.submit("healthcare", {"dr.smith@riverside-clinic.example"});
  ASSERT_TRUE(hc.accepted("dr.smith@riverside-clinic.example")) << hc.transcript;
  ASSERT_FALSE(hc.queue_id.empty()) << hc.transcript;
  auto tr = h.submit("trucking", {"dispatch@fleet-ops.example"});
  ASSERT_TRUE(tr.accepted("dispatch@fleet-ops.example")) << tr.transcript;
  ASSERT_FALSE(tr.queue_id.empty()) << tr.transcript;

  ASSERT_TRUE(h.sink().wait_for_rcpt("dr.smith@riverside-clinic.example", kDelivery));
  ASSERT_TRUE(h.sink().wait_for_rcpt("dispatch@fleet-ops.example", kDelivery));
  auto got_hc = h.sink().messages_to("dr.smith@riverside-clinic.example");
  ASSERT_EQ(got_hc.size(), 1u);
  EXPECT_EQ(got_hc[0].helo, kHealthcareHelo);
  EXPECT_EQ(got_hc[0].mail_from, Harness::kFrom);
  EXPECT_EQ(got_hc[0].rcpts, std::vector<std::string>{"dr.smith@riverside-clinic.example"});
  EXPECT_TRUE(contains(got_hc[0].data, "Subject: streamguard e2e (healthcare)"));
  auto got_tr = h.sink().messages_to("dispatch@fleet-ops.example");
  ASSERT_EQ(got_tr.size(), 1u);
  EXPECT_EQ(got_tr[0].helo, kTruckingHelo);

  // Postfix's own record: accepted by the stream's smtpd, left by its transport.
  EXPECT_TRUE(h.postfix().wait_for_log({"postfix/healthcare/smtpd[", hc.queue_id + ": client="}));
  EXPECT_TRUE(h.postfix().wait_for_log({"postfix/trucking/smtpd[", tr.queue_id + ": client="}));
  expect_left_via(h, hc.queue_id, "dr.smith@riverside-clinic.example", "hcout1", "out05");
  expect_left_via(h, tr.queue_id, "dispatch@fleet-ops.example", "out05", "hcout1");
  // Each stream charged its own counter once.
  EXPECT_EQ(h.daily_count("healthcare"), 1);
  EXPECT_EQ(h.daily_count("trucking"), 1);
}

TEST_F(Pipeline, YahooFamilyIsRefusedAtRcptWithTheReason) {
  Harness h;
  for (const char* stream : {"trucking", "healthcare"}) {
    auto s = h.submit(stream, {"someone@yahoo.com", "pat@aol.com", "lee@sbcglobal.net"});
    EXPECT_EQ(
        s.reply_to("someone@yahoo.com"),
        "554 5.7.1 <someone@yahoo.com>: Recipient address rejected: streamguard: yahoo.com is "
        "in the Yahoo/AOL/Verizon mail family, which every stream excludes")
        << s.transcript;
    EXPECT_TRUE(starts_with(s.reply_to("pat@aol.com"),
                            "554 5.7.1 <pat@aol.com>: Recipient address "
                            "rejected: streamguard: aol.com is in the Yahoo/AOL"))
        << s.transcript;
    EXPECT_TRUE(starts_with(s.reply_to("lee@sbcglobal.net"), "554 5.7.1")) << s.transcript;
    EXPECT_TRUE(s.queue_id.empty()) << s.transcript;
    EXPECT_TRUE(h.postfix().wait_for_log({"postfix/" + std::string(stream) + "/smtpd[",
                                          "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 "
                                          "5.7.1 <someone@yahoo.com>",
                                          "Yahoo/AOL/Verizon mail family"}))
        << h.postfix().log();
  }
  EXPECT_TRUE(h.postfix().queue().empty());
  EXPECT_TRUE(h.sink().messages().empty());
  // A refusal charges no budget.
  EXPECT_EQ(h.daily_count("trucking"), 0);
  EXPECT_EQ(h.daily_count("healthcare"), 0);
}

TEST_F(Pipeline, ConsumerWebmailIsRefusedOnHealthcareAndAcceptedOnTrucking) {
  // Trucking has no google = 0 operator cap here: Gmail is its audience.
  Harness h;
  auto hc = h.submit("healthcare", {"patient@gmail.com"});
  EXPECT_EQ(hc.reply_to("patient@gmail.com"),
            "554 5.7.1 <patient@gmail.com>: Recipient address rejected: streamguard: gmail.com is "
            "consumer webmail, which stream healthcare excludes")
      << hc.transcript;
  EXPECT_TRUE(hc.queue_id.empty());
  EXPECT_TRUE(h.postfix().wait_for_log(
      {"postfix/healthcare/smtpd[", "NOQUEUE: reject: RCPT", "<patient@gmail.com>"}));

  auto tr = h.submit("trucking", {"driver@gmail.com"});
  ASSERT_TRUE(tr.accepted("driver@gmail.com")) << tr.transcript;
  ASSERT_TRUE(h.sink().wait_for_rcpt("driver@gmail.com", kDelivery));
  auto got = h.sink().messages_to("driver@gmail.com");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].helo, kTruckingHelo);
  expect_left_via(h, tr.queue_id, "driver@gmail.com", "out05", "hcout1");
  EXPECT_TRUE(h.sink().messages_to("patient@gmail.com").empty());
}

TEST_F(Pipeline, StreamOverItsCapDefersAtRcpt) {
  HarnessOptions o;
  o.trucking = "daily_cap = 2\nover_cap = \"defer\"\n";
  Harness h(o);
  for (const char* rcpt : {"a@fleet-one.example", "b@fleet-two.example"}) {
    auto s = h.submit("trucking", {rcpt});
    ASSERT_TRUE(s.accepted(rcpt)) << s.transcript;
  }
  auto s = h.submit("trucking", {"c@fleet-three.example"});
  auto reply = s.reply_to("c@fleet-three.example");
  EXPECT_TRUE(starts_with(reply,
                          "450 4.7.1 <c@fleet-three.example>: Recipient address rejected: "
                          "streamguard: stream trucking has reached its daily cap of 2, 2 "
                          "accepted today; the count starts over in "))
      << s.transcript;
  EXPECT_TRUE(s.queue_id.empty());
  EXPECT_TRUE(h.postfix().wait_for_log({"postfix/trucking/smtpd[", "NOQUEUE: reject: RCPT",
                                        "450 4.7.1 <c@fleet-three.example>", "daily cap of 2"}));
  ASSERT_TRUE(h.sink().wait_for_rcpt("b@fleet-two.example", kDelivery));
  ASSERT_TRUE(h.sink().wait_for_rcpt("a@fleet-one.example", kDelivery));
  EXPECT_TRUE(h.sink().messages_to("c@fleet-three.example").empty());
  EXPECT_EQ(h.daily_count("trucking"), 2);
  // The other stream is untouched.
  auto hc = h.submit("healthcare", {"office@clinic.example"});
  EXPECT_TRUE(hc.accepted("office@clinic.example")) << hc.transcript;
}

TEST_F(Pipeline, OverCapWithHoldParksTheMailInTheHoldQueueAndLosesNothing) {
  HarnessOptions o;
  o.healthcare = "daily_cap = 1\nover_cap = \"hold\"\n";
  Harness h(o);
  auto first = h.submit("healthcare", {"first@clinic-a.example"});
  ASSERT_TRUE(first.accepted("first@clinic-a.example")) << first.transcript;
  ASSERT_TRUE(h.sink().wait_for_rcpt("first@clinic-a.example", kDelivery));

  // Over the cap: accepted (Listmonk counts it as sent), parked on hold.
  auto second = h.submit("healthcare", {"second@clinic-b.example"});
  ASSERT_TRUE(second.accepted("second@clinic-b.example")) << second.transcript;
  ASSERT_FALSE(second.queue_id.empty()) << second.transcript;
  EXPECT_TRUE(h.postfix().wait_for_log({"postfix/healthcare/smtpd[",
                                        "NOQUEUE: hold: RCPT from unknown[127.0.0.1]",
                                        "<second@clinic-b.example>: Recipient address "
                                        "streamguard: stream healthcare has reached its daily "
                                        "cap of 1"}))
      << h.postfix().log();
  const QueueEntry* held = nullptr;
  std::vector<QueueEntry> q;
  ASSERT_TRUE(wait_until([&] {
    q = h.postfix().queue();
    held = find_queued(q, second.queue_id);
    return held != nullptr;
  }));
  EXPECT_EQ(held->queue_name, "hold") << held->json;
  EXPECT_EQ(held->recipients, std::vector<std::string>{"second@clinic-b.example"}) << held->json;
  EXPECT_EQ(q.size(), 1u);
  EXPECT_TRUE(h.sink().messages_to("second@clinic-b.example").empty());
  EXPECT_TRUE(h.postfix().log_lines({second.queue_id + ": to=<"}).empty())
      << "a held message must not be delivered";

  // Nothing lost: released (postsuper -H, then postqueue -i), it leaves
  // through the stream's own transport.
  auto rel = h.postfix().command("postsuper", {"-H", second.queue_id});
  ASSERT_EQ(rel.exit_code, 0) << rel.output;
  auto flush = h.postfix().command("postqueue", {"-i", second.queue_id});
  ASSERT_EQ(flush.exit_code, 0) << flush.output;
  ASSERT_TRUE(h.sink().wait_for_rcpt("second@clinic-b.example", kDelivery)) << h.postfix().log();
  EXPECT_EQ(h.sink().messages_to("second@clinic-b.example").at(0).helo, kHealthcareHelo);
  expect_left_via(h, second.queue_id, "second@clinic-b.example", "hcout1", "out05");
  EXPECT_TRUE(wait_until([&] { return h.postfix().queue().empty(); }));
}

TEST_F(Pipeline, TwoStreamsFillingAtOnceNeverTouchEachOthersBudget) {
  HarnessOptions o;
  o.trucking = "daily_cap = 4\nover_cap = \"defer\"\n";
  o.healthcare = "daily_cap = 6\nover_cap = \"defer\"\n";
  Harness h(o);
  struct Tally {
    int accepted = 0, deferred = 0, other = 0;
    std::string transcripts;
  };
  auto fill = [&h](const std::string& stream, const std::string& domain, Tally& t) {
    for (int msg = 0; msg < 4; ++msg) {
      std::vector<std::string> rcpts;
      for (int i = 0; i < 2; ++i)
        rcpts.push_back(stream + std::to_string(msg * 2 + i) + "@" + domain);
      auto s = h.submit(stream, rcpts);
      t.transcripts += s.transcript;
      for (const auto& r : rcpts) {
        const auto reply = s.reply_to(r);
        if (starts_with(reply, "250"))
          ++t.accepted;
        else if (starts_with(reply, "450 4.7.1") &&
                 contains(reply, "streamguard: stream " + stream + " has reached its daily cap"))
          ++t.deferred;
        else
          ++t.other;
      }
    }
  };
  Tally tr, hc;
  std::thread a([&] { fill("trucking", "fleet.example", tr); });
  std::thread b([&] { fill("healthcare", "clinic.example", hc); });
  a.join();
  b.join();
  EXPECT_EQ(tr.accepted, 4) << tr.transcripts;
  EXPECT_EQ(tr.deferred, 4) << tr.transcripts;
  EXPECT_EQ(tr.other, 0) << tr.transcripts;
  EXPECT_EQ(hc.accepted, 6) << hc.transcripts;
  EXPECT_EQ(hc.deferred, 2) << hc.transcripts;
  EXPECT_EQ(hc.other, 0) << hc.transcripts;
  EXPECT_EQ(h.daily_count("trucking"), 4);
  EXPECT_EQ(h.daily_count("healthcare"), 6);

  // What reached the sink: each stream's accepted recipients, each through
  // its own transport.
  auto count = [&h](const std::string& domain, bool want_helo, const std::string& helo) {
    int n = 0;
    for (const auto& m : h.sink().messages())
      for (const auto& r : m.rcpts)
        if (r.ends_with("@" + domain) && (m.helo == helo) == want_helo) ++n;
    return n;
  };
  EXPECT_TRUE(wait_until(
      [&] {
        return count("fleet.example", true, kTruckingHelo) >= 4 &&
               count("clinic.example", true, kHealthcareHelo) >= 6;
      },
      kDelivery));
  EXPECT_EQ(count("fleet.example", true, kTruckingHelo), 4);
  EXPECT_EQ(count("clinic.example", true, kHealthcareHelo), 6);
  EXPECT_EQ(count("fleet.example", false, kTruckingHelo), 0) << "trucking mail left via hcout1";
  EXPECT_EQ(count("clinic.example", false, kHealthcareHelo), 0) << "healthcare mail left via out05";
}

TEST_F(Pipeline, PolicydDownMeansPostfixDefaultActionAndMailFlowsWhenItIsBack) {
  Harness h;
  h.kill_policyd();
  auto down = h.submit("trucking", {"ops@carrier.example"});
  EXPECT_TRUE(starts_with(down.reply_to("ops@carrier.example"), "450 4.7.1 <ops@carrier.example>"))
      << down.transcript;
  EXPECT_TRUE(down.queue_id.empty());
  EXPECT_TRUE(h.postfix().wait_for_log(
      {"postfix/trucking/smtpd[", "problem talking to server private/streamguard"}))
      << h.postfix().log();
  EXPECT_TRUE(h.postfix().wait_for_log(
      {"postfix/trucking/smtpd[", "NOQUEUE: reject: RCPT", "450 4.7.1 <ops@carrier.example>"}));
  EXPECT_TRUE(h.postfix().queue().empty());

  h.start_policyd();
  auto back = h.submit("trucking", {"ops@carrier.example"});
  ASSERT_TRUE(back.accepted("ops@carrier.example")) << back.transcript;
  ASSERT_TRUE(h.sink().wait_for_rcpt("ops@carrier.example", kDelivery));
  EXPECT_EQ(h.sink().messages_to("ops@carrier.example").size(), 1u);
  EXPECT_EQ(h.daily_count("trucking"), 1);
}

TEST_F(Pipeline, RedisDownHoldsByDefaultAndExclusionsStillApply) {
  Harness h;  // [redis] on_error = "hold"
  h.kill_redis();
  auto s = h.submit("healthcare", {"billing@clinic.example", "mom@yahoo.com"});
  ASSERT_TRUE(s.accepted("billing@clinic.example")) << s.transcript;
  EXPECT_TRUE(starts_with(s.reply_to("mom@yahoo.com"), "554 5.7.1")) << s.transcript;
  ASSERT_FALSE(s.queue_id.empty()) << s.transcript;
  EXPECT_TRUE(h.postfix().wait_for_log(
      {"postfix/healthcare/smtpd[", "NOQUEUE: hold: RCPT", "<billing@clinic.example>",
       "streamguard: cannot reach Redis at /", "to check stream healthcare's caps"}))
      << h.postfix().log();
  const QueueEntry* held = nullptr;
  std::vector<QueueEntry> q;
  ASSERT_TRUE(wait_until([&] {
    q = h.postfix().queue();
    held = find_queued(q, s.queue_id);
    return held != nullptr;
  }));
  EXPECT_EQ(held->queue_name, "hold") << held->json;

  // Redis back: policyd reconnects by itself and mail flows again.
  const int connects = h.policyd_redis_connects();
  h.restart_redis();
  ASSERT_TRUE(wait_until([&] { return h.policyd_redis_connects() > connects; })) << h.policyd_log();
  auto after = h.submit("healthcare", {"front-desk@clinic.example"});
  ASSERT_TRUE(after.accepted("front-desk@clinic.example")) << after.transcript;
  ASSERT_TRUE(h.sink().wait_for_rcpt("front-desk@clinic.example", kDelivery));
  EXPECT_EQ(h.daily_count("healthcare"), 1);
}

TEST_F(Pipeline, RedisDownDefersWhenOnErrorIsDefer) {
  HarnessOptions o;
  o.redis = "on_error = \"defer\"\n";
  Harness h(o);
  h.kill_redis();
  auto s = h.submit("trucking", {"yard@haulage.example"});
  const std::string reply = s.reply_to("yard@haulage.example");
  EXPECT_TRUE(starts_with(reply,
                          "450 4.7.1 <yard@haulage.example>: Recipient address rejected: "
                          "streamguard: cannot reach Redis at /"))
      << s.transcript;
  EXPECT_TRUE(reply.ends_with(" to check stream trucking's caps; try again later")) << reply;
  EXPECT_TRUE(s.queue_id.empty());
  EXPECT_TRUE(h.postfix().wait_for_log(
      {"postfix/trucking/smtpd[", "NOQUEUE: reject: RCPT", "450 4.7.1 <yard@haulage.example>"}));
  EXPECT_TRUE(h.postfix().queue().empty());
  EXPECT_TRUE(h.sink().messages().empty());
}

}  // namespace
}  // namespace sg::e2e
