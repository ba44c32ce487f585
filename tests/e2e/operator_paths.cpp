#include "tests/e2e/operator_paths.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "tests/e2e/process.hpp"
#include "tests/text_match.hpp"

namespace sg::e2e {
namespace {

using namespace std::chrono_literals;

using sg::testing::contains;

int decisions(const Harness& h) {
  const std::string log = h.policyd_log();
  int n = 0;
  for (auto at = log.find(" decision "); at != std::string::npos;
       at = log.find(" decision ", at + 1))
    ++n;
  return n;
}

// The queue id's lines once Postfix has logged the delivery and the removal
// (a sink or mailbox has the message before Postfix logs it).
std::string delivered_lines(Harness& h, const std::string& queue_id) {
  std::string lines;
  wait_until(
      [&] {
        lines = lines_of(h.postfix().log(), queue_id);
        return contains(lines, "status=sent") && contains(lines, "removed");
      },
      20s);
  return lines;
}

// Not one of streamguard's: no stream transport, no milter.
void expect_plain_route(const std::string& what, const std::string& lines,
                        const std::string& agent) {
  EXPECT_TRUE(contains(lines, "status=sent")) << what << "\n" << lines;
  EXPECT_TRUE(contains(lines, agent)) << what << "\n" << lines;
  for (const char* stream_part : {"postfix/out05", "postfix/hcout1", "milter"})
    EXPECT_FALSE(contains(lines, stream_part)) << what << "\n" << lines;
}

void expect_plain_message(const std::string& what, const std::string& data) {
  EXPECT_FALSE(contains(data, "X-Streamguard-Stream")) << what << "\n" << data;
  EXPECT_FALSE(contains(data, "DKIM-Signature")) << what << ": OpenDKIM is a stream milter";
}

void staff(Harness& h, const std::string& tag) {
  // Without a login the operator's rule refuses relaying, as before.
  const std::string outside = "nobody-" + tag + "@yahoo.com";
  auto anon =
      run_command({find_tool("swaks"), "--server", "127.0.0.1:" + std::to_string(h.port("staff")),
                   "--from", Harness::kFrom, "--to", outside, "--quit-after", "RCPT"},
                  30s);
  EXPECT_TRUE(contains(anon.output,
                       "554 5.7.1 <" + outside + ">: Recipient address rejected: Access denied"))
      << anon.output;
  // Logged in: relayed through the default transport, whatever the domain.
  const std::string yahoo = "colleague-" + tag + "@yahoo.com";
  auto s = h.submit("staff", {yahoo});
  ASSERT_TRUE(s.accepted(yahoo)) << s.transcript;
  ASSERT_TRUE(h.sink().wait_for_rcpt(yahoo, 20s)) << h.postfix().log();
  expect_plain_route("staff", delivered_lines(h, s.queue_id), "postfix/smtp[");
  const auto got = h.sink().messages_to(yahoo);
  ASSERT_EQ(got.size(), 1u);
  expect_plain_message("staff", got[0].data);
}

void inbound(Harness& h, const std::string& tag) {
  auto s = h.submit("inbound", {kInboundMailbox});
  ASSERT_TRUE(s.accepted(kInboundMailbox)) << s.transcript;
  std::string lines = delivered_lines(h, s.queue_id);
  expect_plain_route("inbound", lines, "relay=virtual");
  // The mailbox holds every inbound message of the test: the last one is
  // this one (its Received: header names the queue id).
  const std::string box = h.postfix().inbound_mailbox();
  const auto from = box.rfind("\nFrom ");
  const std::string last = from == std::string::npos ? box : box.substr(from);
  EXPECT_TRUE(contains(last, "id " + s.queue_id)) << tag << "\n" << box;
  expect_plain_message("inbound", last);
}

void pickup(Harness& h, const std::string& tag) {
  // sendmail -bs: in through postdrop and pickup, as cron mail. (swaks talks
  // SMTP to it over a pipe.)
  const std::string to = "ops-" + tag + "@clinic.example";
  auto r = run_command({find_tool("swaks"), "--pipe",
                        find_tool("sendmail") + " -C " + h.postfix().config_dir() + " -bs",
                        "--from", "cron@e2e.test", "--to", to, "--suppress-data"},
                       30s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(h.sink().wait_for_rcpt(to, 20s)) << h.postfix().log();
  const auto got = h.sink().messages_to(to);
  ASSERT_EQ(got.size(), 1u);
  expect_plain_message("pickup", got[0].data);
}

}  // namespace

std::string lines_of(const std::string& log, const std::string& queue_id) {
  std::string out;
  std::size_t at = 0;
  while (at < log.size()) {
    const auto nl = log.find('\n', at);
    const std::string line = log.substr(at, nl == std::string::npos ? nl : nl - at + 1);
    if (contains(line, " " + queue_id + ":")) out += line;
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  return out;
}

void expect_operator_paths_untouched(Harness& h, const std::string& tag) {
  const int before = decisions(h);
  {
    SCOPED_TRACE("staff submission (" + tag + ")");
    staff(h, tag);
  }
  {
    SCOPED_TRACE("inbound (" + tag + ")");
    inbound(h, tag);
  }
  {
    SCOPED_TRACE("pickup (" + tag + ")");
    pickup(h, tag);
  }
  EXPECT_EQ(decisions(h), before) << "streamguard-policyd was asked about the operator's mail\n"
                                  << h.policyd_log();
}

}  // namespace sg::e2e
