// The OpenDKIM config reader on settings: the incident (a Docker client
// that is not internal goes unsigned; the fixed range is signed with the bulk
// domain), every missing condition named, defaults, modes, booleans, and who
// counts as internal, an origin or a peer.
#include <gtest/gtest.h>

#include <string>

#include "formats/opendkim.hpp"
#include "tests/unit/opendkim_test_support.hpp"

namespace {

namespace dkim = sg::dkim;

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

}  // namespace
