// End to end: `streamguardctl postfix-conf --diff | --apply | --rollback` on
// a running Postfix that carries only the operator's own configuration
// (staff submission with SASL, inbound mail delivered on the host, pickup),
// as an operator would bring streamguard in and take it out again: the
// operator's paths deliver exactly as before, the streams are enforced.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/e2e/e2e_harness.hpp"
#include "tests/e2e/operator_paths.hpp"
#include "tests/e2e/process.hpp"
#include "tests/text_match.hpp"

namespace sg::e2e {
namespace {

using namespace std::chrono_literals;

using sg::testing::contains;

class ApplyE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the end-to-end tests start Postfix: run them as root";
  }
  static HarnessOptions unapplied() {
    HarnessOptions o;
    o.render = false;
    return o;
  }
  // With OpenDKIM and the milter running, so that "no milter" means
  // something (main.cf has non_smtpd_milters = $smtpd_milters).
  static HarnessOptions unapplied_with_milter() {
    HarnessOptions o = unapplied();
    o.milter = true;
    return o;
  }
  CommandResult ctl(Harness& h, const std::string& action) {
    return run_command({SG_CTL_BIN, "postfix-conf", "--config", h.config_path(), "--postfix-config",
                        h.postfix().config_dir(), action},
                       120s);
  }
};

TEST_F(ApplyE2E, ApplyEnforcesTheStreamsOnlyAndRollbackRestoresTheFilesByteForByte) {
  Harness h(unapplied_with_milter());
  const std::string dir = h.postfix().config_dir();
  const std::string main_before = slurp(dir + "/main.cf"),
                    master_before = slurp(dir + "/master.cf");
  expect_operator_paths_untouched(h, "before");

  auto diff = ctl(h, "--diff");
  ASSERT_EQ(diff.exit_code, 0) << diff.output;
  EXPECT_TRUE(contains(diff.output, "main.cf streamguard_recipient_restrictions (new)"))
      << diff.output;
  EXPECT_TRUE(contains(
      diff.output, "master.cf 127.0.0.1:" + std::to_string(h.port("healthcare")) + "/inet (new)"))
      << diff.output;
  EXPECT_EQ(slurp(dir + "/main.cf"), main_before) << "--diff changed main.cf";

  auto apply = ctl(h, "--apply");
  ASSERT_EQ(apply.exit_code, 0) << apply.output;
  EXPECT_TRUE(contains(apply.output, "postfix reload: done")) << apply.output;
  EXPECT_EQ(slurp(dir + "/main.cf.streamguard-orig"), main_before);
  EXPECT_EQ(slurp(dir + "/master.cf.streamguard-orig"), master_before);
  ASSERT_TRUE(wait_until([&] { return tcp_accepts(h.port("trucking")); }, 20s))
      << h.postfix().log();
  auto again = ctl(h, "--diff");
  EXPECT_TRUE(contains(again.output, "nothing to change")) << again.output;

  // The streams are enforced; the operator's paths are as they were.
  auto stream = h.submit("trucking", {"someone@yahoo.com"});
  EXPECT_TRUE(contains(stream.reply_to("someone@yahoo.com"), "554 5.7.1")) << stream.transcript;
  expect_operator_paths_untouched(h, "applied");

  auto rollback = ctl(h, "--rollback");
  ASSERT_EQ(rollback.exit_code, 0) << rollback.output;
  EXPECT_EQ(slurp(dir + "/main.cf"), main_before);
  EXPECT_EQ(slurp(dir + "/master.cf"), master_before);
  EXPECT_FALSE(std::filesystem::exists(dir + "/main.cf.streamguard-orig"));
  EXPECT_TRUE(wait_until([&] { return !tcp_accepts(h.port("trucking")); }, 20s))
      << "the stream service still listens after the rollback";
  expect_operator_paths_untouched(h, "rolled-back");
}

TEST_F(ApplyE2E, ApplyIsRefusedWhilePolicydDoesNotAnswer) {
  Harness h(unapplied());
  const std::string dir = h.postfix().config_dir();
  const std::string main_before = slurp(dir + "/main.cf");
  h.kill_policyd();
  auto apply = ctl(h, "--apply");
  EXPECT_EQ(apply.exit_code, 1) << apply.output;
  EXPECT_TRUE(contains(apply.output, "streamguard-policyd does not answer on unix:"))
      << apply.output;
  EXPECT_EQ(slurp(dir + "/main.cf"), main_before);
  EXPECT_FALSE(std::filesystem::exists(dir + "/main.cf.streamguard-orig"));
}

// Mail queued through a stream names its transport; rolling back keeps that
// transport until the mail has left, then a second rollback is exact.
TEST_F(ApplyE2E, RollbackKeepsTheTransportOfQueuedStreamMailUntilItHasLeft) {
  HarnessOptions o = unapplied();
  o.trucking = "daily_cap = 1\nover_cap = \"hold\"\n";
  Harness h(o);
  const std::string dir = h.postfix().config_dir();
  const std::string master_before = slurp(dir + "/master.cf");
  ASSERT_EQ(ctl(h, "--apply").exit_code, 0);
  ASSERT_TRUE(wait_until([&] { return tcp_accepts(h.port("trucking")); }, 20s));
  h.submit("trucking", {"a@fleet-one.example"});
  auto held = h.submit("trucking", {"b@fleet-two.example"});  // over the cap: held
  ASSERT_FALSE(held.queue_id.empty()) << held.transcript;

  auto rollback = ctl(h, "--rollback");
  ASSERT_EQ(rollback.exit_code, 0) << rollback.output;
  EXPECT_TRUE(contains(rollback.output, "kept the transport out05")) << rollback.output;
  EXPECT_TRUE(contains(slurp(dir + "/master.cf"), "out05")) << "the held mail would be stranded";

  // Once it has left (released here), the second rollback is exact.
  auto release = h.postfix().command("postsuper", {"-H", held.queue_id});
  ASSERT_EQ(release.exit_code, 0) << release.output;
  h.postfix().command("postqueue", {"-f"});
  ASSERT_TRUE(h.sink().wait_for_rcpt("b@fleet-two.example", 30s)) << h.postfix().log();
  auto second = ctl(h, "--rollback");
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(slurp(dir + "/master.cf"), master_before);
}

}  // namespace
}  // namespace sg::e2e
