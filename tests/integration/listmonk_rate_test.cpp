// rampd's Listmonk synchronisation without a database: the sliding-window
// rate from a cap, the DSN with its password redacted, and a server that is
// closed or silent failing within the timeout, naming the DSN without its
// password.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include "rampd/listmonk_sync.hpp"
#include "tests/integration/listmonk_sync_test_support.hpp"
#include "tests/loopback_port.hpp"

namespace sg {
namespace {

using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------------ the rate

TEST(ListmonkRate, FloorOfCapTimesFraction) {
  EXPECT_EQ(listmonk::listmonk_rate(300, 0.9), 270u);   // trucking day 7+
  EXPECT_EQ(listmonk::listmonk_rate(50, 0.9), 45u);     // trucking day 0
  EXPECT_EQ(listmonk::listmonk_rate(150, 0.9), 135u);   // trucking day 2
  EXPECT_EQ(listmonk::listmonk_rate(1000, 0.9), 900u);  // healthcare day 10+
  EXPECT_EQ(listmonk::listmonk_rate(250, 0.85), 212u);  // 212.5
  EXPECT_EQ(listmonk::listmonk_rate(4000, 1.0), 4000u);
  // 100 x 0.29 is 28.999999999999996 in binary floating point.
  EXPECT_EQ(listmonk::listmonk_rate(100, 0.29), 29u);
  EXPECT_FALSE(listmonk::choose_rate(300, 0.9).clamped);
  EXPECT_EQ(listmonk::choose_rate(300, 0.9).note, "");
}

TEST(ListmonkRate, ClosedStreamGivesOneNeverZero) {
  // Listmonk reads a rate of 0 as "no sliding window": it would send freely.
  auto c = listmonk::choose_rate(0, 0.9);
  EXPECT_EQ(c.rate, 1u);
  EXPECT_TRUE(c.clamped);
  EXPECT_TRUE(contains(c.note, "stream closed")) << c.note;
  EXPECT_TRUE(contains(c.note, "0 turns it off")) << c.note;

  auto tiny = listmonk::choose_rate(1, 0.9);  // 0.9 rounds down to 0
  EXPECT_EQ(tiny.rate, 1u);
  EXPECT_TRUE(tiny.clamped);
  EXPECT_TRUE(contains(tiny.note, "rounds to 0")) << tiny.note;

  auto two = listmonk::choose_rate(2, 0.5);  // exactly 1: not clamped
  EXPECT_EQ(two.rate, 1u);
  EXPECT_FALSE(two.clamped);
}

TEST(ListmonkRate, OddInputsStayWithinBounds) {
  EXPECT_EQ(listmonk::listmonk_rate(300, 1.5), 300u);  // never above the cap
  EXPECT_EQ(listmonk::listmonk_rate(300, std::nan("")), 1u);
  EXPECT_EQ(listmonk::listmonk_rate(300, -1), 1u);
  auto huge = listmonk::choose_rate(std::numeric_limits<uint64_t>::max(), 1.0);
  EXPECT_EQ(huge.rate, listmonk::kMaxRate);
  EXPECT_TRUE(huge.clamped);
  EXPECT_EQ(listmonk::listmonk_rate(listmonk::kMaxRate, 1.0), listmonk::kMaxRate);
}

TEST(ListmonkRedact, DsnWithoutItsPassword) {
  EXPECT_EQ(listmonk::redact_dsn("host=127.0.0.1 port=5432 dbname=listmonk user=lm "
                                 "password=hunter2-secret sslmode=disable"),
            "host=127.0.0.1 port=5432 dbname=listmonk user=lm password=*** sslmode=disable");
  std::string uri = listmonk::redact_dsn(
      "postgresql://lm:hunter2-secret@db.internal:6432/listmonk?sslmode=require");
  EXPECT_FALSE(contains(uri, "hunter2")) << uri;
  EXPECT_TRUE(contains(uri, "host=db.internal")) << uri;
  EXPECT_TRUE(contains(uri, "port=6432")) << uri;
  EXPECT_TRUE(contains(uri, "dbname=listmonk")) << uri;
  EXPECT_EQ(listmonk::redact_dsn("postgresql:///listmonk"), "dbname=listmonk");
  EXPECT_EQ(listmonk::redact_dsn("dbname='my db' user=x"), "dbname='my db' user=x");
  EXPECT_TRUE(contains(listmonk::redact_dsn("host"), "cannot parse"));
}

TEST(ListmonkSyncUnreachable, ClosedPortFailsFastNamingTheDsn) {
  ListmonkConfig c;
  uint16_t port = sg::testing::free_loopback_port();
  c.dsn = "host=127.0.0.1 port=" + std::to_string(port) +
          " dbname=listmonk user=listmonk password=closed-port-secret";
  c.timeout_ms = 1000;
  auto t0 = Clock::now();
  auto r = listmonk::sync_settings(c, {270, "1h"});
  EXPECT_LT(ms_since(t0), 1000);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(contains(r.error, "cannot connect")) << r.error;
  EXPECT_TRUE(contains(r.error, "port=" + std::to_string(port))) << r.error;
  EXPECT_FALSE(contains(r.error, "closed-port-secret")) << r.error;
}

TEST(ListmonkSyncUnreachable, SilentServerTimesOutWithinTheTimeout) {
  SilentListener silent;  // accepts the TCP handshake, never says a word
  ListmonkConfig c;
  c.dsn = "host=127.0.0.1 port=" + std::to_string(silent.port()) +
          " dbname=listmonk user=listmonk password=silent-secret sslmode=disable";
  c.timeout_ms = 300;
  auto t0 = Clock::now();
  auto r = listmonk::sync_settings(c, {270, "1h"});
  auto took = ms_since(t0);
  EXPECT_GE(took, 250);
  EXPECT_LT(took, 1500);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(contains(r.error, "timed out after 300 ms connecting")) << r.error;
  EXPECT_FALSE(contains(r.error, "silent-secret")) << r.error;
}

}  // namespace
}  // namespace sg
