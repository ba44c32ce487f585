// The message hygiene scanner on MIME structure: which messages have a
// text/plain alternative to their HTML, through nested multiparts,
// attachments, digests and attached messages, whatever the body's chunks.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "formats/hygiene.hpp"
#include "tests/unit/hygiene_test_support.hpp"

namespace sg::hygiene {
namespace {

// A Listmonk newsletter as it leaves Listmonk: text and HTML alternatives,
// one-click unsubscribe, DKIM-signed.
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

}  // namespace
}  // namespace sg::hygiene
