// End to end with a real Postfix: mail that streamguard-policyd parked in the
// hold queue (over_cap = "hold") is found the way streamguard-rampd finds it.
// postqueue -j and postcat -e run through sg::command::run, their output goes
// through the formats/held_queue.hpp parsers, and the stream of each held
// message is the transport of its content_filter record, which must be the
// stream's transport in the harness's streamguard.toml. A released message
// (postsuper -H, postqueue -i, as rampd does) leaves through that transport.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <map>

#include "common/command.hpp"
#include "common/config.hpp"
#include "formats/held_queue.hpp"
#include "tests/e2e/e2e_harness.hpp"

namespace sg::e2e {
namespace {

constexpr uint32_t kCommandMs = 30000;

class HeldQueue : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the end-to-end tests start Postfix: run them as root";
  }
};

// A Postfix command for the harness's instance, run the way rampd runs it.
sg::command::Result postfix_command(Harness& h, const std::string& tool,
                                    std::vector<std::string> args) {
  std::vector<std::string> argv{find_tool(tool), "-c", h.postfix().config_dir()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = sg::command::run(argv, kCommandMs);
  EXPECT_TRUE(r.ok()) << sg::command::describe(r, argv) << "\n" << r.err;
  return r;
}

held::Listing list_queue(Harness& h) {
  const auto r = postfix_command(h, "postqueue", {"-j"});
  auto listing = held::parse_postqueue(r.out);
  EXPECT_TRUE(listing.errors.empty()) << listing.errors.front() << "\n" << r.out;
  return listing;
}

const held::QueuedMessage* find(const held::Listing& l, const std::string& id) {
  for (const auto& m : l.messages)
    if (m.queue_id == id) return &m;
  return nullptr;
}

std::vector<std::string> addresses(const held::QueuedMessage& m) {
  std::vector<std::string> out;
  for (const auto& r : m.recipients) out.push_back(r.address);
  return out;
}

std::string transport_of(const Config& config, const std::string& stream) {
  const StreamConfig* s = config.stream_named(stream);
  return s ? s->postfix.transport : std::string();
}

TEST_F(HeldQueue, HeldMailIsListedAndItsEnvelopeNamesTheStreamTransport) {
  HarnessOptions o;
  o.healthcare = "daily_cap = 1\nover_cap = \"hold\"\n";
  o.trucking = "daily_cap = 1\nover_cap = \"hold\"\n";
  Harness h(o);
  const auto loaded = load_config(h.root() + "/streamguard.toml");
  ASSERT_TRUE(loaded.config) << loaded.errors.front().to_string();
  const std::string hc_transport = transport_of(*loaded.config, "healthcare");
  const std::string tr_transport = transport_of(*loaded.config, "trucking");
  ASSERT_FALSE(hc_transport.empty());
  ASSERT_NE(hc_transport, tr_transport);
  const int64_t started = static_cast<int64_t>(std::time(nullptr));

  // Each stream's one message of the day leaves; the ones after it are held.
  auto first = h.submit("healthcare", {"first@clinic-a.example"});
  ASSERT_TRUE(first.accepted("first@clinic-a.example")) << first.transcript;
  ASSERT_TRUE(h.sink().wait_for_rcpt("first@clinic-a.example", kDelivery));
  auto truck = h.submit("trucking", {"dispatch@fleet-one.example"});
  ASSERT_TRUE(truck.accepted("dispatch@fleet-one.example")) << truck.transcript;
  ASSERT_TRUE(h.sink().wait_for_rcpt("dispatch@fleet-one.example", kDelivery));

  const std::vector<std::string> two{"office@clinic-b.example", "billing@clinic-c.example"};
  auto held_two = h.submit("healthcare", two);
  auto held_one = h.submit("healthcare", {"front-desk@clinic-d.example"});
  auto held_truck = h.submit("trucking", {"yard@fleet-two.example"});
  for (const auto* s : {&held_two, &held_one, &held_truck})
    ASSERT_FALSE(s->queue_id.empty()) << s->transcript;
  ASSERT_TRUE(held_two.accepted(two[0]) && held_two.accepted(two[1])) << held_two.transcript;

  held::Listing listing;
  ASSERT_TRUE(wait_until([&] {
    listing = list_queue(h);
    return listing.messages.size() == 3 &&
           std::all_of(listing.messages.begin(), listing.messages.end(),
                       [](const auto& m) { return m.queue_name == "hold"; });
  })) << listing.messages.size()
      << " listed\n"
      << h.postfix().log();

  const std::map<std::string, std::pair<std::vector<std::string>, std::string>> expected{
      {held_two.queue_id, {two, hc_transport}},
      {held_one.queue_id, {{"front-desk@clinic-d.example"}, hc_transport}},
      {held_truck.queue_id, {{"yard@fleet-two.example"}, tr_transport}},
  };
  for (const auto& [id, want] : expected) {
    SCOPED_TRACE(id);
    const held::QueuedMessage* m = find(listing, id);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->queue_name, "hold");
    EXPECT_EQ(m->sender, Harness::kFrom);
    EXPECT_EQ(addresses(*m), want.first);
    EXPECT_GE(m->arrival_time, started - 5);
    EXPECT_LE(m->arrival_time, static_cast<int64_t>(std::time(nullptr)) + 5);
    EXPECT_GT(m->message_size, 0u);
    EXPECT_FALSE(m->forced_expire);

    const auto cat = postfix_command(h, "postcat", {"-e", "-q", id});
    std::string error;
    const auto env = held::parse_postcat_envelope(cat.out, error);
    ASSERT_TRUE(env) << error << "\n" << cat.out;
    EXPECT_EQ(env->queue_name, "hold") << cat.out;
    EXPECT_EQ(env->queue_id, id) << cat.out;
    EXPECT_EQ(held::filter_transport(env->content_filter), want.second) << cat.out;
    EXPECT_EQ(env->sender, Harness::kFrom) << cat.out;
    EXPECT_EQ(env->recipients, want.first) << cat.out;
    ASSERT_TRUE(env->arrival_time) << cat.out;
    EXPECT_EQ(*env->arrival_time, m->arrival_time) << cat.out;
  }

  // Released as rampd releases it, it leaves through its stream's transport.
  postfix_command(h, "postsuper", {"-H", held_one.queue_id});
  postfix_command(h, "postqueue", {"-i", held_one.queue_id});
  ASSERT_TRUE(h.sink().wait_for_rcpt("front-desk@clinic-d.example", kDelivery))
      << h.postfix().log();
  EXPECT_TRUE(h.postfix().wait_for_log({"postfix/" + hc_transport + "/smtp[",
                                        held_one.queue_id + ": to=<front-desk@clinic-d.example>",
                                        "status=sent"}))
      << h.postfix().log();
  ASSERT_TRUE(wait_until([&] {
    listing = list_queue(h);
    return listing.messages.size() == 2;
  }));
  EXPECT_EQ(find(listing, held_one.queue_id), nullptr);
  ASSERT_NE(find(listing, held_two.queue_id), nullptr);
  EXPECT_EQ(find(listing, held_two.queue_id)->queue_name, "hold");
  ASSERT_NE(find(listing, held_truck.queue_id), nullptr);
  EXPECT_EQ(find(listing, held_truck.queue_id)->queue_name, "hold");
}

}  // namespace
}  // namespace sg::e2e
