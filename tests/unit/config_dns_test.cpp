// The [dns] section, the operator `list` key and [policyd] commit.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "common/config.hpp"
#include "tests/unit/config_text.hpp"

namespace sg {
namespace {

using testing::kConfigFile;

constexpr std::string_view kBase = R"(
[lists]
yahoo_family = "/etc/streamguard/lists/yahoo-family.txt"

[operators.yahoo]
domains = ["yahoo.com"]
mx_suffixes = [".yahoodns.net"]

[[stream]]
name = "s"
ports = [25]
)";

ConfigResult parse_with_dns(std::string_view extra) {
  return parse_config(std::string(extra) + std::string(kBase), kConfigFile);
}

std::string errors(const ConfigResult& r) {
  return testing::all_errors(r);
}

TEST(ConfigDns, Defaults) {
  auto r = parse_with_dns("");
  ASSERT_TRUE(r.config) << errors(r);
  const auto& d = r.config->dns;
  EXPECT_TRUE(d.enabled);
  EXPECT_TRUE(d.servers.empty());
  EXPECT_EQ(d.on_failure, Action::defer);
  EXPECT_EQ(d.timeout_ms, 1500u);
  EXPECT_EQ(r.config->policyd.commit, Commit::rcpt);
  EXPECT_EQ(r.config->policyd.reserve_ttl_s, 900u);
}

TEST(ConfigDns, EveryKey) {
  auto r = parse_with_dns(R"([dns]
enabled = true
servers = ["127.0.0.1:5353", "[::1]:53"]
timeout_ms = 300
tries = 3
on_failure = "unknown"
min_ttl_s = 10
max_ttl_s = 600
negative_ttl_s = 60
failure_ttl_s = 5
cache_entries = 1000

[policyd]
commit = "end_of_message"
reserve_ttl_s = 120
)");
  ASSERT_TRUE(r.config) << errors(r);
  const auto& d = r.config->dns;
  EXPECT_EQ(d.servers.size(), 2u);
  EXPECT_EQ(d.timeout_ms, 300u);
  EXPECT_EQ(d.tries, 3u);
  EXPECT_EQ(d.on_failure, Action::dunno);
  EXPECT_EQ(d.min_ttl_s, 10u);
  EXPECT_EQ(d.max_ttl_s, 600u);
  EXPECT_EQ(d.negative_ttl_s, 60u);
  EXPECT_EQ(d.failure_ttl_s, 5u);
  EXPECT_EQ(d.cache_entries, 1000u);
  EXPECT_EQ(r.config->policyd.commit, Commit::end_of_message);
  EXPECT_EQ(r.config->policyd.reserve_ttl_s, 120u);
}

TEST(ConfigDns, BadValuesNameTheLine) {
  auto r = parse_with_dns(R"([dns]
servers = ["dns.example.com"]
on_failure = "allow"
bogus = 1
)");
  ASSERT_FALSE(r.config);
  auto e = errors(r);
  EXPECT_NE(e.find(kConfigFile + ":2:"), std::string::npos) << e;
  EXPECT_NE(e.find("'dns.example.com' is not an IP address"), std::string::npos) << e;
  EXPECT_NE(
      e.find(kConfigFile + ":3:14: 'on_failure' is \"allow\", must be one of \"defer\", \"hold\", "
                           "\"unknown\""),
      std::string::npos)
      << e;
  EXPECT_NE(e.find(kConfigFile + ":4:9: unknown key 'bogus' in [dns]"), std::string::npos) << e;
}

TEST(ConfigDns, MinTtlAboveMax) {
  auto r = parse_with_dns("[dns]\nmin_ttl_s = 700\nmax_ttl_s = 600\n");
  ASSERT_FALSE(r.config);
  EXPECT_NE(errors(r).find("min_ttl_s is above max_ttl_s"), std::string::npos) << errors(r);
}

TEST(ConfigDns, CommitChoice) {
  auto r = parse_with_dns("[policyd]\ncommit = \"data\"\n");
  ASSERT_FALSE(r.config);
  EXPECT_NE(errors(r).find("'commit' is \"data\", must be one of \"rcpt\", \"end_of_message\""),
            std::string::npos)
      << errors(r);
}

TEST(ConfigOperatorList, NamesADefinedList) {
  auto ok = parse_config(
      std::string(kBase).replace(kBase.find("mx_suffixes"), 0, "list = \"yahoo_family\"\n"),
      kConfigFile);
  ASSERT_TRUE(ok.config) << errors(ok);
  EXPECT_EQ(ok.config->operators.at(0).list, "yahoo_family");

  auto bad = parse_config(
      std::string(kBase).replace(kBase.find("mx_suffixes"), 0, "list = \"yahoo\"\n"), kConfigFile);
  ASSERT_FALSE(bad.config);
  EXPECT_NE(errors(bad).find(kConfigFile + ":7:8: operator 'yahoo' counts as list 'yahoo', which "
                                           "[lists] does not define"),
            std::string::npos)
      << errors(bad);
}

}  // namespace
}  // namespace sg
