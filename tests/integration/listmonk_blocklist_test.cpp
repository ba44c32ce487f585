// Listmonk in step with suppression, on a real PostgreSQL holding
// subscribers shaped like Listmonk's (tests/integration/listmonk_schema.hpp):
// blocklist() writes only subscribers not yet blocklisted, found by address
// (any case) or by domain, in batches, and unsubscribes them from their
// lists; a second run writes nothing. Then through rampd: the hard bounces
// it learns from the Postfix log (tests/data/maillog/rules/) are
// blocklisted in the Listmonk of every stream that has one, and a Listmonk
// that fails keeps them for the next round.
#include "rampd/listmonk_blocklist.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/integration/listmonk_schema.hpp"
#include "tests/integration/policyd_harness.hpp"
#include "tests/integration/postgres_server.hpp"
#include "tests/integration/rampd_harness.hpp"
#include "tests/integration/redis_server.hpp"
#include "tests/integration/user_unknown_corpus.hpp"

namespace sg::testing {
namespace {

class ListmonkBlocklistTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pg.exec("postgres", "CREATE DATABASE listmonk");
    pg.exec("listmonk",
            std::string(kListmonkSubscribersSql) +
                "INSERT INTO subscribers (email, status, updated_at) VALUES "
                "('Old.Dispatcher@gmail.com', 'enabled', '2026-01-01'),"  // 1, learned
                "('alive@gmail.com', 'enabled', '2026-01-01'),"           // 2
                "('bob@deadtenant.example', 'enabled', '2026-01-01'),"    // 3, domain
                "('Eve@DeadTenant.example', 'disabled', '2026-01-01'),"   // 4, domain
                "('gone@gmail.com', 'blocklisted', '2026-01-01');"        // 5, already
                "INSERT INTO subscriber_lists (subscriber_id, list_id, status) VALUES "
                "(1, 1, 'confirmed'), (2, 1, 'confirmed'), (3, 1, 'unconfirmed');");
    lm.dsn = pg.admin_dsn("listmonk");
    lm.timeout_ms = 5000;
  }
  std::string status_of(int id) {
    return pg.query("listmonk", "SELECT status FROM subscribers WHERE id = " + std::to_string(id));
  }

  PostgresServer pg;
  ListmonkConfig lm;
};

TEST_F(ListmonkBlocklistTest, BlocklistsByAddressAndDomainOnceInBatches) {
  std::vector<std::string> addresses{"old.dispatcher@gmail.com", "gone@gmail.com"};
  // More than a batch: the learned address sits in the second one.
  for (std::size_t i = 0; i < listmonk::kBlocklistBatch + 10; ++i)
    addresses.insert(addresses.begin(), "nobody" + std::to_string(i) + "@gmail.com");
  auto r = listmonk::blocklist(lm, addresses, {"deadtenant.example"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.changed, 3) << "the learned address and the domain's two subscribers";
  EXPECT_EQ(r.sent, addresses.size() + 1);
  EXPECT_EQ(status_of(1), "blocklisted");
  EXPECT_EQ(status_of(2), "enabled");
  EXPECT_EQ(status_of(3), "blocklisted");
  EXPECT_EQ(status_of(4), "blocklisted");
  EXPECT_EQ(pg.query("listmonk",
                     "SELECT string_agg(status::text, ',' ORDER BY subscriber_id) "
                     "FROM subscriber_lists"),
            "unsubscribed,confirmed,unsubscribed");
  EXPECT_EQ(pg.query("listmonk",
                     "SELECT COUNT(*) FROM subscribers WHERE updated_at > "
                     "'2026-06-01'"),
            "3")
      << "only the subscribers it blocklisted were written (gone@ was already)";

  auto again = listmonk::blocklist(lm, addresses, {"deadtenant.example"});
  ASSERT_TRUE(again.ok) << again.error;
  EXPECT_EQ(again.changed, 0);
}

TEST_F(ListmonkBlocklistTest, AWrongPasswordIsAnErrorThatDoesNotShowIt) {
  pg.exec("postgres", "CREATE ROLE rampd LOGIN PASSWORD 'right-password'");
  lm.dsn = pg.tcp_dsn("listmonk", "rampd", "wrong-password-xyz");
  auto r = listmonk::blocklist(lm, {"a@b.example"}, {});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("cannot connect to Listmonk's database"), std::string::npos) << r.error;
  EXPECT_EQ(r.error.find("wrong-password-xyz"), std::string::npos) << r.error;
}

TEST_F(ListmonkBlocklistTest, RampdBlocklistsWhatItLearnsAndRetriesWhileListmonkIsDown) {
  RedisServer redis;
  const std::string maillog = copy_user_unknown_log("blocklist");
  auto config = [&](const std::string& dsn) {
    return config_with_streams(R"(
[rampd]
maillog = ")" + maillog + R"("
maillog_from = "start"

[[stream]]
name = "trucking"
ports = [25]
daily_cap = 1000
postfix = { transport = "out05" }
listmonk = { dsn = ")" + dsn + R"(", timeout_ms = 2000 }

[[stream]]
name = "healthcare"
ports = [2526]
daily_cap = 1000
mode = "shadow"
postfix = { transport = "hcout1" }
listmonk = { dsn = ")" + pg.admin_dsn("listmonk_hc") +
                               R"(" }
)" + std::string(kUserUnknownRule));
  };
  // healthcare's Listmonk: in shadow mode, never written.
  pg.exec("postgres", "CREATE DATABASE listmonk_hc");
  pg.exec("listmonk_hc", std::string(kListmonkSubscribersSql) +
                             "INSERT INTO subscribers (email) VALUES ('old.dispatcher@gmail.com')");
  // Listmonk's table is away at first (a migration, a restore): the entries wait.
  pg.exec("listmonk", "ALTER TABLE subscribers RENAME TO subscribers_away");
  RampdHarness rampd(config(pg.admin_dsn("listmonk")), redis.url());
  rampd.log_round(kAfterUserUnknownLog);
  EXPECT_NE(rampd.app().metrics_text().find(
                "streamguard_rampd_listmonk_blocklist_pending{stream=\"trucking\"} 5"),
            std::string::npos)
      << rampd.app().metrics_text();
  EXPECT_NE(rampd.app().status_json().find("is this Listmonk's database?"), std::string::npos)
      << rampd.app().status_json();

  pg.exec("listmonk", "ALTER TABLE subscribers_away RENAME TO subscribers");
  rampd.log_round(kAfterUserUnknownLog + 10'000);
  EXPECT_EQ(status_of(1), "enabled") << "the next try waits 30 s after a failure";
  rampd.log_round(kAfterUserUnknownLog + 60'000);
  EXPECT_EQ(status_of(1), "blocklisted") << "learned from trucking's transport (out05)";
  EXPECT_EQ(status_of(2), "enabled");
  EXPECT_NE(rampd.app().metrics_text().find(
                "streamguard_rampd_listmonk_blocklisted_total{stream=\"trucking\"} 1"),
            std::string::npos)
      << rampd.app().metrics_text();
  EXPECT_NE(rampd.app().metrics_text().find(
                "streamguard_rampd_listmonk_blocklist_pending{stream=\"trucking\"} 0"),
            std::string::npos);
  EXPECT_EQ(pg.query("listmonk_hc", "SELECT status FROM subscribers"), "enabled")
      << "a stream in shadow mode leaves its Listmonk as it is";
  EXPECT_EQ(rampd.app().metrics_text().find(
                "streamguard_rampd_listmonk_blocklist_pending{stream=\"healthcare\"}"),
            std::string::npos);
  std::filesystem::remove(maillog);
}

}  // namespace
}  // namespace sg::testing
