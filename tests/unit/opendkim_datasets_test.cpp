// The OpenDKIM config reader on data sets (their forms, unsupported types,
// unreadable files), host lists (negation, CIDR, host names, errors at their
// line) and the conf text parser.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "formats/opendkim.hpp"
#include "tests/unit/opendkim_test_support.hpp"

namespace {

namespace dkim = sg::dkim;

// ---- data set forms --------------------------------------------------------

TEST_F(OpenDkimTest, DatasetForms) {
  write("hosts", "# comment\n\n172.16.0.0/12   # Docker\n");
  write("hosts.re", "172.18.*\n");
  const std::vector<std::string> forms = {
      path("hosts"), "file:" + path("hosts"), "refile:" + path("hosts.re"),
      "csl:127.0.0.1,172.16.0.0/12", "127.0.0.1, 172.16.0.0/12"};
  for (const auto& form : forms) {
    const auto cfg = ok(dkim::load_opendkim(bulk_conf("InternalHosts " + form + "\n")));
    ASSERT_TRUE(cfg) << form;
    EXPECT_EQ(cfg->internal_hosts.spec, form);
    EXPECT_TRUE(dkim::predict_signing(*cfg, client("172.18.0.25"), "a@send.example.com").will_sign)
        << form;
    EXPECT_FALSE(dkim::predict_signing(*cfg, client("10.0.0.1"), "a@send.example.com").will_sign)
        << form;
  }
}

TEST_F(OpenDkimTest, UnsupportedDatasetTypesNameTheLine) {
  for (const std::string spec :
       {"db:/etc/opendkim/hosts.db", "dsn:mysql://u@h/db/table=t",
        "ldap://ldap.example.com/dc=example", "lua:/etc/x.lua", "/etc/opendkim/hosts.db"}) {
    const auto r = dkim::load_opendkim(bulk_conf("InternalHosts " + spec + "\n"));
    EXPECT_EQ(r.config, nullptr) << spec;
    const auto text = all_errors(r);
    EXPECT_NE(text.find(path("opendkim.conf") + ":4: InternalHosts: data set type"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("not supported by streamguard: only file, refile and csl"),
              std::string::npos)
        << text;
  }
}

TEST_F(OpenDkimTest, UnreadableFilesAreErrors) {
  const auto r = dkim::load_opendkim(bulk_conf("InternalHosts " + path("nope") + "\n"));
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].str(), path("opendkim.conf") + ":4: InternalHosts: cannot read " +
                                   path("nope") + ": No such file or directory");
  EXPECT_EQ(r.files.back(), path("nope"));  // recorded, so a reload can pick it up

  const auto missing = dkim::load_opendkim(path("absent.conf"));
  EXPECT_EQ(missing.config, nullptr);
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_EQ(missing.errors[0].line, 0);
  EXPECT_NE(missing.errors[0].str().find("absent.conf: cannot read"), std::string::npos);
}

// ---- host lists ------------------------------------------------------------

dkim::Dataset hosts(const std::string& text) {
  std::vector<dkim::Error> errors;
  auto ds = dkim::parse_host_list(text, dkim::DatasetKind::kFile, "hosts", errors);
  for (const auto& e : errors) ADD_FAILURE() << e.str();
  return ds;
}

TEST(OpenDkimHostList, NegationMostSpecificEntryWins) {
  const auto list = hosts("172.16.0.0/12\n!172.18.0.99\n");
  EXPECT_TRUE(dkim::match_host(list, "172.18.0.25", "").matched);
  const auto m = dkim::match_host(list, "172.18.0.99", "");
  EXPECT_FALSE(m.matched);
  ASSERT_NE(m.entry, nullptr);
  EXPECT_EQ(m.entry->key, "!172.18.0.99");

  // A more precise plain entry beats a wider negation, in either order.
  for (const auto* text : {"!192.168.1.0/24\n192.168.1.1\n", "192.168.1.1\n!192.168.1.0/24\n"}) {
    const auto l = hosts(text);
    EXPECT_TRUE(dkim::match_host(l, "192.168.1.1", "").matched) << text;
    EXPECT_FALSE(dkim::match_host(l, "192.168.1.2", "").matched) << text;
  }
  // At the same level the negation wins.
  const auto same = hosts("10.0.0.0/8\n!10.0.0.0/8\n");
  EXPECT_FALSE(dkim::match_host(same, "10.1.2.3", "").matched);
}

TEST(OpenDkimHostList, CidrV4AndV6) {
  const auto list = hosts("10.0.0.0/8\n2001:db8::/32\n::1\n[192.0.2.7]\n0.0.0.0/0\n");
  EXPECT_TRUE(dkim::match_host(list, "10.255.0.1", "").matched);
  EXPECT_TRUE(dkim::match_host(list, "2001:db8:1::5", "").matched);
  EXPECT_TRUE(dkim::match_host(list, "2001:DB8::5", "").matched);  // client text normalised
  EXPECT_FALSE(dkim::match_host(list, "2001:db9::1", "").matched);
  EXPECT_TRUE(dkim::match_host(list, "::1", "").matched);
  EXPECT_TRUE(dkim::match_host(list, "192.0.2.7", "").matched);
  EXPECT_TRUE(dkim::match_host(list, "198.51.100.1", "").matched);  // 0.0.0.0/0
  EXPECT_FALSE(dkim::match_host(hosts("10.0.0.0/8\n"), "11.0.0.1", "").matched);
  EXPECT_FALSE(dkim::match_host(hosts("10.0.0.0/8\n"), "garbage", "").matched);
}

// match_host looks a client up only under the prefix lengths the list has
// (Dataset::may_hold_prefix); every length, odd ones too, must still match,
// and a refile list, whose patterns may match any length, gets them all.
TEST(OpenDkimHostList, CidrOfEveryPrefixLengthMatches) {
  for (const auto* entry :
       {"0.0.0.0/0", "128.0.0.0/1", "203.0.0.0/8", "203.0.112.0/20", "203.0.113.76/30",
        "203.0.113.76/31", "203.0.113.77/32", "[203.0.112.0]/20"}) {
    EXPECT_TRUE(dkim::match_host(hosts(std::string(entry) + "\n"), "203.0.113.77", "").matched)
        << entry;
  }
  EXPECT_FALSE(dkim::match_host(hosts("203.0.113.78/31\n"), "203.0.113.77", "").matched);
  for (const auto* entry : {"::/0", "2000::/3", "2001:db8:abcd::/48", "2001:db8:abcd:12::/64",
                            "2001:db8:abcd:12::6/127", "2001:db8:abcd:12::7/128"}) {
    EXPECT_TRUE(
        dkim::match_host(hosts(std::string(entry) + "\n"), "2001:db8:abcd:12::7", "").matched)
        << entry;
  }
  const auto list = hosts("2001:db8::/32\n!2001:db8:abcd:12::/64\n");
  const auto m = dkim::match_host(list, "2001:db8:abcd:12::7", "");
  EXPECT_FALSE(m.matched);
  ASSERT_NE(m.entry, nullptr);
  EXPECT_EQ(m.entry->key, "!2001:db8:abcd:12::/64");
  EXPECT_TRUE(dkim::match_host(list, "2001:db8:abcd:13::7", "").matched);

  std::vector<dkim::Error> errors;
  const auto patterns =
      dkim::parse_host_list("10.0.0.0/*\n", dkim::DatasetKind::kRefile, "hosts", errors);
  EXPECT_TRUE(dkim::match_host(patterns, "10.1.2.3", "").matched);
  EXPECT_FALSE(dkim::match_host(patterns, "12.1.2.3", "").matched);  // 10.0.0.0/7 is 11's
}

TEST(OpenDkimHostList, HostnamesAndDomainSuffixes) {
  const auto list = hosts("mail.example.com\n.internal.example.net\n!bad.internal.example.net\n");
  EXPECT_TRUE(dkim::match_host(list, "192.0.2.1", "mail.example.com").matched);
  EXPECT_TRUE(dkim::match_host(list, "192.0.2.1", "MAIL.example.com.").matched);
  EXPECT_FALSE(dkim::match_host(list, "192.0.2.1", "x.mail.example.com").matched);
  EXPECT_TRUE(dkim::match_host(list, "192.0.2.1", "a.internal.example.net").matched);
  EXPECT_TRUE(dkim::match_host(list, "192.0.2.1", "b.a.internal.example.net").matched);
  EXPECT_FALSE(dkim::match_host(list, "192.0.2.1", "internal.example.net").matched);
  EXPECT_FALSE(dkim::match_host(list, "192.0.2.1", "bad.internal.example.net").matched);
  EXPECT_FALSE(dkim::match_host(list, "192.0.2.1", "unknown").matched);
  EXPECT_FALSE(dkim::match_host(list, "192.0.2.1", "").matched);
}

TEST(OpenDkimHostList, BadEntriesAreErrorsWithFileAndLine) {
  std::vector<dkim::Error> errors;
  dkim::parse_host_list(
      "# header\n172.18.0.0/12\n10.0.0.0/33\n300.1.1.1\n2001:DB8::/32\n*.example.com\n"
      "192.0.2/24\n010.0.0.1\nfoo..bar\n172.16.0.0/012\n",
      dkim::DatasetKind::kFile, "trusted.hosts", errors);
  ASSERT_EQ(errors.size(), 9u);
  EXPECT_EQ(errors[0].str(),
            "trusted.hosts:2: bad CIDR \"172.18.0.0/12\": host bits are set; OpenDKIM compares the "
            "masked client address as text, so it never matches; write 172.16.0.0/12");
  EXPECT_EQ(errors[1].str(), "trusted.hosts:3: bad CIDR \"10.0.0.0/33\": prefix longer than 32");
  EXPECT_EQ(errors[2].line, 4);
  EXPECT_NE(errors[3].message.find("write 2001:db8::/32"), std::string::npos);
  EXPECT_NE(errors[4].message.find("only a wildcard in refile"), std::string::npos);
  EXPECT_EQ(errors[5].line, 7);
  EXPECT_NE(errors[6].message.find("write 10.0.0.1"), std::string::npos);
  EXPECT_EQ(errors[7].line, 9);
  // Found by opendkim_fuzz: a prefix with a leading zero was taken, and
  // never matched.
  EXPECT_EQ(errors[8].str(),
            "trusted.hosts:10: \"172.16.0.0/012\" is not in canonical form; OpenDKIM compares "
            "addresses as text, so it never matches; write 172.16.0.0/12");

  // A refile list holds patterns: not checked as hosts.
  errors.clear();
  dkim::parse_host_list("*.example.com\n", dkim::DatasetKind::kRefile, "re", errors);
  EXPECT_TRUE(errors.empty());
}

TEST_F(OpenDkimTest, BadCidrInTrustedHostsFailsTheLoad) {
  write("trusted.hosts", "127.0.0.1\n172.18.0.0/12\n");
  const auto r = dkim::load_opendkim(bulk_conf("InternalHosts " + path("trusted.hosts") + "\n"));
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].file, path("trusted.hosts"));
  EXPECT_EQ(r.errors[0].line, 2);
}

// ---- the conf text parser --------------------------------------------------

TEST(OpenDkimConf, LinesCommentsAndErrors) {
  std::vector<dkim::Error> errors;
  const auto s = dkim::parse_conf("# c\r\n\r\nMode\tsv # trailing\r\n  Selector   send\nKeyFile\n",
                                  "od.conf", errors);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].name, "Mode");
  EXPECT_EQ(s[0].value, "sv");
  EXPECT_EQ(s[0].line, 3);
  EXPECT_EQ(s[1].value, "send");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].str(), "od.conf:5: KeyFile has no value");
}

}  // namespace
