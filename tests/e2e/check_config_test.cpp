// --check-config of every daemon, on the files a configuration names: what
// would fail at run time fails the check, naming the file, and the three
// programs give the same verdict on the same configuration. (No Postfix is
// started: the binaries are run as an operator runs them.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/e2e/process.hpp"
#include "tests/text_match.hpp"

namespace sg::e2e {
namespace {

using namespace std::chrono_literals;

using sg::testing::contains;

struct Dir {
  std::string path;
  Dir() {
    char tmpl[] = "/tmp/sg-check-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~Dir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path + "/" + name) << text;
    return path + "/" + name;
  }
};

// Every file a daemon needs at run time, named by the config: lists, the
// two warmup stamps, a Listmonk token file, the maillog, OpenDKIM's conf.
std::string config_text(const Dir& d) {
  const std::string lists = std::string(SG_SOURCE_DIR) + "/deploy/lists/";
  return "[lists]\n"
         "yahoo_family = \"" +
         lists +
         "yahoo-family.txt\"\n"
         "consumer = \"" +
         d.path +
         "/consumer.txt\"\n"
         "[milter]\n"
         "opendkim_conf = \"" +
         d.path +
         "/opendkim.conf\"\n"
         "[rampd]\n"
         "maillog = \"" +
         d.path +
         "/maillog\"\n"
         "[[stream]]\n"
         "name = \"trucking\"\n"
         "ports = [2525]\n"
         "exclude = [\"yahoo_family\"]\n"
         "ramp = { stamp = \"" +
         d.path +
         "/pw-warmup-start\", hourly = [[0, 50], [7, 300]] }\n"
         "[[stream]]\n"
         "name = \"healthcare\"\n"
         "ports = [2526]\n"
         "exclude = [\"yahoo_family\", \"consumer\"]\n"
         "ramp = { stamp = \"" +
         d.path +
         "/hc-warmup-start\", hourly = [[0, 100], [10, 1000]] }\n"
         "listmonk = { dsn = \"postgresql:///listmonk_hc\", api_user = \"rampd\", "
         "api_token_file = \"" +
         d.path + "/listmonk-hc.token\" }\n";
}

void write_good_files(const Dir& d) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  d.write("consumer.txt", "gmail.com\n");
  d.write("pw-warmup-start", std::to_string(now - 3 * 86400) + "\n");
  d.write("hc-warmup-start", std::to_string(now - 3 * 86400) + "\n");
  d.write("listmonk-hc.token", "s3cret\n");
  d.write("maillog", "");
  d.write("keytable",
          "send._domainkey.send.example.com send.example.com:send:" + d.path + "/send.private\n");
  d.write("signingtable", "*@send.example.com send._domainkey.send.example.com\n");
  d.write("opendkim.conf", "Mode sv\nKeyTable file:" + d.path +
                               "/keytable\nSigningTable refile:" + d.path + "/signingtable\n");
}

const std::vector<std::pair<std::string, std::string>> kPrograms = {
    {"streamguard-policyd", SG_POLICYD_BIN},
    {"streamguard-milter", SG_MILTER_BIN},
    {"streamguard-rampd", SG_RAMPD_BIN}};

TEST(CheckConfig, EveryDaemonPassesWhenTheFilesAreThere) {
  Dir d;
  write_good_files(d);
  const std::string cfg = d.write("streamguard.toml", config_text(d));
  for (const auto& [name, bin] : kPrograms) {
    auto r = run_command({bin, "--config", cfg, "--check-config"}, 30s);
    EXPECT_EQ(r.exit_code, 0) << name << ":\n" << r.output;
    EXPECT_TRUE(contains(r.output, "configuration is valid")) << name << ":\n" << r.output;
  }
}

TEST(CheckConfig, EveryDaemonFailsNamingEachFileThatWouldFailAtRunTime) {
  Dir d;
  write_good_files(d);
  std::filesystem::remove(d.path + "/consumer.txt");                   // a list
  d.write("pw-warmup-start", "1795386117000\n");                       // milliseconds
  d.write("hc-warmup-start", std::to_string(4'000'000'000LL) + "\n");  // 2096: the future
  std::filesystem::remove(d.path + "/listmonk-hc.token");
  std::filesystem::remove(d.path + "/maillog");
  const std::string cfg = d.write("streamguard.toml", config_text(d));
  for (const auto& [name, bin] : kPrograms) {
    auto r = run_command({bin, "--config", cfg, "--check-config"}, 30s);
    EXPECT_EQ(r.exit_code, 1) << name << ":\n" << r.output;
    for (const std::string file : {"/consumer.txt", "/pw-warmup-start", "/hc-warmup-start",
                                   "/listmonk-hc.token", "/maillog"})
      EXPECT_TRUE(contains(r.output, d.path + file)) << name << " does not name " << file << ":\n"
                                                     << r.output;
    EXPECT_TRUE(contains(r.output, "is in the future (2096-")) << name << ":\n" << r.output;
    EXPECT_TRUE(contains(r.output, "hc-warmup-start")) << r.output;
    EXPECT_FALSE(contains(r.output, "configuration is valid")) << name << ":\n" << r.output;
  }
}

TEST(CheckConfig, TheMilterCallsAnEmptyOpenDkimConfAnErrorAndSaysWhatToName) {
  Dir d;
  write_good_files(d);
  std::string text = config_text(d);
  const std::string named = "opendkim_conf = \"" + d.path + "/opendkim.conf\"";
  text.replace(text.find(named), named.size(), "opendkim_conf = \"\"");
  const std::string cfg = d.write("streamguard.toml", text);
  auto r = run_command({SG_MILTER_BIN, "--config", cfg, "--check-config"}, 30s);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, cfg + ": [milter] opendkim_conf is empty: ")) << r.output;
  EXPECT_TRUE(contains(r.output, "1 error in " + cfg)) << r.output;
}

}  // namespace
}  // namespace sg::e2e
