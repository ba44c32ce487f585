// The PostgreSQL role rampd logs in as, made exactly as docs/install.md
// (step 2) tells the operator, on a real PostgreSQL: the SQL is read from
// the guide, so the guide and the test cannot drift apart. With it rampd
// syncs Listmonk's sliding window and blocklists a suppressed subscriber,
// and it can read nothing else of Listmonk's (the subscribers' names and
// attributes stay out of reach).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "rampd/listmonk_blocklist.hpp"
#include "rampd/listmonk_sync.hpp"
#include "tests/integration/listmonk_schema.hpp"
#include "tests/integration/postgres_server.hpp"

namespace sg::testing {
namespace {

// The statements of the guide's ```sql block, each with the comment after
// it ("-- in the listmonk database" says where it runs).
struct Statement {
  std::string sql, comment;
};

std::vector<Statement> guide_sql() {
  std::ifstream in(std::string(SG_SOURCE_DIR) + "/docs/install.md");
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  const auto open = doc.find("```sql\n");
  const auto close = doc.find("```", open + 7);
  std::vector<Statement> out;
  if (open == std::string::npos || close == std::string::npos) return out;
  std::istringstream block(doc.substr(open + 7, close - open - 7));
  for (std::string line; std::getline(block, line);) {
    while (!line.empty() && line[0] == ' ') line.erase(0, 1);
    if (line.empty()) continue;
    const auto dash = line.find("--");
    out.push_back(
        {line.substr(0, line.find(';') + 1), dash == std::string::npos ? "" : line.substr(dash)});
  }
  return out;
}

std::string replaced(std::string s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

TEST(ListmonkRole, TheGuidesRoleSyncsTheWindowAndReadsNothingElse) {
  const auto sql = guide_sql();
  ASSERT_EQ(sql.size(), 5u) << "docs/install.md's role SQL changed: check this test still runs it";
  PostgresServer pg;
  // Listmonk's database, owned by Listmonk's own role (here the superuser).
  pg.exec("postgres", "CREATE DATABASE listmonk");
  pg.exec("listmonk",
          "CREATE TABLE settings (key TEXT NOT NULL UNIQUE, value JSONB NOT NULL DEFAULT '{}',"
          " updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW());"
          "INSERT INTO settings (key, value) VALUES ('app.message_sliding_window', 'false'),"
          " ('app.message_sliding_window_duration', '\"1h\"'),"
          " ('app.message_sliding_window_rate', '10000'), ('app.message_rate', '10');");
  pg.exec("listmonk", std::string(kListmonkSubscribersSql) +
                          "INSERT INTO subscribers (email, name) VALUES "
                          "('someone@clinic.example', 'Some One'), ('dead@clinic.example', 'D');"
                          "INSERT INTO subscriber_lists (subscriber_id, list_id) VALUES (2, 1);");
  const std::string password = "role-pw-from-the-guide";
  for (const auto& s : sql) {
    const bool in_listmonk = s.comment.find("listmonk database") != std::string::npos;
    ASSERT_NO_THROW(pg.exec(in_listmonk ? "listmonk" : "postgres", replaced(s.sql, "…", password)))
        << s.sql;
  }

  ListmonkConfig c;
  c.dsn = pg.tcp_dsn("listmonk", "streamguard", password);
  c.timeout_ms = 5000;
  auto r = listmonk::sync_settings(c, {120, "1h"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(pg.query("listmonk",
                     "SELECT value::text FROM settings WHERE key = "
                     "'app.message_sliding_window_rate'"),
            "120");

  auto b = listmonk::blocklist(c, {"dead@clinic.example"}, {});
  ASSERT_TRUE(b.ok) << b.error;
  EXPECT_EQ(b.changed, 1);
  EXPECT_EQ(pg.query("listmonk", "SELECT status FROM subscribers WHERE id = 2"), "blocklisted");
  EXPECT_EQ(pg.query("listmonk", "SELECT status FROM subscriber_lists WHERE subscriber_id = 2"),
            "unsubscribed");

  // Nothing else: the role cannot read the subscribers' names or attributes.
  PGconn* conn = PQconnectdb(c.dsn.c_str());
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  PGresult* res = PQexec(conn, "SELECT name FROM subscribers");
  EXPECT_EQ(PQresultStatus(res), PGRES_FATAL_ERROR);
  EXPECT_NE(std::string(PQresultErrorMessage(res)).find("permission denied"), std::string::npos)
      << PQresultErrorMessage(res);
  PQclear(res);
  PQfinish(conn);
}

}  // namespace
}  // namespace sg::testing
