// The soak: the real pipeline under a steady mixed load while its daemons and
// Redis are SIGKILLed and started again at random moments; then every
// recipient of every message is accounted for.
//
//   build/tests/streamguard-soak [--seconds N] [--rate R] [--seed S]
//
// Pipeline (the e2e harness, tests/e2e/e2e_harness.hpp): a private Postfix
// with both stream ports as streamguardctl renders them, OpenDKIM and
// streamguard-milter in smtpd_milters, streamguard-policyd, streamguard-rampd
// draining held mail, Redis with the install guide's persistence (AOF;
// fsync always here, so a SIGKILL loses nothing the test then counts), and a
// loopback sink in place of the receiving MX.
//
// Load: R messages/s, alternating streams, 1-3 recipients each (every
// address used once); one message in ten goes to an excluded domain
// (yahoo.com: refused at RCPT). Caps low enough that mail is held and
// drained. Faults: every 4-12 s one of policyd, the milter, rampd or Redis
// is SIGKILLed and started again 1-3 s later.
//
// Then every daemon runs, and the soak waits until the sink and the queue
// stop changing. Per recipient:
//   accepted (250 to its RCPT and to the message's DATA): delivered exactly
//     once, or still in the hold queue;
//   refused (the client saw 4xx/5xx at RCPT or DATA): never delivered.
// Pass (exit 0): 0 lost, 0 duplicated, 0 refused-but-delivered, and each
// stream's deliveries within its daily cap. Prints the counts.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/e2e_harness.hpp"
#include "tests/e2e/process.hpp"

namespace sg::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int g_seconds = 600;
double g_rate = 2.0;
unsigned g_seed = 1;

constexpr long kDailyCap = 400;  // per stream: below what the load offers

struct Ledger {
  std::mutex mu;
  std::map<std::string, std::string> stream_of;  // recipient -> stream
  std::set<std::string> accepted, refused;
  long messages = 0, messages_refused = 0;
};

// One message: which recipients the client saw accepted.
void submit_one(const Harness& h, Ledger& ledger, long n) {
  const std::string stream = n % 2 ? "trucking" : "healthcare";
  std::vector<std::string> rcpts;
  const int count = 1 + static_cast<int>(n % 3);
  for (int i = 0; i < count; ++i) {
    const std::string id = std::to_string(n) + "-" + std::to_string(i);
    if (n % 10 == 3 && i == 0)
      rcpts.push_back("soak" + id + "@yahoo.com");
    else
      rcpts.push_back((stream == "trucking" ? "dispatch" : "frontdesk") + id + "@" +
                      (stream == "trucking" ? "fleet-" : "clinic-") + std::to_string(n % 40) +
                      ".example");
  }
  const Submission s = h.submit(stream, rcpts);
  std::lock_guard lock(ledger.mu);
  ++ledger.messages;
  const bool queued = !s.queue_id.empty();
  if (!queued) ++ledger.messages_refused;
  for (const auto& r : rcpts) {
    ledger.stream_of[r] = stream;
    (queued && s.accepted(r) ? ledger.accepted : ledger.refused).insert(r);
  }
}

struct Fault {
  const char* name;
  void (*kill)(Harness&);
  void (*start)(Harness&);
};

const Fault kFaults[] = {
    {"policyd", [](Harness& h) { h.kill_policyd(); }, [](Harness& h) { h.start_policyd(); }},
    {"milter", [](Harness& h) { h.kill_milter(); }, [](Harness& h) { h.start_milter(); }},
    {"rampd", [](Harness& h) { h.kill_rampd(); }, [](Harness& h) { h.start_rampd(); }},
    {"redis", [](Harness& h) { h.kill_redis(); }, [](Harness& h) { h.restart_redis(); }},
};

TEST(Soak, NothingLostNothingDuplicatedCapsKept) {
  HarnessOptions o;
  o.milter = true;
  o.redis_server_args = {"--appendonly", "yes", "--appendfsync", "always"};
  const std::string caps = "daily_cap = " + std::to_string(kDailyCap) +
                           "\nhourly_cap = 3600\nburst = 5\nover_cap = \"hold\"\n";
  o.trucking = caps;
  o.healthcare = caps;
  o.rampd = "drain_interval_s = 1\n";
  Harness h(o);
  h.start_rampd();

  Ledger ledger;
  std::atomic<bool> stop{false};
  std::thread load([&] {
    const auto every = std::chrono::duration<double>(1.0 / g_rate);
    auto next = Clock::now();
    for (long n = 0; !stop; ++n) {
      submit_one(h, ledger, n);
      next += std::chrono::duration_cast<Clock::duration>(every);
      std::this_thread::sleep_until(next);
    }
  });

  std::mt19937 rng(g_seed);
  std::map<std::string, int> kills;
  const auto end = Clock::now() + std::chrono::seconds(g_seconds);
  while (Clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(4000 + rng() % 8000));
    if (Clock::now() >= end) break;
    const Fault& f = kFaults[rng() % std::size(kFaults)];
    f.kill(h);
    ++kills[f.name];
    std::this_thread::sleep_for(std::chrono::milliseconds(1000 + rng() % 2000));
    f.start(h);
  }
  stop = true;
  load.join();

  // Settle: the sink and the queue stop changing (held mail drains at the
  // cap's rate; what is over the daily cap stays held).
  std::size_t last_sink = SIZE_MAX, last_queue = SIZE_MAX;
  auto stable_since = Clock::now();
  const auto give_up = Clock::now() + 5min;
  while (Clock::now() < give_up) {
    const std::size_t sink = h.sink().messages().size(), queue = h.postfix().queue().size();
    if (sink != last_sink || queue != last_queue) {
      last_sink = sink;
      last_queue = queue;
      stable_since = Clock::now();
    } else if (Clock::now() - stable_since > 20s) {
      break;
    }
    std::this_thread::sleep_for(1s);
  }

  std::map<std::string, int> delivered;   // recipient -> deliveries
  std::map<std::string, long> by_stream;  // stream -> recipients delivered
  for (const auto& m : h.sink().messages()) {
    if (m.mail_from.empty()) continue;  // a bounce to the sender
    for (const auto& r : m.rcpts) {
      ++delivered[r];
      by_stream[m.helo == "mta05.example.com" ? "trucking" : "healthcare"] += 1;
    }
  }
  std::set<std::string> held, queued_other;
  for (const auto& e : h.postfix().queue())
    for (const auto& r : e.recipients) (e.queue_name == "hold" ? held : queued_other).insert(r);

  long lost = 0, duplicated = 0, refused_delivered = 0, still_held = 0, in_queue = 0;
  for (const auto& r : ledger.accepted) {
    const int d = delivered.count(r) ? delivered[r] : 0;
    if (d > 1) ++duplicated;
    if (d == 0 && held.count(r)) ++still_held;
    if (d == 0 && !held.count(r) && queued_other.count(r)) ++in_queue;
    if (d == 0 && !held.count(r) && !queued_other.count(r)) {
      ++lost;
      std::fprintf(stderr, "lost: %s (%s)\n", r.c_str(), ledger.stream_of[r].c_str());
    }
  }
  for (const auto& r : ledger.refused)
    if (delivered.count(r)) ++refused_delivered;

  std::printf("soak: %d s at %.1f msg/s, seed %u\n", g_seconds, g_rate, g_seed);
  std::printf("  kills:");
  for (const auto& [name, n] : kills) std::printf(" %s %d", name.c_str(), n);
  std::printf("\n  messages %ld (refused whole %ld); recipients accepted %zu, refused %zu\n",
              ledger.messages, ledger.messages_refused, ledger.accepted.size(),
              ledger.refused.size());
  std::printf("  delivered once %zu, still held %ld, still queued %ld\n",
              delivered.size() - static_cast<std::size_t>(duplicated), still_held, in_queue);
  std::printf("  lost %ld, duplicated %ld, refused but delivered %ld\n", lost, duplicated,
              refused_delivered);
  for (const auto& [stream, n] : by_stream)
    std::printf("  %s: %ld recipients delivered, daily cap %ld, policyd's count %ld\n",
                stream.c_str(), n, kDailyCap, h.daily_count(stream));
  std::fflush(stdout);

  EXPECT_EQ(lost, 0);
  EXPECT_EQ(duplicated, 0);
  EXPECT_EQ(refused_delivered, 0);
  EXPECT_EQ(in_queue, 0) << "mail still in the active or deferred queue after the settle";
  for (const auto& [stream, n] : by_stream) EXPECT_LE(n, kDailyCap) << stream;
  EXPECT_GT(ledger.accepted.size(), 0u);
}

}  // namespace
}  // namespace sg::e2e

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--seconds" && has_value)
      sg::e2e::g_seconds = std::atoi(argv[++i]);
    else if (a == "--rate" && has_value)
      sg::e2e::g_rate = std::atof(argv[++i]);
    else if (a == "--seed" && has_value)
      sg::e2e::g_seed = static_cast<unsigned>(std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: streamguard-soak [--seconds N] [--rate R] [--seed S]\n");
      return 2;
    }
  }
  if (sg::e2e::g_seconds < 10 || sg::e2e::g_rate <= 0) {
    std::fprintf(stderr, "streamguard-soak: --seconds must be at least 10 and --rate above 0\n");
    return 2;
  }
  return RUN_ALL_TESTS();
}
