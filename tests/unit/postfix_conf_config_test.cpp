// The [postfix] config keys (their defaults and their errors, at the value),
// and the committed postfix-conf/ files being streamguardctl postfix-conf's
// rendering of the example config.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config.hpp"
#include "ctl/postfix_conf.hpp"
#include "rules/classifier.hpp"
#include "tests/unit/postfix_conf_test_support.hpp"

#ifndef SG_SOURCE_DIR
#error "SG_SOURCE_DIR must name the repository root"
#endif

namespace sg {
namespace {

constexpr const char* kExample = SG_SOURCE_DIR "/deploy/examples/streamguard.toml";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void expect_one_error(std::string_view text, uint32_t line, uint32_t column,
                      const std::string& message) {
  auto r = parse_config_text(text);
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].message, message);
  EXPECT_EQ(r.errors[0].line, line) << r.errors[0].to_string();
  EXPECT_EQ(r.errors[0].column, column) << r.errors[0].to_string();
}

std::map<std::string, DomainList> load_backstop(const Config& cfg) {
  std::map<std::string, DomainList> lists;
  std::vector<ListError> errors;
  for (const auto& name : backstop_lists(cfg))
    lists.emplace(name, DomainList::load(cfg.lists.at(name), errors));
  EXPECT_TRUE(errors.empty()) << errors.front().file << ":" << errors.front().line << ": "
                              << errors.front().message;
  return lists;
}

// ---------------------------------------------------------------- the config keys

TEST(PostfixConfig, DefaultsWhenNothingIsWritten) {
  auto cfg = parse_ok(R"(
[[stream]]
name = "trucking"
ports = [25]
)");
  ASSERT_TRUE(cfg);
  EXPECT_EQ(cfg->postfix.policy_service, "unix:private/streamguard");
  EXPECT_EQ(cfg->postfix.policy_timeout, "10s");
  EXPECT_EQ(cfg->postfix.default_action, "DEFER_IF_PERMIT");
  EXPECT_EQ(cfg->postfix.backstop_dir, "/etc/postfix");
  EXPECT_EQ(cfg->postfix.listen_address, "");
  EXPECT_TRUE(cfg->postfix.chroot);
  const auto& s = cfg->streams.at(0).postfix;
  EXPECT_EQ(s.transport, "sg-trucking");
  EXPECT_EQ(s.syslog_name, "postfix/trucking");
  EXPECT_EQ(s.helo_name, "");
  EXPECT_EQ(s.bind_address, "");
}

TEST(PostfixConfig, ErrorsPointAtTheValue) {
  expect_one_error(R"(
[[stream]]
name = "a"
ports = [25]
postfix = { transport = "smtp" }
)",
                   4, 25,
                   "'transport' \"smtp\" is a service of Postfix's own master.cf; pick a name of "
                   "its own (e.g. \"out05\")");
  expect_one_error(R"(
[[stream]]
name = "a"
ports = [25]
postfix = { transport = "out 05" }
)",
                   4, 25,
                   "'transport' \"out 05\" must be 1-32 of A-Z a-z 0-9 _ - . starting with a "
                   "letter (a master.cf service name)");
  expect_one_error(R"(
[[stream]]
name = "a"
ports = [25]
postfix = { bind_address = "192.0.2.300" }
)",
                   4, 28,
                   "'bind_address' is \"192.0.2.300\", must be an IP address of this host (e.g. "
                   "192.0.2.94)");
  expect_one_error(R"(
[[stream]]
name = "a"
ports = [25]
postfix = { helo_name = "mta_05.example.com" }
)",
                   4, 25,
                   "'helo_name' is \"mta_05.example.com\", must be a host name (e.g. "
                   "mta05.example.com)");
  expect_one_error(R"(
[[stream]]
name = "a"
ports = [25]
postfix = { transport = "out05", helo = "x" }
)",
                   4, 41,
                   "unknown key 'helo' in a stream's postfix (known: transport, syslog_name, "
                   "helo_name, bind_address)");
  expect_one_error(R"(
[postfix]
policy_timeout = "10 s"
[[stream]]
name = "a"
ports = [25]
)",
                   2, 18,
                   "'policy_timeout' is \"10 s\", must be a Postfix time: a number with an "
                   "optional unit s, m, h, d or w (e.g. \"10s\")");
  expect_one_error(R"(
[postfix]
default_action = "defer_if_permit"
[[stream]]
name = "a"
ports = [25]
)",
                   2, 18,
                   "'default_action' is \"defer_if_permit\", must be one of \"DEFER_IF_PERMIT\", "
                   "\"DEFER\", \"HOLD\", \"REJECT\", \"DUNNO\"");
  expect_one_error(R"(
[postfix]
backstop_dir = "etc/postfix"
[[stream]]
name = "a"
ports = [25]
)",
                   2, 16,
                   "'backstop_dir' is \"etc/postfix\", must be an absolute path of A-Z a-z 0-9 / "
                   ". _ - +");
  expect_one_error(R"(
[postfix]
policy_service = "private/streamguard"
[[stream]]
name = "a"
ports = [25]
)",
                   2, 18,
                   "'policy_service' is \"private/streamguard\", must be unix:PATH (relative to "
                   "Postfix's queue_directory, e.g. unix:private/streamguard) or inet:HOST:PORT");
}

TEST(PostfixConfig, TwoStreamsCannotShareATransport) {
  expect_one_error(R"(
[[stream]]
name = "a"
ports = [25]
postfix = { transport = "out05" }
[[stream]]
name = "b"
ports = [2526]
postfix = { transport = "out05" }
)",
                   8, 25, "transport 'out05' belongs to both stream 'a' and stream 'b'");
}

// ---------------------------------------------------------------- the committed rendering

TEST(PostfixConfCommitted, PostfixConfFolderIsTheRenderingOfTheExampleConfig) {
  auto loaded = load_config(kExample);
  ASSERT_TRUE(loaded.config) << all_errors(loaded);
  const auto conf = render_postfix_conf(*loaded.config, load_backstop(*loaded.config));
  EXPECT_TRUE(conf.warnings.empty()) << conf.warnings.front();
  std::vector<std::pair<std::string, std::string>> files = {{"main.cf.fragment", conf.main_cf},
                                                            {"master.cf.fragment", conf.master_cf}};
  for (const auto& m : conf.maps) files.emplace_back(m.file, m.text);
  for (const auto& [name, text] : files) {
    const std::string path = SG_SOURCE_DIR "/postfix-conf/" + name;
    EXPECT_EQ(slurp(path), text)
        << path << " is not the rendering of deploy/examples/streamguard.toml and its lists. "
        << "Regenerate it (from the repository root, after building):\n"
        << "    streamguardctl postfix-conf --config deploy/examples/streamguard.toml "
           "--without-postfix --out postfix-conf\n";
  }
  // The example reproduces the two-stream setup of the brief.
  EXPECT_TRUE(conf.errors.empty()) << conf.errors.front();
  EXPECT_TRUE(contains(conf.master_cf,
                       "172.18.0.1:smtp inet  n       -       y       -       -       "
                       "smtpd\n  -o syslog_name=postfix/trucking\n  -o "
                       "content_filter=out05:\n"));
  EXPECT_TRUE(contains(conf.master_cf,
                       "172.18.0.1:2526 inet  n       -       y       -       -       "
                       "smtpd\n  -o syslog_name=postfix/healthcare\n  -o "
                       "content_filter=hcout1:\n"));
}

}  // namespace
}  // namespace sg
