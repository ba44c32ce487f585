// The shipped example config (deploy/examples/streamguard.toml) loads, and
// reads as the brief's two streams; a missing file is one error naming it.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/config.hpp"
#include "tests/unit/config_test_support.hpp"

#ifndef SG_SOURCE_DIR
#error "SG_SOURCE_DIR must name the repository root"
#endif

namespace sg {
namespace {

constexpr const char* kExample = SG_SOURCE_DIR "/deploy/examples/streamguard.toml";

// ---------------------------------------------------------------- the shipped example

TEST(ExampleConfig, LoadsWithoutErrors) {
  auto r = load_config(kExample);
  EXPECT_EQ(r.errors.size(), 0u) << all_errors(r);
  ASSERT_NE(r.config, nullptr);
  EXPECT_EQ(r.config->path, kExample);
}

TEST(ExampleConfig, GlobalSettings) {
  auto r = load_config(kExample);
  ASSERT_NE(r.config, nullptr) << all_errors(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.timezone, "America/Chicago");
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.redis.url, "redis://127.0.0.1:6379/0");
  EXPECT_EQ(c.redis.target.endpoint.to_string(), "inet:127.0.0.1:6379");
  EXPECT_EQ(c.redis.target.db, 0);
  EXPECT_EQ(c.redis.target.password, "");
  EXPECT_EQ(c.redis.on_error, Action::hold);
  EXPECT_EQ(c.redis.timeout_ms, 250u);
  EXPECT_EQ(c.redis.key_prefix, "sg");
  ASSERT_EQ(c.policyd.listen.size(), 1u);
  EXPECT_EQ(c.policyd.listen[0].to_string(), "unix:/var/spool/postfix/private/streamguard");
  ASSERT_EQ(c.policyd.status.size(), 2u);
  EXPECT_EQ(c.policyd.status[0].to_string(), "unix:/run/streamguard/policyd.sock");
  EXPECT_EQ(c.policyd.status[1].to_string(), "inet:127.0.0.1:9125");
  EXPECT_EQ(c.policyd.unknown_port, Action::defer);
  EXPECT_EQ(c.policyd.max_connections, 1024u);
  EXPECT_EQ(c.policyd.idle_timeout_s, 300u);

  // Relative list paths are read from the config file's folder.
  const std::string lists = SG_SOURCE_DIR "/deploy/examples/lists/";
  EXPECT_EQ(c.lists, (std::map<std::string, std::string>{
                         {"consumer", lists + "consumer-webmail.txt"},
                         {"dead_isp", lists + "dead-isp.txt"},
                         {"direct_hisp", lists + "direct-hisp.txt"},
                         {"yahoo_family", lists + "yahoo-family.txt"},
                     }));

  Strings op_names;
  for (const auto& op : c.operators) op_names.push_back(op.name);
  std::sort(op_names.begin(), op_names.end());
  EXPECT_EQ(op_names, (Strings{"apple", "google", "microsoft", "mimecast", "proofpoint", "yahoo"}));
  for (const auto& op : c.operators) {
    if (op.name == "google") {
      EXPECT_EQ(op.domains, (Strings{"gmail.com", "googlemail.com"}));
      EXPECT_EQ(op.mx_suffixes, (Strings{".google.com", ".googlemail.com"}));
    }
  }
}

TEST(ExampleConfig, TruckingStreamModelsTheBrief) {
  auto r = load_config(kExample);
  ASSERT_NE(r.config, nullptr) << all_errors(r);
  const Config& c = *r.config;
  ASSERT_EQ(c.streams.size(), 2u);
  const StreamConfig* t = c.stream_named("trucking");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(c.stream_for_port(25), t);
  EXPECT_EQ(t->ports, (std::vector<uint16_t>{25}));
  EXPECT_EQ(t->exclude, (Strings{"yahoo_family", "dead_isp", "direct_hisp"}));
  EXPECT_EQ(std::count(t->exclude.begin(), t->exclude.end(), "consumer"), 0)
      << "trucking mails consumer webmail";
  EXPECT_EQ(t->mode, StreamMode::enforce);
  EXPECT_EQ(t->over_cap, Action::hold);
  EXPECT_EQ(t->hourly_cap, std::nullopt);
  EXPECT_EQ(t->daily_cap, std::optional<uint64_t>(4000));
  EXPECT_EQ(t->burst, 0u);
  EXPECT_EQ(t->operator_caps.daily, (Caps{{"default", 120}, {"google", 0}}));
  EXPECT_EQ(t->operator_caps.hourly, Caps{});
  ASSERT_TRUE(t->ramp.has_value());
  EXPECT_EQ(t->ramp->stamp, "/etc/postfix/pw-warmup-start");
  EXPECT_EQ(t->ramp->count, RampCount::send_days);
  EXPECT_EQ(ramp_pairs(t->ramp->hourly), (Pairs{{0, 50}, {2, 150}, {4, 250}, {7, 300}}));
  EXPECT_TRUE(t->ramp->daily.empty());
  EXPECT_EQ(t->ramp->send_day_minimum, 1u);
  // No hourly_cap: policyd falls back to the first ramp step.
  EXPECT_EQ(t->fallback_hourly_cap(), std::optional<uint64_t>(50));
}

TEST(ExampleConfig, HealthcareStreamModelsTheBrief) {
  auto r = load_config(kExample);
  ASSERT_NE(r.config, nullptr) << all_errors(r);
  const Config& c = *r.config;
  const StreamConfig* h = c.stream_named("healthcare");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(c.stream_for_port(2526), h);
  EXPECT_EQ(c.stream_for_port(587), nullptr);
  EXPECT_EQ(c.stream_named("marketing"), nullptr);
  EXPECT_EQ(h->ports, (std::vector<uint16_t>{2526}));
  EXPECT_EQ(h->exclude, (Strings{"yahoo_family", "dead_isp", "direct_hisp", "consumer"}));
  EXPECT_EQ(h->mode, StreamMode::enforce);
  EXPECT_EQ(h->over_cap, Action::hold);
  EXPECT_EQ(h->hourly_cap, std::nullopt);
  EXPECT_EQ(h->daily_cap, std::optional<uint64_t>(10000));
  EXPECT_EQ(h->operator_caps.daily, Caps{});
  EXPECT_EQ(h->operator_caps.hourly, Caps{});
  ASSERT_TRUE(h->ramp.has_value());
  EXPECT_EQ(h->ramp->stamp, "/etc/postfix/hc-warmup-start");
  EXPECT_EQ(h->ramp->count, RampCount::calendar_days);
  EXPECT_EQ(ramp_pairs(h->ramp->hourly), (Pairs{{0, 100}, {2, 300}, {5, 600}, {10, 1000}}));
  EXPECT_EQ(h->fallback_hourly_cap(), std::optional<uint64_t>(100));
}

TEST(LoadConfig, MissingFile) {
  auto r = load_config("/nonexistent/streamguard.toml");
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 0u);
  EXPECT_EQ(r.errors[0].to_string(),
            "/nonexistent/streamguard.toml: cannot read: No such file or directory");
}

}  // namespace
}  // namespace sg
