// End to end: the backstop map that `streamguardctl postfix-conf` renders
// (streamguard-backstop.regexp, check_recipient_access before
// check_policy_service) keeps refusing the lists every stream excludes while
// streamguard-policyd is down; everything else gets Postfix's default_action.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "tests/e2e/e2e_harness.hpp"

namespace sg::e2e {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

class Backstop : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the end-to-end tests start Postfix: run them as root";
  }
};

TEST_F(Backstop, YahooFamilyIsRefusedAtRcptEvenWithPolicydDown) {
  Harness h;
  // Postfix runs the rendered restrictions, the map from the rendered folder:
  // each stream service takes streamguard's list (master.cf -o).
  const std::string map = h.postfix_conf_dir() + "/streamguard-backstop.regexp";
  ASSERT_TRUE(std::filesystem::exists(map));
  auto services = h.postfix().command("postconf", {"-P"});
  for (const char* stream : {"trucking", "healthcare"})
    EXPECT_NE(services.output.find("127.0.0.1:" + std::to_string(h.port(stream)) +
                                   "/inet/smtpd_recipient_restrictions = "
                                   "$streamguard_recipient_restrictions"),
              std::string::npos)
        << services.output;
  auto restrictions = h.postfix().command("postconf", {"-h", "streamguard_recipient_restrictions"});
  ASSERT_EQ(restrictions.exit_code, 0) << restrictions.output;
  const auto backstop_at = restrictions.output.find("check_recipient_access regexp:" + map);
  const auto policy_at = restrictions.output.find("check_policy_service");
  ASSERT_NE(backstop_at, std::string::npos) << restrictions.output;
  ASSERT_NE(policy_at, std::string::npos) << restrictions.output;
  EXPECT_LT(backstop_at, policy_at) << "the backstop must come first: " << restrictions.output;

  h.kill_policyd();
  for (const char* stream : {"trucking", "healthcare"}) {
    // yahoo.com (the yahoo.* pattern), sbcglobal.net (a family domain of the
    // list), a dead ISP; comcast.net is a dead_isp exception and
    // office@riverside-clinic.example a practice domain: both left to policyd,
    // which is down, so smtpd's default_action (DEFER_IF_PERMIT) answers.
    auto s = h.submit(stream, {"someone@yahoo.com", "lee@sbcglobal.net", "old@adelphia.net",
                               "joe@comcast.net", "office@riverside-clinic.example"});
    EXPECT_EQ(
        s.reply_to("someone@yahoo.com"),
        "554 5.7.1 <someone@yahoo.com>: Recipient address rejected: streamguard: yahoo.com is "
        "in the Yahoo/AOL/Verizon mail family, which every stream excludes")
        << s.transcript;
    EXPECT_EQ(
        s.reply_to("lee@sbcglobal.net"),
        "554 5.7.1 <lee@sbcglobal.net>: Recipient address rejected: streamguard: sbcglobal.net "
        "is in the Yahoo/AOL/Verizon mail family, which every stream excludes")
        << s.transcript;
    EXPECT_EQ(s.reply_to("old@adelphia.net"),
              "554 5.7.1 <old@adelphia.net>: Recipient address rejected: streamguard: adelphia.net "
              "is a dead ISP domain that only hard-bounces, which every stream excludes")
        << s.transcript;
    EXPECT_TRUE(starts_with(s.reply_to("joe@comcast.net"), "450 4.7.1 <joe@comcast.net>"))
        << s.transcript;
    EXPECT_TRUE(starts_with(s.reply_to("office@riverside-clinic.example"),
                            "450 4.7.1 <office@riverside-clinic.example>"))
        << s.transcript;
    EXPECT_TRUE(s.queue_id.empty()) << s.transcript;
    EXPECT_TRUE(h.postfix().wait_for_log({"postfix/" + std::string(stream) + "/smtpd[",
                                          "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 "
                                          "5.7.1 <someone@yahoo.com>",
                                          "Yahoo/AOL/Verizon mail family"}))
        << h.postfix().log();
    EXPECT_TRUE(h.postfix().wait_for_log({"postfix/" + std::string(stream) + "/smtpd[",
                                          "NOQUEUE: reject: RCPT",
                                          "450 4.7.1 "
                                          "<office@riverside-clinic.example>"}))
        << h.postfix().log();
  }
  // policyd really was down: smtpd said so.
  EXPECT_FALSE(
      h.postfix().log_lines({"smtpd[", "problem talking to server private/streamguard"}).empty())
      << h.postfix().log();
  EXPECT_TRUE(h.postfix().queue().empty());
  EXPECT_TRUE(h.sink().messages().empty());
}

}  // namespace
}  // namespace sg::e2e
