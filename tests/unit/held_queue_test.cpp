// postqueue -j as Postfix writes it: one listed message line by line (what
// is read, what is refused and why), the whole listing, and which queue ids
// are safe to hand to postsuper. postcat -e is in postcat_envelope_test.cpp.
#include "formats/held_queue.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace sg::held {
namespace {

// postqueue -j lines as Postfix 3.7 wrote them (tests/e2e/held_queue_test.cpp's
// instance): one held on a stream over its cap, one deferred after its other
// recipient was delivered, then force-expired with postsuper -e.
const std::string kHeld =
    R"({"queue_name": "hold", "queue_id": "39812A80135", "arrival_time": 1795386117, )"
    R"("message_size": 451, "forced_expire": false, "sender": "news@send.example.com", )"
    R"("recipients": [{"address": "yard@fleet-two.example"}]})";
const std::string kDeferred =
    R"({"queue_name": "deferred", "queue_id": "1EA11A80133", "arrival_time": 1795386117, )"
    R"("message_size": 450, "forced_expire": false, "sender": "news@send.example.com", )"
    R"("recipients": [{"address": "billing@clinic-c.example", "delay_reason": "host )"
    R"(127.0.0.1[127.0.0.1] said: 450 4.2.0 mailbox busy, try later (in reply to RCPT TO )"
    R"x(command)"}]})x";
const std::string kExpired =
    R"({"queue_name": "hold", "queue_id": "39812A80135", "arrival_time": 1795386117, )"
    R"("message_size": 451, "forced_expire": true, "sender": "news@send.example.com", )"
    R"("recipients": [{"address": "yard@fleet-two.example"}]})";

std::optional<QueuedMessage> line(const std::string& text, std::string* why = nullptr) {
  std::string error;
  auto m = parse_postqueue_line(text, error);
  EXPECT_EQ(m.has_value(), error.empty()) << error;
  if (why) *why = error;
  return m;
}

std::string refusal(const std::string& text) {
  std::string error;
  EXPECT_FALSE(parse_postqueue_line(text, error)) << text;
  EXPECT_FALSE(error.empty());
  return error;
}

TEST(PostqueueLine, HeldMessageAsPostfixListsIt) {
  const auto m = line(kHeld);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->queue_name, "hold");
  EXPECT_EQ(m->queue_id, "39812A80135");
  EXPECT_EQ(m->arrival_time, 1795386117);
  EXPECT_EQ(m->message_size, 451u);
  EXPECT_FALSE(m->forced_expire);
  EXPECT_EQ(m->sender, "news@send.example.com");
  ASSERT_EQ(m->recipients.size(), 1u);
  EXPECT_EQ(m->recipients[0].address, "yard@fleet-two.example");
  EXPECT_EQ(m->recipients[0].delay_reason, "");
}

TEST(PostqueueLine, EightBitAddressThatIsNotUtf8IsStillListed) {
  // A held message must never be invisible to the drainer because its
  // sender wrote Latin-1 into an address.
  const auto m = line(
      "{\"queue_name\": \"hold\", \"queue_id\": \"39812A80136\", \"arrival_time\": 1, "
      "\"message_size\": 1, \"sender\": \"caf\xe9@send.example.com\", \"recipients\": "
      "[{\"address\": \"r\xe9"
      "ception\xc3@clinic.example\"}, {\"address\": "
      "\"\xed\xa0\x80@x.example\"}, "
      "{\"address\": \"caf\xc3\xa9@clinic.example\"}]}");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->queue_id, "39812A80136");
  EXPECT_EQ(m->sender, "caf?@send.example.com");
  ASSERT_EQ(m->recipients.size(), 3u);
  EXPECT_EQ(m->recipients[0].address, "r?ception?@clinic.example");
  EXPECT_EQ(m->recipients[1].address, "???@x.example");               // a surrogate is not UTF-8
  EXPECT_EQ(m->recipients[2].address, "caf\xc3\xa9@clinic.example");  // valid UTF-8 kept
}

TEST(PostqueueLine, DelayReasonAndForcedExpire) {
  const auto d = line(kDeferred);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->queue_name, "deferred");
  ASSERT_EQ(d->recipients.size(), 1u);
  EXPECT_EQ(d->recipients[0].delay_reason,
            "host 127.0.0.1[127.0.0.1] said: 450 4.2.0 mailbox busy, try later (in reply to "
            "RCPT TO command)");
  const auto e = line(kExpired);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->forced_expire);
}

TEST(PostqueueLine, SeveralRecipientsInOrder) {
  const auto m =
      line(R"({"queue_name": "hold", "queue_id": "4BXk2L0TfTz9vKJ", "arrival_time": 1763849201, )"
           R"("message_size": 1402, "forced_expire": false, "sender": "news@send.example.com", )"
           R"("recipients": [{"address": "office@clinic-b.example"}, )"
           R"({"address": "billing@clinic-c.example", "delay_reason": "connect to )"
           R"(mx.clinic-c.example[203.0.113.7]:25: Connection timed out"}, )"
           R"({"address": "front-desk@clinic-d.example", "delay_reason": ""}]})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->queue_id, "4BXk2L0TfTz9vKJ");  // a long queue id
  ASSERT_EQ(m->recipients.size(), 3u);
  EXPECT_EQ(m->recipients[0].address, "office@clinic-b.example");
  EXPECT_EQ(m->recipients[1].address, "billing@clinic-c.example");
  EXPECT_EQ(m->recipients[1].delay_reason,
            "connect to mx.clinic-c.example[203.0.113.7]:25: Connection timed out");
  EXPECT_EQ(m->recipients[2].address, "front-desk@clinic-d.example");
}

TEST(PostqueueLine, EscapesAndUnicode) {
  const auto m = line(
      R"({"queue_name": "hold", "queue_id": "ABC123", "sender": "\"odd\\name\"@send.example.com", )"
      R"("recipients": [{"address": "dr.m\u00fcller@praxis.example", )"
      R"("delay_reason": "tab\there\nnewline \u2014 dash"}, )"
      R"({"address": "josé@clínica.example"}]})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->sender, "\"odd\\name\"@send.example.com");
  ASSERT_EQ(m->recipients.size(), 2u);
  EXPECT_EQ(m->recipients[0].address, "dr.m\xc3\xbcller@praxis.example");
  EXPECT_EQ(m->recipients[0].delay_reason, "tab\there\nnewline \xe2\x80\x94 dash");
  EXPECT_EQ(m->recipients[1].address, "jos\xc3\xa9@cl\xc3\xadnica.example");
}

TEST(PostqueueLine, NullSenderNoRecipientsAndOptionalMembers) {
  const auto m = line(R"({"queue_name": "deferred", "queue_id": "F00D", "sender": ""})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->sender, "");
  EXPECT_TRUE(m->recipients.empty());
  EXPECT_EQ(m->arrival_time, 0);
  EXPECT_EQ(m->message_size, 0u);
  const auto empty = line(R"({"queue_name": "hold", "queue_id": "F00D", "recipients": []})");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->recipients.empty());
}

TEST(PostqueueLine, UnknownMembersAreIgnoredAndLineEndsAreFine) {
  const auto m = line(
      R"({"queue_name": "hold", "queue_id": "AB12", "future": {"nested": [1, 2, {"x": null}]}, )"
      R"("priority": 7, "recipients": [{"address": "a@b.example", "orcpt": "rfc822;a@b.example"}]})"
      "\r\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->queue_id, "AB12");
  ASSERT_EQ(m->recipients.size(), 1u);
  EXPECT_EQ(m->recipients[0].address, "a@b.example");
}

TEST(PostqueueLine, RefusesWhatIsNotAQueueFile) {
  EXPECT_NE(refusal(""), "");
  EXPECT_NE(refusal("garbage"), "");
  EXPECT_NE(refusal("[]"), "");
  EXPECT_NE(refusal("\"hold\""), "");
  EXPECT_NE(refusal("{} trailing"), "");
  // Truncated mid-object, as a line cut short would be.
  EXPECT_NE(refusal(kHeld.substr(0, kHeld.size() / 2)), "");
  EXPECT_NE(refusal(kHeld.substr(0, kHeld.size() - 1)), "");
  EXPECT_NE(refusal("{\"queue_name\": \"hold\", \"queue_id\": \"AB\xff\xfe\"}"), "");  // bad UTF-8
  EXPECT_NE(refusal("Mail queue is empty"), "");
}

TEST(PostqueueLine, RefusesMissingOrInvalidIds) {
  EXPECT_EQ(refusal(R"({"queue_name": "hold"})"), "no queue_id");
  EXPECT_EQ(refusal(R"({"queue_id": "AB12"})"), "no queue_name");
  EXPECT_EQ(refusal(R"({"queue_name": "hold", "queue_id": ""})"), "invalid queue_id \"\"");
  EXPECT_EQ(refusal(R"({"queue_name": "hold", "queue_id": "../etc/passwd"})"),
            "invalid queue_id \"../etc/passwd\"");
  EXPECT_EQ(refusal(R"({"queue_name": "hold", "queue_id": "-H"})"), "invalid queue_id \"-H\"");
  EXPECT_EQ(refusal(R"({"queue_name": "hold", "queue_id": "AB 12"})"),
            "invalid queue_id \"AB 12\"");
  const std::string id32(32, 'A'), id33(33, 'A');
  EXPECT_TRUE(line(R"({"queue_name": "hold", "queue_id": ")" + id32 + "\"}"));
  EXPECT_EQ(refusal(R"({"queue_name": "hold", "queue_id": ")" + id33 + "\"}"),
            "invalid queue_id \"" + id33 + "\"");
  EXPECT_EQ(refusal(R"({"queue_name": "ho/ld", "queue_id": "AB12"})"),
            "invalid queue_name \"ho/ld\"");
  // Control characters in a quoted value do not reach the error text.
  EXPECT_EQ(refusal(R"({"queue_name": "hold", "queue_id": "A\nB"})"), "invalid queue_id \"A?B\"");
}

TEST(PostqueueLine, RefusesWrongTypes) {
  const std::string base = R"({"queue_name": "hold", "queue_id": "AB12", )";
  EXPECT_EQ(refusal(R"({"queue_name": "hold", "queue_id": 12})"), "queue_id is not a string");
  EXPECT_EQ(refusal(R"({"queue_name": null, "queue_id": "AB12"})"), "queue_name is not a string");
  EXPECT_EQ(refusal(base + R"("sender": 1})"), "sender is not a string");
  EXPECT_EQ(refusal(base + R"("arrival_time": "1795386117"})"), "arrival_time is not an integer");
  EXPECT_EQ(refusal(base + R"("arrival_time": 1.5})"), "arrival_time is not an integer");
  EXPECT_EQ(refusal(base + R"("arrival_time": 18446744073709551615})"),
            "arrival_time out of range");
  EXPECT_EQ(refusal(base + R"("message_size": -1})"), "message_size is not a non-negative integer");
  EXPECT_EQ(refusal(base + R"("message_size": 1e3})"),
            "message_size is not a non-negative integer");
  EXPECT_EQ(refusal(base + R"("forced_expire": "false"})"), "forced_expire is not a boolean");
  EXPECT_EQ(refusal(base + R"("forced_expire": 0})"), "forced_expire is not a boolean");
  EXPECT_EQ(refusal(base + R"("recipients": {}})"), "recipients is not an array");
  EXPECT_EQ(refusal(base + R"("recipients": ["a@b.example"]})"), "recipient 0: not an object");
  EXPECT_EQ(refusal(base + R"("recipients": [{"address": "a@b"}, {}]})"),
            "recipient 1: no address");
  EXPECT_EQ(refusal(base + R"("recipients": [{"address": ["a@b"]}]})"),
            "recipient 0: address is not a string");
  EXPECT_EQ(refusal(base + R"("recipients": [{"address": "a@b", "delay_reason": 4}]})"),
            "recipient 0: delay_reason is not a string");
  // A negative arrival time is an integer: taken as written.
  const auto neg = line(base + R"("arrival_time": -5})");
  ASSERT_TRUE(neg);
  EXPECT_EQ(neg->arrival_time, -5);
}

TEST(PostqueueLine, RefusesAbsurdSizes) {
  std::string many = R"({"queue_name": "hold", "queue_id": "AB12", "recipients": [)";
  for (std::size_t i = 0; i <= kMaxRecipients; ++i)
    many += std::string(i ? "," : "") + R"({"address": "a@b"})";
  many += "]}";
  EXPECT_EQ(refusal(many), std::to_string(kMaxRecipients + 1) + " recipients, over the limit of " +
                               std::to_string(kMaxRecipients));

  std::string long_line = R"({"queue_name": "hold", "queue_id": "AB12", "sender": ")";
  long_line += std::string(kMaxLineBytes, 'x') + "\"}";
  EXPECT_EQ(refusal(long_line), "line of " + std::to_string(long_line.size()) +
                                    " bytes, over the limit of " + std::to_string(kMaxLineBytes));
  // Deep nesting in an unknown member is a parse, not a crash.
  std::string deep = R"({"queue_name": "hold", "queue_id": "AB12", "x": )";
  deep += std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_TRUE(line(deep));
  // A long error text is cut.
  EXPECT_LE(refusal("{\"" + std::string(5000, 'k') + "\" 1}").size(), 300u);
}

TEST(Postqueue, WholeOutputBlankLinesErrorsAndDuplicates) {
  const std::string out = kHeld + "\n\n" + kDeferred + "\n" + "{\"queue_name\": \"hold\"}\n" +
                          "   \n" + kExpired + "\n" + "not json\n" +
                          kDeferred.substr(0, 40);  // cut short, no newline
  const Listing l = parse_postqueue(out);
  ASSERT_EQ(l.messages.size(), 2u);
  EXPECT_EQ(l.messages[0].queue_id, "39812A80135");
  EXPECT_FALSE(l.messages[0].forced_expire);  // the first listing of a duplicate is kept
  EXPECT_EQ(l.messages[1].queue_id, "1EA11A80133");
  ASSERT_EQ(l.errors.size(), 3u);
  EXPECT_EQ(l.errors[0], "line 4: no queue_id");
  EXPECT_EQ(l.errors[1].rfind("line 7: ", 0), 0u) << l.errors[1];
  EXPECT_EQ(l.errors[2].rfind("line 8: ", 0), 0u) << l.errors[2];
}

TEST(Postqueue, EmptyQueue) {
  // postqueue -j prints nothing at all for an empty queue.
  EXPECT_TRUE(parse_postqueue("").messages.empty());
  EXPECT_TRUE(parse_postqueue("").errors.empty());
  EXPECT_TRUE(parse_postqueue("\n\r\n").errors.empty());
}
TEST(QueueId, ValidIds) {
  EXPECT_TRUE(valid_queue_id("39812A80135"));
  EXPECT_TRUE(valid_queue_id("4BXk2L0TfTz9vKJ"));
  EXPECT_FALSE(valid_queue_id(""));
  EXPECT_FALSE(valid_queue_id("AB_12"));
  EXPECT_FALSE(valid_queue_id("AB12\n"));
  EXPECT_FALSE(
      valid_queue_id(std::string("AB\0"
                                 "12",
                                 5)));
  EXPECT_FALSE(valid_queue_id(std::string(33, 'a')));
}

}  // namespace
}  // namespace sg::held