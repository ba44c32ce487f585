// streamguardctl postfix-conf and the milter's stream tag: the stream
// transports remove [milter] header as mail leaves (smtp_header_checks), so a
// receiver never learns how the sender splits its mail, and main.cf's own
// smtp_header_checks keep applying to those transports.
#include <gtest/gtest.h>

#include <string>

#include "ctl/postfix_conf.hpp"
#include "tests/text_match.hpp"
#include "tests/unit/config_text.hpp"

namespace sg {
namespace {

using sg::testing::contains;

constexpr const char* kStreams = R"(
[[stream]]
name = "trucking"
ports = [2525]
postfix = { transport = "out05" }
[[stream]]
name = "healthcare"
ports = [2526]
postfix = { transport = "hcout1" }
)";

PostfixConf render(const std::string& extra, const CurrentPostfix& now = {}) {
  auto r = testing::parse_text(std::string(kStreams) + extra);
  EXPECT_TRUE(r.errors.empty()) << testing::all_errors(r);
  if (!r.config) return {};
  return render_postfix_conf(*r.config, {}, now);
}

const PostfixConf::Map* map_named(const PostfixConf& conf, const std::string& file) {
  for (const auto& m : conf.maps)
    if (m.file == file) return &m;
  return nullptr;
}

constexpr const char* kMilter = R"(
[milter]
listen = "unix:/var/spool/postfix/private/streamguard-milter"
header = "X-Mail-Lane"
[postfix]
backstop_dir = "/etc/postfix/streamguard"
)";

TEST(EgressHeaders, EveryStreamTransportRemovesTheConfiguredHeader) {
  const auto conf = render(kMilter);
  const auto* map = map_named(conf, kEgressHeadersFile);
  ASSERT_NE(map, nullptr);
  EXPECT_TRUE(contains(map->text, "\n/^X-Mail-Lane:/ IGNORE\n")) << map->text;
  EXPECT_TRUE(contains(conf.main_cf,
                       "\nstreamguard_smtp_header_checks = "
                       "regexp:/etc/postfix/streamguard/streamguard-egress-headers.regexp\n"))
      << conf.main_cf;
  for (const char* transport : {"out05 ", "hcout1 "}) {
    const auto at = conf.master_cf.find(std::string("\n") + transport);
    ASSERT_NE(at, std::string::npos) << conf.master_cf;
    const auto next = conf.master_cf.find("\n", conf.master_cf.find("smtp_header_checks", at));
    EXPECT_LT(conf.master_cf.find("  -o smtp_header_checks=$streamguard_smtp_header_checks", at),
              next)
        << transport << "\n"
        << conf.master_cf;
  }
  // Only the transports: the submission services' smtpd has no such check.
  std::size_t count = 0;
  for (auto at = conf.master_cf.find("smtp_header_checks="); at != std::string::npos;
       at = conf.master_cf.find("smtp_header_checks=", at + 1))
    ++count;
  EXPECT_EQ(count, 2u) << conf.master_cf;
}

TEST(EgressHeaders, MainCfsOwnHeaderChecksStillApplyAfterStreamguards) {
  CurrentPostfix now;
  now.smtp_header_checks = "pcre:/etc/postfix/strip_received.pcre";
  now.source = "postconf";
  const auto conf = render(kMilter, now);
  EXPECT_TRUE(contains(conf.main_cf,
                       "\nstreamguard_smtp_header_checks = "
                       "regexp:/etc/postfix/streamguard/streamguard-egress-headers.regexp, "
                       "pcre:/etc/postfix/strip_received.pcre\n"))
      << conf.main_cf;
  EXPECT_TRUE(contains(conf.main_cf, "as postconf showed them: pcre:/etc/postfix/strip_received"))
      << conf.main_cf;
}

// No milter, no tag: nothing to remove, and no map to install.
TEST(EgressHeaders, WithoutTheMilterNothingIsRendered) {
  const auto conf = render("");
  EXPECT_EQ(map_named(conf, kEgressHeadersFile), nullptr);
  EXPECT_FALSE(contains(conf.main_cf, "header_checks")) << conf.main_cf;
  EXPECT_FALSE(contains(conf.master_cf, "header_checks")) << conf.master_cf;
}

}  // namespace
}  // namespace sg
