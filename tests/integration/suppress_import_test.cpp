// `streamguardctl suppress import|export` on a real Redis, the binary as an
// operator runs it: a Listmonk subscriber export (quoted cells with commas
// and line breaks, live and blocklisted subscribers, a row that is not an
// address) comes in once, a second time adds nothing, what it added is
// refused by policyd on every stream, and the export reads back in; the
// domains alone come out as a domain list file streamguard loads.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/command.hpp"
#include "rules/classifier.hpp"
#include "tests/integration/policy_client.hpp"
#include "tests/integration/policyd_harness.hpp"
#include "tests/integration/rampd_harness.hpp"
#include "tests/integration/redis_server.hpp"

namespace sg::testing {
namespace {

namespace fs = std::filesystem;

const char* const kImportStreams = R"(
[[stream]]
name = "trucking"
ports = [25]
daily_cap = 1000

[[stream]]
name = "healthcare"
ports = [2526]
daily_cap = 1000
)";

// Listmonk's subscriber export: uuid, email, name, attributes (JSON), status.
const char* const kListmonkExport =
    "uuid,email,name,attributes,status,created_at,updated_at\n"
    "1f0c,Dead.One@Clinic.example,\"Dr. One, MD\",\"{\"\"title\"\": \"\"DDS\"\",\n"
    "\"\"note\"\": \"\"two lines\"\"}\",blocklisted,2026-01-02,2026-06-17\n"
    "2a1d,alive@clinic.example,Alive,{},enabled,2026-01-02,2026-01-02\n"
    "3b2e,dead.two@dispatch.example,Two,{},blocklisted,2026-01-02,2026-06-17\n"
    "4c3f,not an address,Three,{},blocklisted,2026-01-02,2026-06-17\n";

class SuppressImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    policyd = std::make_unique<PolicydHarness>(config_with_streams(kImportStreams), redis.url());
    ASSERT_TRUE(policyd->wait_redis_ready());
    dir = fs::path(policyd->config_path()).parent_path();
  }
  command::Result ctl(std::vector<std::string> args) const {
    std::vector<std::string> argv{SG_CTL_BIN, "suppress"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--config", policyd->config_path(), "--redis", redis.url()});
    return command::run(argv, 60'000);
  }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = dir / name;
    std::ofstream(path) << text;
    return path;
  }

  RedisServer redis;
  std::unique_ptr<PolicydHarness> policyd;
  fs::path dir;
};

TEST_F(SuppressImportTest, AListmonkExportImportsOnceAndIsRefusedByEveryStream) {
  const std::string csv = write("blocklist.csv", kListmonkExport);
  auto first = ctl({"import", csv});
  EXPECT_EQ(first.exit_code, 1) << "a rejected row: " << first.out << first.err;
  EXPECT_NE(first.err.find("blocklist.csv:6: rejected: 'not an address' is neither an address "
                           "nor a domain"),
            std::string::npos)
      << first.err;
  EXPECT_NE(first.out.find("a header: email (column 2), status (column 5)"), std::string::npos)
      << first.out;
  EXPECT_NE(first.out.find("4 rows: 2 added, 0 already suppressed (kept as they were), 1 "
                           "skipped, 1 rejected"),
            std::string::npos)
      << first.out;
  EXPECT_NE(first.out.find("skipped 1: status 'enabled', not blocklisted"), std::string::npos)
      << first.out;

  const std::string field = "a:dead.one@clinic.example";
  const std::string record = redis.cmd({"HGET", "sg:suppress", field});
  EXPECT_NE(record.find(" import - - blocklisted in Listmonk"), std::string::npos) << record;
  EXPECT_EQ(redis.cmd({"HGET", "sg:{trucking}:suppress", field}), record);
  EXPECT_EQ(redis.cmd({"HGET", "sg:{healthcare}:suppress", field}), record);
  EXPECT_EQ(redis.cmd({"HEXISTS", "sg:suppress", "a:alive@clinic.example"}), "0");
  EXPECT_EQ(redis.cmd({"ZCARD", "sg:suppress:expiry"}), "2");

  auto second = ctl({"import", csv});
  EXPECT_NE(second.out.find("4 rows: 0 added, 2 already suppressed"), std::string::npos)
      << second.out;
  EXPECT_EQ(redis.cmd({"HGET", "sg:suppress", field}), record) << "kept as it was";

  PolicyClient c(policyd->socket());
  for (uint16_t port : {25, 2526}) {
    const std::string reply = c.rcpt("dead.one@clinic.example", port);
    EXPECT_TRUE(
        reply.starts_with("REJECT 5.1.1 streamguard: <dead.one@clinic.example> is suppressed: "))
        << reply;
    EXPECT_NE(reply.find(": imported on "), std::string::npos) << reply;
    EXPECT_NE(reply.find(": blocklisted in Listmonk; no stream mails it until "), std::string::npos)
        << reply;
  }
  EXPECT_EQ(c.rcpt("alive@clinic.example", 25), "DUNNO");
}

TEST_F(SuppressImportTest, AnExportImportsBackAndItsDomainsLoadAsAList) {
  const std::string plain = write("plain.csv",
                                  "bad@dispatch.example,mailbox closed\n"
                                  "old-practice.example,practice closed,2099-06-17\n"
                                  "gone@dispatch.example,,2001-01-01\n"
                                  "not_a_domain\n");
  auto imported = ctl({"import", plain, "--days", "10"});
  EXPECT_EQ(imported.exit_code, 1) << imported.out << imported.err;
  EXPECT_NE(imported.out.find("a plain list"), std::string::npos) << imported.out;
  EXPECT_NE(imported.out.find("4 rows: 2 added"), std::string::npos) << imported.out;
  EXPECT_NE(imported.out.find("skipped 1: already ended"), std::string::npos) << imported.out;
  EXPECT_EQ(redis.cmd({"ZCARD", "sg:suppress:domains"}), "1");
  const std::string domain = redis.cmd({"HGET", "sg:suppress", "d:old-practice.example"});
  EXPECT_TRUE(domain.starts_with("4085337600000 ")) << "until 2099-06-17: " << domain;

  auto exported = ctl({"export", "--out", (dir / "out.csv").string()});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(exported.err.find("2 entries exported"), std::string::npos) << exported.err;
  std::ifstream in(dir / "out.csv");
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header, "kind,target,until,learned,rule,stream,dsn,reason");
  auto back = ctl({"import", (dir / "out.csv").string()});
  EXPECT_EQ(back.exit_code, 0) << back.out << back.err;
  EXPECT_NE(back.out.find("2 rows: 0 added, 2 already suppressed"), std::string::npos) << back.out;

  auto domains = ctl({"export", "--domains", "--out", (dir / "dead.txt").string()});
  ASSERT_EQ(domains.exit_code, 0) << domains.err;
  std::vector<ListError> errors;
  const DomainList list = DomainList::load((dir / "dead.txt").string(), errors);
  EXPECT_TRUE(errors.empty()) << errors[0].to_string();
  EXPECT_TRUE(list.matches("old-practice.example"));
  EXPECT_EQ(list.size(), 1u);
}

// A domain entry written before the domains' index existed is indexed by
// rampd's first round: counted as a domain, exported with --domains.
TEST_F(SuppressImportTest, RampdIndexesDomainEntriesWrittenBeforeTheIndex) {
  redis.cmd({"HSET", "sg:suppress", "d:legacy.example",
             "4085337600000 1795428000000 manual - - practice closed"});
  RampdHarness rampd(config_with_streams(kImportStreams), redis.url());
  rampd.log_round(1'795'428'000'000);
  EXPECT_EQ(redis.cmd({"ZSCORE", "sg:suppress:domains", "d:legacy.example"}), "4085337600000");
  EXPECT_NE(rampd.app().metrics_text().find("streamguard_suppressed_entries{kind=\"domain\"} 1"),
            std::string::npos)
      << rampd.app().metrics_text();
  auto domains = ctl({"export", "--domains"});
  EXPECT_NE(domains.out.find("legacy.example  # manual, until 2099-06-17"), std::string::npos)
      << domains.out;
}

}  // namespace
}  // namespace sg::testing
