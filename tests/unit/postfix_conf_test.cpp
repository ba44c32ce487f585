// streamguardctl postfix-conf: the rendered Postfix fragments, the backstop
// regexp table (evaluated here with POSIX regcomp/regexec, as Postfix's
// regexp: tables are) agreeing with DomainList, the [postfix] config keys, and
// the committed postfix-conf/ files being the rendering of the example config.
#include "ctl/postfix_conf.hpp"

#include <gtest/gtest.h>
#include <regex.h>

#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"
#include "rules/classifier.hpp"
#include "rules/decision.hpp"
#include "tests/text_match.hpp"
#include "tests/unit/config_text.hpp"

#ifndef SG_SOURCE_DIR
#error "SG_SOURCE_DIR must name the repository root"
#endif

namespace sg {
namespace {

constexpr const char* kExample = SG_SOURCE_DIR "/deploy/examples/streamguard.toml";
using testing::kConfigFile;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using sg::testing::contains;

using testing::all_errors;

ConfigResult parse_config_text(std::string_view text) {
  return testing::parse_text(text);
}

std::shared_ptr<const Config> parse_ok(std::string_view text) {
  auto r = parse_config_text(text);
  EXPECT_TRUE(r.errors.empty()) << all_errors(r);
  return r.config;
}

void expect_one_error(std::string_view text, uint32_t line, uint32_t column,
                      const std::string& message) {
  auto r = parse_config_text(text);
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].message, message);
  EXPECT_EQ(r.errors[0].line, line) << r.errors[0].to_string();
  EXPECT_EQ(r.errors[0].column, column) << r.errors[0].to_string();
}

std::map<std::string, DomainList> load_backstop(const Config& cfg) {
  std::map<std::string, DomainList> lists;
  std::vector<ListError> errors;
  for (const auto& name : backstop_lists(cfg))
    lists.emplace(name, DomainList::load(cfg.lists.at(name), errors));
  EXPECT_TRUE(errors.empty()) << errors.front().file << ":" << errors.front().line << ": "
                              << errors.front().message;
  return lists;
}

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

DomainList list_of(std::string_view text) {
  std::vector<ListError> errors;
  auto l = DomainList::parse(text, "test.txt", errors);
  EXPECT_TRUE(errors.empty());
  return l;
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
  lists.emplace("aa_list", list_of("example.com\n=exact.org\nyahoo.*\n*direct*\n"
                                   "!ok.example.com\n!directv.com\n!both.net\n"));
  // both.net is an exception of aa_list only: bb_list still refuses it.
  lists.emplace("bb_list", list_of("both.net\nok.example.com\n"));
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
  lists.emplace("yahoo_family", list_of("yahoo.*\nymail.com\n=only.example\n!nope.com\n"));
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

// ---------------------------------------------------------------- main.cf and master.cf

constexpr std::string_view kTwoStreams = R"(
[lists]
yahoo_family = "/l/yahoo.txt"
consumer = "/l/consumer.txt"
dead_isp = "/l/dead.txt"

[[stream]]
name = "trucking"
ports = [2525, 2527]
exclude = ["dead_isp", "yahoo_family"]
postfix = { transport = "out05", helo_name = "mta05.example.com", bind_address = "192.0.2.94" }

[[stream]]
name = "healthcare"
ports = [2526]
exclude = ["yahoo_family", "consumer", "dead_isp"]
)";

TEST(PostfixConf, BackstopListsAreThoseEveryStreamExcludesInTheFirstStreamsOrder) {
  auto cfg = parse_ok(kTwoStreams);
  ASSERT_TRUE(cfg);
  EXPECT_EQ(backstop_lists(*cfg), (std::vector<std::string>{"dead_isp", "yahoo_family"}));
}

TEST(PostfixConf, MasterCfHasAServicePerPortAndATransportPerStream) {
  auto cfg = parse_ok(kTwoStreams);
  ASSERT_TRUE(cfg);
  const auto conf = render_postfix_conf(*cfg, {});
  const std::string& m = conf.master_cf;
  const std::string scoped =
      "  -o smtpd_recipient_restrictions=$streamguard_recipient_restrictions\n";
  EXPECT_TRUE(contains(m,
                       "2525      inet  n       -       y       -       -       smtpd\n"
                       "  -o syslog_name=postfix/trucking\n"
                       "  -o content_filter=out05:\n" +
                           scoped +
                           "2527      inet  n       -       y       -       -       smtpd\n"
                           "  -o syslog_name=postfix/trucking\n"
                           "  -o content_filter=out05:\n" +
                           scoped +
                           "2526      inet  n       -       y       -       -       smtpd\n"
                           "  -o syslog_name=postfix/healthcare\n"
                           "  -o content_filter=sg-healthcare:\n" +
                           scoped))
      << m;
  EXPECT_TRUE(contains(m,
                       "out05     unix  -       -       y       -       -       smtp\n"
                       "  -o syslog_name=postfix/out05\n"
                       "  -o smtp_bind_address=192.0.2.94\n"
                       "  -o smtp_helo_name=mta05.example.com\n"
                       "sg-healthcare unix  -       -       y       -       -       smtp\n"
                       "  -o syslog_name=postfix/sg-healthcare\n"))
      << m;
  EXPECT_FALSE(contains(m, "sg-healthcare\n  -o smtp_bind")) << "no address: none rendered";
  EXPECT_TRUE(contains(m,
                       "# 2525 -> stream trucking   -> transport out05\n"
                       "# 2527 -> stream trucking   -> transport out05\n"
                       "# 2526 -> stream healthcare -> transport sg-healthcare\n"))
      << m;
}

TEST(PostfixConf, ListenAddressChrootAndIpv6Bind) {
  auto cfg = parse_ok(R"(
[postfix]
listen_address = "127.0.0.1"
chroot = false
[[stream]]
name = "a"
ports = [25]
postfix = { transport = "t6", bind_address = "2001:db8::25" }
[[stream]]
name = "b"
ports = [10025]
)");
  ASSERT_TRUE(cfg);
  const std::string m = render_postfix_conf(*cfg, {}).master_cf;
  EXPECT_TRUE(contains(m, "127.0.0.1:smtp inet  n       -       n       -       -       smtpd\n"))
      << m;
  EXPECT_TRUE(contains(m, "127.0.0.1:10025 inet  n       -       n       -       -       smtpd\n"))
      << m;
  EXPECT_TRUE(contains(m,
                       "t6        unix  -       -       n       -       -       smtp\n"
                       "  -o syslog_name=postfix/t6\n"
                       "  -o smtp_bind_address6=2001:db8::25\n"))
      << m;
  PostfixConfig v6;
  v6.listen_address = "::1";
  EXPECT_EQ(submission_service(v6, 2526), "[::1]:2526");
}

TEST(PostfixConf, MainCfPutsTheBackstopBeforeThePolicyService) {
  auto cfg = parse_ok(R"(
[postfix]
policy_service = "inet:127.0.0.1:10040"
policy_timeout = "30s"
default_action = "HOLD"
backstop_dir = "/etc/postfix/streamguard/"
[policyd]
listen = "inet:127.0.0.1:10040"
[[stream]]
name = "a"
ports = [2525]
)");
  ASSERT_TRUE(cfg);
  const auto conf = render_postfix_conf(*cfg, {});
  // With a stock main.cf (no smtpd_recipient_restrictions of its own), the
  // list ends with policyd: relay control is smtpd_relay_restrictions'.
  EXPECT_TRUE(contains(conf.main_cf,
                       "streamguard_recipient_restrictions =\n"
                       "    check_recipient_access "
                       "regexp:/etc/postfix/streamguard/streamguard-backstop.regexp\n"
                       "    check_policy_service { inet:127.0.0.1:10040, timeout=30s, "
                       "default_action=HOLD, policy_context=streamguard }\n\n"))
      << conf.main_cf;
  EXPECT_FALSE(contains(conf.main_cf, "end_of_data_restrictions")) << conf.main_cf;
  EXPECT_FALSE(contains(conf.master_cf, "end_of_data_restrictions")) << conf.master_cf;
  EXPECT_TRUE(conf.warnings.empty());
  ASSERT_EQ(conf.maps.size(), 1u);
  EXPECT_EQ(conf.maps[0].file, "streamguard-backstop.regexp");
}

TEST(PostfixConf, CommitAtEndOfMessageAsksPolicydAgainAtEndOfData) {
  auto cfg = parse_ok(R"(
[policyd]
commit = "end_of_message"
[[stream]]
name = "a"
ports = [2525]
)");
  ASSERT_TRUE(cfg);
  const auto conf = render_postfix_conf(*cfg, {});
  EXPECT_TRUE(contains(conf.main_cf,
                       "streamguard_end_of_data_restrictions =\n"
                       "    check_policy_service { unix:private/streamguard, timeout=10s, "
                       "default_action=DEFER_IF_PERMIT, policy_context=streamguard }\n"))
      << conf.main_cf;
  EXPECT_TRUE(
      contains(conf.master_cf,
               "  -o smtpd_end_of_data_restrictions=$streamguard_end_of_data_restrictions\n"))
      << conf.master_cf;
}

// Every assignment in main.cf.fragment is one of streamguard's own
// parameters: merging it changes no Postfix setting, so no service but the
// stream services (which name them with -o) sees a difference.
TEST(PostfixConfScoped, MainCfSetsNoParameterOfPostfixsOwn) {
  auto cfg = parse_ok(std::string(kTwoStreams) + R"(
[policyd]
commit = "end_of_message"
[milter]
listen = "unix:/var/spool/postfix/private/streamguard-milter"
opendkim_conf = "/etc/opendkim.conf"
)");
  ASSERT_TRUE(cfg);
  const auto conf = render_postfix_conf(*cfg, {});
  std::istringstream lines(conf.main_cf);
  int assignments = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#' || line[0] == ' ') continue;
    ++assignments;
    EXPECT_TRUE(line.starts_with("streamguard_")) << line;
  }
  // recipient, end of data, milters, macros, egress header checks
  EXPECT_EQ(assignments, 5) << conf.main_cf;
  EXPECT_TRUE(contains(conf.master_cf,
                       "  -o smtpd_milters=$streamguard_milters\n"
                       "  -o milter_connect_macros=$streamguard_milter_connect_macros\n"
                       "  -o milter_macro_daemon_name=trucking\n"
                       "  -o milter_default_action=tempfail\n"
                       "  -o milter_protocol=6\n"))
      << conf.master_cf;
}

TEST(PostfixConfScoped, TheOperatorsOwnRestrictionsFollowStreamguards) {
  auto cfg = parse_ok(kTwoStreams);
  ASSERT_TRUE(cfg);
  CurrentPostfix now;
  now.recipient_restrictions = "permit_sasl_authenticated, check_client_access $mua_clients";
  now.source = "postconf -c /etc/postfix";
  const std::string m = render_postfix_conf(*cfg, {}, now).main_cf;
  EXPECT_TRUE(contains(m,
                       "policy_context=streamguard }\n"
                       "    permit_sasl_authenticated, check_client_access $mua_clients\n"))
      << m;
  EXPECT_TRUE(contains(m, "as postconf -c /etc/postfix\n")) << m;
}

TEST(PostfixConfScoped, WithoutAnyRelayRestrictionsTheStreamServicesStillRefuseRelaying) {
  auto cfg = parse_ok(kTwoStreams);
  ASSERT_TRUE(cfg);
  CurrentPostfix now;
  now.relay_restrictions = "";  // a main.cf from before Postfix 2.10
  const std::string m = render_postfix_conf(*cfg, {}, now).main_cf;
  EXPECT_TRUE(contains(m,
                       "policy_context=streamguard }\n"
                       "    permit_mynetworks\n"
                       "    permit_sasl_authenticated\n"
                       "    reject_unauth_destination\n"))
      << m;
}

TEST(PostfixConfScoped, AShadowStreamOnlyLogsAndLetsMailPassWhenStreamguardIsDown) {
  auto cfg = parse_ok(std::string(kTwoStreams) + R"(
[milter]
listen = "unix:/var/spool/postfix/private/streamguard-milter"
opendkim_conf = "/etc/opendkim.conf"
)");
  ASSERT_TRUE(cfg);
  auto shadowed = *cfg;
  shadowed.streams[1].mode = StreamMode::shadow;  // healthcare
  const auto conf = render_postfix_conf(shadowed, {});
  EXPECT_TRUE(contains(conf.main_cf,
                       "streamguard_shadow_recipient_restrictions =\n"
                       "    warn_if_reject check_recipient_access regexp:"
                       "/etc/postfix/streamguard-backstop.regexp\n"
                       "    check_policy_service { unix:private/streamguard, timeout=10s, "
                       "default_action=DUNNO, policy_context=streamguard }\n"))
      << conf.main_cf;
  const auto healthcare = conf.master_cf.substr(conf.master_cf.find("\n2526 "));
  EXPECT_TRUE(
      contains(healthcare.substr(0, healthcare.find("\n25", 1)),
               "  -o smtpd_recipient_restrictions=$streamguard_shadow_recipient_restrictions\n"
               "  -o smtpd_milters=$streamguard_milters\n"
               "  -o milter_connect_macros=$streamguard_milter_connect_macros\n"
               "  -o milter_macro_daemon_name=healthcare\n"
               "  -o milter_default_action=accept\n"))
      << conf.master_cf;
  // trucking still enforces.
  EXPECT_TRUE(contains(conf.master_cf,
                       "2525      inet  n       -       y       -       -       smtpd\n"
                       "  -o syslog_name=postfix/trucking\n"
                       "  -o content_filter=out05:\n"
                       "  -o smtpd_recipient_restrictions=$streamguard_recipient_restrictions\n"))
      << conf.master_cf;
  EXPECT_TRUE(contains(conf.master_cf,
                       "# 2526 -> stream healthcare -> transport "
                       "sg-healthcare  (shadow)\n"))
      << conf.master_cf;
  EXPECT_FALSE(contains(render_postfix_conf(*cfg, {}).main_cf, "shadow"))
      << "no stream in shadow, no shadow list";
}

TEST(PostfixConfScoped, AStreamOnPort25OfEveryAddressIsRefused) {
  auto cfg = parse_ok(R"(
[[stream]]
name = "trucking"
ports = [25]
postfix = { transport = "out05" }
)");
  ASSERT_TRUE(cfg);
  const auto conf = render_postfix_conf(*cfg, {});
  ASSERT_EQ(conf.errors.size(), 1u);
  EXPECT_TRUE(contains(conf.errors[0], "stream trucking submits on port 25 on every address"))
      << conf.errors[0];
  EXPECT_TRUE(contains(conf.errors[0], "inbound mail")) << conf.errors[0];
  EXPECT_TRUE(contains(conf.errors[0], "[postfix] listen_address")) << conf.errors[0];
}

TEST(PostfixConfScoped, Port25OnItsOwnAddressWarnsWhenInetInterfacesTakesThatAddressToo) {
  auto cfg = parse_ok(R"(
[postfix]
listen_address = "172.18.0.1"
[[stream]]
name = "trucking"
ports = [25]
)");
  ASSERT_TRUE(cfg);
  EXPECT_TRUE(render_postfix_conf(*cfg, {}).errors.empty());
  EXPECT_TRUE(render_postfix_conf(*cfg, {}).warnings.empty()) << "inet_interfaces unknown";
  for (const std::string interfaces : {"all", "127.0.0.1, 172.18.0.1", "172.18.0.1"}) {
    CurrentPostfix now;
    now.inet_interfaces = interfaces;
    const auto conf = render_postfix_conf(*cfg, {}, now);
    ASSERT_EQ(conf.warnings.size(), 1u) << interfaces;
    EXPECT_TRUE(contains(conf.warnings[0], "172.18.0.1:smtp cannot bind")) << conf.warnings[0];
  }
  CurrentPostfix apart;
  apart.inet_interfaces = "203.0.113.5, 127.0.0.1";
  EXPECT_TRUE(render_postfix_conf(*cfg, {}, apart).warnings.empty());
}

TEST(PostfixConf, WarnsWhenPolicydDoesNotListenWhereSmtpdConnects) {
  auto cfg = parse_ok(R"(
[policyd]
listen = "unix:/var/spool/postfix/private/other"
[[stream]]
name = "a"
ports = [2525]
)");
  ASSERT_TRUE(cfg);
  const auto conf = render_postfix_conf(*cfg, {});
  ASSERT_EQ(conf.warnings.size(), 1u);
  EXPECT_TRUE(contains(conf.warnings[0], "unix:private/streamguard")) << conf.warnings[0];
}

// ---------------------------------------------------------------- the config keys

TEST(PostfixConfig, DefaultsWhenNothingIsWritten) {
  auto cfg = parse_ok(R"(
[[stream]]
name = "trucking"
ports = [25]
)");
  ASSERT_TRUE(cfg);
  EXPECT_EQ(cfg->postfix.policy_service, "unix:private/streamguard");
  EXPECT_EQ(cfg->postfix.policy_timeout, "10s");
  EXPECT_EQ(cfg->postfix.default_action, "DEFER_IF_PERMIT");
  EXPECT_EQ(cfg->postfix.backstop_dir, "/etc/postfix");
  EXPECT_EQ(cfg->postfix.listen_address, "");
  EXPECT_TRUE(cfg->postfix.chroot);
  const auto& s = cfg->streams.at(0).postfix;
  EXPECT_EQ(s.transport, "sg-trucking");
  EXPECT_EQ(s.syslog_name, "postfix/trucking");
  EXPECT_EQ(s.helo_name, "");
  EXPECT_EQ(s.bind_address, "");
}

TEST(PostfixConfig, ErrorsPointAtTheValue) {
  expect_one_error(R"(
[[stream]]
name = "a"
ports = [25]
postfix = { transport = "smtp" }
)",
                   4, 25,
                   "'transport' \"smtp\" is a service of Postfix's own master.cf; pick a name of "
                   "its own (e.g. \"out05\")");
  expect_one_error(R"(
[[stream]]
name = "a"
ports = [25]
postfix = { transport = "out 05" }
)",
                   4, 25,
                   "'transport' \"out 05\" must be 1-32 of A-Z a-z 0-9 _ - . starting with a "
                   "letter (a master.cf service name)");
  expect_one_error(R"(
[[stream]]
name = "a"
ports = [25]
postfix = { bind_address = "192.0.2.300" }
)",
                   4, 28,
                   "'bind_address' is \"192.0.2.300\", must be an IP address of this host (e.g. "
                   "192.0.2.94)");
  expect_one_error(R"(
[[stream]]
name = "a"
ports = [25]
postfix = { helo_name = "mta_05.example.com" }
)",
                   4, 25,
                   "'helo_name' is \"mta_05.example.com\", must be a host name (e.g. "
                   "mta05.example.com)");
  expect_one_error(R"(
[[stream]]
name = "a"
ports = [25]
postfix = { transport = "out05", helo = "x" }
)",
                   4, 41,
                   "unknown key 'helo' in a stream's postfix (known: transport, syslog_name, "
                   "helo_name, bind_address)");
  expect_one_error(R"(
[postfix]
policy_timeout = "10 s"
[[stream]]
name = "a"
ports = [25]
)",
                   2, 18,
                   "'policy_timeout' is \"10 s\", must be a Postfix time: a number with an "
                   "optional unit s, m, h, d or w (e.g. \"10s\")");
  expect_one_error(R"(
[postfix]
default_action = "defer_if_permit"
[[stream]]
name = "a"
ports = [25]
)",
                   2, 18,
                   "'default_action' is \"defer_if_permit\", must be one of \"DEFER_IF_PERMIT\", "
                   "\"DEFER\", \"HOLD\", \"REJECT\", \"DUNNO\"");
  expect_one_error(R"(
[postfix]
backstop_dir = "etc/postfix"
[[stream]]
name = "a"
ports = [25]
)",
                   2, 16,
                   "'backstop_dir' is \"etc/postfix\", must be an absolute path of A-Z a-z 0-9 / "
                   ". _ - +");
  expect_one_error(R"(
[postfix]
policy_service = "private/streamguard"
[[stream]]
name = "a"
ports = [25]
)",
                   2, 18,
                   "'policy_service' is \"private/streamguard\", must be unix:PATH (relative to "
                   "Postfix's queue_directory, e.g. unix:private/streamguard) or inet:HOST:PORT");
}

TEST(PostfixConfig, TwoStreamsCannotShareATransport) {
  expect_one_error(R"(
[[stream]]
name = "a"
ports = [25]
postfix = { transport = "out05" }
[[stream]]
name = "b"
ports = [2526]
postfix = { transport = "out05" }
)",
                   8, 25, "transport 'out05' belongs to both stream 'a' and stream 'b'");
}

// ---------------------------------------------------------------- the committed rendering

TEST(PostfixConfCommitted, PostfixConfFolderIsTheRenderingOfTheExampleConfig) {
  auto loaded = load_config(kExample);
  ASSERT_TRUE(loaded.config) << all_errors(loaded);
  const auto conf = render_postfix_conf(*loaded.config, load_backstop(*loaded.config));
  EXPECT_TRUE(conf.warnings.empty()) << conf.warnings.front();
  std::vector<std::pair<std::string, std::string>> files = {{"main.cf.fragment", conf.main_cf},
                                                            {"master.cf.fragment", conf.master_cf}};
  for (const auto& m : conf.maps) files.emplace_back(m.file, m.text);
  for (const auto& [name, text] : files) {
    const std::string path = SG_SOURCE_DIR "/postfix-conf/" + name;
    EXPECT_EQ(slurp(path), text)
        << path << " is not the rendering of deploy/examples/streamguard.toml and its lists. "
        << "Regenerate it (from the repository root, after building):\n"
        << "    streamguardctl postfix-conf --config deploy/examples/streamguard.toml "
           "--without-postfix --out postfix-conf\n";
  }
  // The example reproduces the two-stream setup of the brief.
  EXPECT_TRUE(conf.errors.empty()) << conf.errors.front();
  EXPECT_TRUE(contains(conf.master_cf,
                       "172.18.0.1:smtp inet  n       -       y       -       -       "
                       "smtpd\n  -o syslog_name=postfix/trucking\n  -o "
                       "content_filter=out05:\n"));
  EXPECT_TRUE(contains(conf.master_cf,
                       "172.18.0.1:2526 inet  n       -       y       -       -       "
                       "smtpd\n  -o syslog_name=postfix/healthcare\n  -o "
                       "content_filter=hcout1:\n"));
}

}  // namespace
}  // namespace sg
