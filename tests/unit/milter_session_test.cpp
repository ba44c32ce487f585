// MilterSession, the milter's pure state machine: stream by port or name,
// the DKIM prediction and check against an in-memory OpenDKIM configuration,
// each hygiene check with its stream's action, and the most severe finding
// answering.
#include "milter/milter_session.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/unit/config_text.hpp"

namespace sg {
namespace {

const std::map<std::string, std::string> kOpenDkimFiles = {
    {"/etc/opendkim.conf",
     "Mode sv\n"
     "KeyTable /etc/opendkim/key.table\n"
     "SigningTable refile:/etc/opendkim/signing.table\n"
     "InternalHosts /etc/opendkim/trusted.hosts\n"},
    {"/etc/opendkim/key.table",
     "send._domainkey.send.example.com send.example.com:send:/etc/opendkim/keys/send.private\n"},
    {"/etc/opendkim/signing.table", "*@send.example.com send._domainkey.send.example.com\n"},
    {"/etc/opendkim/trusted.hosts", "127.0.0.1\n172.16.0.0/12\n"},
};

// stream_milter: the healthcare stream's milter = { ... }.
std::shared_ptr<const MilterRuntime> runtime(const std::string& stream_milter = "") {
  auto cfg = testing::parse_text(R"(
[milter]
opendkim_conf = "/etc/opendkim.conf"
[[stream]]
name = "trucking"
ports = [25]
[[stream]]
name = "healthcare"
ports = [2526]
)" + std::string(stream_milter.empty() ? "" : "milter = " + stream_milter + "\n"));
  EXPECT_TRUE(cfg.config) << testing::all_errors(cfg);
  auto rt = std::make_shared<MilterRuntime>();
  rt->config = cfg.config;
  auto d = dkim::load_opendkim(
      "/etc/opendkim.conf",
      [](const std::string& path, std::string& error) -> std::optional<std::string> {
        auto it = kOpenDkimFiles.find(path);
        if (it == kOpenDkimFiles.end()) {
          error = "no such file";
          return std::nullopt;
        }
        return it->second;
      });
  for (const auto& e : d.errors) ADD_FAILURE() << e.str();
  rt->opendkim = d.config;
  return rt;
}

struct Message {
  std::string from = "News <news@send.example.com>";
  std::string message_id = "<abc123@send.example.com>";
  bool unsubscribe = true;
  bool text_part = true;
  bool signed_by_opendkim = true;
};

// The message's headers, body and end, without the MAIL step.
MessageDecision content(MilterSession& s, const Message& m) {
  s.header("From", m.from);
  s.header("To", "<dr.smith@riverside-clinic.example>");
  if (!m.message_id.empty()) s.header("Message-ID", m.message_id);
  if (m.unsubscribe) {
    s.header("List-Unsubscribe", "<https://send.example.com/u/1>");
    s.header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
  }
  s.header("MIME-Version", "1.0");
  if (m.signed_by_opendkim)
    s.header("DKIM-Signature",
             "v=1; a=rsa-sha256; c=relaxed/simple; d=send.example.com; s=send;\r\n\th=from:to; "
             "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA");
  if (m.text_part) {
    s.header("Content-Type", "multipart/alternative; boundary=\"b1\"");
    s.end_of_headers();
    s.body(
        "--b1\r\nContent-Type: text/plain\r\n\r\nHello\r\n--b1\r\nContent-Type: "
        "text/html\r\n\r\n<p>Hello</p>\r\n--b1--\r\n");
  } else {
    s.header("Content-Type", "text/html; charset=utf-8");
    s.end_of_headers();
    s.body("<p>Hello</p>\r\n");
  }
  return s.end_of_message();
}

MessageDecision run(MilterSession& s, const Message& m) {
  s.mail_from("<bounces@send.example.com>", false);
  return content(s, m);
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(MilterSession, SignedCleanMessageIsAcceptedAndTagged) {
  MilterSession s(runtime());
  s.connect("172.18.0.25", "", "2526", "");
  auto d = run(s, {});
  EXPECT_EQ(d.verdict, MilterVerdict::accept) << d.text;
  EXPECT_TRUE(d.findings.empty());
  EXPECT_EQ(d.stream, "healthcare");
  ASSERT_EQ(d.add_headers.size(), 1u);
  EXPECT_EQ(d.add_headers[0],
            (std::pair<std::string, std::string>{"X-Streamguard-Stream", "healthcare"}));
}

TEST(MilterSession, StreamFromDaemonNameWhenThePortIsUnknown) {
  MilterSession s(runtime());
  s.connect("127.0.0.1", "localhost", "", "trucking");
  EXPECT_EQ(run(s, {}).stream, "trucking");
}

TEST(MilterSession, UnknownStreamTempfailsNamingThePort) {
  MilterSession s(runtime());
  s.connect("127.0.0.1", "", "2527", "");
  auto d = run(s, {});
  EXPECT_EQ(d.verdict, MilterVerdict::tempfail);
  EXPECT_EQ(d.rcode, "451");
  EXPECT_EQ(d.xcode, "4.7.0");
  EXPECT_TRUE(has(d.text, "no stream is defined for submission port 2527")) << d.text;
  EXPECT_TRUE(d.add_headers.empty());
}

TEST(MilterSession, ClientOutsideInternalHostsWouldLeaveUnsigned) {
  MilterSession s(runtime());
  s.connect("192.168.7.9", "", "2526", "");
  Message m;
  m.signed_by_opendkim = false;  // OpenDKIM verified instead of signing
  auto d = run(s, m);
  EXPECT_EQ(d.verdict, MilterVerdict::tempfail);
  EXPECT_TRUE(has(d.text, "192.168.7.9")) << d.text;
  EXPECT_TRUE(has(d.text, "InternalHosts")) << d.text;
  ASSERT_EQ(d.findings.size(), 1u);
  EXPECT_EQ(d.findings[0].kind, "not_internal");
}

// A stream in shadow mode: the milter says what it would have done (and the
// daemon counts it) but lets the message pass, tagged as usual.
TEST(MilterSession, AShadowStreamAcceptsWhatItWouldHaveRefused) {
  auto shadowed = std::make_shared<MilterRuntime>(*runtime());
  auto cfg = std::make_shared<Config>(*shadowed->config);
  cfg->streams[1].mode = StreamMode::shadow;  // healthcare
  shadowed->config = cfg;
  MilterSession s(shadowed);
  s.connect("192.168.7.9", "", "2526", "");
  Message m;
  m.signed_by_opendkim = false;
  auto d = run(s, m);
  EXPECT_EQ(d.verdict, MilterVerdict::accept);
  EXPECT_EQ(d.would, MilterVerdict::tempfail);
  EXPECT_TRUE(has(d.text, "InternalHosts")) << d.text;  // what it would have answered
  ASSERT_EQ(d.findings.size(), 1u);
  EXPECT_EQ(d.findings[0].kind, "not_internal");
  ASSERT_EQ(d.add_headers.size(), 1u);
  EXPECT_EQ(d.add_headers[0].second, "healthcare");
  // The same message on the enforcing stream is refused.
  MilterSession t(runtime());
  t.connect("192.168.7.9", "", "2526", "");
  const auto enforced = run(t, m);
  EXPECT_EQ(enforced.verdict, MilterVerdict::tempfail);
  EXPECT_EQ(enforced.would, MilterVerdict::accept);
}

TEST(MilterSession, FromDomainWithoutSigningTableEntryNamesTheTable) {
  MilterSession s(runtime());
  s.connect("172.18.0.25", "", "2526", "");
  Message m;
  m.from = "news@other.example.org";
  m.signed_by_opendkim = false;
  auto d = run(s, m);
  EXPECT_EQ(d.verdict, MilterVerdict::tempfail);
  EXPECT_TRUE(has(d.text, "other.example.org")) << d.text;
  EXPECT_TRUE(has(d.text, "SigningTable")) << d.text;
  EXPECT_EQ(d.findings.at(0).kind, "no_signing_entry");
}

TEST(MilterSession, PredictedButNoAlignedSignatureIsCaught) {
  MilterSession s(runtime());
  s.connect("172.18.0.25", "", "2526", "");
  Message m;
  m.signed_by_opendkim = false;  // OpenDKIM not in smtpd_milters, or after us
  auto d = run(s, m);
  EXPECT_EQ(d.verdict, MilterVerdict::tempfail);
  EXPECT_TRUE(has(d.text, "without a DKIM-Signature aligned to its From domain send.example.com"))
      << d.text;
  EXPECT_EQ(d.findings.at(0).kind, "not_signed");
}

TEST(MilterSession, AuthenticatedClientCountsAsInternal) {
  MilterSession s(runtime());
  s.connect("192.168.7.9", "", "2526", "");
  s.mail_from("<a@send.example.com>", true);
  s.header("From", "news@send.example.com");
  s.header("Message-ID", "<1@send.example.com>");
  s.header("List-Unsubscribe", "<https://send.example.com/u/1>");
  s.header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
  s.header("DKIM-Signature", "v=1; d=send.example.com; s=send; b=AAAA");
  s.end_of_headers();
  s.body("Hello\r\n");
  EXPECT_EQ(s.end_of_message().verdict, MilterVerdict::accept);
}

TEST(MilterSession, EachHygieneCheckGetsItsOwnAction) {
  MilterSession s(runtime(
      R"({ message_id = "reject", html_only = "tempfail", unsubscribe = "warn", from_domain = "reject", from_domains = ["send.example.com"] })"));
  s.connect("172.18.0.25", "", "2526", "");
  Message m;
  m.message_id = "<4f1c9e2a7b3d@localhost.localdomain>";
  m.text_part = false;
  m.unsubscribe = false;
  auto d = run(s, m);
  EXPECT_EQ(d.verdict, MilterVerdict::reject);
  EXPECT_EQ(d.rcode, "550");
  EXPECT_TRUE(has(d.text, "localhost.localdomain")) << d.text;  // the first reject
  std::map<std::string, CheckAction> got;
  for (const auto& f : d.findings) got[f.check] = f.action;
  EXPECT_EQ(got, (std::map<std::string, CheckAction>{{"message_id", CheckAction::reject},
                                                     {"html_only", CheckAction::tempfail},
                                                     {"unsubscribe", CheckAction::warn}}));
}

TEST(MilterSession, MailtoOnlyUnsubscribeIsNotOneClick) {
  MilterSession s(runtime(R"({ unsubscribe = "tempfail" })"));
  s.connect("172.18.0.25", "", "2526", "");
  s.mail_from("<a@send.example.com>", false);
  s.header("From", "news@send.example.com");
  s.header("Message-ID", "<1@send.example.com>");
  s.header("List-Unsubscribe", "<mailto:unsub@send.example.com>");
  s.header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
  s.header("DKIM-Signature", "v=1; d=send.example.com; s=send; b=AAAA");
  s.end_of_headers();
  s.body("Hello\r\n");
  auto d = s.end_of_message();
  EXPECT_EQ(d.verdict, MilterVerdict::tempfail);
  ASSERT_EQ(d.findings.size(), 1u);
  EXPECT_EQ(d.findings[0].kind, "no_https");
}

TEST(MilterSession, FromOutsideTheStreamsDomains) {
  MilterSession s(runtime(R"({ from_domains = ["send.example.com"], dkim = "off" })"));
  s.connect("172.18.0.25", "", "2526", "");
  Message m;
  m.from = "Sales <sales@example.com>";
  auto d = run(s, m);
  EXPECT_EQ(d.verdict, MilterVerdict::tempfail);
  EXPECT_TRUE(has(d.text,
                  "From domain example.com is not one stream healthcare sends from "
                  "(send.example.com)"))
      << d.text;
}

TEST(MilterSession, WarningsAloneAcceptWithTheFindings) {
  MilterSession s(runtime());
  s.connect("172.18.0.25", "", "2526", "");
  Message m;
  m.text_part = false;  // html_only: warn by default
  auto d = run(s, m);
  EXPECT_EQ(d.verdict, MilterVerdict::accept);
  ASSERT_EQ(d.findings.size(), 1u);
  EXPECT_EQ(d.findings[0].check, "html_only");
  EXPECT_EQ(d.add_headers.size(), 1u);
}

// The next message's MAIL step resets the state too, so the content comes
// straight after the abort here (as when the MTA skips MAIL for the milter):
// what the aborted message showed (a From of another domain, which would
// leave unsigned) must be gone.
TEST(MilterSession, AnAbortedMessageLeavesNothingForTheNext) {
  MilterSession s(runtime());
  s.connect("172.18.0.25", "", "2526", "");
  s.mail_from("<a@send.example.com>", false);
  s.header("From", "news@other.example.org");
  s.abort();
  const auto d = content(s, {});
  EXPECT_EQ(d.verdict, MilterVerdict::accept) << d.text;
  EXPECT_TRUE(d.findings.empty()) << d.text;
}

TEST(MilterSession, UnreadableOpenDkimConfigurationIsNeverASilentPass) {
  auto rt = std::make_shared<MilterRuntime>(*runtime());
  rt->opendkim = nullptr;
  rt->opendkim_error = "/etc/opendkim.conf: cannot read";
  MilterSession s(rt);
  s.connect("172.18.0.25", "", "2526", "");
  auto d = run(s, {});
  EXPECT_EQ(d.verdict, MilterVerdict::tempfail);
  EXPECT_TRUE(has(d.text, "/etc/opendkim.conf: cannot read")) << d.text;
}

TEST(DecideMessage, MostSevereWinsOffIsDropped) {
  auto d = decide_message({{"a", CheckAction::warn, "w", "k"},
                           {"b", CheckAction::tempfail, "t", "k"},
                           {"c", CheckAction::off, "o", "k"},
                           {"d", CheckAction::reject, "r", "k"},
                           {"e", CheckAction::reject, "r2", "k"}});
  EXPECT_EQ(d.verdict, MilterVerdict::reject);
  EXPECT_EQ(d.text, "streamguard: r");
  EXPECT_EQ(d.findings.size(), 4u);
  EXPECT_EQ(decide_message({}).verdict, MilterVerdict::accept);
}

}  // namespace
}  // namespace sg
