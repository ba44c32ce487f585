// streamguardctl postfix-conf and OpenDKIM's MTA list: the stream services
// call themselves by the stream's name (milter_macro_daemon_name), so an MTA
// list that does not name a stream no longer makes OpenDKIM sign its mail.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "ctl/postfix_conf.hpp"
#include "tests/text_match.hpp"
#include "tests/unit/config_text.hpp"

namespace sg {
namespace {

using sg::testing::contains;

class OpenDkimMta : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sg_dkim_mta_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The warnings of postfix-conf for two streams and this opendkim.conf.
  std::vector<std::string> warnings(const std::string& opendkim_conf) {
    std::ofstream(dir_ + "/opendkim.conf") << opendkim_conf;
    auto r = testing::parse_text(R"(
[[stream]]
name = "trucking"
ports = [2525]
[[stream]]
name = "healthcare"
ports = [2526]
[milter]
listen = "unix:/var/spool/postfix/private/streamguard-milter"
opendkim_conf = ")" + dir_ + R"(/opendkim.conf"
)");
    EXPECT_TRUE(r.errors.empty()) << testing::all_errors(r);
    if (!r.config) return {};
    return render_postfix_conf(*r.config, {}).warnings;
  }

  std::string dir_;
};

TEST_F(OpenDkimMta, AStreamMissingFromTheMtaListIsNamed) {
  const auto w = warnings("Domain example.com\nSelector s\nKeyFile /k\nMTA trucking\n");
  ASSERT_EQ(w.size(), 1u) << (w.empty() ? "" : w[0]);
  EXPECT_TRUE(contains(w[0], "OpenDKIM's MTA list (trucking in " + dir_ +
                                 "/opendkim.conf) does not name healthcare"))
      << w[0];
  EXPECT_TRUE(contains(w[0], "Add healthcare to MTA")) << w[0];
}

TEST_F(OpenDkimMta, NoMtaListNoWarning) {
  EXPECT_TRUE(warnings("Domain example.com\nSelector s\nKeyFile /k\n").empty());
  EXPECT_TRUE(
      warnings("Domain example.com\nSelector s\nKeyFile /k\nMTA trucking,healthcare\n").empty());
}

}  // namespace
}  // namespace sg
