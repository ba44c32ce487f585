// rampd's Listmonk synchronisation against a real PostgreSQL holding a
// `settings` table shaped like Listmonk's: the sliding window and its rate
// written only when they differ, a foreign change corrected, a locked row,
// missing keys or table an error with nothing written, two streams never
// touching each other's database, and the password never in an error.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <string>

#include "rampd/listmonk_sync.hpp"
#include "tests/integration/listmonk_sync_test_support.hpp"
#include "tests/integration/postgres_server.hpp"

namespace sg {
namespace {

using Clock = std::chrono::steady_clock;
using sg::testing::PostgresServer;

// ------------------------------------------------------------------ the settings table

constexpr const char* kRole = "listmonk";
constexpr const char* kRolePassword = "lm-role-secret";

class ListmonkSyncTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new PostgresServer();
    server_->exec("postgres",
                  std::string("CREATE ROLE ") + kRole + " LOGIN PASSWORD '" + kRolePassword + "'");
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  // A fresh database. With `listmonk_keys`, Listmonk's settings table with
  // its defaults for the sliding window (schema.sql: false, "1h", 10000) and
  // a few neighbours that must never be touched; without, a settings table
  // that lacks the sliding-window keys.
  std::string new_db(bool listmonk_keys = true) {
    std::string name = "lm_" + std::to_string(++counter_);
    server_->exec("postgres", "CREATE DATABASE " + name + " OWNER " + kRole);
    server_->exec(name,
                  "CREATE TABLE settings ("
                  "  key TEXT NOT NULL UNIQUE,"
                  "  value JSONB NOT NULL DEFAULT '{}',"
                  "  updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW());"
                  "CREATE INDEX idx_settings_key ON settings(key);"
                  "ALTER TABLE settings OWNER TO listmonk;"
                  "INSERT INTO settings (key, value) VALUES"
                  "  ('app.concurrency', '10'),"
                  "  ('app.message_rate', '10'),"
                  "  ('app.batch_size', '1000'),"
                  "  ('app.lang', '\"en\"');");
    if (listmonk_keys)
      server_->exec(name,
                    "INSERT INTO settings (key, value) VALUES"
                    "  ('app.message_sliding_window', 'false'),"
                    "  ('app.message_sliding_window_duration', '\"1h\"'),"
                    "  ('app.message_sliding_window_rate', '10000');");
    server_->exec(name, "UPDATE settings SET updated_at = '2024-01-01 00:00:00+00'");
    return name;
  }

  ListmonkConfig cfg(const std::string& db, uint32_t timeout_ms = 5000) const {
    ListmonkConfig c;
    c.dsn = server_->tcp_dsn(db, kRole, kRolePassword);
    c.timeout_ms = timeout_ms;
    return c;
  }

  std::string value(const std::string& db, const std::string& key) const {
    return server_->query(db, "SELECT value::text FROM settings WHERE key = '" + key + "'");
  }
  // updated_at and the row version: both unchanged means the row was not written.
  std::string stamp(const std::string& db, const std::string& key) const {
    return server_->query(
        db, "SELECT updated_at::text || ' xmin=' || xmin::text FROM settings WHERE key = '" + key +
                "'");
  }
  std::map<std::string, std::string> all_stamps(const std::string& db) const {
    std::map<std::string, std::string> out;
    for (const char* k : {"app.concurrency", "app.message_rate", "app.batch_size", "app.lang",
                          listmonk::kEnabledKey, listmonk::kDurationKey, listmonk::kRateKey})
      out[k] = stamp(db, k) + " " + value(db, k);
    return out;
  }

  static PostgresServer* server_;
  static int counter_;
};

PostgresServer* ListmonkSyncTest::server_ = nullptr;
int ListmonkSyncTest::counter_ = 0;

TEST_F(ListmonkSyncTest, FirstSyncTurnsTheWindowOnAndSetsTheRate) {
  auto db = new_db();
  const std::string window_stamp = stamp(db, listmonk::kDurationKey);
  const std::string message_rate_stamp = stamp(db, "app.message_rate");

  auto r = listmonk::sync_settings(cfg(db), {270, "1h"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.changed);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.old_enabled, "false");
  EXPECT_EQ(r.old_window, "\"1h\"");
  EXPECT_EQ(r.old_rate, "10000");

  EXPECT_EQ(value(db, listmonk::kEnabledKey), "true");
  EXPECT_EQ(value(db, listmonk::kDurationKey), "\"1h\"");
  EXPECT_EQ(value(db, listmonk::kRateKey), "270");
  EXPECT_EQ(server_->query(db,
                           "SELECT jsonb_typeof(value) FROM settings WHERE key = "
                           "'app.message_sliding_window_rate'"),
            "number");
  // Only what differed was written: the duration was already "1h".
  EXPECT_EQ(stamp(db, listmonk::kDurationKey), window_stamp);
  EXPECT_NE(server_->query(db,
                           "SELECT updated_at > '2024-01-02' FROM settings WHERE key = "
                           "'app.message_sliding_window_rate'"),
            "f");
  // Listmonk's other settings are never touched.
  EXPECT_EQ(stamp(db, "app.message_rate"), message_rate_stamp);
  EXPECT_EQ(value(db, "app.message_rate"), "10");
  EXPECT_EQ(server_->query(db, "SELECT count(*) FROM settings"), "7");
}

TEST_F(ListmonkSyncTest, SecondSyncWithTheSameValuesWritesNothing) {
  auto db = new_db();
  ASSERT_TRUE(listmonk::sync_settings(cfg(db), {45, "1h"}).ok);
  auto before = all_stamps(db);

  auto r = listmonk::sync_settings(cfg(db), {45, "1h"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_FALSE(r.changed);
  EXPECT_EQ(r.old_enabled, "true");
  EXPECT_EQ(r.old_window, "\"1h\"");
  EXPECT_EQ(r.old_rate, "45");
  EXPECT_EQ(all_stamps(db), before);  // same updated_at, same row versions
}

TEST_F(ListmonkSyncTest, NewWindowAndRateAreWritten) {
  auto db = new_db();
  ASSERT_TRUE(listmonk::sync_settings(cfg(db), {45, "1h"}).ok);
  auto r = listmonk::sync_settings(cfg(db), {22, "30m"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.changed);
  EXPECT_EQ(r.old_window, "\"1h\"");
  EXPECT_EQ(r.old_rate, "45");
  EXPECT_EQ(value(db, listmonk::kDurationKey), "\"30m\"");
  EXPECT_EQ(value(db, listmonk::kRateKey), "22");
}

TEST_F(ListmonkSyncTest, ForeignChangeIsCorrected) {
  auto db = new_db();
  ASSERT_TRUE(listmonk::sync_settings(cfg(db), {270, "1h"}).ok);
  // The old cron script, or someone in Listmonk's settings page.
  server_->exec(db,
                "UPDATE settings SET value = '5000', updated_at = NOW() WHERE key = "
                "'app.message_sliding_window_rate';"
                "UPDATE settings SET value = 'false' WHERE key = 'app.message_sliding_window';");

  auto r = listmonk::sync_settings(cfg(db), {270, "1h"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.changed);
  EXPECT_EQ(r.old_enabled, "false");
  EXPECT_EQ(r.old_rate, "5000");
  EXPECT_EQ(value(db, listmonk::kEnabledKey), "true");
  EXPECT_EQ(value(db, listmonk::kRateKey), "270");
}

TEST_F(ListmonkSyncTest, EqualJsonIsNotRewrittenOtherJsonIs) {
  auto db = new_db();
  ASSERT_TRUE(listmonk::sync_settings(cfg(db), {270, "1h"}).ok);
  // 270.0 is the same JSON number as 270 (Listmonk decodes both to 270).
  server_->exec(db,
                "UPDATE settings SET value = '270.0' WHERE key = "
                "'app.message_sliding_window_rate'");
  auto same = stamp(db, listmonk::kRateKey);
  auto r = listmonk::sync_settings(cfg(db), {270, "1h"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_FALSE(r.changed);
  EXPECT_EQ(stamp(db, listmonk::kRateKey), same);

  // A string "270" and a string "true" are not the values Listmonk expects.
  server_->exec(db,
                "UPDATE settings SET value = '\"270\"' WHERE key = "
                "'app.message_sliding_window_rate';"
                "UPDATE settings SET value = '\"true\"' WHERE key = 'app.message_sliding_window';");
  r = listmonk::sync_settings(cfg(db), {270, "1h"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.changed);
  EXPECT_EQ(r.old_rate, "\"270\"");
  EXPECT_EQ(value(db, listmonk::kRateKey), "270");
  EXPECT_EQ(value(db, listmonk::kEnabledKey), "true");
}

TEST_F(ListmonkSyncTest, ConcurrentForeignChangeIsSeenAndCorrected) {
  auto db = new_db();
  ASSERT_TRUE(listmonk::sync_settings(cfg(db), {270, "1h"}).ok);

  // Another session changes the rate inside a transaction that holds the row.
  PGconn* other = PQconnectdb(server_->admin_dsn(db).c_str());
  ASSERT_EQ(PQstatus(other), CONNECTION_OK) << PQerrorMessage(other);
  auto run = [&](const char* sql) {
    PGresult* res = PQexec(other, sql);
    auto st = PQresultStatus(res);
    PQclear(res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  };
  ASSERT_TRUE(run("BEGIN"));
  ASSERT_TRUE(
      run("UPDATE settings SET value = '9999' WHERE key = "
          "'app.message_sliding_window_rate'"));

  // The sync waits on the row lock ...
  auto pending = std::async(std::launch::async, [&] {
    return listmonk::sync_settings(cfg(db, 5000), {270, "1h"});
  });
  EXPECT_EQ(pending.wait_for(std::chrono::milliseconds(400)), std::future_status::timeout);
  // ... and, once the other transaction commits, reads its value and puts
  // the right one back.
  ASSERT_TRUE(run("COMMIT"));
  PQfinish(other);
  auto r = pending.get();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.changed);
  EXPECT_EQ(r.old_rate, "9999");
  EXPECT_EQ(value(db, listmonk::kRateKey), "270");
}

TEST_F(ListmonkSyncTest, RowLockedPastTheTimeoutIsAnErrorWithinTheTimeout) {
  auto db = new_db();
  PGconn* other = PQconnectdb(server_->admin_dsn(db).c_str());
  ASSERT_EQ(PQstatus(other), CONNECTION_OK) << PQerrorMessage(other);
  PQclear(PQexec(other, "BEGIN"));
  PQclear(PQexec(other, "SELECT * FROM settings FOR UPDATE"));

  auto t0 = Clock::now();
  auto r = listmonk::sync_settings(cfg(db, 400), {270, "1h"});
  auto took = ms_since(t0);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.changed);
  EXPECT_LT(took, 2000) << r.error;
  EXPECT_TRUE(contains(r.error, "dbname=" + db)) << r.error;
  EXPECT_TRUE(contains(r.error, "statement timeout") || contains(r.error, "timed out")) << r.error;
  PQclear(PQexec(other, "ROLLBACK"));
  PQfinish(other);
  EXPECT_EQ(value(db, listmonk::kRateKey), "10000");
}

TEST_F(ListmonkSyncTest, DatabaseWithoutTheKeysIsAnErrorAndNothingIsInserted) {
  auto db = new_db(/*listmonk_keys=*/false);
  auto before = server_->query(db, "SELECT count(*) FROM settings");

  auto r = listmonk::sync_settings(cfg(db), {270, "1h"});
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.changed);
  EXPECT_TRUE(contains(r.error, "not a Listmonk database")) << r.error;
  EXPECT_TRUE(contains(r.error, "app.message_sliding_window_rate")) << r.error;
  EXPECT_TRUE(contains(r.error, "app.message_sliding_window_duration")) << r.error;
  EXPECT_TRUE(contains(r.error, "dbname=" + db)) << r.error;
  EXPECT_TRUE(contains(r.error, "user=listmonk")) << r.error;
  EXPECT_FALSE(contains(r.error, kRolePassword)) << r.error;
  EXPECT_EQ(server_->query(db, "SELECT count(*) FROM settings"), before);
  EXPECT_EQ(server_->query(db,
                           "SELECT count(*) FROM settings WHERE key LIKE "
                           "'app.message_sliding%'"),
            "0");
}

TEST_F(ListmonkSyncTest, OneMissingKeyIsAnErrorAndTheOthersAreNotWritten) {
  auto db = new_db();
  server_->exec(db, "DELETE FROM settings WHERE key = 'app.message_sliding_window_duration'");
  auto r = listmonk::sync_settings(cfg(db), {270, "1h"});
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(contains(r.error, "app.message_sliding_window_duration")) << r.error;
  EXPECT_FALSE(contains(r.error, "app.message_sliding_window_rate")) << r.error;
  EXPECT_EQ(value(db, listmonk::kRateKey), "10000");
  EXPECT_EQ(value(db, listmonk::kEnabledKey), "false");
  EXPECT_EQ(value(db, listmonk::kDurationKey), "(none)");
}

TEST_F(ListmonkSyncTest, DatabaseWithoutASettingsTableIsAnError) {
  std::string db = "lm_empty_" + std::to_string(++counter_);
  server_->exec("postgres", "CREATE DATABASE " + db + " OWNER " + kRole);
  auto r = listmonk::sync_settings(cfg(db), {270, "1h"});
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(contains(r.error, "\"settings\" does not exist")) << r.error;
  EXPECT_TRUE(contains(r.error, "is this Listmonk's database?")) << r.error;
  EXPECT_EQ(server_->query(db, "SELECT to_regclass('public.settings')::text"), "(null)");
}

TEST_F(ListmonkSyncTest, TwoStreamsTwoDatabasesNeverTouchEachOther) {
  auto trucking = new_db();
  auto healthcare = new_db();
  auto healthcare_before = all_stamps(healthcare);

  auto r = listmonk::sync_settings(cfg(trucking), {45, "1h"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(value(trucking, listmonk::kRateKey), "45");
  EXPECT_EQ(all_stamps(healthcare), healthcare_before);

  auto trucking_after = all_stamps(trucking);
  r = listmonk::sync_settings(cfg(healthcare), {900, "1h"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(value(healthcare, listmonk::kRateKey), "900");
  EXPECT_EQ(all_stamps(trucking), trucking_after);
  EXPECT_EQ(value(trucking, listmonk::kRateKey), "45");
}

TEST_F(ListmonkSyncTest, RateZeroIsRefusedAndNothingIsWritten) {
  auto db = new_db();
  auto before = all_stamps(db);
  auto r = listmonk::sync_settings(cfg(db), {0, "1h"});
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(contains(r.error, "turns its sliding window off")) << r.error;
  EXPECT_EQ(all_stamps(db), before);
}

TEST_F(ListmonkSyncTest, WrongPasswordNamesTheDsnWithoutThePassword) {
  auto db = new_db();
  ListmonkConfig c = cfg(db, 3000);
  c.dsn = server_->tcp_dsn(db, kRole, "wrong-password-xyz");
  auto t0 = Clock::now();
  auto r = listmonk::sync_settings(c, {270, "1h"});
  EXPECT_LT(ms_since(t0), 3000);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(contains(r.error, "password authentication failed")) << r.error;
  EXPECT_TRUE(contains(r.error, "host=127.0.0.1 port=" + std::to_string(server_->port()) +
                                    " dbname=" + db + " user=listmonk password=***"))
      << r.error;
  EXPECT_FALSE(contains(r.error, "wrong-password-xyz")) << r.error;
  EXPECT_EQ(value(db, listmonk::kRateKey), "10000");
}

TEST_F(ListmonkSyncTest, UriDsnWorksAndErrorsHideItsPassword) {
  auto db = new_db();
  ListmonkConfig c = cfg(db);
  c.dsn = "postgresql://listmonk:" + std::string(kRolePassword) +
          "@127.0.0.1:" + std::to_string(server_->port()) + "/" + db;
  auto r = listmonk::sync_settings(c, {100, "1h"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(value(db, listmonk::kRateKey), "100");

  c.dsn = "postgresql://listmonk:not-the-password@127.0.0.1:" + std::to_string(server_->port()) +
          "/" + db;
  r = listmonk::sync_settings(c, {100, "1h"});
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(contains(r.error, "not-the-password")) << r.error;
  EXPECT_TRUE(contains(r.error, "password=***")) << r.error;
}

}  // namespace
}  // namespace sg
