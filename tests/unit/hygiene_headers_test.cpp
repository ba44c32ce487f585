// The message hygiene scanner on headers: Content-Type parameters,
// Message-ID (present, well formed, not a local domain), List-Unsubscribe,
// From, and every DKIM-Signature kept.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "formats/hygiene.hpp"
#include "tests/unit/hygiene_test_support.hpp"

namespace sg::hygiene {
namespace {

// ---- Content-Type ----

TEST(HygieneContentType, Parameters) {
  auto ct = parse_content_type(
      " Multipart/Alternative (comment) ;\r\n\tCharSet=UTF-8; BOUNDARY=\"a \\\"b\\\" ;c\"; x=1");
  ASSERT_TRUE(ct.valid);
  EXPECT_EQ(ct.type, "multipart");
  EXPECT_EQ(ct.subtype, "alternative");
  EXPECT_EQ(ct.param("boundary"), "a \"b\" ;c");
  EXPECT_EQ(ct.param("charset"), "UTF-8");
  EXPECT_EQ(ct.param("x"), "1");
  EXPECT_FALSE(ct.param("missing"));

  ct = parse_content_type("multipart/mixed; boundary=----=_NextPart_000_0001 (unquoted)");
  EXPECT_EQ(ct.param("boundary"), "----=_NextPart_000_0001");
  ct = parse_content_type("multipart/mixed;boundary=a;boundary=b;");
  EXPECT_EQ(ct.param("boundary"), "a");
  ct = parse_content_type("text / html ; junk ; charset = \"x\"");
  EXPECT_EQ(ct.subtype, "html");
  EXPECT_EQ(ct.param("charset"), "x");
  EXPECT_FALSE(parse_content_type("").valid);
  EXPECT_FALSE(parse_content_type("text").valid);
  EXPECT_FALSE(parse_content_type("text/").valid);
  EXPECT_FALSE(parse_content_type("(unterminated comment text/html").valid);
}

// ---- Message-ID ----

Findings with_headers(const std::vector<std::string>& headers) {
  std::vector<std::string> lines = headers;
  lines.push_back("");
  lines.push_back("body");
  return scan_message(crlf(lines));
}

TEST(HygieneMessageId, Variants) {
  struct Case {
    std::string value;
    std::string domain;
    bool local;
  };
  const std::vector<Case> cases = {
      {"<a.b@send.acme.com>", "send.acme.com", false},
      {" <A@Send.Acme.COM> (comment)", "send.acme.com", false},
      {"<x@localhost>", "localhost", true},
      {"<x@LOCALHOST.localdomain>", "localhost.localdomain", true},
      {"<x@a3f9c2e1b7d4>", "a3f9c2e1b7d4", true},
      {"<x@mailer.local>", "mailer.local", true},
      {"<x@app.internal>", "app.internal", true},
      {"<x@[172.18.0.5]>", "[172.18.0.5]", true},
      {"<x@172.18.0.5>", "172.18.0.5", true},
      {"<\"a@b\"@c.example.org>", "c.example.org", false},
      {"bare@send.acme.com", "send.acme.com", false},
  };
  for (const auto& c : cases) {
    const Findings f = with_headers({"Message-ID: " + c.value});
    EXPECT_TRUE(f.message_id_present) << c.value;
    EXPECT_EQ(f.message_id_domain, c.domain) << c.value;
    EXPECT_EQ(f.local_message_id, c.local) << c.value;
    EXPECT_EQ(f.message_id_problem.empty(), !c.local) << c.value;
  }
  Findings f = with_headers({"Message-ID: <no-domain>"});
  EXPECT_TRUE(f.local_message_id);
  EXPECT_EQ(f.message_id_problem, "Message-ID <no-domain> has no domain");
  f = with_headers({"Message-ID: <x@a.example.com>", "Message-ID: <y@localhost>"});
  EXPECT_EQ(f.message_id, "x@a.example.com");  // the first one
}

TEST(HygieneMessageId, IsLocalDomain) {
  for (const char* d : {"", "localhost", "localdomain", "localhost.localdomain", "LocalHost.",
                        "a3f9c2e1b7d4", "host.local", "db.internal", "x.home.arpa", "foo.lan",
                        "a.test", "a.invalid", "[::1]", "10.0.0.1", "x."}) {
    EXPECT_TRUE(is_local_domain(d)) << d;
  }
  for (const char* d : {"acme.com", "send.acme.com", "Send.Acme.Com.", "mail.co.uk",
                        "localhost.acme.com", "local.acme.com", "internal.io"}) {
    EXPECT_FALSE(is_local_domain(d)) << d;
  }
}

// ---- List-Unsubscribe ----

TEST(HygieneUnsubscribe, Variants) {
  Findings f = with_headers({"List-Unsubscribe: <https://x.example/u?id=1>",
                             "List-Unsubscribe-Post: List-Unsubscribe=One-Click"});
  EXPECT_TRUE(f.list_unsubscribe && f.list_unsubscribe_https && f.one_click);
  EXPECT_EQ(f.unsubscribe_problem, "");

  f = with_headers({"List-Unsubscribe: <MAILTO:u@x.example>",
                    "List-Unsubscribe-Post:  list-unsubscribe=one-click "});
  EXPECT_TRUE(f.list_unsubscribe && f.list_unsubscribe_mailto && f.one_click);
  EXPECT_FALSE(f.list_unsubscribe_https);
  EXPECT_EQ(f.unsubscribe_problem, "List-Unsubscribe has no https: URI for one-click (RFC 8058)");

  f = with_headers({"List-Unsubscribe: (comment <https://no.example>) <http://x.example/u>"});
  EXPECT_FALSE(f.list_unsubscribe);
  EXPECT_NE(f.unsubscribe_problem.find("no <https:...> or <mailto:...> URI"), std::string::npos);

  f = with_headers(
      {"List-Unsubscribe: <https://x.example/u>", "List-Unsubscribe-Post: List-Unsubscribe=Yes"});
  EXPECT_FALSE(f.one_click);
  EXPECT_NE(f.unsubscribe_problem.find("\"List-Unsubscribe=Yes\""), std::string::npos);

  f = with_headers({"List-Unsubscribe: <https://x.example/\r\n u>"});  // folded inside <>
  EXPECT_TRUE(f.list_unsubscribe_https);
  EXPECT_FALSE(f.one_click);

  f = with_headers({"Subject: hi"});
  EXPECT_EQ(f.unsubscribe_problem,
            "no List-Unsubscribe header; no List-Unsubscribe-Post: "
            "List-Unsubscribe=One-Click (RFC 8058)");
}

// ---- From ----

TEST(HygieneFrom, Variants) {
  struct Case {
    std::string value;
    std::string address;
    std::string domain;
    bool multiple;
  };
  const std::vector<Case> cases = {
      {"Acme <news@Send.Acme.com>", "news@Send.Acme.com", "send.acme.com", false},
      {"news@send.acme.com", "news@send.acme.com", "send.acme.com", false},
      {"news@send.acme.com (Acme News)", "news@send.acme.com", "send.acme.com", false},
      {"\"Doe, John <boss@evil.example>\" <john@send.acme.com>", "john@send.acme.com",
       "send.acme.com", false},
      {"(a comment, with <x@y.z>) Acme <n@send.acme.com>", "n@send.acme.com", "send.acme.com",
       false},
      {"a@one.example, b@two.example", "a@one.example", "one.example", true},
      {"\"x\" <a@one.example>,\r\n \"y\" <b@two.example>", "a@one.example", "one.example", true},
      {"Team: a@one.example;", "a@one.example", "one.example", false},
      {"<@relay.example:user@send.acme.com>", "user@send.acme.com", "send.acme.com", false},
      {"\"odd@local\"@send.acme.com", "\"odd@local\"@send.acme.com", "send.acme.com", false},
      {"user@[10.0.0.1]", "user@[10.0.0.1]", "[10.0.0.1]", false},
  };
  for (const auto& c : cases) {
    const Findings f = with_headers({"From: " + c.value});
    EXPECT_TRUE(f.from_present) << c.value;
    EXPECT_EQ(f.from_address, c.address) << c.value;
    EXPECT_EQ(f.from_domain, c.domain) << c.value;
    EXPECT_EQ(f.multiple_from, c.multiple) << c.value;
  }
  Findings f = with_headers({"From: a@one.example", "From: b@two.example"});
  EXPECT_TRUE(f.multiple_from);
  EXPECT_EQ(f.from_address, "a@one.example");
  EXPECT_FALSE(f.from_problem.empty());
  f = with_headers({"From: undisclosed-recipients:;"});
  EXPECT_EQ(f.from_problem, "From has no address");
  f = with_headers({"From: Acme <news>"});
  EXPECT_EQ(f.from_domain, "");
  EXPECT_EQ(f.from_problem, "From address news has no domain");
  f = with_headers({"Subject: no from"});
  EXPECT_EQ(f.from_problem, "message has no From header");
}

TEST(HygieneDkim, AllSignaturesKept) {
  const Findings f = with_headers({"DKIM-Signature: v=1; d=send.acme.com; s=send; b=1",
                                   "dkim-signature: v=1; d=acme.com; s=root; b=2"});
  ASSERT_EQ(f.dkim_signatures.size(), 2u);
  EXPECT_EQ(f.dkim_signatures[1], "v=1; d=acme.com; s=root; b=2");
  EXPECT_EQ(f.dkim_signatures_dropped, 0u);
}

}  // namespace
}  // namespace sg::hygiene
