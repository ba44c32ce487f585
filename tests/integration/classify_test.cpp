// streamguardctl classify on the shipped example configuration
// (deploy/examples/streamguard.toml, its lists and operators), with a real
// DNS server on loopback for the MX lookups (tests/integration/dns_server.hpp:
// nothing asks the host's resolver).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/command.hpp"
#include "tests/integration/dns_server.hpp"

namespace sg::testing {
namespace {

namespace fs = std::filesystem;
const std::string kExample = SG_SOURCE_DIR "/deploy/examples/streamguard.toml";

std::string slurp_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::size_t lines_in(const fs::path& p) {
  const std::string s = slurp_file(p);
  return std::size_t(std::count(s.begin(), s.end(), '\n'));
}

class ClassifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("sg-classify-" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  command::Result classify(const std::string& csv_text, std::vector<std::string> extra) {
    std::ofstream(dir / "in.csv") << csv_text;
    std::vector<std::string> argv = {SG_CTL_BIN,
                                     "classify",
                                     "--config",
                                     kExample,
                                     (dir / "in.csv").string(),
                                     "--column",
                                     "email",
                                     "--out",
                                     (dir / "out").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return command::run(argv, 120'000);
  }
  fs::path dir;
};

TEST_F(ClassifyTest, EachStreamsAudienceIsSplitByItsListsAndMxAndNoRowIsLost) {
  DnsServer dns({"--mx-host=gclinic.example,aspmx.l.google.com,1",
                 "--mx-host=yclinic.example,mx-biz.mail.am0.yahoodns.net,1",
                 "--local=/plain.example/"});
  auto r = classify(
      "name,email,city\n"
      "Lee,frontdesk@gclinic.example,Austin\n"
      "Ortiz,owner@yclinic.example,\"Dallas, TX\"\n"
      "Kim,driver@gmail.com,Waco\n"
      "Ng,someone@yahoo.com,Plano\n"
      "Roe,office@plain.example,Tyler\n"
      "Dup,owner@YClinic.Example,Dallas\n"
      "Bad,not-an-address,Nowhere\n",
      {"--dns", dns.address()});
  ASSERT_TRUE(r.ok()) << r.error << r.out << r.err;
  EXPECT_NE(r.out.find("classified 7 rows"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 duplicate address(es) dropped, 1 row(s) without an address"),
            std::string::npos)
      << r.out;

  const fs::path out = dir / "out";
  // Every other column kept, in the input's order.
  EXPECT_EQ(slurp_file(out / "trucking/institutional.csv"),
            "name,email,city\nLee,frontdesk@gclinic.example,Austin\n"
            "Roe,office@plain.example,Tyler\n");
  EXPECT_EQ(slurp_file(out / "trucking/consumer.csv"),
            "name,email,city\nKim,driver@gmail.com,Waco\n");
  const std::string excluded = slurp_file(out / "trucking/excluded.csv");
  EXPECT_NE(excluded.find("Ortiz,owner@yclinic.example,\"Dallas, TX\",\"yclinic.example (its MX "
                          "mx-biz.mail.am0.yahoodns.net is yahoo's) is in the Yahoo/AOL/Verizon "
                          "mail family, which stream trucking excludes\""),
            std::string::npos)
      << excluded;
  EXPECT_NE(excluded.find("Ng,someone@yahoo.com,Plano,"), std::string::npos) << excluded;
  // healthcare excludes consumer webmail too.
  EXPECT_NE(slurp_file(out / "healthcare/excluded.csv")
                .find("Kim,driver@gmail.com,Waco,\"gmail.com is consumer webmail, which stream "
                      "healthcare excludes\""),
            std::string::npos);
  EXPECT_EQ(lines_in(out / "healthcare/consumer.csv"), 1u);  // the header alone
  EXPECT_EQ(slurp_file(out / "rejects.csv"),
            "line,reason,name,email,city\n8,'not-an-address' is not a mail address,Bad,"
            "not-an-address,Nowhere\n");
  // Both streams asked about yclinic.example: one lookup, then the cache.
  EXPECT_EQ(dns.queries("MX", "yclinic.example"), 1);
}

TEST_F(ClassifyTest, AHundredThousandRowsAreEachWrittenOnceOrCountedAsDuplicateOrRejected) {
  std::string csv = "id,email\n";
  const char* domains[] = {"clinic-a.example", "gmail.com", "yahoo.com",
                           "fleet-b.example",  "aol.com",   "hotmail.com"};
  for (int i = 0; i < 100'000; ++i)
    csv += std::to_string(i) + ",user" + std::to_string(i % 97'000) + "@" + domains[i % 6] + "\n";
  csv += "100000,\n";
  auto r = classify(csv, {"--no-mx"});
  ASSERT_TRUE(r.ok()) << r.error << r.out << r.err;
  EXPECT_NE(r.out.find("classified 100001 rows"), std::string::npos) << r.out;
  // user0..user2999 come back at i + 97000 with the same domain only when
  // 97000 is a multiple of 6, which it is not: every address is distinct.
  EXPECT_NE(r.out.find("0 duplicate address(es) dropped, 1 row(s) without an address"),
            std::string::npos)
      << r.out;
  for (const char* stream : {"trucking", "healthcare"}) {
    std::size_t rows = 0;
    for (const char* c : {"institutional", "consumer", "direct", "excluded"})
      rows += lines_in(dir / "out" / stream / (std::string(c) + ".csv")) - 1;
    EXPECT_EQ(rows, 100'000u) << stream;
  }
  // yahoo.com (i % 6 == 2) and aol.com (i % 6 == 4), excluded by both streams.
  std::size_t yahoo_family = 0;
  for (int i = 0; i < 100'000; ++i) yahoo_family += (i % 6 == 2 || i % 6 == 4);
  EXPECT_EQ(lines_in(dir / "out/trucking/excluded.csv") - 1, yahoo_family);
}

}  // namespace
}  // namespace sg::testing
