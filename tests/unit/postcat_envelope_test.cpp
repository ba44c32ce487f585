// postcat -e -q as Postfix prints it: the envelope records of one queue
// file (content filter, sender, recipients still to deliver, arrival time in
// local time), never the message content, and the transport a content
// filter names.
#include "formats/held_queue.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace sg::held {
namespace {

// postcat -e -q output of the queue files whose postqueue -j lines
// held_queue_test.cpp reads (tests/e2e/held_queue_test.cpp's instance).
const std::string kPostcatHold = R"(*** ENVELOPE RECORDS hold/39812A80135 ***
message_size:             451             700               1               0             451               0
message_arrival_time: Sun Nov 22 22:21:57 2026
create_time: Sun Nov 22 22:21:57 2026
content_filter: out05:
named_attribute: log_ident=39812A80135
named_attribute: rewrite_context=local
sender: news@send.example.com
named_attribute: log_client_name=unknown
named_attribute: log_client_address=127.0.0.1
named_attribute: log_client_port=50266
named_attribute: log_message_origin=unknown[127.0.0.1]
named_attribute: log_helo_name=listmonk.e2e.test
named_attribute: log_protocol_name=ESMTP
named_attribute: client_name=unknown
named_attribute: reverse_client_name=unknown
named_attribute: client_address=127.0.0.1
named_attribute: client_port=50266
named_attribute: server_address=127.0.0.1
named_attribute: server_port=48695
named_attribute: helo_name=listmonk.e2e.test
named_attribute: protocol_name=ESMTP
named_attribute: client_address_type=2
named_attribute: dsn_orig_rcpt=rfc822;yard@fleet-two.example
original_recipient: yard@fleet-two.example
recipient: yard@fleet-two.example
*** MESSAGE CONTENTS hold/39812A80135 ***
*** HEADER EXTRACTED hold/39812A80135 ***
*** MESSAGE FILE END hold/39812A80135 ***
)";

const std::string kPostcatDone = R"(*** ENVELOPE RECORDS deferred/1/1EA11A80133 ***
message_size:             450             803               2               0             450               0
message_arrival_time: Sun Nov 22 22:21:57 2026
create_time: Sun Nov 22 22:21:57 2026
content_filter: hcout1:
named_attribute: log_ident=1EA11A80133
named_attribute: rewrite_context=local
sender: news@send.example.com
named_attribute: log_client_name=unknown
named_attribute: log_client_address=127.0.0.1
named_attribute: client_address_type=2
named_attribute: dsn_orig_rcpt=rfc822;office@clinic-b.example
original_recipient: office@clinic-b.example
done_recipient: office@clinic-b.example
named_attribute: dsn_orig_rcpt=rfc822;billing@clinic-c.example
original_recipient: billing@clinic-c.example
recipient: billing@clinic-c.example
*** MESSAGE CONTENTS deferred/1/1EA11A80133 ***
*** HEADER EXTRACTED deferred/1/1EA11A80133 ***
*** MESSAGE FILE END deferred/1/1EA11A80133 ***
)";

// postcat -eh: the headers come in between; none of them is a record.
const std::string kPostcatWithHeaders = R"(*** ENVELOPE RECORDS hold/1EA11A80133 ***
message_arrival_time: Sun Nov 22 22:21:57 2026
content_filter: hcout1:
sender: news@send.example.com
original_recipient: office@clinic-b.example
recipient: office@clinic-b.example
*** MESSAGE CONTENTS hold/1EA11A80133 ***
Received: from listmonk.e2e.test (unknown [127.0.0.1])
	by sg-e2e-q3UDg3.e2e.test (Postfix) with ESMTP id 1EA11A80133;
	Sun, 22 Nov 2026 22:21:57 +0000 (UTC)
To: office@clinic-b.example,billing@clinic-c.example
From: news@send.example.com
recipient: injected@evil.example
content_filter: out05:
sender: spoof@evil.example
*** HEADER EXTRACTED hold/1EA11A80133 ***
*** MESSAGE FILE END hold/1EA11A80133 ***
)";

// The process's time zone for one test (postcat prints local time).
class TimeZone {
 public:
  explicit TimeZone(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~TimeZone() {
    if (old_)
      ::setenv("TZ", old_->c_str(), 1);
    else
      ::unsetenv("TZ");
    ::tzset();
  }

 private:
  std::optional<std::string> old_;
};
std::optional<Envelope> envelope(const std::string& text, std::string* why = nullptr) {
  std::string error;
  auto e = parse_postcat_envelope(text, error);
  EXPECT_EQ(e.has_value(), error.empty()) << error;
  if (why) *why = error;
  return e;
}

TEST(PostcatEnvelope, HeldMessageAsPostfixPrintsIt) {
  TimeZone utc("UTC");
  const auto e = envelope(kPostcatHold);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->queue_name, "hold");
  EXPECT_EQ(e->queue_id, "39812A80135");
  EXPECT_EQ(e->content_filter, "out05:");
  EXPECT_EQ(filter_transport(e->content_filter), "out05");
  EXPECT_EQ(e->sender, "news@send.example.com");
  EXPECT_EQ(e->recipients, std::vector<std::string>{"yard@fleet-two.example"});
  ASSERT_TRUE(e->arrival_time);
  EXPECT_EQ(*e->arrival_time, 1795386117);  // as postqueue -j listed it
}

TEST(PostcatEnvelope, DeliveredRecipientIsNotCountedAndHashedQueueIsNamed) {
  TimeZone utc("UTC");
  const auto e = envelope(kPostcatDone);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->queue_name, "deferred");
  EXPECT_EQ(e->queue_id, "1EA11A80133");
  EXPECT_EQ(filter_transport(e->content_filter), "hcout1");
  EXPECT_EQ(e->recipients, std::vector<std::string>{"billing@clinic-c.example"});
}

TEST(PostcatEnvelope, ArrivalTimeIsLocalTime) {
  TimeZone est("EST5EDT,M3.2.0,M11.1.0");
  const auto e = envelope(kPostcatHold);
  ASSERT_TRUE(e && e->arrival_time);
  EXPECT_EQ(*e->arrival_time, 1795386117 + 5 * 3600);
  // The day is space-padded by asctime.
  const auto early = envelope(
      "*** ENVELOPE RECORDS hold/AB12 ***\nmessage_arrival_time: Mon Mar  2 09:05:01 2026\n"
      "*** MESSAGE FILE END hold/AB12 ***\n");
  ASSERT_TRUE(early && early->arrival_time);
  EXPECT_EQ(*early->arrival_time, 1772460301);  // 2026-03-02T14:05:01Z
}

TEST(PostcatEnvelope, MessageContentIsNeverTakenForRecords) {
  const auto e = envelope(kPostcatWithHeaders);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->content_filter, "hcout1:");
  EXPECT_EQ(e->sender, "news@send.example.com");
  EXPECT_EQ(e->recipients, std::vector<std::string>{"office@clinic-b.example"});
  // A body line that looks like a section line of another file changes nothing.
  const auto fake = envelope(
      "*** ENVELOPE RECORDS hold/AB12 ***\ncontent_filter: hcout1:\n"
      "*** MESSAGE CONTENTS hold/AB12 ***\nSubject: x\n\n"
      "*** HEADER EXTRACTED hold/ZZ99 ***\ncontent_filter: out05:\nrecipient: x@evil.example\n"
      "*** HEADER EXTRACTED hold/AB12 ***\n*** MESSAGE FILE END hold/AB12 ***\n");
  ASSERT_TRUE(fake);
  EXPECT_EQ(fake->content_filter, "hcout1:");
  EXPECT_TRUE(fake->recipients.empty());
}

TEST(PostcatEnvelope, ExtractedSectionRecordsCount) {
  // sendmail -t: recipients from the headers are in the extracted section.
  const auto e = envelope(
      "*** ENVELOPE RECORDS maildrop/AB12 ***\nsender: app@send.example.com\n"
      "*** MESSAGE CONTENTS maildrop/AB12 ***\n*** HEADER EXTRACTED maildrop/AB12 ***\n"
      "original_recipient: to@clinic.example\nrecipient: to@clinic.example\n"
      "*** MESSAGE FILE END maildrop/AB12 ***\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->queue_name, "maildrop");
  EXPECT_EQ(e->recipients, std::vector<std::string>{"to@clinic.example"});
  EXPECT_EQ(e->content_filter, "");  // none: no stream
  EXPECT_FALSE(e->arrival_time);
}

TEST(PostcatEnvelope, LastContentFilterFirstSenderCanceledAndEmptyValues) {
  const auto e = envelope(
      "*** ENVELOPE RECORDS active/AB12 ***\ncontent_filter: out05:\nsender: \n"
      "sender: other@send.example.com\ncanceled_recipient: dup@clinic.example\n"
      "recipient: dup@clinic.example\nrecipient: \ncontent_filter: hcout1:[127.0.0.1]:10025\n"
      "*** MESSAGE FILE END active/AB12 ***\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->content_filter, "hcout1:[127.0.0.1]:10025");
  EXPECT_EQ(filter_transport(e->content_filter), "hcout1");
  EXPECT_EQ(e->sender, "");  // the null sender, listed first
  EXPECT_EQ(e->recipients, (std::vector<std::string>{"dup@clinic.example", ""}));
}

TEST(PostcatEnvelope, OtherFileNamesLeaveTheIdEmpty) {
  for (const char* path : {"stdin", "/var/spool/postfix/hold/AB12", "hold/../AB12",
                           "deferred/12/AB12", "hold/AB-12", "deferred//AB12"}) {
    const std::string name(path);
    const auto e = envelope("*** ENVELOPE RECORDS " + name + " ***\nrecipient: a@b\n" +
                            "*** MESSAGE FILE END " + name + " ***\n");
    ASSERT_TRUE(e) << path;
    EXPECT_EQ(e->queue_id, "") << path;
    EXPECT_EQ(e->queue_name, "") << path;
    EXPECT_EQ(e->recipients, std::vector<std::string>{"a@b"});
  }
}

TEST(PostcatEnvelope, RefusesWhatIsNotOneWholeEnvelope) {
  std::string why;
  EXPECT_FALSE(envelope("", &why));
  EXPECT_EQ(why, "no \"*** ENVELOPE RECORDS\" line: not postcat -e output");
  EXPECT_FALSE(envelope("postcat: fatal: open queue file AB12: No such file or directory\n", &why));
  EXPECT_EQ(why, "no \"*** ENVELOPE RECORDS\" line: not postcat -e output");
  // Cut short: postcat died, or the output was truncated.
  EXPECT_FALSE(envelope(kPostcatHold.substr(0, kPostcatHold.find("*** MESSAGE CONTENTS")), &why));
  EXPECT_EQ(why, "no \"*** MESSAGE FILE END\" line: the output is cut short");
  EXPECT_FALSE(envelope(kPostcatHold + kPostcatDone, &why));
  EXPECT_EQ(why, "more than one queue file");

  std::string many = "*** ENVELOPE RECORDS hold/AB12 ***\n";
  for (std::size_t i = 0; i <= kMaxRecipients; ++i) many += "recipient: a@b.example\n";
  many += "*** MESSAGE FILE END hold/AB12 ***\n";
  EXPECT_FALSE(envelope(many, &why));
  EXPECT_EQ(why, "more than " + std::to_string(kMaxRecipients) + " recipients");
}

TEST(PostcatEnvelope, OddLinesAndTimesAreSkipped) {
  const auto e = envelope(
      "*** ENVELOPE RECORDS hold/AB12 ***\r\n"
      "message_arrival_time: Sun Foo 22 22:21:57 2026\n"
      "message_arrival_time: Sun Nov 22 25:21:57 2026\n"
      "no colon here\n: empty name\nRecipient: upper@case.example\n"
      "recipient:tight@clinic.example\r\n"
      "*** MESSAGE FILE END hold/AB12 ***\r\n");
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->arrival_time);
  EXPECT_EQ(e->recipients, std::vector<std::string>{"tight@clinic.example"});
}

TEST(FilterTransport, TakesThePartBeforeTheColon) {
  EXPECT_EQ(filter_transport("out05:"), "out05");
  EXPECT_EQ(filter_transport("out05:[127.0.0.1]:10025"), "out05");
  EXPECT_EQ(filter_transport("hcout1:[2001:db8::1]:25"), "hcout1");
  EXPECT_EQ(filter_transport(""), "");
  EXPECT_EQ(filter_transport(":"), "");
  EXPECT_EQ(filter_transport(":nexthop"), "");
  EXPECT_EQ(filter_transport("smtp"), "smtp");
  EXPECT_EQ(filter_transport("  out05 :x"), "out05");
}

}  // namespace
}  // namespace sg::held
