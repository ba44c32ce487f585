// The PostgreSQL harness of the integration tests
// (tests/integration/postgres_server.hpp): it listens only on loopback with
// its socket in its own folder, wants a password over TCP, and is stopped and
// removed at the end.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "tests/integration/postgres_server.hpp"
#include "tests/text_match.hpp"

namespace sg {
namespace {

using sg::testing::contains;
using sg::testing::PostgresServer;

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
