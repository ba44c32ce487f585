// rampd without postsuper: with [rampd] queue_helper, held mail is read
// (postcat -e -q) and released (postsuper -H) by streamguard-queue-helper,
// and rampd's own Postfix command folder holds only postqueue. Its postsuper
// and postcat there would fail and leave a mark: the release can only have
// gone through the helper. Real Postfix, policyd, Redis, rampd and helper.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "tests/e2e/e2e_harness.hpp"
#include "tests/e2e/process.hpp"

namespace sg::e2e {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct HelperSetup {
  fs::path dir;
  pid_t helper = -1;
  HelperSetup() {
    char tmpl[] = "/tmp/sg-qh-e2e-XXXXXX";
    dir = ::mkdtemp(tmpl);
    fs::create_directory(dir / "bin");
    // What rampd may run itself: postqueue (any user may). postsuper and
    // postcat only mark that rampd tried them.
    // (postconf, postfix and postmap are there for streamguardctl, which the
    // harness runs with the same config.)
    for (const char* p : {"postqueue", "postconf", "postfix", "postmap"})
      write(p, std::string("#!/bin/sh\nexec /usr/sbin/") + p + " \"$@\"\n");
    for (const char* p : {"postsuper", "postcat"})
      write(p, "#!/bin/sh\necho \"$0 $*\" >> " + (dir / "rampd-ran-it-itself").string() +
                   "\nexit 1\n");
  }
  ~HelperSetup() {
    if (helper > 0) {
      ::kill(helper, SIGTERM);
      ::waitpid(helper, nullptr, 0);
    }
    fs::remove_all(dir);
  }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir / "bin" / name) << text;
    ::chmod((dir / "bin" / name).c_str(), 0755);
  }
  std::string socket() const { return (dir / "helper.sock").string(); }
  std::string log() const { return slurp((dir / "helper.log").string()); }
};

TEST(QueueHelperE2E, HeldMailIsReadAndReleasedThroughTheHelperOnly) {
  HelperSetup s;
  HarnessOptions o;
  o.healthcare = "hourly_cap = 1200\nburst = 1\nover_cap = \"hold\"\n";
  o.rampd = "drain_interval_s = 1\npostfix_command_dir = \"" + (s.dir / "bin").string() +
            "\"\nqueue_helper = \"unix:" + s.socket() + "\"\n";
  Harness h(o);
  // The helper with the real Postfix commands and this Postfix's config.
  s.helper = spawn({SG_QUEUE_HELPER_BIN, "--allow-uid", std::to_string(::getuid()), "--listen",
                    "unix:" + s.socket(), "--postfix-config-dir", h.postfix().config_dir()},
                   (s.dir / "helper.log").string());
  ASSERT_TRUE(wait_until([&] { return unix_accepts(s.socket()); })) << s.log();

  const std::vector<std::string> rcpts = {"frontdesk@clinic-qh0.example",
                                          "frontdesk@clinic-qh1.example",
                                          "frontdesk@clinic-qh2.example"};
  for (const auto& r : rcpts) ASSERT_TRUE(h.submit("healthcare", {r}).accepted(r));
  ASSERT_TRUE(h.sink().wait_for_rcpt(rcpts[0], 15s)) << h.postfix().log();
  ASSERT_TRUE(wait_until([&] {
    const auto q = h.postfix().queue();
    return q.size() == 2 && q[0].queue_name == "hold" && q[1].queue_name == "hold";
  })) << h.policyd_log();

  h.start_rampd();
  ASSERT_TRUE(wait_until([&] { return h.sink().messages().size() == 3; }, 60s))
      << h.rampd_log() << "\n--- helper:\n"
      << s.log();
  EXPECT_FALSE(fs::exists(s.dir / "rampd-ran-it-itself"))
      << slurp((s.dir / "rampd-ran-it-itself").string());
  // The helper read each held envelope and released each once.
  const std::string log = s.log();
  std::size_t releases = 0, envelopes = 0;
  for (auto at = log.find(": release "); at != std::string::npos;
       at = log.find(": release ", at + 1))
    ++releases;
  for (auto at = log.find(": envelope "); at != std::string::npos;
       at = log.find(": envelope ", at + 1))
    ++envelopes;
  EXPECT_EQ(releases, 2u) << log;
  EXPECT_GE(envelopes, 2u) << log;
  EXPECT_NE(log.find("postsuper -c " + h.postfix().config_dir() + " -H "), std::string::npos)
      << log;
  EXPECT_EQ(h.daily_count("healthcare"), 3);
  EXPECT_TRUE(wait_until([&] { return h.postfix().queue().empty(); }, 15s));
}

}  // namespace
}  // namespace sg::e2e
