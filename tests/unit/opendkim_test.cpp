#include "formats/opendkim.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace dkim = sg::dkim;
namespace fs = std::filesystem;

// A temp dir holding opendkim.conf and its data sets.
class OpenDkimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("sg-opendkim-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  // opendkim.conf with the bulk sender's tables (brief rule 6) plus `extra`.
  std::string bulk_conf(const std::string& extra) {
    write("key.table",
          "send._domainkey.send.example.com send.example.com:send:/etc/opendkim/keys/send.private\n"
          "default._domainkey.example.com   example.com:default:/etc/opendkim/keys/root.private\n");
    write("signing.table",
          "# From patterns, in order\n"
          "*@send.example.com  send._domainkey.send.example.com\n"
          "*@example.com       default._domainkey.example.com\n");
    return write("opendkim.conf",
                 "Syslog yes\n"
                 "KeyTable refile:" +
                     path("key.table") + "\n" + "SigningTable refile:" + path("signing.table") +
                     "\n" + extra);
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static std::shared_ptr<const dkim::OpenDkimConfig> ok(const dkim::LoadResult& r) {
    for (const auto& e : r.errors) ADD_FAILURE() << e.str();
    EXPECT_NE(r.config, nullptr);
    return r.config;
  }

  static dkim::ClientInfo client(const std::string& ip, const std::string& host = "") {
    dkim::ClientInfo c;
    c.ip = ip;
    c.hostname = host;
    return c;
  }

  static std::string all_errors(const dkim::LoadResult& r) {
    std::string out;
    for (const auto& e : r.errors) out += e.str() + "\n";
    return out;
  }

  fs::path dir_;
};

// ---- the incident ----------------------------------------------------------

TEST_F(OpenDkimTest, IncidentDockerClientNotInternalIsNotSigned) {
  write("trusted.hosts", "127.0.0.1\n::1\nlocalhost\n");
  const auto cfg =
      ok(dkim::load_opendkim(bulk_conf("InternalHosts " + path("trusted.hosts") + "\n")));
  ASSERT_TRUE(cfg);
  const auto p = dkim::predict_signing(*cfg, client("172.18.0.25"), "news@send.example.com");
  EXPECT_FALSE(p.will_sign);
  EXPECT_TRUE(p.signing_domain.empty());
  EXPECT_NE(p.reason.find("client 172.18.0.25 is not in OpenDKIM's InternalHosts (" +
                          path("trusted.hosts") + ")"),
            std::string::npos)
      << p.reason;
}

TEST_F(OpenDkimTest, IncidentFixedDockerRangeIsSignedWithBulkDomain) {
  write("trusted.hosts", "127.0.0.1\n::1\n172.16.0.0/12\n");
  const auto cfg =
      ok(dkim::load_opendkim(bulk_conf("InternalHosts " + path("trusted.hosts") + "\n")));
  ASSERT_TRUE(cfg);
  const auto p = dkim::predict_signing(*cfg, client("172.18.0.25"), "news@send.example.com");
  EXPECT_TRUE(p.will_sign) << p.reason;
  EXPECT_EQ(p.signing_domain, "send.example.com");
  EXPECT_EQ(p.selector, "send");
  EXPECT_EQ(p.key_name, "send._domainkey.send.example.com");
  EXPECT_NE(p.reason.find("172.16.0.0/12"), std::string::npos) << p.reason;

  // Reply-To / root-domain mail takes the second pattern.
  const auto root = dkim::predict_signing(*cfg, client("172.18.0.5"), "Sales <sales@example.com>");
  EXPECT_TRUE(root.will_sign) << root.reason;
  EXPECT_EQ(root.signing_domain, "example.com");
  EXPECT_EQ(root.selector, "default");
}

TEST_F(OpenDkimTest, UnlistedFromDomainNamesTheSigningTable) {
  write("trusted.hosts", "172.16.0.0/12\n");
  const auto cfg =
      ok(dkim::load_opendkim(bulk_conf("InternalHosts " + path("trusted.hosts") + "\n")));
  ASSERT_TRUE(cfg);
  const auto p = dkim::predict_signing(*cfg, client("172.18.0.25"), "news@send.example.org");
  EXPECT_FALSE(p.will_sign);
  EXPECT_EQ(p.reason, "From domain send.example.org has no SigningTable entry (refile:" +
                          path("signing.table") + ")");
}

TEST_F(OpenDkimTest, EveryMissingConditionIsNamed) {
  const auto cfg = ok(dkim::load_opendkim(bulk_conf("Mode v\n")));
  ASSERT_TRUE(cfg);
  const auto p = dkim::predict_signing(*cfg, client("172.18.0.25"), "news@send.example.org");
  EXPECT_FALSE(p.will_sign);
  EXPECT_NE(p.reason.find("OpenDKIM Mode is \"v\": it only verifies"), std::string::npos);
  EXPECT_NE(p.reason.find("client 172.18.0.25 is not in OpenDKIM's InternalHosts"),
            std::string::npos);
  EXPECT_NE(p.reason.find("send.example.org has no SigningTable entry"), std::string::npos);
}

// ---- defaults and settings -------------------------------------------------

TEST_F(OpenDkimTest, DefaultsWhenSettingsAreAbsent) {
  const auto cfg = ok(dkim::load_opendkim(bulk_conf("")));
  ASSERT_TRUE(cfg);
  EXPECT_EQ(cfg->mode, "sv");
  EXPECT_TRUE(cfg->sign);
  EXPECT_TRUE(cfg->verify);
  EXPECT_FALSE(cfg->subdomains);
  EXPECT_TRUE(cfg->internal_hosts_default);
  EXPECT_FALSE(cfg->peer_list);
  EXPECT_TRUE(dkim::predict_signing(*cfg, client("127.0.0.1"), "a@send.example.com").will_sign);
  EXPECT_TRUE(dkim::predict_signing(*cfg, client("::1"), "a@send.example.com").will_sign);
  const auto p = dkim::predict_signing(*cfg, client("172.18.0.25"), "a@send.example.com");
  EXPECT_FALSE(p.will_sign);
  EXPECT_NE(p.reason.find("the default is 127.0.0.1 and ::1"), std::string::npos) << p.reason;
}

TEST_F(OpenDkimTest, ModeSignOnlyAndBadMode) {
  auto cfg = ok(dkim::load_opendkim(bulk_conf("mode s\n")));  // names are case-insensitive
  ASSERT_TRUE(cfg);
  EXPECT_TRUE(cfg->sign);
  EXPECT_FALSE(cfg->verify);
  EXPECT_TRUE(dkim::predict_signing(*cfg, client("127.0.0.1"), "a@send.example.com").will_sign);

  const auto bad = dkim::load_opendkim(bulk_conf("Mode sx\n"));
  EXPECT_EQ(bad.config, nullptr);
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0].str(),
            path("opendkim.conf") + ":4: Mode \"sx\": only \"s\" and \"v\" are modes");
}

TEST_F(OpenDkimTest, BooleansReadTheFirstByte) {
  for (const char* yes : {"yes", "True", "1", "y"}) {
    const auto cfg = ok(dkim::load_opendkim(bulk_conf(std::string("SubDomains ") + yes + "\n")));
    ASSERT_TRUE(cfg);
    EXPECT_TRUE(cfg->subdomains) << yes;
  }
  for (const char* no : {"no", "false", "0", "F"}) {
    const auto cfg = ok(dkim::load_opendkim(bulk_conf(std::string("SubDomains ") + no + "\n")));
    ASSERT_TRUE(cfg);
    EXPECT_FALSE(cfg->subdomains) << no;
  }
  const auto bad = dkim::load_opendkim(bulk_conf("SubDomains maybe\n"));
  EXPECT_EQ(bad.config, nullptr);
  EXPECT_NE(all_errors(bad).find(":4: SubDomains: \"maybe\" is not a boolean"), std::string::npos)
      << all_errors(bad);
}

TEST_F(OpenDkimTest, UnknownSettingsAreIgnoredAndDuplicatesWarn) {
  const auto r = dkim::load_opendkim(bulk_conf("OversignHeaders From\nMode v\nMode sv\n"));
  const auto cfg = ok(r);
  ASSERT_TRUE(cfg);
  EXPECT_EQ(cfg->mode, "sv");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].str().find(":6: Mode is also set at"), std::string::npos);
}

TEST_F(OpenDkimTest, AuthenticatedClientIsSignedWithoutBeingInternal) {
  const auto cfg = ok(dkim::load_opendkim(bulk_conf("")));
  ASSERT_TRUE(cfg);
  auto c = client("203.0.113.9");
  c.authenticated = true;
  const auto p = dkim::predict_signing(*cfg, c, "a@send.example.com");
  EXPECT_TRUE(p.will_sign) << p.reason;
  EXPECT_NE(p.reason.find("authenticated"), std::string::npos);
}

TEST_F(OpenDkimTest, MtaAndMacroListMakeAClientAnOrigin) {
  const auto cfg = ok(dkim::load_opendkim(
      bulk_conf("InternalHosts -\nMTA ORIGINATING\nMacroList daemon_name=ORIGINATING|SUBMIT\n")));
  ASSERT_TRUE(cfg);
  auto c = client("172.18.0.25");
  EXPECT_FALSE(dkim::predict_signing(*cfg, c, "a@send.example.com").will_sign);
  c.daemon_name = "ORIGINATING";
  EXPECT_TRUE(dkim::predict_signing(*cfg, c, "a@send.example.com").will_sign);
  c.daemon_name.clear();
  c.macros["{daemon_name}"] = "SUBMIT";
  EXPECT_TRUE(dkim::predict_signing(*cfg, c, "a@send.example.com").will_sign);
  c.macros["{daemon_name}"] = "submit";  // values are case-sensitive
  EXPECT_FALSE(dkim::predict_signing(*cfg, c, "a@send.example.com").will_sign);
}

TEST_F(OpenDkimTest, PeerListClientsAreNotProcessed) {
  write("peers", "172.18.0.0/16\n");
  const auto cfg = ok(dkim::load_opendkim(
      bulk_conf("InternalHosts 172.16.0.0/12\nPeerList " + path("peers") + "\n")));
  ASSERT_TRUE(cfg);
  const auto p = dkim::predict_signing(*cfg, client("172.18.0.25"), "a@send.example.com");
  EXPECT_FALSE(p.will_sign);
  EXPECT_NE(p.reason.find("is in OpenDKIM's PeerList"), std::string::npos) << p.reason;
  EXPECT_TRUE(dkim::predict_signing(*cfg, client("172.17.0.2"), "a@send.example.com").will_sign);
}

TEST_F(OpenDkimTest, ExternalIgnoreListDoesNotMakeAClientInternal) {
  write("trusted.hosts", "127.0.0.1\n172.16.0.0/12\n");
  const auto cfg =
      ok(dkim::load_opendkim(bulk_conf("ExternalIgnoreList " + path("trusted.hosts") + "\n")));
  ASSERT_TRUE(cfg);
  ASSERT_TRUE(cfg->external_ignore_list);
  EXPECT_FALSE(dkim::predict_signing(*cfg, client("172.18.0.25"), "a@send.example.com").will_sign);
}

TEST_F(OpenDkimTest, IncludeIsFollowedAndEveryFileIsRecorded) {
  write("trusted.hosts", "172.16.0.0/12\n");
  write("more.conf", "InternalHosts file:" + path("trusted.hosts") + "\n");
  const auto r = dkim::load_opendkim(bulk_conf("Include " + path("more.conf") + "\n"));
  const auto cfg = ok(r);
  ASSERT_TRUE(cfg);
  EXPECT_TRUE(dkim::predict_signing(*cfg, client("172.18.0.25"), "a@send.example.com").will_sign);
  const std::vector<std::string> want = {path("opendkim.conf"), path("more.conf"),
                                         path("key.table"), path("signing.table"),
                                         path("trusted.hosts")};
  EXPECT_EQ(cfg->files, want);
  EXPECT_EQ(r.files, want);
}

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
      "192.0.2/24\n010.0.0.1\nfoo..bar\n",
      dkim::DatasetKind::kFile, "trusted.hosts", errors);
  ASSERT_EQ(errors.size(), 8u);
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

// ---- SigningTable and KeyTable ---------------------------------------------

TEST(OpenDkimWildcard, Matches) {
  EXPECT_TRUE(dkim::wildcard_match("*@send.example.com", "news@send.example.com"));
  EXPECT_TRUE(dkim::wildcard_match("*@send.example.com", "NEWS@Send.Example.com"));
  EXPECT_FALSE(dkim::wildcard_match("*@example.com", "news@send.example.com"));
  EXPECT_TRUE(dkim::wildcard_match("*example.com", "news@send.example.com"));
  EXPECT_TRUE(dkim::wildcard_match("news*@*.example.com", "news-1@a.b.example.com"));
  EXPECT_TRUE(dkim::wildcard_match("*", ""));
  EXPECT_FALSE(dkim::wildcard_match("a*b*c", "abx"));
  EXPECT_TRUE(dkim::wildcard_match("a**b", "ab"));
}

TEST_F(OpenDkimTest, RefileSigningTableIsMatchedInFileOrder) {
  write("key.table", "root example.com:root:/k/root\nsend send.example.com:send:/k/send\n");
  write("signing.table", "*@example.com root\n*@send.example.com send\n*.example.com root\n");
  write("opendkim.conf", "KeyTable " + path("key.table") + "\nSigningTable refile:" +
                             path("signing.table") + "\nInternalHosts 172.16.0.0/12\n");
  const auto cfg = ok(dkim::load_opendkim(path("opendkim.conf")));
  ASSERT_TRUE(cfg);
  const auto c = client("172.18.0.25");
  EXPECT_EQ(dkim::predict_signing(*cfg, c, "a@example.com").key_name, "root");
  EXPECT_EQ(dkim::predict_signing(*cfg, c, "a@send.example.com").key_name, "send");
  // "*@example.com" does not cover subdomains; the third line does.
  const auto p = dkim::predict_signing(*cfg, c, "a@other.example.com");
  EXPECT_EQ(p.key_name, "root");
  EXPECT_EQ(p.signing_domain, "example.com");
  EXPECT_FALSE(dkim::predict_signing(*cfg, c, "a@example.org").will_sign);
}

TEST_F(OpenDkimTest, PlainSigningTableLookupOrder) {
  write("key.table",
        "k-addr a.example.com:s:/k\nk-host b.example.com:s:/k\nk-useratparent c.example.com:s:/k\n"
        "k-parent d.example.com:s:/k\nk-userany e.example.com:s:/k\nk-any f.example.com:s:/k\n");
  const auto conf = [&](const std::string& table) {
    write("signing.table", table);
    write("opendkim.conf",
          "KeyTable " + path("key.table") + "\nSigningTable " + path("signing.table") + "\n");
    return ok(dkim::load_opendkim(path("opendkim.conf")));
  };
  const auto c = client("127.0.0.1");
  const std::string from = "bob@send.example.com";
  auto key = [&](const std::string& table) {
    const auto cfg = conf(table);
    return cfg ? dkim::predict_signing(*cfg, c, from).key_name : "load failed";
  };
  const std::string all =
      "*  k-any\nbob@*  k-userany\n.example.com  k-parent\nbob@.example.com  k-useratparent\n"
      "send.example.com  k-host\nbob@send.example.com  k-addr\n";
  EXPECT_EQ(key(all), "k-addr");
  EXPECT_EQ(key("*  k-any\nbob@*  k-userany\n.example.com  k-parent\nbob@.example.com  "
                "k-useratparent\nsend.example.com  k-host\n"),
            "k-host");
  EXPECT_EQ(key("*  k-any\nbob@*  k-userany\n.example.com  k-parent\nbob@.example.com  "
                "k-useratparent\n"),
            "k-useratparent");
  EXPECT_EQ(key("*  k-any\nbob@*  k-userany\n.example.com  k-parent\n"), "k-parent");
  EXPECT_EQ(key("*  k-any\nbob@*  k-userany\n"), "k-userany");
  EXPECT_EQ(key("*  k-any\n"), "k-any");
  EXPECT_EQ(key("example.com  k-host\n"), "");  // a bare parent domain does not cover subdomains
  EXPECT_EQ(key("SEND.EXAMPLE.COM  k-host\n"), "k-host");
}

TEST_F(OpenDkimTest, KeyTablePercentDomainIsTheFromDomain) {
  write("key.table", "any %:mail:/k/any\n");
  write("signing.table", "*  any\n");
  write("opendkim.conf",
        "KeyTable " + path("key.table") + "\nSigningTable refile:" + path("signing.table") + "\n");
  const auto cfg = ok(dkim::load_opendkim(path("opendkim.conf")));
  ASSERT_TRUE(cfg);
  const auto p = dkim::predict_signing(*cfg, client("127.0.0.1"), "x@Send.Example.COM");
  EXPECT_TRUE(p.will_sign);
  EXPECT_EQ(p.signing_domain, "send.example.com");
  EXPECT_EQ(p.selector, "mail");
}

TEST_F(OpenDkimTest, SigningTableNamingAMissingKeyIsAnError) {
  write("key.table", "send send.example.com:send:/k/send\n");
  write("signing.table", "*@send.example.com send\n*@example.com root\n");
  write("opendkim.conf",
        "KeyTable " + path("key.table") + "\nSigningTable refile:" + path("signing.table") + "\n");
  const auto r = dkim::load_opendkim(path("opendkim.conf"));
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].str(), path("signing.table") +
                                   ":2: SigningTable entry *@example.com names key root, which is "
                                   "not in the KeyTable (" +
                                   path("key.table") + ")");
}

TEST_F(OpenDkimTest, MalformedKeyTableEntryIsAnError) {
  write("key.table", "send send.example.com:send\n");
  write("signing.table", "*@send.example.com send\n");
  write("opendkim.conf",
        "KeyTable " + path("key.table") + "\nSigningTable refile:" + path("signing.table") + "\n");
  const auto r = dkim::load_opendkim(path("opendkim.conf"));
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 1);
  EXPECT_NE(r.errors[0].message.find("expected domain:selector:keyfile"), std::string::npos);
}

TEST_F(OpenDkimTest, DomainModeAndSubDomains) {
  const std::string base = "Domain example.com\nKeyFile /k/root\nSelector mail\n";
  write("opendkim.conf", base);
  auto cfg = ok(dkim::load_opendkim(path("opendkim.conf")));
  ASSERT_TRUE(cfg);
  const auto c = client("127.0.0.1");
  auto p = dkim::predict_signing(*cfg, c, "a@example.com");
  EXPECT_TRUE(p.will_sign) << p.reason;
  EXPECT_EQ(p.signing_domain, "example.com");
  EXPECT_EQ(p.selector, "mail");
  p = dkim::predict_signing(*cfg, c, "a@send.example.com");
  EXPECT_FALSE(p.will_sign);
  EXPECT_NE(p.reason.find("example.com is, but SubDomains is off"), std::string::npos) << p.reason;

  write("opendkim.conf", base + "SubDomains yes\n");
  cfg = ok(dkim::load_opendkim(path("opendkim.conf")));
  ASSERT_TRUE(cfg);
  p = dkim::predict_signing(*cfg, c, "a@send.example.com");
  EXPECT_TRUE(p.will_sign) << p.reason;
  EXPECT_EQ(p.signing_domain, "send.example.com");
  EXPECT_FALSE(dkim::predict_signing(*cfg, c, "a@example.org").will_sign);

  write("opendkim.conf", "Domain example.com\n");
  cfg = ok(dkim::load_opendkim(path("opendkim.conf")));
  ASSERT_TRUE(cfg);
  p = dkim::predict_signing(*cfg, c, "a@example.com");
  EXPECT_FALSE(p.will_sign);
  EXPECT_NE(p.reason.find("KeyFile is not"), std::string::npos) << p.reason;
}

TEST_F(OpenDkimTest, NoKeysAtAll) {
  write("opendkim.conf", "Mode sv\n");
  const auto cfg = ok(dkim::load_opendkim(path("opendkim.conf")));
  ASSERT_TRUE(cfg);
  const auto p = dkim::predict_signing(*cfg, client("127.0.0.1"), "a@example.com");
  EXPECT_FALSE(p.will_sign);
  EXPECT_NE(p.reason.find("no signing key"), std::string::npos);
  EXPECT_FALSE(dkim::predict_signing(*cfg, client("127.0.0.1"), "no-domain").will_sign);
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

// ---- DKIM-Signature --------------------------------------------------------

TEST(DkimSignature, ParsesFoldedHeader) {
  const auto sig = dkim::parse_dkim_signature(
      " v=1; a=rsa-sha256; c=relaxed/simple; d=send.example.com;\r\n\ts=send; "
      "h=from:to:subject;\r\n bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n b=dGVz\r\n "
      "dA==;");
  ASSERT_TRUE(sig);
  EXPECT_EQ(sig->d, "send.example.com");
  EXPECT_EQ(sig->s, "send");
  EXPECT_EQ(sig->a, "rsa-sha256");
  EXPECT_EQ(sig->v, "1");
  EXPECT_EQ(sig->tags.at("b"), "dGVzdA==");
  EXPECT_EQ(sig->tags.at("h"), "from:to:subject");
  EXPECT_EQ(sig->tags.size(), 8u);
}

TEST(DkimSignature, RejectsMalformed) {
  EXPECT_FALSE(dkim::parse_dkim_signature(""));
  EXPECT_FALSE(dkim::parse_dkim_signature("s=send"));              // no d=
  EXPECT_FALSE(dkim::parse_dkim_signature("d=example.com"));       // no s=
  EXPECT_FALSE(dkim::parse_dkim_signature("d=; s=x"));             // empty d=
  EXPECT_FALSE(dkim::parse_dkim_signature("D=example.com; s=x"));  // tag names are case-sensitive
  EXPECT_FALSE(dkim::parse_dkim_signature("d=a.com; d=b.com; s=x"));  // duplicate tag
  EXPECT_FALSE(dkim::parse_dkim_signature("; d=a.com; s=x"));         // empty tag-spec
  EXPECT_FALSE(dkim::parse_dkim_signature("d=a.com;; s=x"));
  EXPECT_FALSE(dkim::parse_dkim_signature("d=a.com; s"));          // no '='
  EXPECT_FALSE(dkim::parse_dkim_signature("d=a.com; 1x=2; s=x"));  // bad tag name
  EXPECT_FALSE(dkim::parse_dkim_signature("d=a.com; s=x\x01y"));   // control character
  EXPECT_TRUE(dkim::parse_dkim_signature("d = a.com ; s = x ;"));
  const auto upper = dkim::parse_dkim_signature("D=evil.com; d=a.com; s=x");
  ASSERT_TRUE(upper);
  EXPECT_EQ(upper->d, "a.com");
}

TEST(DkimAlignment, RelaxedApproximation) {
  EXPECT_TRUE(dkim::aligned("send.example.com", "send.example.com"));
  EXPECT_TRUE(dkim::aligned("Send.Example.com.", "send.example.COM"));
  EXPECT_TRUE(dkim::aligned("example.com", "send.example.com"));  // d= the parent
  EXPECT_TRUE(dkim::aligned("send.example.com", "example.com"));  // d= a subdomain
  EXPECT_FALSE(dkim::aligned("com", "example.com"));              // one label: never
  EXPECT_FALSE(dkim::aligned("example.org", "example.com"));
  EXPECT_FALSE(dkim::aligned("badexample.com", "example.com"));
  EXPECT_FALSE(dkim::aligned("", "example.com"));
  EXPECT_FALSE(dkim::aligned("mailgun.org", "send.example.com"));
}

TEST(DkimAlignment, FromDomain) {
  EXPECT_EQ(dkim::from_domain("news@Send.Example.com"), "send.example.com");
  EXPECT_EQ(dkim::from_domain("<news@send.example.com>"), "send.example.com");
  EXPECT_EQ(dkim::from_domain("\"News, Inc\" <news@send.example.com.>"), "send.example.com");
  EXPECT_EQ(dkim::from_domain("no-at-sign"), "");
  EXPECT_EQ(dkim::from_domain("x@[192.0.2.1]"), "");
  EXPECT_EQ(dkim::from_domain("x@"), "");
}

}  // namespace
