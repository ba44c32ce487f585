// The OpenDKIM config reader on signing: wildcards, the SigningTable (refile
// and plain lookup order), the KeyTable, domain mode; and DKIM-Signature
// headers and alignment with the From domain.
#include <gtest/gtest.h>

#include <string>

#include "formats/opendkim.hpp"
#include "tests/unit/opendkim_test_support.hpp"

namespace {

namespace dkim = sg::dkim;

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
