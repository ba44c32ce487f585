// rampd's Listmonk synchronisation against a real PostgreSQL holding a
// `settings` table shaped like Listmonk's, and its reload call against a
// local HTTP stub that records what it receives.
#include "rampd/listmonk_sync.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rampd/http_client.hpp"
#include "tests/integration/postgres_server.hpp"

namespace sg {
namespace {

using Clock = std::chrono::steady_clock;
using sg::testing::PostgresServer;

long long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

// A socket listening on 127.0.0.1 that never accepts: the kernel completes
// the TCP handshake, then nobody ever answers.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd_, 16) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot listen on 127.0.0.1");
    port_ = ntohs(a.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

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

// ------------------------------------------------------------------ the reload call

// A one-thread HTTP server on 127.0.0.1 that records each request and answers
// as told.
class HttpStub {
 public:
  enum class Mode {
    reply_and_close,  // answer, then close
    reply_keep_open,  // answer with Content-Length, keep the connection open
    reply_chunked,    // answer with a chunked body, then close
    silent,           // read the request, never answer
  };
  struct Request {
    std::string method, target, body;
    std::map<std::string, std::string> headers;  // names lowercased
  };

  explicit HttpStub(Mode mode = Mode::reply_and_close, int status = 200,
                    std::string body = "{\"data\":true}")
      : mode_(mode), status_(status), body_(std::move(body)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd_, 16) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("stub cannot listen");
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~HttpStub() {
    stop_ = true;
    thread_.join();
    for (int c : open_) ::close(c);
    ::close(fd_);
  }

  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/api/admin/reload") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      handle(c);
    }
  }

  void handle(int c) {
    std::string in;
    char buf[4096];
    size_t head_end = std::string::npos;
    size_t want = 0;
    while (!stop_) {
      if (head_end != std::string::npos && in.size() >= head_end + 4 + want) break;
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
      if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
        Request r = parse(in.substr(0, head_end));
        auto it = r.headers.find("content-length");
        want = it == r.headers.end() ? 0 : std::stoul(it->second);
      }
    }
    if (head_end != std::string::npos) {
      Request r = parse(in.substr(0, head_end));
      r.body = in.substr(head_end + 4);
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(r);
    }
    std::string reason = status_ / 100 == 2 ? "OK" : "Error";
    std::string head = "HTTP/1.1 " + std::to_string(status_) + " " + reason +
                       "\r\nContent-Type: application/json\r\n";
    switch (mode_) {
      case Mode::reply_and_close:
        send_all(c, head + "Content-Length: " + std::to_string(body_.size()) +
                        "\r\nConnection: close\r\n\r\n" + body_);
        ::close(c);
        break;
      case Mode::reply_keep_open:
        send_all(c, head + "Content-Length: " + std::to_string(body_.size()) + "\r\n\r\n" + body_);
        open_.push_back(c);
        break;
      case Mode::reply_chunked: {
        std::string half = body_.substr(0, body_.size() / 2);
        std::string rest = body_.substr(body_.size() / 2);
        auto hex = [](size_t n) {
          char b[32];
          std::snprintf(b, sizeof b, "%zx", n);
          return std::string(b);
        };
        send_all(c, head + "Transfer-Encoding: chunked\r\n\r\n" + hex(half.size()) + "\r\n" + half +
                        "\r\n" + hex(rest.size()) + ";ext=1\r\n" + rest + "\r\n0\r\n\r\n");
        open_.push_back(c);  // the terminal chunk, not the close, ends the body
        break;
      }
      case Mode::silent:
        open_.push_back(c);
        break;
    }
  }

  static Request parse(const std::string& head) {
    Request r;
    size_t eol = head.find("\r\n");
    std::string line = head.substr(0, eol);
    size_t s1 = line.find(' ');
    size_t s2 = line.find(' ', s1 + 1);
    r.method = line.substr(0, s1);
    r.target = line.substr(s1 + 1, s2 - s1 - 1);
    size_t pos = eol == std::string::npos ? head.size() : eol + 2;
    while (pos < head.size()) {
      size_t end = head.find("\r\n", pos);
      if (end == std::string::npos) end = head.size();
      std::string h = head.substr(pos, end - pos);
      pos = end + 2;
      size_t colon = h.find(':');
      if (colon == std::string::npos) continue;
      std::string name = h.substr(0, colon);
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      size_t v = h.find_first_not_of(' ', colon + 1);
      r.headers[name] = v == std::string::npos ? "" : h.substr(v);
    }
    return r;
  }

  static void send_all(int c, const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(c, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

  Mode mode_;
  int status_;
  std::string body_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::vector<int> open_;  // connections kept open until the stub ends
  std::mutex mu_;
  std::vector<Request> requests_;
};

class ListmonkReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sg-lm-token-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string token_file(const std::string& content) {
    std::string path = dir_ + "/listmonk.token";
    std::ofstream(path) << content;
    return path;
  }
  ListmonkConfig cfg(const std::string& url, uint32_t timeout_ms = 3000) {
    ListmonkConfig c;
    c.dsn = "postgresql:///listmonk";
    c.reload_url = url;
    c.timeout_ms = timeout_ms;
    return c;
  }
  std::string dir_;
};

TEST_F(ListmonkReloadTest, PostsToThePathWithTheApiToken) {
  HttpStub stub;
  ListmonkConfig c = cfg(stub.url());
  c.api_user = "rampd";
  c.api_token_file = token_file("  tok-3f9a1c\n\n");  // whitespace trimmed

  auto r = listmonk::reload(c);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.error, "");
  auto reqs = stub.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/api/admin/reload");
  EXPECT_EQ(reqs[0].headers["authorization"], "token rampd:tok-3f9a1c");
  EXPECT_EQ(reqs[0].headers["host"], "127.0.0.1:" + std::to_string(stub.port()));
  EXPECT_EQ(reqs[0].headers["connection"], "close");
  EXPECT_EQ(reqs[0].headers["content-length"], "0");
  EXPECT_EQ(reqs[0].body, "");
}

TEST_F(ListmonkReloadTest, NoAuthorizationWithoutAnApiUser) {
  HttpStub stub;
  auto r = listmonk::reload(cfg(stub.url()));
  EXPECT_TRUE(r.ok) << r.error;
  auto reqs = stub.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].headers.count("authorization"), 0u);
}

TEST_F(ListmonkReloadTest, ServerErrorIsNotOkAndGivesTheStatus) {
  HttpStub stub(HttpStub::Mode::reply_and_close, 500, "{\"message\":\"reload failed\"}");
  auto r = listmonk::reload(cfg(stub.url()));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.http_status, 500);
  EXPECT_TRUE(contains(r.error, "answered HTTP 500")) << r.error;
  EXPECT_TRUE(contains(r.error, "reload failed")) << r.error;
  EXPECT_EQ(stub.requests().size(), 1u);
}

TEST_F(ListmonkReloadTest, ForbiddenHintsAtTheApiUser) {
  HttpStub stub(HttpStub::Mode::reply_and_close, 403, "{\"message\":\"permission denied\"}");
  ListmonkConfig c = cfg(stub.url());
  c.api_user = "rampd";
  c.api_token_file = token_file("bad-token");
  auto r = listmonk::reload(c);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.http_status, 403);
  EXPECT_TRUE(contains(r.error, "settings:manage")) << r.error;
  EXPECT_FALSE(contains(r.error, "bad-token")) << r.error;
}

TEST_F(ListmonkReloadTest, UnreachablePortFailsWithinTheTimeout) {
  uint16_t port = sg::testing::free_loopback_port();
  auto t0 = Clock::now();
  auto r =
      listmonk::reload(cfg("http://127.0.0.1:" + std::to_string(port) + "/api/admin/reload", 1000));
  EXPECT_LT(ms_since(t0), 1000);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_TRUE(contains(r.error, "cannot connect to 127.0.0.1:" + std::to_string(port))) << r.error;
}

TEST_F(ListmonkReloadTest, SilentServerTimesOutWithinTheTimeout) {
  HttpStub stub(HttpStub::Mode::silent);
  auto t0 = Clock::now();
  auto r = listmonk::reload(cfg(stub.url(), 300));
  auto took = ms_since(t0);
  EXPECT_GE(took, 250);
  EXPECT_LT(took, 1500);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(contains(r.error, "timed out after 300 ms")) << r.error;
}

TEST_F(ListmonkReloadTest, ListenerThatNeverAcceptsTimesOut) {
  SilentListener silent;
  auto t0 = Clock::now();
  auto r = listmonk::reload(
      cfg("http://127.0.0.1:" + std::to_string(silent.port()) + "/api/admin/reload", 300));
  EXPECT_LT(ms_since(t0), 1500);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(contains(r.error, "timed out")) << r.error;
}

TEST_F(ListmonkReloadTest, ContentLengthEndsTheAnswerWithoutWaitingForClose) {
  HttpStub stub(HttpStub::Mode::reply_keep_open, 200, "{\"data\":true}");
  auto t0 = Clock::now();
  auto resp = http::post(stub.url(), {}, "", 5000);
  EXPECT_LT(ms_since(t0), 2000);
  EXPECT_TRUE(resp.ok) << resp.error;
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "{\"data\":true}");
}

TEST_F(ListmonkReloadTest, ChunkedAnswerIsDecoded) {
  HttpStub stub(HttpStub::Mode::reply_chunked, 200, "{\"data\":true}");
  auto t0 = Clock::now();
  auto resp = http::post(stub.url(), {{"X-Test", "1"}}, "{}", 5000);
  EXPECT_LT(ms_since(t0), 2000);
  EXPECT_TRUE(resp.ok) << resp.error;
  EXPECT_EQ(resp.body, "{\"data\":true}");
  auto reqs = stub.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, "{}");
  EXPECT_EQ(reqs[0].headers["x-test"], "1");
}

TEST_F(ListmonkReloadTest, HeaderWithALineBreakIsRefused) {
  HttpStub stub;
  auto resp = http::post(stub.url(), {{"X-Test", "a\r\nX-Evil: 1"}}, "", 1000);
  EXPECT_FALSE(resp.ok);
  EXPECT_TRUE(contains(resp.error, "bad HTTP header")) << resp.error;
  EXPECT_TRUE(stub.requests().empty());
}

TEST_F(ListmonkReloadTest, MissingTokenFileIsAnErrorNamingIt) {
  HttpStub stub;
  ListmonkConfig c = cfg(stub.url());
  c.api_user = "rampd";
  c.api_token_file = dir_ + "/no-such.token";
  auto r = listmonk::reload(c);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_TRUE(contains(r.error, dir_ + "/no-such.token")) << r.error;
  EXPECT_TRUE(contains(r.error, "No such file")) << r.error;
  EXPECT_TRUE(stub.requests().empty());  // nothing sent without the token
}

TEST_F(ListmonkReloadTest, EmptyTokenFileIsAnErrorNamingIt) {
  HttpStub stub;
  ListmonkConfig c = cfg(stub.url());
  c.api_user = "rampd";
  c.api_token_file = token_file(" \n\t\n");
  auto r = listmonk::reload(c);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(contains(r.error, c.api_token_file + "' is empty")) << r.error;
  EXPECT_TRUE(stub.requests().empty());
}

TEST_F(ListmonkReloadTest, EmptyReloadUrlSendsNothing) {
  auto r = listmonk::reload(cfg(""));
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.http_status, 0);
}

TEST_F(ListmonkReloadTest, HttpsUrlIsAnError) {
  auto r = listmonk::reload(cfg("https://127.0.0.1:9443/api/admin/reload"));
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(contains(r.error, "https is not supported")) << r.error;
}

// ------------------------------------------------------------------ the harness itself

TEST(PostgresServer, ListensOnlyOnLoopbackWithItsSocketInItsFolder) {
  PostgresServer pg;
  EXPECT_EQ(pg.query("postgres", "SHOW listen_addresses"), "127.0.0.1");
  EXPECT_EQ(pg.query("postgres", "SHOW unix_socket_directories"), pg.dir());
  EXPECT_EQ(pg.query("postgres", "SHOW port"), std::to_string(pg.port()));
  EXPECT_TRUE(std::filesystem::exists(pg.dir() + "/.s.PGSQL." + std::to_string(pg.port())));
  EXPECT_TRUE(std::filesystem::exists(pg.log_path()));
  // Run as `postgres` when the test is root (PostgreSQL refuses root).
  struct stat st {};
  ASSERT_EQ(::stat(("/proc/" + std::to_string(pg.pid())).c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, pg.server_uid());
  if (::geteuid() == 0) {
    EXPECT_NE(st.st_uid, 0u);
  }
}

TEST(PostgresServer, PasswordRequiredOverTcp) {
  PostgresServer pg;
  PGconn* c = PQconnectdb(("host=127.0.0.1 port=" + std::to_string(pg.port()) +
                           " dbname=postgres user=sg password=wrong connect_timeout=5")
                              .c_str());
  EXPECT_NE(PQstatus(c), CONNECTION_OK);
  EXPECT_TRUE(contains(PQerrorMessage(c), "password authentication failed")) << PQerrorMessage(c);
  PQfinish(c);
}

TEST(PostgresServer, StoppedAndRemovedAtTheEnd) {
  std::string dir;
  pid_t pid = -1;
  {
    PostgresServer pg;
    dir = pg.dir();
    pid = pg.pid();
    ASSERT_TRUE(std::filesystem::exists(dir));
    ASSERT_EQ(::kill(pid, 0), 0);
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_NE(::kill(pid, 0), 0);  // reaped: no such process
}

}  // namespace
}  // namespace sg
