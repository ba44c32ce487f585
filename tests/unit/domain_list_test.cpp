// Domain lists (deploy/lists/*.txt): what each kind of entry matches (a
// domain and its subdomains, "=" exact, "name.*" country forms, "*word*",
// "!" exceptions), and errors that name the file and line.
#include "rules/classifier.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/unit/domain_list_test_support.hpp"

#ifndef SG_SOURCE_DIR
#error "SG_SOURCE_DIR must name the repository root"
#endif

namespace sg {
namespace {

using ::testing::TestWithParam;
using ::testing::Values;

// ---------------------------------------------------------------- DomainList syntax

TEST(DomainList, PlainDomainCoversSubdomains) {
  const DomainList l = domain_list_of("example.com\n");
  EXPECT_TRUE(l.matches("example.com"));
  EXPECT_TRUE(l.matches("mail.example.com"));
  EXPECT_TRUE(l.matches("a.b.c.example.com"));
  EXPECT_FALSE(l.matches("notexample.com")) << "label boundary, not a string suffix";
  EXPECT_FALSE(l.matches("example.com.evil.org"));
  EXPECT_FALSE(l.matches("com"));
  EXPECT_FALSE(l.matches("example.org"));
  EXPECT_FALSE(l.matches(""));
}

TEST(DomainList, ExactDomainOnly) {
  const DomainList l = domain_list_of("=example.com\n");
  EXPECT_TRUE(l.matches("example.com"));
  EXPECT_FALSE(l.matches("mail.example.com"));
  EXPECT_EQ(l.size(), 1u);
}

TEST(DomainList, EntriesAreNormalised) {
  const DomainList l =
      domain_list_of("  Example.COM.  \n=Exact.ORG.\n*DiReCt*\nYahoo.*\n!Sub.Example.Com\r\n");
  EXPECT_TRUE(l.matches("example.com"));
  EXPECT_TRUE(l.matches("exact.org"));
  EXPECT_TRUE(l.matches("mydirect.net"));
  EXPECT_TRUE(l.matches("yahoo.fr"));
  EXPECT_FALSE(l.matches("sub.example.com"));
}

TEST(DomainList, CommentsBlankLinesAndCrlf) {
  const DomainList l = domain_list_of(
      "# header\r\n\r\n   \t\nexample.com   # trailing comment\r\n#gone.com\nlast.org");
  EXPECT_TRUE(l.matches("example.com"));
  EXPECT_TRUE(l.matches("last.org")) << "last line without newline";
  EXPECT_FALSE(l.matches("gone.com"));
  EXPECT_EQ(l.size(), 2u);
}

TEST(DomainList, Utf8BomIsIgnored) {
  const DomainList l = domain_list_of(
      "\xEF\xBB\xBF"
      "example.com\n");
  EXPECT_TRUE(l.matches("example.com"));
}

TEST(DomainList, EmptyTextIsAnEmptyList) {
  const DomainList l = domain_list_of("");
  EXPECT_EQ(l.size(), 0u);
  EXPECT_FALSE(l.matches("example.com"));
}

TEST(DomainList, SizeCountsEveryKindOnce) {
  const DomainList l =
      domain_list_of("a.com\nA.com\n=b.com\nyahoo.*\naol.*\n*direct*\n*Direct*\n!c.com\n");
  EXPECT_EQ(l.size(), 6u) << "a.com, =b.com, yahoo.*, aol.*, *direct*, !c.com";
}

TEST(DomainList, SingleLabelEntry) {
  const DomainList l = domain_list_of("localhost\n");
  EXPECT_TRUE(l.matches("localhost"));
  EXPECT_TRUE(l.matches("foo.localhost"));
}

// yahoo.* : the label followed by one or two labels of at most 3 letters.
class CountryForm : public TestWithParam<std::pair<const char*, bool>> {};

TEST_P(CountryForm, Matches) {
  static const DomainList l = domain_list_of("yahoo.*\n");
  const auto& [domain, expected] = GetParam();
  EXPECT_EQ(l.matches(domain), expected) << domain;
}

INSTANTIATE_TEST_SUITE_P(YahooStar, CountryForm,
                         Values(std::pair{"yahoo.com", true}, std::pair{"yahoo.co.uk", true},
                                std::pair{"yahoo.com.br", true}, std::pair{"yahoo.fr", true},
                                std::pair{"yahoo.co.jp", true}, std::pair{"mail.yahoo.com", true},
                                std::pair{"a.b.yahoo.com.au", true},
                                std::pair{"yahoo.example.org", false},
                                std::pair{"notyahoo.com", false}, std::pair{"yahoonot.com", false},
                                std::pair{"yahoo", false}, std::pair{"yahoo.info", false},
                                std::pair{"yahoo.co.uk.example.com", false},
                                std::pair{"yahoo.com.br.x", false}, std::pair{"yahoo.a.b.c", false},
                                std::pair{"yahoo.c0m", false}, std::pair{"yahoo.xn--p1ai", false},
                                std::pair{"com.yahoo", false}),
                         [](const auto& tc) {
                           // "yahoo.co.uk" -> "yahoo_co_uk": a stable test name.
                           std::string name = tc.param.first;
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

TEST(DomainList, CountryFormNeedsTheNameRightBeforeTheSuffix) {
  const DomainList l = domain_list_of("yahoo.*\n");
  // Three short labels after the name is not a country suffix.
  EXPECT_FALSE(l.matches("yahoo.abc.de.fr"));
  // Two names in the set: either position can match.
  const DomainList two = domain_list_of("yahoo.*\nco.*\n");
  EXPECT_TRUE(two.matches("x.co.uk"));
}

TEST(DomainList, LabelContainsWord) {
  const DomainList l = domain_list_of("*direct*\n");
  EXPECT_TRUE(l.matches("direct.clinic.org"));
  EXPECT_TRUE(l.matches("hisp.directaddress.net"));
  EXPECT_TRUE(l.matches("clinic.mydirect.com"));
  EXPECT_TRUE(l.matches("direct"));
  // Documented: any label containing the word matches, so "directory" does too.
  EXPECT_TRUE(l.matches("directory.example.org"));
  EXPECT_FALSE(l.matches("dir.ect.org")) << "the word never spans a dot";
  EXPECT_FALSE(l.matches("clinic.org"));
}

TEST(DomainList, ExceptionUnparksAFalsePositive) {
  const DomainList l = domain_list_of("*direct*\n!directory.example.org\n");
  EXPECT_FALSE(l.matches("directory.example.org"));
  EXPECT_FALSE(l.matches("www.directory.example.org")) << "exceptions cover subdomains";
  EXPECT_TRUE(l.matches("direct.example.org"));
}

TEST(DomainList, ExceptionWinsOverEveryKind) {
  const DomainList l = domain_list_of(
      "example.com\n=exact.example.com\nyahoo.*\n*direct*\n"
      "!example.com\n!yahoo.co.uk\n!direct.net\n");
  EXPECT_FALSE(l.matches("example.com"));
  EXPECT_FALSE(l.matches("exact.example.com"));
  EXPECT_FALSE(l.matches("sub.example.com"));
  EXPECT_FALSE(l.matches("yahoo.co.uk"));
  EXPECT_TRUE(l.matches("yahoo.com"));
  EXPECT_FALSE(l.matches("direct.net"));
  EXPECT_FALSE(l.matches("x.direct.net"));
  EXPECT_TRUE(l.matches("direct.org"));
}

TEST(DomainList, ExceptionOrderDoesNotMatter) {
  const DomainList before = domain_list_of("!mail.example.com\nexample.com\n");
  const DomainList after = domain_list_of("example.com\n!mail.example.com\n");
  for (const DomainList* l : {&before, &after}) {
    EXPECT_TRUE(l->matches("example.com"));
    EXPECT_TRUE(l->matches("www.example.com"));
    EXPECT_FALSE(l->matches("mail.example.com"));
    EXPECT_FALSE(l->matches("a.mail.example.com"));
  }
}

TEST(DomainList, ExceptionOnlyListMatchesNothing) {
  const DomainList l = domain_list_of("!comcast.net\n");
  EXPECT_FALSE(l.matches("comcast.net"));
  EXPECT_FALSE(l.matches("example.com"));
  EXPECT_EQ(l.size(), 1u);
}

// ---------------------------------------------------------------- DomainList errors

TEST(DomainListErrors, EachBadLineNamesFileAndLineAndParsingContinues) {
  const std::string text =
      "good.com\n"          // 1
      "bad domain.com\n"    // 2 invalid domain (space)
      "a..b\n"              // 3 empty label
      "**\n"                // 4 *word* with empty word
      "*dir.ect*\n"         // 5 dotted word
      "*direct\n"           // 6 no closing '*'
      ".*\n"                // 7 name.* with empty name
      "foo.bar.*\n"         // 8 dotted name
      "@example.com\n"      // 9 unknown leading character
      "-example.com\n"      // 10 unknown leading character
      "=\n"                 // 11 exact with no domain
      "!\n"                 // 12 exception with no domain
      "![192.0.2.1]\n"      // 13 invalid exception
      "user@example.com\n"  // 14 an address, not a domain
      "[192.0.2.1]\n"       // 15 unknown leading character
      "" +
      std::string(64, 'x') +
      ".com\n"            // 16 label too long
      "also-good.org\n";  // 17
  std::vector<ListError> errors;
  const DomainList l = DomainList::parse(text, "lists/x.txt", errors);
  std::vector<unsigned> lines;
  for (const auto& e : errors) {
    EXPECT_EQ(e.file, "lists/x.txt");
    EXPECT_FALSE(e.message.empty());
    lines.push_back(e.line);
  }
  EXPECT_EQ(lines, (std::vector<unsigned>{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}));
  EXPECT_TRUE(l.matches("good.com"));
  EXPECT_TRUE(l.matches("also-good.org"));
  EXPECT_EQ(l.size(), 2u);
}

TEST(DomainListErrors, MessageQuotesTheOffendingText) {
  std::vector<ListError> errors;
  DomainList::parse("# c\n\nbad_domain.com\n", "f.txt", errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 3u) << "comment and blank lines are counted";
  EXPECT_NE(errors[0].message.find("bad_domain.com"), std::string::npos) << errors[0].message;
}

TEST(DomainListErrors, ErrorsAreAppended) {
  std::vector<ListError> errors{ListError{"earlier.txt", 7, "kept"}};
  DomainList::parse("?x\n", "f.txt", errors);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].file, "earlier.txt");
  EXPECT_EQ(errors[1].file, "f.txt");
  EXPECT_EQ(errors[1].line, 1u);
}

TEST(DomainListErrors, UnreadableFileIsOneErrorNamingFileAndReason) {
  std::vector<ListError> errors;
  const DomainList l = DomainList::load("/nonexistent/streamguard/list.txt", errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, "/nonexistent/streamguard/list.txt");
  EXPECT_NE(errors[0].message.find("No such file or directory"), std::string::npos)
      << errors[0].message;
  EXPECT_EQ(l.size(), 0u);
}

TEST(DomainListErrors, DirectoryIsUnreadable) {
  std::vector<ListError> errors;
  DomainList::load(SG_SOURCE_DIR "/deploy/lists", errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("directory"), std::string::npos) << errors[0].message;
}

// ---------------------------------------------------------------- Classifier
}  // namespace
}  // namespace sg
