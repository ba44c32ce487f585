// Release accounting under faults: after each, the stream's counters equal
// what was delivered, exactly (rampd/drainer.hpp, "A release cannot drift
// the counters"). Real Postfix, policyd, Redis and the rampd binary; the
// faults are real too: rampd SIGKILLed by the postsuper it ran, Redis
// stopped (SIGSTOP) while a charge is in flight.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "tests/e2e/e2e_harness.hpp"
#include "tests/e2e/process.hpp"

namespace sg::e2e {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// One message held on a closed healthcare stream, then the stream opened
// in Redis (the caps hash overrides the config): the drainer may release it.
std::string hold_one(Harness& h, const std::string& to) {
  auto s = h.submit("healthcare", {to});
  EXPECT_TRUE(s.accepted(to)) << s.transcript;
  EXPECT_TRUE(wait_until([&] { return one_message_held(h); })) << h.policyd_log();
  h.redis().cmd({"HSET", "sg:{healthcare}:caps", "hourly", "1200"});
  return s.queue_id;
}

void expect_settled(Harness& h) {
  EXPECT_EQ(h.redis().cmd({"ZRANGE", "sg:{healthcare}:releasing", "0", "-1"}), "");
  EXPECT_EQ(h.redis().cmd({"ZRANGE", "sg:{healthcare}:resv", "0", "-1"}), "")
      << "a reservation left to be swept: the delivered mail would go uncounted";
}

struct Wrappers {
  fs::path dir;
  Wrappers() {
    char tmpl[] = "/tmp/sg-postfix-wrap-XXXXXX";
    dir = ::mkdtemp(tmpl);
    // streamguardctl (run by the harness) and rampd find every Postfix
    // command here.
    for (const char* p : {"postqueue", "postcat", "postsuper", "postconf", "postfix", "postmap"})
      write(p, std::string("#!/bin/sh\nexec /usr/sbin/") + p + " \"$@\"\n");
  }
  ~Wrappers() { fs::remove_all(dir); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir / name) << text;
    ::chmod((dir / name).c_str(), 0755);
  }
};

TEST(DrainFaultsE2E, RampdKilledRightAfterPostsuperCommitsTheChargesWhenItComesBack) {
  Wrappers w;
  // The first `postsuper -H` releases the message, then SIGKILLs rampd
  // (its parent) before rampd can commit the charges.
  const std::string killed = (w.dir / "killed").string();
  w.write("postsuper",
          "#!/bin/sh\n/usr/sbin/postsuper \"$@\"\nrc=$?\ncase \" $* \" in *\" -H \"*)\n"
          "  [ -e " +
              killed + " ] || { touch " + killed +
              "; kill -9 $PPID; } ;;\nesac\n"
              "exit $rc\n");
  HarnessOptions o;
  o.healthcare = "hourly_cap = 0\nover_cap = \"hold\"\n";
  o.rampd = "drain_interval_s = 1\npostfix_command_dir = \"" + w.dir.string() + "\"\n";
  Harness h(o);
  const std::string to = "frontdesk@clinic-kill.example";
  const std::string id = hold_one(h, to);

  h.start_rampd();
  ASSERT_TRUE(h.wait_rampd_exit(20s)) << "postsuper did not kill rampd:\n" << h.rampd_log();
  ASSERT_TRUE(fs::exists(killed));
  EXPECT_EQ(h.redis().cmd({"ZRANGE", "sg:{healthcare}:releasing", "0", "-1"}), "rampd-" + id)
      << "the release was not marked before postsuper ran";

  h.start_rampd();
  ASSERT_TRUE(wait_until(
      [&] {
        return h.rampd_log().find("held " + id + " (stream healthcare): it left the hold queue") !=
               std::string::npos;
      },
      20s))
      << h.rampd_log();
  ASSERT_TRUE(h.sink().wait_for_rcpt(to, 30s)) << h.postfix().log();
  EXPECT_EQ(h.sink().messages().size(), 1u);
  EXPECT_EQ(h.daily_count("healthcare"), 1);
  expect_settled(h);
}

// Redis stops while rampd's charge is in flight; rampd's deadline (2 s)
// fires; when Redis goes on, it runs the charge rampd gave up on. The next
// round must not charge the message a second time.
TEST(DrainFaultsE2E, RedisStoppedPastTheDeadlineDuringAChargeCountsTheMessageOnce) {
  Wrappers w;
  HarnessOptions o;
  o.healthcare = "hourly_cap = 0\nover_cap = \"hold\"\n";
  o.rampd = "drain_interval_s = 1\npostfix_command_dir = \"" + w.dir.string() + "\"\n";
  Harness h(o);
  // rampd reads a held message's envelope (postcat) after settling and just
  // before charging it: with "allow" there, postcat stops Redis (once)
  // first; without it, postcat fails and rampd looks again next round.
  const auto allow = (w.dir / "allow").string(), stopped = (w.dir / "stopped").string();
  w.write("postcat", "#!/bin/sh\n[ -e " + allow + " ] || exit 1\nif [ ! -e " + stopped +
                         " ]; then touch " + stopped + "; kill -STOP " +
                         std::to_string(h.redis().pid()) + "; fi\nexec /usr/sbin/postcat \"$@\"\n");
  h.start_rampd();
  const std::string to = "frontdesk@clinic-pause.example";
  hold_one(h, to);
  std::ofstream(allow) << "";
  const bool missed = wait_until(
      [&] {
        return http_get_unix(h.rampd_status_socket(), "/status").find("charging held mail") !=
               std::string::npos;
      },
      20s);
  h.redis().resume();
  ASSERT_TRUE(fs::exists(stopped));
  ASSERT_TRUE(missed) << h.rampd_log();
  ASSERT_TRUE(h.sink().wait_for_rcpt(to, 30s)) << h.rampd_log();
  // Rounds after the release: nothing more is charged.
  ASSERT_TRUE(wait_drain_rounds(h.rampd_status_socket(), 3, 30s)) << h.rampd_log();
  EXPECT_EQ(h.sink().messages().size(), 1u);
  EXPECT_EQ(h.daily_count("healthcare"), 1) << h.rampd_log();
  expect_settled(h);
}

}  // namespace
}  // namespace sg::e2e
