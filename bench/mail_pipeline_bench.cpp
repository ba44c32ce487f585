// End-to-end mail benchmark through a real Postfix (the e2e harness):
// messages/s with OpenDKIM alone in smtpd_milters, against OpenDKIM +
// streamguard-milter + streamguard-policyd as streamguardctl renders them.
// smtp-source submits; the loopback sink counts what Postfix delivered.
//
//   build/tests/streamguard-mail-bench [--messages N] [--sessions S] [--rounds R]
//
// Runs as root (it starts Postfix). Prints one line per run and a summary.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/e2e_harness.hpp"

namespace sg::e2e {
namespace {

int g_messages = 2000;
int g_sessions = 8;
int g_rounds = 3;

struct BenchRun {
  std::string setup;
  double submit_s = 0, deliver_s = 0;
};

BenchRun measure(bool streamguard) {
  HarnessOptions o;
  o.milter = true;
  // Caps far above the run: the benchmark measures cost, not the caps.
  const std::string caps = "hourly_cap = 100000000\nburst = 1000000\ndaily_cap = 100000000\n";
  o.trucking = caps;
  o.healthcare = caps;
  Harness h(o);
  auto& pf = h.postfix();
  if (!streamguard) {
    // OpenDKIM alone: no streamguard milter, no policy service.
    auto r = pf.command("postconf", {"-e", "smtpd_milters = unix:opendkim/opendkim.sock",
                                     "smtpd_recipient_restrictions = permit_mynetworks, "
                                     "reject_unauth_destination",
                                     "smtpd_end_of_data_restrictions ="});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    auto reload = pf.command("postfix", {"reload"});
    EXPECT_EQ(reload.exit_code, 0) << reload.output;
    std::this_thread::sleep_for(1500ms);  // smtpd processes pick up the new main.cf
  }
  const std::string smtp_source = find_tool("smtp-source");
  const std::string target = "127.0.0.1:" + std::to_string(h.port("healthcare"));
  auto source = [&](int n) {
    return run_command(
        {smtp_source, "-s", std::to_string(g_sessions), "-m", std::to_string(n), "-l", "4096", "-f",
         "news@send.example.com", "-t", "dr.smith@riverside-clinic.example", "-M",
         "listmonk.bench.example", target},
        600s);
  };
  // Warm up: Postfix spawns its processes, OpenDKIM loads its key.
  auto w = source(50);
  EXPECT_EQ(w.exit_code, 0) << w.output;
  EXPECT_TRUE(wait_until([&] { return h.sink().messages().size() >= 50; }, 60s));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = source(g_messages);
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const std::size_t want = 50 + static_cast<std::size_t>(g_messages);
  EXPECT_TRUE(wait_until([&] { return h.sink().messages().size() >= want; }, 600s))
      << h.sink().messages().size() << " of " << want << " delivered\n"
      << h.milter_log().substr(0, 2000);
  const auto t2 = std::chrono::steady_clock::now();
  // Every message left signed.
  auto msgs = h.sink().messages();
  std::size_t signed_count = std::count_if(msgs.begin(), msgs.end(), [](const SinkMessage& m) {
    return m.data.find("d=send.example.com") != std::string::npos;
  });
  EXPECT_EQ(signed_count, msgs.size());
  BenchRun out;
  out.setup = streamguard ? "OpenDKIM + streamguard" : "OpenDKIM alone";
  out.submit_s = std::chrono::duration<double>(t1 - t0).count();
  out.deliver_s = std::chrono::duration<double>(t2 - t0).count();
  return out;
}

TEST(MailBench, OpenDkimAloneAgainstOpenDkimPlusStreamguard) {
  if (::geteuid() != 0) GTEST_SKIP() << "starts Postfix: run as root";
  std::vector<BenchRun> runs;
  for (int round = 0; round < g_rounds; ++round)
    for (bool sg : {false, true}) {
      auto r = measure(sg);
      std::printf(
          "round %d  %-24s  %d msgs  submitted in %6.2f s (%7.1f msg/s)  delivered in %6.2f s "
          "(%7.1f msg/s)\n",
          round + 1, r.setup.c_str(), g_messages, r.submit_s, g_messages / r.submit_s, r.deliver_s,
          g_messages / r.deliver_s);
      std::fflush(stdout);
      runs.push_back(r);
    }
  auto median = [&](bool sg, bool deliver) {
    std::vector<double> v;
    for (std::size_t i = 0; i < runs.size(); ++i)
      if ((i % 2 == 1) == sg)
        v.push_back(g_messages / (deliver ? runs[i].deliver_s : runs[i].submit_s));
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  for (bool deliver : {false, true}) {
    double base = median(false, deliver), with = median(true, deliver);
    std::printf(
        "median %-9s  OpenDKIM alone %7.1f msg/s, + streamguard %7.1f msg/s: overhead %.1f%%\n",
        deliver ? "delivered" : "submitted", base, with, 100.0 * (base - with) / base);
  }
}

}  // namespace
}  // namespace sg::e2e

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i + 1 < argc; ++i) {
    std::string a = argv[i];
    if (a == "--messages")
      sg::e2e::g_messages = std::atoi(argv[++i]);
    else if (a == "--sessions")
      sg::e2e::g_sessions = std::atoi(argv[++i]);
    else if (a == "--rounds")
      sg::e2e::g_rounds = std::atoi(argv[++i]);
  }
  return RUN_ALL_TESTS();
}
