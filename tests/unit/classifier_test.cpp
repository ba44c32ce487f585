#include "rules/classifier.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#ifndef SG_SOURCE_DIR
#error "SG_SOURCE_DIR must name the repository root"
#endif

namespace sg {
namespace {

using ::testing::TestWithParam;
using ::testing::Values;

// ---------------------------------------------------------------- recipient_domain

TEST(RecipientDomain, LowercasesAsciiAndTakesTheDomain) {
  EXPECT_EQ(recipient_domain("Dr.Smith@Clinic-Example.COM"), "clinic-example.com");
  EXPECT_EQ(recipient_domain("a@B"), "b");
}

TEST(RecipientDomain, StripsOneTrailingDot) {
  EXPECT_EQ(recipient_domain("user@Mail.Example.COM."), "mail.example.com");
  EXPECT_EQ(recipient_domain("user@example.com.."), std::nullopt);
  EXPECT_EQ(recipient_domain("user@."), std::nullopt);
}

TEST(RecipientDomain, StripsAngleBrackets) {
  EXPECT_EQ(recipient_domain("<User@Example.org>"), "example.org");
  EXPECT_EQ(recipient_domain("<>"), std::nullopt);
  EXPECT_EQ(recipient_domain("<user@example.org"), "example.org") << "no closing '>': not stripped";
}

TEST(RecipientDomain, QuotedLocalPart) {
  EXPECT_EQ(recipient_domain("\"odd@local\"@Example.com"), "example.com");
  EXPECT_EQ(recipient_domain("\"a\\\"@b\"@example.net"), "example.net") << "escaped quote";
  EXPECT_EQ(recipient_domain("\"only@quoted\""), std::nullopt);
  EXPECT_EQ(recipient_domain("\"unterminated@example.com"), std::nullopt);
}

TEST(RecipientDomain, LastAtWins) {
  EXPECT_EQ(recipient_domain("a@b@example.com"), "example.com");
}

TEST(RecipientDomain, Rejects) {
  EXPECT_EQ(recipient_domain(""), std::nullopt);
  EXPECT_EQ(recipient_domain("postmaster"), std::nullopt);
  EXPECT_EQ(recipient_domain("user@"), std::nullopt);
  EXPECT_EQ(recipient_domain("user@[192.0.2.1]"), std::nullopt);
  EXPECT_EQ(recipient_domain("user@[IPv6:2001:db8::1]"), std::nullopt);
  EXPECT_EQ(recipient_domain("user@a..b"), std::nullopt);
  EXPECT_EQ(recipient_domain("user@.example.com"), std::nullopt);
  EXPECT_EQ(recipient_domain("user@exa mple.com"), std::nullopt);
  EXPECT_EQ(recipient_domain("user@exa_mple.com"), std::nullopt);
  EXPECT_EQ(recipient_domain("user@example.com "), std::nullopt);
  EXPECT_EQ(recipient_domain(std::string_view("user@exa\0mple.com", 17)), std::nullopt);
}

TEST(RecipientDomain, LabelAndNameLengthLimits) {
  const std::string l63(63, 'a');
  EXPECT_EQ(recipient_domain("u@" + l63 + ".com"), l63 + ".com");
  EXPECT_EQ(recipient_domain("u@" + std::string(64, 'a') + ".com"), std::nullopt);

  // 4 x 63 + 3 dots = 255; trim to exactly 253 and 254.
  std::string name = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
  ASSERT_EQ(name.size(), 253u);
  EXPECT_EQ(recipient_domain("u@" + name), name);
  EXPECT_EQ(recipient_domain("u@" + name + "."), name) << "trailing dot not counted";
  EXPECT_EQ(recipient_domain("u@" + name + "b"), std::nullopt);
}

TEST(RecipientDomain, KeepsUtf8BytesAsIs) {
  EXPECT_EQ(recipient_domain("u@Caf\xC3\xA9.Example"), "caf\xC3\xA9.example");
  EXPECT_EQ(recipient_domain("u@xn--caf-dma.example"), "xn--caf-dma.example");
}

// ---------------------------------------------------------------- DomainList syntax

DomainList parse_ok(std::string_view text) {
  std::vector<ListError> errors;
  DomainList list = DomainList::parse(text, "test.txt", errors);
  EXPECT_TRUE(errors.empty()) << errors.size() << " errors, first: line "
                              << (errors.empty() ? 0 : errors[0].line) << ": "
                              << (errors.empty() ? "" : errors[0].message);
  return list;
}

TEST(DomainList, PlainDomainCoversSubdomains) {
  const DomainList l = parse_ok("example.com\n");
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
  const DomainList l = parse_ok("=example.com\n");
  EXPECT_TRUE(l.matches("example.com"));
  EXPECT_FALSE(l.matches("mail.example.com"));
  EXPECT_EQ(l.size(), 1u);
}

TEST(DomainList, EntriesAreNormalised) {
  const DomainList l =
      parse_ok("  Example.COM.  \n=Exact.ORG.\n*DiReCt*\nYahoo.*\n!Sub.Example.Com\r\n");
  EXPECT_TRUE(l.matches("example.com"));
  EXPECT_TRUE(l.matches("exact.org"));
  EXPECT_TRUE(l.matches("mydirect.net"));
  EXPECT_TRUE(l.matches("yahoo.fr"));
  EXPECT_FALSE(l.matches("sub.example.com"));
}

TEST(DomainList, CommentsBlankLinesAndCrlf) {
  const DomainList l =
      parse_ok("# header\r\n\r\n   \t\nexample.com   # trailing comment\r\n#gone.com\nlast.org");
  EXPECT_TRUE(l.matches("example.com"));
  EXPECT_TRUE(l.matches("last.org")) << "last line without newline";
  EXPECT_FALSE(l.matches("gone.com"));
  EXPECT_EQ(l.size(), 2u);
}

TEST(DomainList, Utf8BomIsIgnored) {
  const DomainList l = parse_ok(
      "\xEF\xBB\xBF"
      "example.com\n");
  EXPECT_TRUE(l.matches("example.com"));
}

TEST(DomainList, EmptyTextIsAnEmptyList) {
  const DomainList l = parse_ok("");
  EXPECT_EQ(l.size(), 0u);
  EXPECT_FALSE(l.matches("example.com"));
}

TEST(DomainList, SizeCountsEveryKindOnce) {
  const DomainList l =
      parse_ok("a.com\nA.com\n=b.com\nyahoo.*\naol.*\n*direct*\n*Direct*\n!c.com\n");
  EXPECT_EQ(l.size(), 6u) << "a.com, =b.com, yahoo.*, aol.*, *direct*, !c.com";
}

TEST(DomainList, SingleLabelEntry) {
  const DomainList l = parse_ok("localhost\n");
  EXPECT_TRUE(l.matches("localhost"));
  EXPECT_TRUE(l.matches("foo.localhost"));
}

// yahoo.* : the label followed by one or two labels of at most 3 letters.
class CountryForm : public TestWithParam<std::pair<const char*, bool>> {};

TEST_P(CountryForm, Matches) {
  static const DomainList l = parse_ok("yahoo.*\n");
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
  const DomainList l = parse_ok("yahoo.*\n");
  // Three short labels after the name is not a country suffix.
  EXPECT_FALSE(l.matches("yahoo.abc.de.fr"));
  // Two names in the set: either position can match.
  const DomainList two = parse_ok("yahoo.*\nco.*\n");
  EXPECT_TRUE(two.matches("x.co.uk"));
}

TEST(DomainList, LabelContainsWord) {
  const DomainList l = parse_ok("*direct*\n");
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
  const DomainList l = parse_ok("*direct*\n!directory.example.org\n");
  EXPECT_FALSE(l.matches("directory.example.org"));
  EXPECT_FALSE(l.matches("www.directory.example.org")) << "exceptions cover subdomains";
  EXPECT_TRUE(l.matches("direct.example.org"));
}

TEST(DomainList, ExceptionWinsOverEveryKind) {
  const DomainList l = parse_ok(
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
  const DomainList before = parse_ok("!mail.example.com\nexample.com\n");
  const DomainList after = parse_ok("example.com\n!mail.example.com\n");
  for (const DomainList* l : {&before, &after}) {
    EXPECT_TRUE(l->matches("example.com"));
    EXPECT_TRUE(l->matches("www.example.com"));
    EXPECT_FALSE(l->matches("mail.example.com"));
    EXPECT_FALSE(l->matches("a.mail.example.com"));
  }
}

TEST(DomainList, ExceptionOnlyListMatchesNothing) {
  const DomainList l = parse_ok("!comcast.net\n");
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

std::map<std::string, DomainList> small_lists() {
  std::map<std::string, DomainList> lists;
  lists.emplace("yahoo_family", parse_ok("yahoo.*\naol.*\natt.net\n"));
  lists.emplace("consumer", parse_ok("gmail.com\noutlook.com\nyahoo.*\naol.*\n"));
  lists.emplace("direct_hisp", parse_ok("*direct*\nmedicity.net\n!directv.com\n"));
  lists.emplace("dead_isp", parse_ok("adelphia.net\n!comcast.net\n"));
  return lists;
}

const std::map<std::string, std::vector<std::string>> kOperators = {
    {"google", {"gmail.com", "googlemail.com"}},
    {"microsoft", {"outlook.com", "Hotmail.COM.", "microsoft.com"}},
    {"special", {"mail.microsoft.com"}},
};

TEST(Classifier, ConsumerVersusInstitutional) {
  const Classifier c(small_lists(), kOperators);

  const Classification gmail = c.classify("gmail.com");
  EXPECT_EQ(gmail.lists, std::vector<std::string>{"consumer"});
  EXPECT_TRUE(gmail.on("consumer"));
  EXPECT_FALSE(gmail.institutional());
  EXPECT_EQ(gmail.op, "google");

  const Classification clinic = c.classify("clinic-example.com");
  EXPECT_TRUE(clinic.lists.empty());
  EXPECT_TRUE(clinic.institutional());
  EXPECT_FALSE(clinic.on("consumer"));
  EXPECT_EQ(clinic.op, "");
  EXPECT_EQ(clinic.domain, "clinic-example.com");
}

TEST(Classifier, ListsAreSortedAndComplete) {
  const Classifier c(small_lists(), kOperators);
  const Classification aol = c.classify("aol.co.uk");
  EXPECT_EQ(aol.lists, (std::vector<std::string>{"consumer", "yahoo_family"}));
  EXPECT_TRUE(aol.on("yahoo_family"));
  EXPECT_TRUE(aol.on("consumer"));
  EXPECT_FALSE(aol.on("dead_isp"));
  EXPECT_FALSE(aol.on(""));

  EXPECT_EQ(c.classify("direct.clinic.org").lists, std::vector<std::string>{"direct_hisp"});
  EXPECT_TRUE(c.classify("directv.com").institutional());
  EXPECT_EQ(c.classify("adelphia.net").lists, std::vector<std::string>{"dead_isp"});
  EXPECT_TRUE(c.classify("comcast.net").institutional());
}

TEST(Classifier, OperatorMapCoversSubdomainsMostSpecificWins) {
  const Classifier c(small_lists(), kOperators);
  EXPECT_EQ(c.classify("outlook.com").op, "microsoft");
  EXPECT_EQ(c.classify("eu.outlook.com").op, "microsoft");
  EXPECT_EQ(c.classify("hotmail.com").op, "microsoft") << "map entries are normalised";
  EXPECT_EQ(c.classify("microsoft.com").op, "microsoft");
  EXPECT_EQ(c.classify("mail.microsoft.com").op, "special");
  EXPECT_EQ(c.classify("x.mail.microsoft.com").op, "special");
  EXPECT_EQ(c.classify("notgmail.com").op, "");
  EXPECT_EQ(c.classify("com").op, "");
}

TEST(Classifier, NormalisesAnUnnormalisedDomain) {
  const Classifier c(small_lists(), kOperators);
  const Classification g = c.classify("GMail.Com.");
  EXPECT_EQ(g.domain, "gmail.com");
  EXPECT_TRUE(g.on("consumer"));
  EXPECT_EQ(g.op, "google");
}

TEST(Classifier, KeepsItsLists) {
  const Classifier c(small_lists(), {});
  EXPECT_EQ(c.lists().size(), 4u);
  EXPECT_EQ(c.classify("gmail.com").op, "");
}

TEST(Classifier, EndToEndFromRecipient) {
  const Classifier c(small_lists(), kOperators);
  const auto d = recipient_domain("<Dr.Who@Mail.Yahoo.COM.>");
  ASSERT_TRUE(d);
  EXPECT_EQ(c.classify(*d).lists, (std::vector<std::string>{"consumer", "yahoo_family"}));
}

// ---------------------------------------------------------------- shipped lists

class ShippedLists : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::vector<ListError> errors;
    const std::string dir = SG_SOURCE_DIR "/deploy/lists/";
    lists_ = new std::map<std::string, DomainList>();
    lists_->emplace("yahoo_family", DomainList::load(dir + "yahoo-family.txt", errors));
    lists_->emplace("dead_isp", DomainList::load(dir + "dead-isp.txt", errors));
    lists_->emplace("consumer", DomainList::load(dir + "consumer-webmail.txt", errors));
    lists_->emplace("direct_hisp", DomainList::load(dir + "direct-hisp.txt", errors));
    errors_ = new std::vector<ListError>(std::move(errors));
  }
  static void TearDownTestSuite() {
    delete lists_;
    delete errors_;
    lists_ = nullptr;
    errors_ = nullptr;
  }
  static const DomainList& list(const std::string& name) { return lists_->at(name); }

  static std::map<std::string, DomainList>* lists_;
  static std::vector<ListError>* errors_;
};
std::map<std::string, DomainList>* ShippedLists::lists_ = nullptr;
std::vector<ListError>* ShippedLists::errors_ = nullptr;

TEST_F(ShippedLists, LoadWithoutErrors) {
  for (const auto& e : *errors_) ADD_FAILURE() << e.file << ":" << e.line << ": " << e.message;
  for (const auto& [name, l] : *lists_) EXPECT_GT(l.size(), 0u) << name;
}

TEST_F(ShippedLists, YahooFamily) {
  for (const char* d :
       {"yahoo.com",      "ymail.com",     "rocketmail.com", "aol.com",        "att.net",
        "sbcglobal.net",  "bellsouth.net", "verizon.net",    "frontier.com",   "yahoo.co.uk",
        "yahoo.com.br",   "yahoo.fr",      "aim.com",        "aol.co.uk",      "pacbell.net",
        "swbell.net",     "prodigy.net",   "netscape.net",   "compuserve.com", "cs.com",
        "frontiernet.net"}) {
    EXPECT_TRUE(list("yahoo_family").matches(d)) << d;
  }
  for (const char* d : {"gmail.com", "outlook.com", "comcast.net", "yahoo.example.org",
                        "notyahoo.com", "clinic-example.com"}) {
    EXPECT_FALSE(list("yahoo_family").matches(d)) << d;
  }
}

TEST_F(ShippedLists, DeadIspExcludesLargeLiveIsps) {
  for (const char* d : {"comcast.net", "charter.net", "cox.net", "centurylink.net",
                        "mail.comcast.net", "gmail.com", "earthlink.net", "juno.com"}) {
    EXPECT_FALSE(list("dead_isp").matches(d)) << d;
  }
  EXPECT_TRUE(list("dead_isp").matches("adelphia.net"));
}

TEST_F(ShippedLists, Consumer) {
  for (const char* d :
       {"gmail.com",   "googlemail.com", "outlook.com",   "hotmail.com",   "hotmail.co.uk",
        "live.com",    "msn.com",        "icloud.com",    "me.com",        "mac.com",
        "aol.com",     "yahoo.com",      "comcast.net",   "charter.net",   "cox.net",
        "verizon.net", "att.net",        "sbcglobal.net", "earthlink.net", "juno.com",
        "netzero.net", "proton.me"}) {
    EXPECT_TRUE(list("consumer").matches(d)) << d;
  }
  for (const char* d : {"clinic-example.com", "example-practice.org", "medicity.net"}) {
    EXPECT_FALSE(list("consumer").matches(d)) << d;
  }
}

TEST_F(ShippedLists, DirectHisp) {
  for (const char* d : {"medicity.net", "direct.example-clinic.org", "hisp.directaddress.net",
                        "surescripts.net", "updox.com", "maxmd.com", "directmdemail.com"}) {
    EXPECT_TRUE(list("direct_hisp").matches(d)) << d;
  }
  for (const char* d : {"directv.com", "mail.directv.com", "clinic-example.com", "gmail.com"}) {
    EXPECT_FALSE(list("direct_hisp").matches(d)) << d;
  }
}

TEST_F(ShippedLists, ClassifierOverShippedLists) {
  const Classifier c(*lists_, {});
  EXPECT_EQ(c.classify("aol.com").lists, (std::vector<std::string>{"consumer", "yahoo_family"}));
  EXPECT_TRUE(c.classify("clinic-example.com").institutional());
  EXPECT_EQ(c.classify("comcast.net").lists, std::vector<std::string>{"consumer"});
}

}  // namespace
}  // namespace sg
