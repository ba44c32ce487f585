// The drainer's unit-test fixture (drainer_test.cpp, drainer_exclusion_test.cpp):
// the fake caps store (tests/fakes/fake_cap_store.hpp) and stand-ins for
// postqueue, postcat and postsuper, small scripts over a directory that
// plays the hold queue.
#pragma once

#include "rampd/drainer.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fakes/fake_cap_store.hpp"
#include "tests/unit/config_text.hpp"

namespace sg::rampd::drainer_test {

namespace net = boost::asio;
namespace fs = std::filesystem;

inline constexpr int64_t kNowMs = 1'795'400'000'000;  // 2026-11-23, after the arrivals below

// postqueue -j lists every file under hold/ (its arrival time from
// arrival/ID); postcat -e -q ID prints hold/ID; postsuper -H ID moves it to
// released/ and postsuper -f ID to expired/, unless the file "refuse" exists. Every postsuper and
// postqueue -i call is appended to "log".
inline const char* const kPostqueue = R"SH(#!/bin/sh
d=$(dirname "$0")
case "$1" in
-j) for f in "$d"/hold/*; do
      [ -e "$f" ] || continue
      id=$(basename "$f")
      printf '{"queue_name": "hold", "queue_id": "%s", "arrival_time": %s, "recipients": []}\n' "$id" "$(cat "$d/arrival/$id")"
    done ;;
-i) echo "postqueue -i $2" >> "$d/log" ;;
*) exit 64 ;;
esac
)SH";
inline const char* const kPostcat = R"SH(#!/bin/sh
d=$(dirname "$0")
[ "$1 $2" = "-e -q" ] || exit 64
cat "$d/hold/$3" 2>/dev/null || { echo "postcat: fatal: open queue file $3: No such file" >&2; exit 1; }
)SH";
inline const char* const kPostsuper = R"SH(#!/bin/sh
d=$(dirname "$0")
echo "postsuper $1 $2" >> "$d/log"
if [ -e "$d/refuse" ]; then echo "postsuper: fatal: refused" >&2; exit 1; fi
case "$1" in
-H) mv "$d/hold/$2" "$d/released/$2" && echo "postsuper: Released from hold: 1 message" >&2 ;;
-f) mv "$d/hold/$2" "$d/expired/$2" && echo "postsuper: Force-expired: 1 message" >&2 ;;
esac
)SH";

struct DrainerTest : ::testing::Test {
  fs::path dir;
  net::io_context io;
  net::thread_pool pool{1};
  testing::FakeCapStore store;
  metrics::Registry registry;
  Drainer drainer{io, pool, store, registry};
  std::shared_ptr<const Config> cfg;

  void SetUp() override {
    char tmpl[] = "/tmp/sg-drainer-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
    for (const char* sub : {"hold", "arrival", "released", "expired"})
      fs::create_directory(dir / sub);
    script("postqueue", kPostqueue);
    script("postcat", kPostcat);
    script("postsuper", kPostsuper);
  }
  void TearDown() override {
    pool.join();
    fs::remove_all(dir);
  }

  void script(const std::string& name, const char* text) {
    std::ofstream(dir / name) << text;
    ::chmod((dir / name).c_str(), 0755);
  }

  void configure(const std::string& extra_rampd = "", const std::string& trucking = "") {
    if (!fs::exists(dir / "dead-isp.txt"))
      std::ofstream(dir / "dead-isp.txt") << "deadisp.example\n";
    auto parsed = testing::parse_text(R"(
[lists]
dead_isp = ")" + (dir / "dead-isp.txt").string() +
                                      R"("
[rampd]
postfix_command_dir = ")" + dir.string() +
                                      "\"\n" + extra_rampd + R"(
[operators.google]
domains = ["gmail.com"]
[[stream]]
name = "trucking"
ports = [25]
exclude = ["dead_isp"]
over_cap = "hold"
hourly_cap = 1000
daily_cap = 3
)" + trucking + R"(
[[stream]]
name = "healthcare"
ports = [2526]
over_cap = "hold"
hourly_cap = 1000
daily_cap = 100
)");
    ASSERT_TRUE(parsed.config) << testing::all_errors(parsed);
    cfg = parsed.config;
  }

  // A held message: its queue file as postcat -e shows it.
  void hold(const std::string& id, const std::string& transport,
            const std::vector<std::string>& recipients, int64_t arrival_s) {
    std::ostringstream env;
    env << "*** ENVELOPE RECORDS hold/" << id << " ***\n"
        << "message_arrival_time: Sun Nov 22 22:21:57 2026\n"
        << "content_filter: " << transport << ":\n"
        << "sender: news@send.example.com\n";
    for (const auto& r : recipients)
      env << "original_recipient: " << r << "\nrecipient: " << r << "\n";
    env << "*** MESSAGE CONTENTS hold/" << id << " ***\n"
        << "Subject: load\n\nbody\n"
        << "*** HEADER EXTRACTED hold/" << id << " ***\n"
        << "*** MESSAGE FILE END hold/" << id << " ***\n";
    std::ofstream(dir / "hold" / id) << env.str();
    std::ofstream(dir / "arrival" / id) << arrival_s;
  }

  void run_once() {
    auto guard = net::make_work_guard(io);
    bool done = false;
    net::co_spawn(io, drainer.run_once(cfg, kNowMs), [&](std::exception_ptr e) {
      EXPECT_FALSE(e);
      done = true;
      guard.reset();
    });
    io.restart();
    io.run();
    EXPECT_TRUE(done);
  }

  std::vector<std::string> log() const {
    std::vector<std::string> out;
    std::ifstream in(dir / "log");
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  // The store calls that charge, mark or end reservations (not the
  // per-stream "releasing" reads every round makes).
  std::vector<std::string> acts() const {
    std::vector<std::string> out;
    for (const auto& c : store.calls)
      if (c.rfind("releasing ", 0) != 0) out.push_back(c);
    return out;
  }
  bool released(const std::string& id) const { return fs::exists(dir / "released" / id); }
  bool expired(const std::string& id) const { return fs::exists(dir / "expired" / id); }
};

}  // namespace sg::rampd::drainer_test
