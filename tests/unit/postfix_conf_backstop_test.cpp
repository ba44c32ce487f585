// streamguardctl postfix-conf's backstop regexp table: evaluated here with
// POSIX regcomp/regexec, as Postfix's regexp: tables are, it refuses exactly
// what DomainList lists, with policyd's words, for the shipped lists and for
// every syntax of a list.
#include <gtest/gtest.h>
#include <regex.h>

#include <cctype>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/postfix_conf.hpp"
#include "rules/classifier.hpp"
#include "rules/decision.hpp"
#include "tests/text_match.hpp"
#include "tests/unit/domain_list_test_support.hpp"

#ifndef SG_SOURCE_DIR
#error "SG_SOURCE_DIR must name the repository root"
#endif

namespace sg {
namespace {

using sg::testing::contains;

// ---------------------------------------------------------------- a regexp: table, evaluated

// Postfix's regexp_table(5) semantics for what the renderer writes:
// "/pattern/ result", "if /pattern/", "if !/pattern/", "endif", comments and
// blank lines; first match wins; case-insensitive (no flags); $1 and $$ in
// the result.
class RegexpTable {
 public:
  explicit RegexpTable(const std::string& text) {
    std::istringstream in(text);
    int line_no = 0;
    for (std::string line; std::getline(in, line);) {
      ++line_no;
      if (line.empty() || line[0] == '#') continue;
      Rule r;
      r.line = line_no;
      std::string_view rest = line;
      if (rest == "endif") {
        r.kind = Rule::endif;
        rules_.push_back(std::move(r));
        continue;
      }
      if (rest.starts_with("if ")) {
        rest.remove_prefix(3);
        r.kind = Rule::if_;
        if (rest.starts_with("!")) {
          r.negate = true;
          rest.remove_prefix(1);
        }
      }
      if (!rest.starts_with("/")) throw std::runtime_error("line " + std::to_string(line_no));
      // The rendered patterns hold no '/': a match rule is "/pattern/ result",
      // an if is "if [!]/pattern/".
      const auto close = r.kind == Rule::match ? rest.find("/ ", 1) : rest.size() - 1;
      if (close == std::string_view::npos || close == 0 || rest[close] != '/')
        throw std::runtime_error("no closing / on line " + std::to_string(line_no));
      std::string pattern(rest.substr(1, close - 1));
      if (r.kind == Rule::match) r.result = std::string(rest.substr(close + 2));
      r.re = std::make_shared<Regex>(pattern);
      if (!r.re->ok) throw std::runtime_error("bad regex on line " + std::to_string(line_no));
      rules_.push_back(std::move(r));
    }
  }

  // The result for this input, nullopt when no rule matches.
  std::optional<std::string> lookup(const std::string& input) const {
    int skip_depth = 0;  // > 0: inside an if that did not hold
    for (const auto& r : rules_) {
      if (r.kind == Rule::endif) {
        if (skip_depth > 0) --skip_depth;
        continue;
      }
      if (skip_depth > 0) {
        if (r.kind == Rule::if_) ++skip_depth;
        continue;
      }
      regmatch_t m[10];
      const bool hit = ::regexec(&r.re->re, input.c_str(), 10, m, 0) == 0;
      if (r.kind == Rule::if_) {
        if (hit == r.negate) skip_depth = 1;
        continue;
      }
      if (!hit) continue;
      std::string out;
      for (std::size_t i = 0; i < r.result.size(); ++i) {
        if (r.result[i] == '$' && i + 1 < r.result.size()) {
          const char n = r.result[++i];
          if (n == '$') {
            out += '$';
          } else if (n >= '1' && n <= '9' && m[n - '0'].rm_so >= 0) {
            out += input.substr(static_cast<std::size_t>(m[n - '0'].rm_so),
                                static_cast<std::size_t>(m[n - '0'].rm_eo - m[n - '0'].rm_so));
          }
          continue;
        }
        out += r.result[i];
      }
      return out;
    }
    return std::nullopt;
  }

 private:
  struct Regex {
    explicit Regex(const std::string& p) {
      ok = ::regcomp(&re, p.c_str(), REG_EXTENDED | REG_ICASE) == 0;
    }
    ~Regex() {
      if (ok) ::regfree(&re);
    }
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;
    regex_t re{};
    bool ok = false;
  };
  struct Rule {
    enum Kind { match, if_, endif } kind = match;
    bool negate = false;
    std::shared_ptr<Regex> re;
    std::string result;
    int line = 0;
  };
  std::vector<Rule> rules_;
};

// What policyd answers for a recipient on these lists (the stream excludes
// them all, in this order), or nullopt when it is on none. A wording that names
// the stream is generic in the backstop, which serves every stream.
std::optional<std::string> policyd_refusal(const std::vector<std::string>& names,
                                           const std::map<std::string, DomainList>& lists,
                                           const std::string& address) {
  auto domain = recipient_domain(address);
  if (!domain) return std::nullopt;
  Classification c;
  c.domain = *domain;
  for (const auto& [name, list] : lists)
    if (list.matches(*domain)) c.lists.push_back(name);
  StreamConfig s;
  s.name = "x";
  s.exclude = names;
  auto v = decide_exclusion(s, c);
  if (!v) return std::nullopt;
  // The backstop serves every stream: policyd's words, for all of them.
  std::string reply = v->reply;
  const std::string one = "which stream x excludes";
  if (auto at = reply.rfind(one); at != std::string::npos)
    reply.replace(at, one.size(), "which every stream excludes");
  return reply;
}

// Addresses around every entry of the lists: the entry itself, a subdomain,
// a look-alike with a prefix or suffix, other case, a trailing dot.
std::vector<std::string> probe_addresses(const std::map<std::string, DomainList>& lists) {
  std::set<std::string> out = {
      "a@yahoo.com",
      "a@yahoo.co.uk",
      "a@yahoo.com.br",
      "a@mail.yahoo.de",
      "a@yahoo.example.org",
      "a@yahoo.abcd",
      "a@yahoo.c0m",
      "a@yahoo.co.uk.evil.org",
      "a@notyahoo.com",
      "a@yahoo",
      "a@aol.com",
      "a@AOL.Co.UK",
      "a@directory.example.org",
      "a@clinic.direct.org",
      "a@x.directv.com",
      "a@directv.com",
      "a@newdirections.org",
      "a@direc.org",
      "a@comcast.net",
      "a@mail.comcast.net",
      "a@xcomcast.net",
      "a@gmail.com",
      "a@riverside-clinic.example",
      "a@yahoo.com.",
      "a@direct.",
      "\"x@yahoo.com\"@example.org",
      "\"x@example.org\"@yahoo.com",
      "a@sub.adelphia.net",
      "a@adelphia.net.evil.org",
      "A@YAHOO.COM",
      "a@xn--yahoo-9ua.com",
      "a@yahoo-mail.com",
      "a@y.ahoo.com",
  };
  for (const auto& [name, list] : lists) {
    const auto e = list.entries();
    std::vector<std::string> domains = e.domains;
    domains.insert(domains.end(), e.exact.begin(), e.exact.end());
    domains.insert(domains.end(), e.exceptions.begin(), e.exceptions.end());
    for (const auto& d : domains) {
      for (const std::string& form :
           {d, "mail." + d, "x" + d, d + ".evil.org", d + ".", "deep.sub." + d}) {
        out.insert("user@" + form);
      }
      std::string upper = d;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out.insert("User@" + upper);
    }
    for (const auto& l : e.country)
      for (const std::string& form : {l + ".com", l + ".co.jp", "m." + l + ".fr", l + ".info",
                                      l + ".com.au.net", "x" + l + ".com", l + ".1a"})
        out.insert("user@" + form);
    for (const auto& w : e.contains)
      for (const std::string& form :
           {w + ".org", "x" + w + "y.org", "a." + w + ".b.org", "a.b.x" + w, w.substr(1) + ".org"})
        out.insert("user@" + form);
  }
  return {out.begin(), out.end()};
}

// The regexp table refuses exactly what DomainList lists, with the words
// policyd uses, naming the first list (in the stream's order) that has it.
void expect_equivalent(const std::vector<std::string>& names,
                       const std::map<std::string, DomainList>& lists) {
  const std::string text = render_backstop_regexp(names, lists);
  const RegexpTable table(text);
  int rejected = 0, passed = 0;
  for (const auto& address : probe_addresses(lists)) {
    const auto want = policyd_refusal(names, lists, address);
    const auto got = table.lookup(address);
    if (!want) {
      EXPECT_FALSE(got.has_value()) << address << " is on no list, but the table says " << *got;
      ++passed;
      continue;
    }
    ++rejected;
    ASSERT_TRUE(got.has_value()) << address << ": policyd says " << *want
                                 << ", the table says nothing";
    // $1 is the domain as written; policyd names it lowercased.
    std::string lowered_want = *want, lowered_got = *got;
    for (auto* s : {&lowered_want, &lowered_got})
      for (char& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(lowered_got, lowered_want) << address;
  }
  EXPECT_GT(rejected, 20);
  EXPECT_GT(passed, 20);
}

// ---------------------------------------------------------------- the backstop map

TEST(BackstopRegexp, ShippedListsAgreeWithDomainList) {
  const std::string dir = SG_SOURCE_DIR "/deploy/lists/";
  std::vector<ListError> errors;
  std::map<std::string, DomainList> lists;
  lists.emplace("yahoo_family", DomainList::load(dir + "yahoo-family.txt", errors));
  lists.emplace("dead_isp", DomainList::load(dir + "dead-isp.txt", errors));
  lists.emplace("direct_hisp", DomainList::load(dir + "direct-hisp.txt", errors));
  lists.emplace("consumer", DomainList::load(dir + "consumer-webmail.txt", errors));
  ASSERT_TRUE(errors.empty());
  expect_equivalent({"yahoo_family", "dead_isp", "direct_hisp"},
                    {{"yahoo_family", lists.at("yahoo_family")},
                     {"dead_isp", lists.at("dead_isp")},
                     {"direct_hisp", lists.at("direct_hisp")}});
  // consumer overlaps yahoo_family (yahoo.*, aol.*): first list in order wins.
  expect_equivalent({"yahoo_family", "consumer"}, {{"yahoo_family", lists.at("yahoo_family")},
                                                   {"consumer", lists.at("consumer")}});
}

TEST(BackstopRegexp, EverySyntaxAndExceptionsScopedToTheirList) {
  std::map<std::string, DomainList> lists;
  lists.emplace("aa_list", domain_list_of("example.com\n=exact.org\nyahoo.*\n*direct*\n"
                                          "!ok.example.com\n!directv.com\n!both.net\n"));
  // both.net is an exception of aa_list only: bb_list still refuses it.
  lists.emplace("bb_list", domain_list_of("both.net\nok.example.com\n"));
  expect_equivalent({"aa_list", "bb_list"}, lists);

  const RegexpTable table(render_backstop_regexp({"aa_list", "bb_list"}, lists));
  EXPECT_EQ(
      table.lookup("x@both.net"),
      "REJECT 5.7.1 streamguard: both.net is on the bb_list list, which every stream excludes");
  EXPECT_EQ(table.lookup("x@ok.example.com"),
            "REJECT 5.7.1 streamguard: ok.example.com is on the bb_list list, which every stream "
            "excludes");
  EXPECT_EQ(table.lookup("x@sub.example.com"),
            "REJECT 5.7.1 streamguard: sub.example.com is on the aa_list list, which every stream "
            "excludes");
  EXPECT_EQ(
      table.lookup("x@exact.org"),
      "REJECT 5.7.1 streamguard: exact.org is on the aa_list list, which every stream excludes");
  EXPECT_EQ(table.lookup("x@sub.exact.org"), std::nullopt);
  EXPECT_EQ(table.lookup("x@directv.com"), std::nullopt);
  EXPECT_EQ(
      table.lookup("x@a.direct.org."),
      "REJECT 5.7.1 streamguard: a.direct.org is on the aa_list list, which every stream excludes");
}

TEST(BackstopRegexp, RendersExceptionsAsAnIfBlockAndEscapesDots) {
  std::map<std::string, DomainList> lists;
  lists.emplace("yahoo_family", domain_list_of("yahoo.*\nymail.com\n=only.example\n!nope.com\n"));
  const std::string text = render_backstop_regexp({"yahoo_family"}, lists,
                                                  {{"yahoo_family", "/etc/x/yahoo-family.txt"}});
  EXPECT_TRUE(
      contains(text,
               "\n# ---- list yahoo_family (yahoo-family.txt): 3 entries, 1 exception\n"
               "if !/@([^@]*\\.)?(nope\\.com)\\.?$/\n"
               "/@(only\\.example)\\.?$/ REJECT 5.7.1 streamguard: $1 is in the Yahoo/AOL/Verizon "
               "mail family, which every stream excludes\n"
               "/@(([^@]*\\.)?ymail\\.com)\\.?$/ REJECT 5.7.1 streamguard: $1 is in the "
               "Yahoo/AOL/Verizon mail family, which every stream excludes\n"
               "/@(([^@]*\\.)?yahoo(\\.[a-z]{1,3}){1,2})\\.?$/ REJECT 5.7.1 streamguard: $1 is in "
               "the Yahoo/AOL/Verizon mail family, which every stream excludes\n"
               "endif\n"))
      << text;
  EXPECT_FALSE(contains(text, "/etc/x")) << "only the list's file name is shown";
}

TEST(BackstopRegexp, NoCommonListRefusesNothing) {
  const std::string text = render_backstop_regexp({}, {});
  EXPECT_TRUE(contains(text, "this table refuses nothing")) << text;
  EXPECT_EQ(RegexpTable(text).lookup("a@yahoo.com"), std::nullopt);
}

}  // namespace
}  // namespace sg
