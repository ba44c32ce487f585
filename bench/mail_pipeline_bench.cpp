// End-to-end mail benchmark through a real Postfix (the e2e harness):
// messages/s with OpenDKIM alone in smtpd_milters, against OpenDKIM +
// streamguard-milter + streamguard-policyd as streamguardctl renders them,
// with the milter on its Asio engine (the default) and on libmilter.
// smtp-source submits; the loopback sink counts what Postfix delivered.
//
//   build/tests/streamguard-mail-bench [--messages N] [--sessions S] [--rounds R]
//                                      [--persistent]
//
// --persistent sends several messages per SMTP session (smtp-source -d), as
// Listmonk's connection pool does; without it every message is a session.
//
// Runs as root (it starts Postfix). Prints one line per run and a summary.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/e2e_harness.hpp"

namespace sg::e2e {
namespace {

int g_messages = 2000;
int g_sessions = 8;
int g_rounds = 3;
bool g_persistent = false;  // smtp-source -d: several messages per SMTP session

// CPU seconds used so far by the processes whose command line contains
// `needle` (children that exited are not counted: these are long-lived
// daemons), and by the whole machine (/proc/stat, all cores).
double process_cpu(const std::string& needle) {
  double total = 0;
  const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = e.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = slurp(e.path().string() + "/cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find(needle) == std::string::npos) continue;
    std::istringstream st(slurp(e.path().string() + "/stat"));
    std::string field;
    // Fields 14 and 15 are utime and stime; the command (field 2) has no
    // spaces for these daemons.
    unsigned long long ut = 0, stt = 0;
    for (int i = 1; i <= 15 && st >> field; ++i) {
      if (i == 14) ut = std::stoull(field);
      if (i == 15) stt = std::stoull(field);
    }
    total += static_cast<double>(ut + stt) / hz;
  }
  return total;
}

double machine_cpu() {
  std::istringstream st(slurp("/proc/stat"));
  std::string cpu;
  unsigned long long user, nice, sys, idle;
  st >> cpu >> user >> nice >> sys >> idle;
  return static_cast<double>(user + nice + sys) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

struct BenchRun {
  std::string setup;
  double submit_s = 0, deliver_s = 0;
  // CPU µs per message over the measured window.
  double machine_us = 0, policyd_us = 0, milter_us = 0, opendkim_us = 0, redis_us = 0;
};

// The setups measured, each in a fresh harness.
enum class Pipeline { opendkim, opendkim_policyd, opendkim_streamguard, opendkim_streamguard_asio };
constexpr std::size_t kSetups = 4;
const char* name(Pipeline s) {
  switch (s) {
    case Pipeline::opendkim:
      return "OpenDKIM alone";
    case Pipeline::opendkim_policyd:
      return "OpenDKIM + policyd";
    case Pipeline::opendkim_streamguard:
      return "OpenDKIM + sg (libmilter)";
    case Pipeline::opendkim_streamguard_asio:
      return "OpenDKIM + sg (asio)";
  }
  return "?";
}

// A harness for `setup`: caps far above the run (the benchmark measures
// cost, not the caps); the baselines take streamguard out of main.cf.
HarnessOptions harness_options(Pipeline setup) {
  HarnessOptions o;
  o.milter = true;
  const std::string caps = "hourly_cap = 100000000\nburst = 1000000\ndaily_cap = 100000000\n";
  o.trucking = caps;
  o.healthcare = caps;
  // Each engine named: the default moved from libmilter to asio on
  // 2026-12-03, and a row that took the default then measured asio twice.
  if (setup == Pipeline::opendkim_streamguard) o.milter_settings = "engine = \"libmilter\"\n";
  if (setup == Pipeline::opendkim_streamguard_asio) o.milter_settings = "engine = \"asio\"\n";
  return o;
}

void use_baseline_config(Harness& h, Pipeline setup) {
  if (setup != Pipeline::opendkim && setup != Pipeline::opendkim_policyd) return;
  // OpenDKIM alone as the stream services' milters; without policyd for the
  // baseline. The stream services take these from the main.cf parameters
  // streamguardctl renders (-o smtpd_milters=$streamguard_milters, ...), so
  // those are what change (main.cf's own smtpd_milters does not reach them).
  std::vector<std::string> args = {"-e", "streamguard_milters = unix:opendkim/opendkim.sock"};
  if (setup == Pipeline::opendkim) {
    const std::string plain = "permit_mynetworks, reject_unauth_destination";
    args.push_back("streamguard_recipient_restrictions = " + plain);
    args.push_back("streamguard_shadow_recipient_restrictions = " + plain);
    args.push_back("streamguard_end_of_data_restrictions =");
  }
  auto& pf = h.postfix();
  auto r = pf.command("postconf", args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  auto reload = pf.command("postfix", {"reload"});
  EXPECT_EQ(reload.exit_code, 0) << reload.output;
  std::this_thread::sleep_for(1500ms);  // smtpd processes pick up the new main.cf
}

// smtp-source sending n messages to the healthcare stream's port.
CommandResult send_messages(Harness& h, int n) {
  const std::string target = "127.0.0.1:" + std::to_string(h.port("healthcare"));
  std::vector<std::string> argv = {find_tool("smtp-source"),
                                   "-s",
                                   std::to_string(g_sessions),
                                   "-m",
                                   std::to_string(n),
                                   "-l",
                                   "4096",
                                   "-f",
                                   "news@send.example.com",
                                   "-t",
                                   "dr.smith@riverside-clinic.example",
                                   "-M",
                                   "listmonk.bench.example",
                                   target};
  if (g_persistent) argv.insert(argv.begin() + 1, "-d");
  return run_command(argv, 600s);
}

// CPU seconds so far: the machine, policyd, the milter, OpenDKIM, Redis.
std::vector<double> cpu_now() {
  return {machine_cpu(), process_cpu("streamguard-policyd"), process_cpu("streamguard-milter"),
          process_cpu("opendkim -f"), process_cpu("sg-redis-")};
}

BenchRun measure(Pipeline setup) {
  Harness h(harness_options(setup));
  use_baseline_config(h, setup);
  // Warm up: Postfix spawns its processes, OpenDKIM loads its key.
  auto w = send_messages(h, 50);
  EXPECT_EQ(w.exit_code, 0) << w.output;
  EXPECT_TRUE(wait_until([&] { return h.sink().messages().size() >= 50; }, 60s));
  const auto cpu0 = cpu_now();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = send_messages(h, g_messages);
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const std::size_t want = 50 + static_cast<std::size_t>(g_messages);
  EXPECT_TRUE(wait_until([&] { return h.sink().messages().size() >= want; }, 600s))
      << h.sink().messages().size() << " of " << want << " delivered\n"
      << h.milter_log().substr(0, 2000);
  const auto t2 = std::chrono::steady_clock::now();
  const auto cpu1 = cpu_now();
  // Every message left signed.
  auto msgs = h.sink().messages();
  std::size_t signed_count = std::count_if(msgs.begin(), msgs.end(), [](const SinkMessage& m) {
    return m.data.find("d=send.example.com") != std::string::npos;
  });
  EXPECT_EQ(signed_count, msgs.size());
  BenchRun out;
  out.setup = name(setup);
  auto per_msg = [&](std::size_t i) { return 1e6 * (cpu1[i] - cpu0[i]) / g_messages; };
  out.machine_us = per_msg(0);
  out.policyd_us = per_msg(1);
  out.milter_us = per_msg(2);
  out.opendkim_us = per_msg(3);
  out.redis_us = per_msg(4);
  out.submit_s = std::chrono::duration<double>(t1 - t0).count();
  out.deliver_s = std::chrono::duration<double>(t2 - t0).count();
  return out;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The cost figure issue 14 judges the milter by, steady on a machine whose
// speed changes from minute to minute: streamguard's own CPU per message
// (policyd + Redis + milter) against the machine's CPU per message with
// OpenDKIM alone in the same round. "Added" is the whole machine's CPU per
// message over that baseline: ours plus Postfix's policy and milter clients.
void print_cpu_summary(const std::vector<BenchRun>& runs) {
  for (std::size_t setup = 1; setup < kSetups; ++setup) {
    std::vector<double> own_us, own_pct, added_pct;
    for (std::size_t i = setup; i < runs.size(); i += kSetups) {
      const double base = runs[i - setup].machine_us;
      const double own = runs[i].policyd_us + runs[i].redis_us + runs[i].milter_us;
      own_us.push_back(own);
      own_pct.push_back(100.0 * own / base);
      added_pct.push_back(100.0 * (runs[i].machine_us - base) / base);
    }
    std::printf(
        "median CPU  %-24s  streamguard (policyd + Redis + milter) %5.0f µs per message = "
        "%4.1f%% of OpenDKIM alone's machine CPU; whole machine %+5.1f%%\n",
        runs[setup].setup.c_str(), median_of(own_us), median_of(own_pct), median_of(added_pct));
  }
}

TEST(MailBench, OpenDkimAloneAgainstOpenDkimPlusStreamguard) {
  if (::geteuid() != 0) GTEST_SKIP() << "starts Postfix: run as root";
  std::vector<BenchRun> runs;
  for (int round = 0; round < g_rounds; ++round)
    for (Pipeline setup : {Pipeline::opendkim, Pipeline::opendkim_policyd,
                           Pipeline::opendkim_streamguard, Pipeline::opendkim_streamguard_asio}) {
      auto r = measure(setup);
      std::printf(
          "round %d  %-24s  %d msgs  submitted in %6.2f s (%7.1f msg/s)  delivered in %6.2f s "
          "(%7.1f msg/s)\n",
          round + 1, r.setup.c_str(), g_messages, r.submit_s, g_messages / r.submit_s, r.deliver_s,
          g_messages / r.deliver_s);
      std::printf(
          "         CPU per message: all %6.0f µs; policyd %4.0f µs, Redis %4.0f µs, milter %4.0f "
          "µs, OpenDKIM %4.0f µs\n",
          r.machine_us, r.policyd_us, r.redis_us, r.milter_us, r.opendkim_us);
      std::fflush(stdout);
      runs.push_back(r);
    }
  auto median = [&](std::size_t setup, bool deliver) {
    std::vector<double> v;
    for (std::size_t i = 0; i < runs.size(); ++i)
      if (i % kSetups == setup)
        v.push_back(g_messages / (deliver ? runs[i].deliver_s : runs[i].submit_s));
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  for (bool deliver : {false, true}) {
    double base = median(0, deliver), pol = median(1, deliver), all = median(2, deliver),
           asio = median(3, deliver);
    std::printf(
        "median %-9s  OpenDKIM alone %7.1f msg/s; + policyd %7.1f (%.1f%% less); + policyd and "
        "milter (libmilter) %7.1f (%.1f%% less); + policyd and milter (asio) %7.1f (%.1f%% less)\n",
        deliver ? "delivered" : "submitted", base, pol, 100.0 * (base - pol) / base, all,
        100.0 * (base - all) / base, asio, 100.0 * (base - asio) / base);
  }
  print_cpu_summary(runs);
}

}  // namespace
}  // namespace sg::e2e

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--persistent")
      sg::e2e::g_persistent = true;
    else if (a == "--messages" && has_value)
      sg::e2e::g_messages = std::atoi(argv[++i]);
    else if (a == "--sessions" && has_value)
      sg::e2e::g_sessions = std::atoi(argv[++i]);
    else if (a == "--rounds" && has_value)
      sg::e2e::g_rounds = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr,
                   "usage: streamguard-mail-bench [--messages N] [--sessions S] [--rounds R] "
                   "[--persistent]\n");
      return 2;
    }
  }
  return RUN_ALL_TESTS();
}
