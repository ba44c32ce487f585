// rampd <-> streamguard-queue-helper (formats/queue_helper_protocol.hpp):
// the helper runs as root, so what it accepts is exactly one verb and one
// queue id, and the result comes back whole.
#include "formats/queue_helper_protocol.hpp"

#include <gtest/gtest.h>

namespace sg::queue_helper {
namespace {

std::string refused(std::string_view line) {
  std::string why;
  EXPECT_FALSE(parse_request(line, why).has_value()) << line;
  return why;
}

TEST(QueueHelperProtocol, EachVerbRunsItsOneCommand) {
  std::string why;
  auto r = parse_request("release 4BXk2L0TfTz9vKJ\n", why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->verb, Verb::release);
  EXPECT_STREQ(program_of(r->verb), "postsuper");
  EXPECT_EQ(arguments_of(*r), (std::vector<std::string>{"-H", "4BXk2L0TfTz9vKJ"}));
  EXPECT_EQ(encode_request(*r), "release 4BXk2L0TfTz9vKJ\n");

  auto e = parse_request("expire 3F2A1B9C0D", why);  // a short (hex) queue id
  ASSERT_TRUE(e);
  EXPECT_EQ(arguments_of(*e), (std::vector<std::string>{"-f", "3F2A1B9C0D"}));

  auto c = parse_request("envelope 4BXk2L0TfTz9vKJ\n", why);
  ASSERT_TRUE(c);
  EXPECT_STREQ(program_of(c->verb), "postcat");
  EXPECT_EQ(arguments_of(*c), (std::vector<std::string>{"-e", "-q", "4BXk2L0TfTz9vKJ"}));
}

TEST(QueueHelperProtocol, NothingButOneVerbAndOneQueueIdIsAccepted) {
  const std::string not_an_id = "not a queue id (5 to 32 letters and digits)";
  EXPECT_EQ(refused("release ALL"), not_an_id);  // postsuper's "every message"
  EXPECT_EQ(refused("release -d ALL"), not_an_id);
  EXPECT_EQ(refused("release 4BXk2L0TfTz9vKJ -d ALL"), not_an_id);
  EXPECT_EQ(refused("release ../../etc/passwd"), not_an_id);
  EXPECT_EQ(refused("release 4BXk2L0TfTz9vKJ\n\n"), not_an_id);
  EXPECT_EQ(refused("release  4BXk2L0TfTz9vKJ"), not_an_id);
  EXPECT_EQ(refused("release " + std::string(33, 'A')), not_an_id);
  EXPECT_EQ(refused(std::string("release 4BXk2\0L0T", 17)), not_an_id);
  EXPECT_EQ(refused("delete 4BXk2L0TfTz9vKJ"),
            "unknown verb (release, expire and envelope are served)");
  EXPECT_EQ(refused("RELEASE 4BXk2L0TfTz9vKJ"),
            "unknown verb (release, expire and envelope are served)");
  EXPECT_EQ(refused(""), "expected 'VERB QUEUEID'");
  EXPECT_EQ(refused("release"), "expected 'VERB QUEUEID'");
}

TEST(QueueHelperProtocol, AResultComesBackWhole) {
  command::Result r;
  r.started = true;
  r.exit_code = 1;
  r.out = "";
  r.err = "postsuper: fatal: ...\nsecond line\n";
  r.error = "";
  const std::string wire = encode_result(r);
  auto back = parse_result(wire);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->started);
  EXPECT_EQ(back->exit_code, 1);
  EXPECT_EQ(back->err, r.err);
  EXPECT_FALSE(back->ok());

  command::Result killed;
  killed.started = true;
  killed.timed_out = true;
  killed.signal = 9;
  killed.out = std::string("bin\0ary", 7);
  auto k = parse_result(encode_result(killed));
  ASSERT_TRUE(k);
  EXPECT_TRUE(k->timed_out);
  EXPECT_EQ(k->signal, 9);
  EXPECT_EQ(k->exit_code, -1);
  EXPECT_EQ(k->out, killed.out);

  command::Result refusal;
  refusal.error = "the queue helper refused: uid 0 is not allowed";
  auto f = parse_result(encode_result(refusal));
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->started);
  EXPECT_EQ(f->error, refusal.error);
}

TEST(QueueHelperProtocol, ACutOrMalformedResultIsNoResult) {
  const std::string good = "result 1 0 0 0 3 2 0\nabcde";
  EXPECT_TRUE(parse_result(good));
  EXPECT_FALSE(parse_result(good.substr(0, good.size() - 1)));  // cut short
  EXPECT_FALSE(parse_result(good + "x"));                       // more than it said
  EXPECT_FALSE(parse_result("result 1 0 0 0 3 2\nabcde"));      // a field missing
  EXPECT_FALSE(parse_result("result 2 0 0 0 0 0 0\n"));
  EXPECT_FALSE(parse_result("result 1 0 0 0 -1 0 0\n"));
  EXPECT_FALSE(parse_result("result 1 0 0 0 9223372036854775807 9223372036854775807 2\nab"));
  EXPECT_FALSE(parse_result("result 1 0 0 0 0 0 0"));  // no end of line
  EXPECT_FALSE(parse_result("refused\n"));
  EXPECT_FALSE(parse_result(""));
}

}  // namespace
}  // namespace sg::queue_helper
