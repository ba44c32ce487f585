// The message hygiene scanner on MIME boundaries (transport padding, prefix
// look-alikes, an outer boundary closing an inner part, bare LF), fed the
// way the milter feeds it, and within its limits: depth, parts, line and
// boundary lengths, with a buffer that stays bounded.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "formats/hygiene.hpp"
#include "tests/unit/hygiene_test_support.hpp"

namespace sg::hygiene {
namespace {

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

}  // namespace
}  // namespace sg::hygiene
