// decide_exclusion: a recipient on a list the stream excludes is refused,
// with the list named as it is; a shadow stream only reports what it would
// do; the shipped lists through the real classifier.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "rules/classifier.hpp"
#include "rules/decision.hpp"
#include "tests/unit/decision_test_support.hpp"

#ifndef SG_SOURCE_DIR
#error "SG_SOURCE_DIR must name the repository root"
#endif

namespace sg {
namespace {

Classification classified(std::string domain, std::vector<std::string> lists, std::string op = "") {
  Classification c;
  c.domain = std::move(domain);
  std::sort(lists.begin(), lists.end());  // Classification::on() expects them sorted
  c.lists = std::move(lists);
  c.op = std::move(op);
  return c;
}

// ---------------------------------------------------------------- decide_exclusion

struct ExclusionCase {
  const char* stream;
  const char* domain;
  std::vector<std::string> lists;
  std::optional<std::string> reply;  // nullopt: not excluded
  std::string reason;
};

class ExclusionTable : public ::testing::TestWithParam<ExclusionCase> {};

TEST_P(ExclusionTable, Decides) {
  const auto& tc = GetParam();
  const StreamConfig* stream = example().stream_named(tc.stream);
  ASSERT_NE(stream, nullptr);
  auto v = decide_exclusion(*stream, classified(tc.domain, tc.lists));
  if (!tc.reply) {
    EXPECT_FALSE(v.has_value()) << v->reply;
    return;
  }
  ASSERT_TRUE(v.has_value());
  expect_verdict(*v, Action::reject, Action::reject, *tc.reply, tc.reason, false);
}

INSTANTIATE_TEST_SUITE_P(
    ShippedListWording, ExclusionTable,
    ::testing::Values(
        ExclusionCase{"healthcare",
                      "gmail.com",
                      {"consumer"},
                      "REJECT 5.7.1 streamguard: gmail.com is consumer webmail, which stream "
                      "healthcare excludes",
                      "excluded:consumer"},
        ExclusionCase{"trucking", "gmail.com", {"consumer"}, std::nullopt, ""},
        ExclusionCase{"trucking",
                      "yahoo.com",
                      {"yahoo_family", "consumer"},
                      "REJECT 5.7.1 streamguard: yahoo.com is in the Yahoo/AOL/Verizon mail "
                      "family, which stream trucking excludes",
                      "excluded:yahoo_family"},
        ExclusionCase{"healthcare",
                      "aol.com",
                      {"yahoo_family", "consumer"},
                      "REJECT 5.7.1 streamguard: aol.com is in the Yahoo/AOL/Verizon mail family, "
                      "which stream healthcare excludes",
                      "excluded:yahoo_family"},
        ExclusionCase{"trucking",
                      "adelphia.net",
                      {"dead_isp"},
                      "REJECT 5.7.1 streamguard: adelphia.net is a dead ISP domain that only "
                      "hard-bounces, which stream trucking excludes",
                      "excluded:dead_isp"},
        ExclusionCase{"healthcare",
                      "adelphia.net",
                      {"dead_isp"},
                      "REJECT 5.7.1 streamguard: adelphia.net is a dead ISP domain that only "
                      "hard-bounces, which stream healthcare excludes",
                      "excluded:dead_isp"},
        ExclusionCase{
            "trucking",
            "direct.clinic.org",
            {"direct_hisp"},
            "REJECT 5.7.1 streamguard: direct.clinic.org is a Direct/HISP secure-messaging domain "
            "that cannot take cold mail, which stream trucking excludes",
            "excluded:direct_hisp"},
        ExclusionCase{
            "healthcare",
            "direct.clinic.org",
            {"direct_hisp"},
            "REJECT 5.7.1 streamguard: direct.clinic.org is a Direct/HISP secure-messaging domain "
            "that cannot take cold mail, which stream healthcare excludes",
            "excluded:direct_hisp"},
        ExclusionCase{"trucking", "smithclinic.org", {}, std::nullopt, ""},
        ExclusionCase{"healthcare", "smithclinic.org", {}, std::nullopt, ""},
        // A list the stream does not exclude does not count.
        ExclusionCase{"healthcare", "example.net", {"unused_list"}, std::nullopt, ""},
        // On several excluded lists: the stream's own exclude order names the reason
        // (healthcare lists direct_hisp before consumer).
        ExclusionCase{
            "healthcare",
            "directmail.example",
            {"consumer", "direct_hisp"},
            "REJECT 5.7.1 streamguard: directmail.example is a Direct/HISP secure-messaging domain "
            "that cannot take cold mail, which stream healthcare excludes",
            "excluded:direct_hisp"}),
    [](const auto& tc) {
      // "healthcare_gmail_com_1": the stream, the domain, the case's index
      // (one domain appears with different lists). Stable run to run.
      std::string name =
          std::string(tc.param.stream) + "_" + tc.param.domain + "_" + std::to_string(tc.index);
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

TEST(DecideExclusion, CustomListIsNamedAsItIs) {
  StreamConfig s;
  s.name = "trucking";
  s.exclude = {"competitors"};
  auto v = decide_exclusion(s, classified("rival.example", {"competitors"}));
  ASSERT_TRUE(v.has_value());
  expect_verdict(*v, Action::reject, Action::reject,
                 "REJECT 5.7.1 streamguard: rival.example is on the competitors list, which stream "
                 "trucking excludes",
                 "excluded:competitors", false);
}

TEST(DecideExclusion, ShadowModeOnlyReportsWhatItWouldDo) {
  StreamConfig s = healthcare();
  s.mode = StreamMode::shadow;
  auto v = decide_exclusion(s, classified("gmail.com", {"consumer"}, "google"));
  ASSERT_TRUE(v.has_value());
  expect_verdict(*v, Action::dunno, Action::reject, "DUNNO", "excluded:consumer", true);

  EXPECT_FALSE(decide_exclusion(s, classified("smithclinic.org", {})).has_value());
}

TEST(DecideExclusion, ShippedListsThroughTheRealClassifier) {
  const Config& cfg = example();
  std::map<std::string, DomainList> lists;
  std::vector<ListError> errors;
  for (const auto& [name, path] : cfg.lists) lists.emplace(name, DomainList::load(path, errors));
  for (const auto& e : errors) ADD_FAILURE() << e.file << ":" << e.line << ": " << e.message;
  std::map<std::string, std::vector<std::string>> op_domains;
  for (const auto& op : cfg.operators) op_domains[op.name] = op.domains;
  Classifier classifier(std::move(lists), op_domains);

  auto gmail = classifier.classify("gmail.com");
  EXPECT_EQ(gmail.op, "google");
  auto hc = decide_exclusion(healthcare(), gmail);
  ASSERT_TRUE(hc.has_value());
  EXPECT_EQ(
      hc->reply,
      "REJECT 5.7.1 streamguard: gmail.com is consumer webmail, which stream healthcare excludes");
  EXPECT_FALSE(decide_exclusion(trucking(), gmail).has_value());

  for (const char* d : {"yahoo.com", "aol.com", "yahoo.co.uk"}) {
    auto c = classifier.classify(d);
    for (const StreamConfig* s : {&trucking(), &healthcare()}) {
      auto v = decide_exclusion(*s, c);
      ASSERT_TRUE(v.has_value()) << d << " on " << s->name;
      EXPECT_EQ(v->reason, "excluded:yahoo_family") << d << " on " << s->name;
    }
  }
  auto clinic = classifier.classify("smithclinic.org");
  EXPECT_TRUE(clinic.institutional());
  EXPECT_FALSE(decide_exclusion(healthcare(), clinic).has_value());
  EXPECT_FALSE(decide_exclusion(trucking(), clinic).has_value());
}

}  // namespace
}  // namespace sg
