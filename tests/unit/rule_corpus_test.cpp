// The shipped [[breaker]] and [[suppress]] rules (deploy/examples/
// streamguard.toml) against the corpus of receivers' replies in
// tests/data/maillog/rules/: KIND-NAME.log holds the replies rule NAME is
// meant for. Each rule must match every line of its own file and no line of
// any other; no reputation reply (a breaker's line) may teach a suppression;
// every suppression line is learned by its rule once its threshold and span
// are met, and never before.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "formats/maillog.hpp"
#include "rules/breaker.hpp"
#include "rules/result_match.hpp"
#include "rules/suppression.hpp"

namespace sg {
namespace {

namespace fs = std::filesystem;

const std::string kCorpus = SG_SOURCE_DIR "/tests/data/maillog/rules/";

const Config& example() {
  static auto r = load_config(SG_SOURCE_DIR "/deploy/examples/streamguard.toml");
  return *r.config;
}

// Every corpus file's results, as rampd would feed them: file stem -> events.
const std::map<std::string, std::vector<breaker::Event>>& corpus() {
  static const auto files = [] {
    std::map<std::string, std::vector<breaker::Event>> out;
    breaker::EventMapper mapper(example());
    for (const auto& f : fs::directory_iterator(kCorpus)) {
      std::ifstream in(f.path());
      auto& events = out[f.path().stem().string()];
      for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        auto d = maillog::parse_line(line);
        EXPECT_TRUE(d) << f.path() << ": not a delivery result: " << line;
        if (!d) continue;
        auto e = mapper.event(*d, 0);
        EXPECT_TRUE(e) << f.path() << ": no stream's transport logged: " << line;
        if (e) events.push_back(*e);
      }
    }
    return out;
  }();
  return files;
}

template <class Rule>
void expect_matches_only_its_own(const Rule& rule, const std::string& kind) {
  const std::string own = kind + "-" + rule.name;
  ASSERT_TRUE(corpus().count(own))
      << "no corpus " << kCorpus << own << ".log for rule " << rule.name;
  ASSERT_FALSE(corpus().at(own).empty()) << own;
  const rules::CompiledMatch match(rule);
  for (const auto& [file, events] : corpus())
    for (const auto& e : events)
      EXPECT_EQ(match.matches(e.op, e.status, e.dsn, e.text), file == own)
          << kind << " rule " << rule.name << " on " << file << ".log: " << e.text;
}

TEST(RuleCorpus, EveryBreakerMatchesItsRepliesAndNoOther) {
  ASSERT_FALSE(example().breakers.empty());
  for (const auto& b : example().breakers) expect_matches_only_its_own(b, "breaker");
}

TEST(RuleCorpus, EverySuppressRuleMatchesItsRepliesAndNoOther) {
  ASSERT_FALSE(example().suppress.empty());
  for (const auto& s : example().suppress) expect_matches_only_its_own(s, "suppress");
}

TEST(RuleCorpus, EveryBreakerReplyIsAReputationReplyAndTeachesNothing) {
  suppression::Learner learner(example().suppress);
  for (const auto& [file, events] : corpus()) {
    if (!file.starts_with("breaker-")) continue;
    for (auto e : events) {
      EXPECT_TRUE(suppression::is_reputation_reply(e.dsn, e.text)) << file << ": " << e.text;
      for (int i = 0; i < 50; ++i) {  // past any threshold, over days
        e.time_ms = int64_t{i} * 6 * 3600 * 1000;
        EXPECT_TRUE(learner.record(e).empty()) << file << ": " << e.text;
      }
    }
  }
  EXPECT_EQ(learner.counts().learned, 0u);
}

TEST(RuleCorpus, SuppressionRepliesAreNotReputationReplies) {
  for (const auto& [file, events] : corpus()) {
    if (!file.starts_with("suppress-")) continue;
    for (const auto& e : events)
      EXPECT_FALSE(suppression::is_reputation_reply(e.dsn, e.text)) << file << ": " << e.text;
  }
}

// Each line repeated every `step` until its rule learns it: it takes exactly
// the rule's threshold, and no fewer than span_s.
TEST(RuleCorpus, EachSuppressionLineIsLearnedAtItsThresholdAndSpan) {
  for (const auto& rule : example().suppress) {
    for (auto e : corpus().at("suppress-" + rule.name)) {
      suppression::Learner learner({rule});
      const int64_t step_ms =
          rule.threshold > 1 ? int64_t{rule.span_s} * 1000 / (rule.threshold - 1) + 1 : 1;
      std::vector<suppression::Entry> got;
      uint32_t results = 0;
      while (got.empty() && results < rule.threshold + 5) {
        e.time_ms = int64_t{results} * step_ms;
        got = learner.record(e);
        ++results;
      }
      ASSERT_EQ(got.size(), 1u) << rule.name << ": " << e.text;
      EXPECT_EQ(results, rule.threshold) << rule.name;
      EXPECT_EQ(got[0].rule, rule.name);
      EXPECT_EQ(got[0].scope, rule.scope);
      const auto at = e.recipient.find('@');
      EXPECT_EQ(got[0].key,
                rule.scope == SuppressScope::address ? e.recipient : e.recipient.substr(at + 1));
      EXPECT_EQ(got[0].until_ms, e.time_ms + int64_t{rule.ttl_s} * 1000);

      // The same results all at once: a rule with a span never learns them.
      if (rule.span_s == 0) continue;
      suppression::Learner burst({rule});
      for (uint32_t i = 0; i < rule.threshold * 3; ++i) {
        e.time_ms = 1000;
        EXPECT_TRUE(burst.record(e).empty()) << rule.name << ": learned within its span";
      }
    }
  }
}

}  // namespace
}  // namespace sg
