#include "formats/hygiene.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sg::hygiene {
namespace {

// A message from lines, joined with CRLF as it travels over SMTP.
std::string crlf(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\r\n";
  return out;
}

// Scans `message` with the body in every chunk size 1..N (N = body size) and
// with the body split in two at every byte; every result must equal the
// one-chunk result, which is returned.
Findings scan_every_way(const std::string& message) {
  const Findings whole = scan_message(message);
  MessageScanner probe;
  const std::size_t body_at = feed_headers(probe, message);
  const std::string_view body = std::string_view(message).substr(body_at);
  for (std::size_t chunk = 1; chunk <= body.size(); ++chunk) {
    EXPECT_EQ(scan_message(message, chunk), whole) << "chunk size " << chunk;
  }
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    MessageScanner s;
    feed_headers(s, message);
    s.body(body.substr(0, cut));
    s.body(body.substr(cut));
    EXPECT_EQ(s.finish(), whole) << "split at " << cut;
  }
  return whole;
}

const std::string kListmonk = crlf({
    R"(From: "Acme Freight" <news@send.acme-freight.com>)",
    "To: dispatch@example-carrier.com",
    "Subject: Fuel surcharge update",
    "Message-ID: <6f1c2a9e-0d6b-4d0e-9c1b-8e2f0a7d5c3b@send.acme-freight.com>",
    "Date: Tue, 04 Mar 2025 14:02:11 +0000",
    "List-Unsubscribe: <https://lists.acme-freight.com/subscription/optout/abc?uuid=1>,",
    " <mailto:unsubscribe@send.acme-freight.com?subject=unsubscribe>",
    "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=send.acme-freight.com;",
    "\ts=send; h=from:to:subject:list-unsubscribe:list-unsubscribe-post; bh=abc=; b=def=",
    "MIME-Version: 1.0",
    "Content-Type: multipart/alternative;",
    " boundary=\"e2c5b1f7a0d94c6e8f3b2a1d0c9e8f7a\"",
    "",
    "--e2c5b1f7a0d94c6e8f3b2a1d0c9e8f7a",
    "Content-Transfer-Encoding: quoted-printable",
    "Content-Type: text/plain; charset=UTF-8",
    "",
    "Hello,",
    "",
    "--- the surcharge changes on Monday ---",
    "--e2c5b1f7a0d94c6e8f3b2a1d0c9e8f7a",
    "Content-Transfer-Encoding: quoted-printable",
    "Content-Type: text/html; charset=UTF-8",
    "",
    "<!doctype html><html><body><p>Hello,</p></body></html>",
    "--e2c5b1f7a0d94c6e8f3b2a1d0c9e8f7a--",
    "",
});

TEST(HygieneScanner, ListmonkAlternativeIsClean) {
  const Findings f = scan_every_way(kListmonk);
  EXPECT_TRUE(f.message_id_present);
  EXPECT_EQ(f.message_id, "6f1c2a9e-0d6b-4d0e-9c1b-8e2f0a7d5c3b@send.acme-freight.com");
  EXPECT_EQ(f.message_id_domain, "send.acme-freight.com");
  EXPECT_FALSE(f.local_message_id);
  EXPECT_EQ(f.content_type, "multipart/alternative");
  EXPECT_EQ(f.parts, 2u);
  EXPECT_EQ(f.text_plain_parts, 1u);
  EXPECT_EQ(f.text_html_parts, 1u);
  EXPECT_FALSE(f.html_without_text);
  EXPECT_FALSE(f.truncated);
  EXPECT_TRUE(f.list_unsubscribe);
  EXPECT_TRUE(f.list_unsubscribe_https);
  EXPECT_TRUE(f.list_unsubscribe_mailto);
  EXPECT_TRUE(f.one_click);
  EXPECT_EQ(f.from_address, "news@send.acme-freight.com");
  EXPECT_EQ(f.from_domain, "send.acme-freight.com");
  EXPECT_FALSE(f.multiple_from);
  ASSERT_EQ(f.dkim_signatures.size(), 1u);
  EXPECT_EQ(f.dkim_signatures[0],
            "v=1; a=rsa-sha256; c=relaxed/relaxed; d=send.acme-freight.com;\r\n"
            "\ts=send; h=from:to:subject:list-unsubscribe:list-unsubscribe-post; bh=abc=; b=def=");
  EXPECT_TRUE(f.problems().empty()) << ::testing::PrintToString(f.problems());
}

TEST(HygieneScanner, HtmlOnlyTopLevel) {
  const Findings f = scan_every_way(crlf({
      "From: news@send.example.com",
      "Message-ID: <1741096931.a3f9c2e1b7d4@localhost.localdomain>",
      "MIME-Version: 1.0",
      "Content-Type: TEXT/HTML; charset=utf-8",
      "",
      "<html><body>Hi</body></html>",
  }));
  EXPECT_EQ(f.content_type, "text/html");
  EXPECT_EQ(f.parts, 1u);
  EXPECT_TRUE(f.html_without_text);
  EXPECT_NE(f.mime_problem.find("HTML-only"), std::string::npos);
  EXPECT_TRUE(f.local_message_id);
  EXPECT_EQ(f.message_id_domain, "localhost.localdomain");
  EXPECT_EQ(f.message_id_problem,
            "Message-ID <1741096931.a3f9c2e1b7d4@localhost.localdomain> is on a local domain");
}

TEST(HygieneScanner, NoContentTypeIsTextPlain) {
  const Findings f = scan_every_way(crlf({"From: a@example.com", "", "<p>not html</p>"}));
  EXPECT_EQ(f.content_type, "text/plain");
  EXPECT_EQ(f.text_plain_parts, 1u);
  EXPECT_FALSE(f.html_without_text);
  EXPECT_EQ(f.message_id_problem, "message has no Message-ID header");
}

TEST(HygieneScanner, InvalidContentTypeIsTextPlain) {
  const Findings f = scan_message(crlf({"Content-Type: html", "", "<p>x</p>"}));
  EXPECT_EQ(f.content_type, "text/plain");
  EXPECT_FALSE(f.html_without_text);
}

TEST(HygieneScanner, TextOnly) {
  const Findings f = scan_every_way(crlf({
      "Content-Type: text/plain; charset=us-ascii; format=flowed",
      "",
      "Hello",
      "--not-a-boundary",
  }));
  EXPECT_EQ(f.text_plain_parts, 1u);
  EXPECT_EQ(f.text_html_parts, 0u);
  EXPECT_FALSE(f.html_without_text);
  EXPECT_TRUE(f.mime_problem.empty());
}

TEST(HygieneScanner, AlternativeWithHtmlOnly) {
  const Findings f = scan_every_way(crlf({
      "Content-Type: multipart/alternative; boundary=alt",
      "",
      "--alt",
      "Content-Type: text/html",
      "",
      "<p>x</p>",
      "--alt--",
  }));
  EXPECT_EQ(f.parts, 1u);
  EXPECT_TRUE(f.html_without_text);
}

TEST(HygieneScanner, RelatedHtmlWithImagesButNoText) {
  const Findings f = scan_every_way(crlf({
      "Content-Type: multipart/related; type=\"text/html\"; boundary=\"rel\"",
      "",
      "--rel",
      "Content-Type: text/html; charset=utf-8",
      "",
      "<img src=\"cid:logo\">",
      "--rel",
      "Content-Type: image/png; name=logo.png",
      "Content-ID: <logo>",
      "Content-Disposition: inline",
      "",
      "iVBORw0KGgo=",
      "--rel--",
  }));
  EXPECT_EQ(f.parts, 2u);
  EXPECT_TRUE(f.html_without_text);
}

// mixed( related( alternative(text, html), image ), pdf ) -- the usual shape
// of a newsletter with an inline logo and an attachment.
TEST(HygieneScanner, NestedMixedRelatedAlternative) {
  const Findings f = scan_every_way(crlf({
      "Content-Type: multipart/mixed; boundary=\"----=_Part_0_1\"",
      "",
      "This is a multi-part message in MIME format.",
      "------=_Part_0_1",
      "Content-Type: multipart/related;",
      "\tboundary=\"----=_Part_1_2\"",
      "",
      "------=_Part_1_2",
      "Content-Type: multipart/alternative; boundary=\"----=_Part_2_3\"",
      "",
      "------=_Part_2_3",
      "Content-Type: text/plain; charset=utf-8",
      "",
      "text",
      "------=_Part_2_3",
      "Content-Type: text/html; charset=utf-8",
      "",
      "<p>html</p>",
      "------=_Part_2_3--",
      "",
      "------=_Part_1_2",
      "Content-Type: image/png",
      "",
      "iVBOR",
      "------=_Part_1_2--",
      "------=_Part_0_1",
      "Content-Type: application/pdf; name=\"rates.pdf\"",
      "Content-Disposition: attachment; filename=\"rates.pdf\"",
      "",
      "JVBERi0=",
      "------=_Part_0_1--",
      "epilogue",
  }));
  EXPECT_EQ(f.parts, 4u);
  EXPECT_EQ(f.text_plain_parts, 1u);
  EXPECT_EQ(f.text_html_parts, 1u);
  EXPECT_EQ(f.attachments, 1u);
  EXPECT_FALSE(f.html_without_text);
  EXPECT_FALSE(f.truncated);
}

TEST(HygieneScanner, NestedAlternativeWithoutText) {
  const Findings f = scan_every_way(crlf({
      "Content-Type: multipart/mixed; boundary=outer",
      "",
      "--outer",
      "Content-Type: multipart/alternative; boundary=inner",
      "",
      "--inner",
      "Content-Type: text/html",
      "",
      "<p>x</p>",
      "--inner--",
      "--outer",
      "Content-Type: image/jpeg",
      "",
      "/9j/",
      "--outer--",
  }));
  EXPECT_EQ(f.parts, 2u);
  EXPECT_TRUE(f.html_without_text);
}

TEST(HygieneScanner, HtmlAttachmentNextToTextBody) {
  const Findings f = scan_every_way(crlf({
      "Content-Type: multipart/mixed; boundary=m",
      "",
      "--m",
      "Content-Type: text/plain; charset=utf-8",
      "",
      "See the attached invoice.",
      "--m",
      "Content-Type: text/html; name=\"invoice.html\"",
      "Content-Disposition: attachment;",
      " filename=\"invoice.html\"",
      "",
      "<html>invoice</html>",
      "--m--",
  }));
  EXPECT_EQ(f.text_plain_parts, 1u);
  EXPECT_EQ(f.text_html_parts, 0u);
  EXPECT_EQ(f.attachments, 1u);
  EXPECT_FALSE(f.html_without_text);
}

TEST(HygieneScanner, TextAttachmentIsNoAlternativeToHtmlBody) {
  const Findings f = scan_every_way(crlf({
      "Content-Type: multipart/mixed; boundary=m",
      "",
      "--m",
      "Content-Type: text/html",
      "",
      "<p>body</p>",
      "--m",
      "Content-Type: text/plain",
      "Content-Disposition: ATTACHMENT; filename=notes.txt",
      "",
      "notes",
      "--m--",
  }));
  EXPECT_EQ(f.attachments, 1u);
  EXPECT_TRUE(f.html_without_text);
}

TEST(HygieneScanner, PartWithoutContentTypeIsTextPlain) {
  const Findings f = scan_every_way(crlf({
      "Content-Type: multipart/alternative; boundary=b",
      "",
      "--b",
      "",
      "plain text, no headers",
      "--b",
      "Content-Type: text/html",
      "",
      "<p>x</p>",
      "--b--",
  }));
  EXPECT_EQ(f.text_plain_parts, 1u);
  EXPECT_FALSE(f.html_without_text);
}

TEST(HygieneScanner, DigestPartsDefaultToMessage) {
  const Findings f = scan_every_way(crlf({
      "Content-Type: multipart/digest; boundary=d",
      "",
      "--d",
      "",
      "From: x@example.com",
      "Content-Type: text/plain",
      "",
      "inner",
      "--d--",
  }));
  EXPECT_EQ(f.parts, 1u);
  EXPECT_EQ(f.text_plain_parts, 0u);
}

TEST(HygieneScanner, AttachedMessageIsOpaque) {
  const Findings f = scan_every_way(crlf({
      "Content-Type: multipart/mixed; boundary=m",
      "",
      "--m",
      "Content-Type: text/html",
      "",
      "<p>fwd</p>",
      "--m",
      "Content-Type: message/rfc822",
      "",
      "Content-Type: multipart/alternative; boundary=x",
      "",
      "--x",
      "Content-Type: text/plain",
      "",
      "inner text",
      "--x--",
      "--m--",
  }));
  EXPECT_EQ(f.parts, 2u);
  EXPECT_TRUE(f.html_without_text);
}

TEST(HygieneScanner, BoundaryRules) {
  // Transport padding after a delimiter is allowed; a boundary that is only
  // a prefix of a longer word is not a delimiter; text after a close
  // delimiter's "--" is tolerated.
  const Findings f = scan_every_way(crlf({
      "Content-Type: multipart/alternative; boundary=\"b\"",
      "",
      "--b \t",
      "Content-Type: text/html",
      "",
      "--bx",
      "Content-Type: text/plain",
      "",
      "--b-- trailing",
      "--b",
      "Content-Type: text/plain",
      "",
  }));
  EXPECT_EQ(f.parts, 1u);
  EXPECT_TRUE(f.html_without_text);
}

TEST(HygieneScanner, OuterBoundaryClosesInnerMultipart) {
  const Findings f = scan_every_way(crlf({
      "Content-Type: multipart/mixed; boundary=o",
      "",
      "--o",
      "Content-Type: multipart/alternative; boundary=i",
      "",
      "--i",
      "Content-Type: text/html",
      "",
      "x",
      "--o",  // the inner multipart never closed
      "Content-Type: text/plain",
      "",
      "y",
      "--o--",
  }));
  EXPECT_EQ(f.parts, 2u);
  EXPECT_FALSE(f.html_without_text);
}

TEST(HygieneScanner, BareLfAndMissingFinalNewline) {
  const std::string msg =
      "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/html\n\nx\n--b--";
  const Findings f = scan_every_way(msg);
  EXPECT_EQ(f.parts, 1u);
  EXPECT_TRUE(f.html_without_text);
}

TEST(HygieneScanner, HeadersCutShortByBoundary) {
  const Findings f = scan_every_way(crlf({
      "Content-Type: multipart/alternative; boundary=b",
      "",
      "--b",
      "Content-Type: text/plain",
      "--b",
      "Content-Type: text/html",
      "",
      "x",
      "--b--",
  }));
  EXPECT_EQ(f.parts, 2u);
  EXPECT_FALSE(f.html_without_text);
}

TEST(HygieneScanner, MultipartWithoutBoundary) {
  const Findings f = scan_message(crlf({"Content-Type: multipart/mixed", "", "--x"}));
  EXPECT_EQ(f.parts, 0u);
  EXPECT_EQ(f.mime_problem, "multipart/mixed has no boundary parameter");
}

// Fed through the scanner directly, the way the milter will.
TEST(HygieneScanner, MilterStyleFeeding) {
  MessageScanner s;
  s.header("From", "Acme <news@send.acme.com>");
  s.header("Content-Type", "multipart/alternative;\r\n\tboundary=\"=_abc\"");
  s.end_of_headers();
  const std::string body = crlf({"--=_abc", "Content-Type: text/plain", "", "hi", "--=_abc",
                                 "Content-Type: text/html", "", "<p>hi</p>", "--=_abc--"});
  for (const char c : body) s.body(std::string_view(&c, 1));
  const Findings f = s.finish();
  EXPECT_EQ(f.parts, 2u);
  EXPECT_FALSE(f.html_without_text);
  EXPECT_EQ(f.from_domain, "send.acme.com");
}

// ---- limits ----

TEST(HygieneLimits, DepthStopsScanning) {
  std::vector<std::string> lines = {"Content-Type: multipart/mixed; boundary=b0", ""};
  for (std::size_t i = 0; i < kMaxDepth + 2; ++i) {
    lines.push_back("--b" + std::to_string(i));
    lines.push_back("Content-Type: multipart/mixed; boundary=b" + std::to_string(i + 1));
    lines.push_back("");
  }
  const Findings f = scan_message(crlf(lines));
  EXPECT_TRUE(f.truncated);
  EXPECT_NE(f.truncated_reason.find("nested deeper than 16"), std::string::npos);
}

TEST(HygieneLimits, LongBoundary) {
  const std::string b71(71, 'x');  // over RFC 2046's 70, tolerated
  Findings f =
      scan_message(crlf({"Content-Type: multipart/alternative; boundary=" + b71, "", "--" + b71,
                         "Content-Type: text/html", "", "x", "--" + b71 + "--"}));
  EXPECT_FALSE(f.truncated);
  EXPECT_TRUE(f.html_without_text);
  const std::string huge(kMaxBoundaryLength + 1, 'x');
  f = scan_message(
      crlf({"Content-Type: multipart/alternative; boundary=" + huge, "", "--" + huge}));
  EXPECT_TRUE(f.truncated);
}

TEST(HygieneLimits, TooManyParts) {
  std::vector<std::string> lines = {"Content-Type: multipart/mixed; boundary=b", ""};
  for (std::size_t i = 0; i < kMaxParts + 5; ++i) {
    lines.insert(lines.end(), {"--b", "Content-Type: image/gif", "", "R0lG"});
  }
  lines.push_back("--b");
  lines.push_back("Content-Type: text/plain");
  const Findings f = scan_message(crlf(lines));
  EXPECT_TRUE(f.truncated);
  EXPECT_EQ(f.parts, kMaxParts);
  EXPECT_EQ(f.text_plain_parts, 0u);
}

TEST(HygieneLimits, LongPartHeaderLine) {
  const Findings f =
      scan_message(crlf({"Content-Type: multipart/mixed; boundary=b", "", "--b",
                         "X-Junk: " + std::string(kMaxPartHeaderLine, 'j'), "", "x", "--b--"}));
  EXPECT_TRUE(f.truncated);
}

TEST(HygieneLimits, LongBodyLinesAreFineAndBufferStaysBounded) {
  const std::string html(1 << 20, 'h');  // a 1 MiB line of HTML
  const std::string msg = crlf({"Content-Type: multipart/alternative; boundary=b", "", "--b",
                                "Content-Type: text/plain", "", "t", "--b",
                                "Content-Type: text/html", "", html, "--b--"});
  MessageScanner s;
  const std::size_t at = feed_headers(s, msg);
  for (std::size_t i = at; i < msg.size(); i += 65536) {
    s.body(std::string_view(msg).substr(i, 65536));
    EXPECT_LE(s.buffered_bytes(), kMaxPartHeaderLine + 2 * kMaxHeaderField + 64);
  }
  const Findings f = s.finish();
  EXPECT_FALSE(f.truncated);
  EXPECT_EQ(f.parts, 2u);
  EXPECT_FALSE(f.html_without_text);
}

TEST(HygieneLimits, BoundaryWithLongBlankPadding) {
  const Findings f = scan_every_way(
      crlf({"Content-Type: multipart/alternative; boundary=b", "", "--b" + std::string(300, ' '),
            "Content-Type: text/html", "", "x", "--b" + std::string(300, ' ') + "x", "", "--b--"}));
  EXPECT_EQ(f.parts, 1u);
  EXPECT_TRUE(f.html_without_text);
}

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
