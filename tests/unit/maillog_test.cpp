#include "formats/maillog.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#ifndef SG_SOURCE_DIR
#error "SG_SOURCE_DIR must name the repository root"
#endif

namespace sg::maillog {
namespace {

const std::string kCorpus = SG_SOURCE_DIR "/tests/data/maillog/";

std::vector<std::string> read_lines(const std::string& file) {
  std::ifstream in(kCorpus + file);
  EXPECT_TRUE(in) << "cannot read " << kCorpus + file;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// What one corpus line must parse to.
struct Expect {
  Status status;
  std::string service;
  std::string recipient;
  std::string relay_host;
  std::string relay_ip;
  std::string dsn;
  uint16_t code;
  std::string reply_has;   // a piece of the reply ("" : the reply is empty)
  std::string detail_has;  // a piece of the detail
};

using S = Status;
// file -> 1-based line number -> expectation. Every other line of the file
// must not parse.
const std::map<std::string, std::map<int, Expect>>& corpus_expectations() {
  static const std::map<std::string, std::map<int, Expect>> kExpect = {
      {"gmail.log",
       {
           {1,
            {S::bounced, "out05", "jdoe.hauling@gmail.com", "gmail-smtp-in.l.google.com",
             "192.0.2.26", "5.7.1", 550, "likely unsolicited mail", "gsmtp"}},
           {2,
            {S::bounced, "out05", "dispatch@fleet-example.com", "aspmx.l.google.com", "192.0.2.27",
             "5.7.1", 550, "very low reputation of the sending IP address", ""}},
           {3,
            {S::deferred, "out05", "owner.operator@gmail.com", "gmail-smtp-in.l.google.com",
             "192.0.2.26", "4.7.28", 421, "temporarily rate limited", ""}},
           {4,
            {S::bounced, "out05", "safety@carrier-example.net", "aspmx.l.google.com", "192.0.2.27",
             "5.7.26", 550, "the sender is unauthenticated", ""}},
           {5,
            {S::sent, "out05", "terminal.manager@gmail.com", "gmail-smtp-in.l.google.com",
             "192.0.2.26", "2.0.0", 250, "250 2.0.0 OK", ""}},
           {6,
            {S::sent, "out05", "billing@logistics-example.org", "alt1.aspmx.l.google.com",
             "192.0.2.28", "2.0.0", 250, "gsmtp", ""}},
           {7,
            {S::deferred, "out05", "yard.lead@gmail.com", "gmail-smtp-in.l.google.com",
             "192.0.2.26", "4.7.0", 421, "very low reputation", ""}},
       }},
      {"yahoo.log",
       {
           {1,
            {S::deferred, "hcout1", "frontdesk@yahoo.com", "mta6.am0.yahoodns.net", "198.51.100.7",
             "4.7.0", 421, "[TSS04] Messages from 192.0.2.107", ""}},
           {2,
            {S::deferred, "hcout1", "office.manager@aol.com", "mta7.am0.yahoodns.net",
             "198.51.100.8", "4.7.0", 421, "[TSS04]", ""}},
           {3,
            {S::bounced, "hcout1", "drsmith@pediatric-clinic.example",
             "mx-biz.mail.am0.yahoodns.net", "198.51.100.9", "5.7.9", 554,
             "not accepted for policy reasons", ""}},
           {4,
            {S::deferred, "hcout1", "billing@att.net", "ff-ip4-mx-vip1.prodigy.net",
             "198.51.100.10", "4.7.0", 421, "[TSS04]", ""}},
           {5,
            {S::sent, "hcout1", "reception@yahoo.com", "mta5.am0.yahoodns.net", "198.51.100.6",
             "2.0.0", 250, "250 ok dirdel", ""}},
       }},
      {"microsoft.log",
       {
           {1,
            {S::deferred, "out05", "ops@freight-example.com",
             "freight-example-com.mail.protection.outlook.com", "203.0.113.40", "4.7.500", 451,
             "Server busy. Please try again later", ""}},
           {2,
            {S::bounced, "out05", "driver.recruiting@hotmail.com",
             "hotmail-com.olc.protection.outlook.com", "203.0.113.41", "5.7.1", 550,
             "part of their network is on our block list (S3150)", ""}},
           {3,
            {S::sent, "out05", "accounts@shipping-example.net",
             "shipping-example-net.mail.protection.outlook.com", "203.0.113.42", "2.6.0", 250,
             "Queued mail for delivery", ""}},
           {4,
            {S::deferred, "out05", "hr@trucking-example.com",
             "trucking-example-com.mail.protection.outlook.com", "203.0.113.43", "4.7.500", 451,
             "(S843)", ""}},
       }},
      {"other.log",
       {
           // The local delivery agent's result is one (of no stream).
           {13,
            {S::sent, "", "root@mta01.example.com", "local", "", "2.0.0", 0, "",
             "delivered to mailbox"}},
       }},
      {"timeouts-expired.log",
       {
           {1,
            {S::deferred, "out05", "dispatch@old-isp-example.net", "", "", "4.4.1", 0, "",
             "connect to mx1.old-isp-example.net[198.51.100.25]:25: Connection timed out"}},
           {2,
            {S::bounced, "out05", "sales@nxdomain-example.com", "", "", "5.4.4", 0, "",
             "Host or domain name not found"}},
           {3,
            {S::deferred, "hcout1", "appointments@yahoo.com", "", "", "4.4.1", 0, "",
             "connect to mta5.am0.yahoodns.net"}},
           {4,
            {S::deferred, "out05", "claims@carrier-example.net", "mx.carrier-example.net",
             "198.51.100.30", "4.4.2", 0, "", "timed out while sending end of data"}},
           {5,
            {S::deferred, "out05", "bob@broken-example.org", "mx.broken-example.org",
             "203.0.113.60", "4.0.0", 421, "421 4.3.2 Service not available", "refused to talk"}},
           {6, {S::expired, "", "", "", "", "", 0, "", ""}},
           {7,
            {S::deferred, "out05", "fleet@carrier-example.net", "mx.carrier-example.net",
             "198.51.100.30", "4.2.2", 552, "552 4.2.2 Mailbox full", ""}},
       }},
  };
  return kExpect;
}

TEST(MaillogCorpus, EveryLineParsesAsExpected) {
  std::size_t results = 0, ignored = 0;
  for (const auto& [file, expected] : corpus_expectations()) {
    const auto lines = read_lines(file);
    ASSERT_FALSE(lines.empty()) << file;
    for (const auto& [n, _] : expected) ASSERT_LE(static_cast<std::size_t>(n), lines.size());
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const int n = static_cast<int>(i) + 1;
      SCOPED_TRACE(file + ":" + std::to_string(n));
      const auto d = parse_line(lines[i]);
      auto it = expected.find(n);
      if (it == expected.end()) {
        EXPECT_FALSE(d.has_value()) << "not a delivery result: " << lines[i];
        ++ignored;
        continue;
      }
      ASSERT_TRUE(d.has_value()) << lines[i];
      ++results;
      const Expect& e = it->second;
      EXPECT_EQ(d->status, e.status);
      EXPECT_EQ(d->service(), e.service);
      EXPECT_EQ(d->recipient, e.recipient);
      EXPECT_EQ(d->relay_host, e.relay_host);
      EXPECT_EQ(d->relay_ip, e.relay_ip);
      EXPECT_EQ(d->dsn, e.dsn);
      EXPECT_EQ(d->reply_code, e.code);
      if (e.reply_has.empty())
        EXPECT_EQ(d->reply, "");
      else
        EXPECT_NE(d->reply.find(e.reply_has), std::string::npos) << d->reply;
      EXPECT_NE(d->detail.find(e.detail_has), std::string::npos) << d->detail;
      // The stage Postfix appends is not part of the server's reply.
      EXPECT_EQ(d->reply.find("(in reply to"), std::string::npos) << d->reply;
      EXPECT_FALSE(d->queue_id.empty());
      EXPECT_NE(d->pid, 0u);
      EXPECT_EQ(d->host, "mta01");
    }
  }
  EXPECT_EQ(results, 24u);
  EXPECT_EQ(ignored, 17u);
}

TEST(MaillogCorpus, BurstFileIsAllResults) {
  const auto lines = read_lines("tss04-burst.log");
  ASSERT_EQ(lines.size(), 19u);
  for (const auto& line : lines) {
    auto d = parse_line(line);
    ASSERT_TRUE(d) << line;
    EXPECT_TRUE(d->iso_timestamp);
    EXPECT_TRUE(iso_time_ms(d->timestamp).has_value());
  }
}

// ---------------------------------------------------------------- fields

TEST(MaillogParse, SyslogLineFields) {
  const auto d = parse_line(read_lines("gmail.log").at(0));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->timestamp, "Nov 22 20:41:03");
  EXPECT_FALSE(d->iso_timestamp);
  EXPECT_EQ(d->host, "mta01");
  EXPECT_EQ(d->syslog_name, "postfix/out05/smtp");
  EXPECT_EQ(d->program(), "smtp");
  EXPECT_EQ(d->service(), "out05");
  EXPECT_EQ(d->pid, 31877u);
  EXPECT_EQ(d->queue_id, "6D1A52C0F1");
  EXPECT_EQ(d->relay, "gmail-smtp-in.l.google.com[192.0.2.26]:25");
  EXPECT_TRUE(d->reply.starts_with("550-5.7.1 [192.0.2.94      12] Our system has detected"));
  EXPECT_TRUE(d->reply.ends_with("- gsmtp")) << d->reply;
  EXPECT_TRUE(d->detail.starts_with("host gmail-smtp-in.l.google.com[192.0.2.26] said: "));
  EXPECT_TRUE(d->detail.ends_with("(in reply to end of DATA command)"));
}

TEST(MaillogParse, IsoLineFields) {
  const auto d = parse_line(read_lines("yahoo.log").at(0));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->timestamp, "2026-11-22T20:46:16.118204+00:00");
  EXPECT_TRUE(d->iso_timestamp);
  EXPECT_EQ(d->syslog_name, "postfix/hcout1/smtp");
  EXPECT_EQ(d->pid, 32572u);
  EXPECT_EQ(d->queue_id, "1A9C3B7D20");
  EXPECT_EQ(
      d->reply,
      "421 4.7.0 [TSS04] Messages from 192.0.2.107 temporarily deferred due to unexpected "
      "volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes");
}

TEST(MaillogParse, OrigToAndConnUse) {
  const auto d = parse_line(read_lines("gmail.log").at(5));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->recipient, "billing@logistics-example.org");
  EXPECT_EQ(d->orig_recipient, "Billing@Logistics-Example.org");
  EXPECT_EQ(d->status, Status::sent);
}

TEST(MaillogParse, ExpiryLineOfTheQueueManager) {
  const auto d = parse_line(read_lines("timeouts-expired.log").at(5));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, Status::expired);
  EXPECT_EQ(d->program(), "qmgr");
  EXPECT_EQ(d->sender, "bounces@send.example.com");
  EXPECT_EQ(d->recipient, "");
  EXPECT_EQ(d->detail, "");
  // qmgr's other lines are not results.
  EXPECT_FALSE(
      parse_line("Nov 22 20:50:00 h postfix/qmgr[812]: 718293B4C5: from=<a@b>, "
                 "size=18422, nrcpt=1 (queue active)"));
  EXPECT_FALSE(
      parse_line("Nov 22 20:50:00 h postfix/qmgr[812]: 718293B4C5: from=<a@b>, "
                 "status=sent (x)"));
}

TEST(MaillogParse, QuotedLocalPartAndCrLf) {
  const auto d = parse_line(
      "Nov  2 08:14:09 h postfix/x/smtp[1]: 0A: to=<\"a>, b\"@example.com>, relay=none, "
      "delay=0, delays=0/0/0/0, dsn=4.4.1, status=deferred (connect to mx[192.0.2.1]:25: "
      "Connection refused)\r\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->timestamp, "Nov  2 08:14:09");
  EXPECT_EQ(d->recipient, "\"a>, b\"@example.com");
  EXPECT_EQ(d->relay, "none");
  EXPECT_EQ(d->relay_host, "");
  EXPECT_EQ(d->detail, "connect to mx[192.0.2.1]:25: Connection refused");
}

TEST(MaillogParse, NotResults) {
  const std::string ok =
      "Nov 22 20:41:14 h postfix/out05/smtp[1]: A15E9604D5: to=<a@example.com>, relay=mx[192.0.2.1]"
      ":25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 OK)";
  ASSERT_TRUE(parse_line(ok));
  EXPECT_FALSE(parse_line(""));
  EXPECT_FALSE(parse_line(ok.substr(0, ok.size() - 1))) << "no closing parenthesis";
  EXPECT_FALSE(parse_line(ok.substr(0, 60))) << "truncated";
  std::string verify = ok;
  verify.replace(verify.find("status=sent"), 11, "status=deliverable");
  EXPECT_FALSE(parse_line(verify)) << "address verification";
  std::string smtpd = ok;
  smtpd.replace(smtpd.find("out05/smtp"), 10, "out05/smtpd");
  EXPECT_FALSE(parse_line(smtpd)) << "not a delivery agent";
  std::string bad_dsn = ok;
  bad_dsn.replace(bad_dsn.find("dsn=2.0.0"), 9, "dsn=2.0");
  EXPECT_FALSE(parse_line(bad_dsn));
  std::string no_dsn = ok;
  no_dsn.replace(no_dsn.find("dsn=2.0.0, "), 11, "");
  EXPECT_FALSE(parse_line(no_dsn));
  std::string bad_qid = ok;
  bad_qid.replace(bad_qid.find("A15E9604D5"), 10, "A15E-604D5");
  EXPECT_FALSE(parse_line(bad_qid));
  std::string bad_pid = ok;
  bad_pid.replace(bad_pid.find("[1]"), 3, "[x]");
  EXPECT_FALSE(parse_line(bad_pid));
  EXPECT_FALSE(parse_line("Foo 22 20:41:14" + ok.substr(15))) << "month";
  // A field twice (a line spliced into another) is no Postfix line.
  std::string twice = ok;
  twice.replace(twice.find("relay="), 6, "relay=a[192.0.2.9]:25, relay=");
  EXPECT_FALSE(parse_line(twice));
  twice = ok;
  twice.replace(twice.find("dsn="), 4, "dsn=4.4.1, dsn=");
  EXPECT_FALSE(parse_line(twice));
}

TEST(MaillogParse, LineLengthLimit) {
  const std::string head =
      "Nov 22 20:41:14 h postfix/out05/smtp[1]: A1: to=<a@example.com>, relay=none, delay=1, "
      "delays=0/0/0/1, dsn=4.4.1, status=deferred (";
  std::string fits = head + std::string(kMaxLineBytes - head.size() - 1, 'x') + ")";
  ASSERT_EQ(fits.size(), kMaxLineBytes);
  EXPECT_TRUE(parse_line(fits));
  EXPECT_TRUE(parse_line(fits + "\n")) << "the line end does not count";
  std::string over = head + std::string(kMaxLineBytes - head.size(), 'x') + ")";
  EXPECT_FALSE(parse_line(over));
}

TEST(MaillogParse, ServiceAndProgram) {
  Delivery d;
  d.syslog_name = "postfix/hcout1/smtp";
  EXPECT_EQ(d.service(), "hcout1");
  EXPECT_EQ(d.program(), "smtp");
  d.syslog_name = "postfix/smtp";
  EXPECT_EQ(d.service(), "");
  EXPECT_EQ(d.program(), "smtp");
  d.syslog_name = "postfix-out/hcout1/smtp";
  EXPECT_EQ(d.service(), "hcout1");
  d.syslog_name = "smtp";
  EXPECT_EQ(d.service(), "");
  EXPECT_EQ(d.program(), "smtp");
}

TEST(MaillogParse, StatusNames) {
  for (auto s : {Status::sent, Status::deferred, Status::bounced, Status::expired})
    EXPECT_EQ(parse_status(to_string(s)), s);
  EXPECT_EQ(parse_status("SOFTBOUNCE"), Status::deferred);
  EXPECT_EQ(parse_status("deliverable"), std::nullopt);
  EXPECT_EQ(parse_status("Sent"), std::nullopt);
}

// ---------------------------------------------------------------- time

TEST(MaillogTime, IsoStamps) {
  // 2026-11-22T20:46:16Z = 1795380376.
  EXPECT_EQ(iso_time_ms("2026-11-22T20:46:16Z"), 1795380376000);
  EXPECT_EQ(iso_time_ms("2026-11-22T20:46:16.123456+00:00"), 1795380376123);
  EXPECT_EQ(iso_time_ms("2026-11-22T14:46:16.5-06:00"), 1795380376500);
  EXPECT_EQ(iso_time_ms("2026-11-22T21:46:16+0100"), 1795380376000);
  EXPECT_EQ(iso_time_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(iso_time_ms("2024-02-29T00:00:00Z"), 1709164800000);
  EXPECT_EQ(iso_time_ms("2026-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(iso_time_ms("2026-11-22T20:46:16"), std::nullopt) << "no zone";
  EXPECT_EQ(iso_time_ms("2026-11-22 20:46:16Z"), std::nullopt);
  EXPECT_EQ(iso_time_ms("2026-11-22T24:00:00Z"), std::nullopt);
  EXPECT_EQ(iso_time_ms("2026-11-22T20:46:16.Z"), std::nullopt);
  EXPECT_EQ(iso_time_ms(""), std::nullopt);
}

TEST(MaillogTime, SyslogStamps) {
  EXPECT_EQ(syslog_time_ms("Nov 22 20:46:16", 2026, 0), 1795380376000);
  EXPECT_EQ(syslog_time_ms("Nov 22 14:46:16", 2026, -6 * 3600), 1795380376000);
  EXPECT_EQ(syslog_time_ms("Jan  1 00:00:00", 1970, 0), 0);
  EXPECT_EQ(syslog_time_ms("Nov 31 00:00:00", 2026, 0), std::nullopt);
  EXPECT_EQ(syslog_time_ms("Nov 22 20:46", 2026, 0), std::nullopt);
}

}  // namespace
}  // namespace sg::maillog
