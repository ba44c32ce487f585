// set_stream_mode: the one-line edit behind `streamguardctl enforce` and
// `shadow`. Everything but that line stays as the operator wrote it.
#include <gtest/gtest.h>

#include <string>

#include "ctl/stream_mode.hpp"
#include "tests/unit/config_text.hpp"

namespace sg {
namespace {

constexpr const char* kOperatorsConfig = R"(# the operator's own comment
mode = "shadow"   # every stream watches first

[[stream]]
name = "trucking"
ports = [2525]
mode = 'shadow'   # since June
over_cap = "hold"

[[stream]]
  name = "healthcare"   # indented, no mode of its own
  ports = [2526]

[postfix]
listen_address = "127.0.0.1"
)";

TEST(SetStreamMode, ReplacesTheValueAndKeepsTheCommentAndEveryOtherLine) {
  std::string error;
  auto e = set_stream_mode(kOperatorsConfig, "trucking", StreamMode::enforce, error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->line, 7);
  EXPECT_EQ(e->before, "mode = 'shadow'   # since June");
  EXPECT_EQ(e->after, "mode = \"enforce\"   # since June");
  std::string expected = kOperatorsConfig;
  expected.replace(expected.find("mode = 'shadow'"), 15, "mode = \"enforce\"");
  EXPECT_EQ(e->text, expected);
  auto parsed = testing::parse_text(e->text);
  ASSERT_TRUE(parsed.config) << testing::all_errors(parsed);
  EXPECT_EQ(parsed.config->stream_named("trucking")->mode, StreamMode::enforce);
  EXPECT_EQ(parsed.config->stream_named("healthcare")->mode, StreamMode::shadow);
}

TEST(SetStreamMode, AddsAModeLineAfterTheNameWithItsIndentation) {
  std::string error;
  auto e = set_stream_mode(kOperatorsConfig, "healthcare", StreamMode::enforce, error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->line, 12);
  EXPECT_EQ(e->before, "");
  EXPECT_EQ(e->after, "  mode = \"enforce\"");
  EXPECT_NE(e->text.find("  name = \"healthcare\"   # indented, no mode of its own\n"
                         "  mode = \"enforce\"\n"
                         "  ports = [2526]\n"),
            std::string::npos)
      << e->text;
  auto parsed = testing::parse_text(e->text);
  ASSERT_TRUE(parsed.config) << testing::all_errors(parsed);
  EXPECT_EQ(parsed.config->stream_named("healthcare")->mode, StreamMode::enforce);
  EXPECT_EQ(parsed.config->stream_named("trucking")->mode, StreamMode::shadow);
  EXPECT_EQ(parsed.config->default_mode, StreamMode::shadow);
}

TEST(SetStreamMode, KeepsCrlfLineEndingsAndAFileWithoutAFinalNewline) {
  std::string error;
  auto e = set_stream_mode("[[stream]]\r\nname = \"a\"\r\nports = [1]\r\nmode = \"shadow\"", "a",
                           StreamMode::enforce, error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->text, "[[stream]]\r\nname = \"a\"\r\nports = [1]\r\nmode = \"enforce\"");
  e = set_stream_mode("[[stream]]\nname = \"a\"", "a", StreamMode::shadow, error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->text, "[[stream]]\nname = \"a\"\nmode = \"shadow\"\n");
}

TEST(SetStreamMode, NoSuchStreamOrAModeItCannotReadIsAnError) {
  std::string error;
  EXPECT_FALSE(set_stream_mode(kOperatorsConfig, "nosuch", StreamMode::enforce, error));
  EXPECT_EQ(error, "no [[stream]] table with the line name = \"nosuch\"");
  // A name under another table is not a stream's.
  EXPECT_FALSE(set_stream_mode("[operators.x]\nname = \"a\"\n", "a", StreamMode::enforce, error));
  EXPECT_FALSE(set_stream_mode("[[stream]]\nname = \"a\"\nmode = [\"shadow\"]\n", "a",
                               StreamMode::enforce, error));
  EXPECT_EQ(error, "its mode line is not a plain string: mode = [\"shadow\"]");
}

TEST(ConfigMode, TheTopLevelModeIsTheDefaultOfEveryStream) {
  auto r = testing::parse_text(
      "mode = \"shadow\"\n[[stream]]\nname = \"a\"\nports = [1]\n"
      "[[stream]]\nname = \"b\"\nports = [2]\nmode = \"enforce\"\n");
  ASSERT_TRUE(r.config) << testing::all_errors(r);
  EXPECT_EQ(r.config->stream_named("a")->mode, StreamMode::shadow);
  EXPECT_EQ(r.config->stream_named("b")->mode, StreamMode::enforce);
  auto bad = testing::parse_text("mode = \"watch\"\n");
  EXPECT_FALSE(bad.config);
}

}  // namespace
}  // namespace sg
