// The classifier: a recipient's domain, consumer versus institutional mail,
// operators by domain, and the lists shipped in deploy/lists. How a list
// is read is in domain_list_test.cpp.
#include "rules/classifier.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tests/unit/domain_list_test_support.hpp"

#ifndef SG_SOURCE_DIR
#error "SG_SOURCE_DIR must name the repository root"
#endif

namespace sg {
namespace {

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

std::map<std::string, DomainList> small_lists() {
  std::map<std::string, DomainList> lists;
  lists.emplace("yahoo_family", domain_list_of("yahoo.*\naol.*\natt.net\n"));
  lists.emplace("consumer", domain_list_of("gmail.com\noutlook.com\nyahoo.*\naol.*\n"));
  lists.emplace("direct_hisp", domain_list_of("*direct*\nmedicity.net\n!directv.com\n"));
  lists.emplace("dead_isp", domain_list_of("adelphia.net\n!comcast.net\n"));
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
